// Close codes (§7.4): which may be received, which an application may send, and the close frame body.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import {
  closeArgumentProblem,
  CloseCode,
  encodeClosePayload,
  goAwayArgumentProblem,
  isSendableCloseCode,
  isValidReceivedCloseCode,
  MAX_CLOSE_REASON_BYTES,
} from '../../src/protocol/index.js';

/** RFC 6455 §7.4 and the IANA registry: what an endpoint may put in a close frame. */
const sendable = (code: number): boolean =>
  (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);

void describe('isValidReceivedCloseCode', () => {
  void it('accepts the defined and registered codes and the private range', () => {
    for (const code of [
      1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
    ]) {
      assert.equal(isValidReceivedCloseCode(code), true, `code ${code}`);
    }
  });

  void it('refuses reserved, unassigned and out-of-range codes', () => {
    for (const code of [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
      assert.equal(isValidReceivedCloseCode(code), false, `code ${code}`);
    }
  });

  void it('agrees with the table over the whole 16-bit range', () => {
    for (let code = 0; code <= 0xffff; code++)
      assert.equal(isValidReceivedCloseCode(code), sendable(code), `code ${code}`);
  });

  void it('names the reserved codes that never travel', () => {
    assert.equal(CloseCode.NoStatusReceived, 1005);
    assert.equal(CloseCode.AbnormalClosure, 1006);
    assert.equal(CloseCode.TlsHandshake, 1015);
    for (const code of [CloseCode.NoStatusReceived, CloseCode.AbnormalClosure, CloseCode.TlsHandshake]) {
      assert.equal(isValidReceivedCloseCode(code), false);
    }
  });
});

void describe('closeArgumentProblem', () => {
  void it('allows 1000 and 3000–4999', () => {
    for (const code of [1000, 3000, 3500, 4000, 4999])
      assert.equal(closeArgumentProblem(code, ''), undefined);
  });

  void it('refuses every other code, and codes that are not integers', () => {
    for (const code of [0, 999, 1001, 1002, 1005, 1006, 1011, 1015, 2999, 5000, 1000.5, NaN, -1000]) {
      const problem = closeArgumentProblem(code, '');
      assert.ok(problem !== undefined, `code ${code}`);
      assert.match(problem, /1000 or 3000–4999/);
    }
  });

  void it('allows a reason of 123 UTF-8 bytes and refuses 124', () => {
    assert.equal(MAX_CLOSE_REASON_BYTES, 123);
    assert.equal(closeArgumentProblem(1000, 'a'.repeat(123)), undefined);
    assert.match(closeArgumentProblem(1000, 'a'.repeat(124)) ?? '', /124 UTF-8 bytes/);
  });

  void it('refuses a reason that is not a string', () => {
    assert.match(closeArgumentProblem(1000, null as unknown as string) ?? '', /must be a string/);
    assert.notEqual(closeArgumentProblem(1000, 42 as unknown as string), undefined);
  });

  void it('counts the reason in UTF-8 bytes, not characters', () => {
    // 41 × '€' is 41 characters but 123 bytes; one more 'a' makes 124.
    assert.equal(closeArgumentProblem(3000, '€'.repeat(41)), undefined);
    assert.notEqual(closeArgumentProblem(3000, `${'€'.repeat(41)}a`), undefined);
    // 31 × '😀' is 62 UTF-16 units but 124 bytes.
    assert.notEqual(closeArgumentProblem(4999, '😀'.repeat(31)), undefined);
    assert.equal(closeArgumentProblem(4999, `${'😀'.repeat(30)}abc`), undefined);
  });
});

void describe('the codes an application may send: close() and goAway()', () => {
  void it('an endpoint may send exactly what it may receive, and nothing that is not an integer', () => {
    for (let code = 0; code <= 0xffff; code++)
      assert.equal(isSendableCloseCode(code), sendable(code), `code ${code}`);
    for (const code of [1000.5, NaN, Infinity, -1000]) assert.equal(isSendableCloseCode(code), false);
  });

  void it('goAway() takes every sendable code, close() only 1000 and 3000–4999', () => {
    for (let code = 0; code <= 0xffff; code++) {
      assert.equal(goAwayArgumentProblem(code, '') === undefined, sendable(code), `goAway(${code})`);
      const forClose = code === 1000 || (code >= 3000 && code <= 4999);
      assert.equal(closeArgumentProblem(code, '') === undefined, forClose, `close(${code})`);
    }
  });

  void it("close()'s refusal of a code goAway() takes says to use goAway with that code", () => {
    for (const code of [1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]) {
      assert.equal(
        closeArgumentProblem(code, ''),
        `close code ${code} is not taken by close(), which takes 1000 or 3000–4999: send it with goAway(${code}, reason)`,
      );
    }
  });

  void it('a code no endpoint may send is refused by both, naming what each takes', () => {
    for (const code of [1004, 1005, 1006, 1015]) {
      const expected = `close code ${code} may not be sent (reserved by RFC 6455 §7.4.1): close() takes 1000 or 3000–4999, goAway() also 1001–1003 and 1007–1014`;
      assert.equal(closeArgumentProblem(code, ''), expected);
      assert.equal(goAwayArgumentProblem(code, ''), expected);
    }
    assert.equal(
      goAwayArgumentProblem(5000, ''),
      'close code 5000 may not be sent: close() takes 1000 or 3000–4999, goAway() also 1001–1003 and 1007–1014',
    );
  });

  void it("goAway() holds the reason to close()'s limit", () => {
    assert.equal(goAwayArgumentProblem(1008, 'a'.repeat(123)), undefined);
    assert.match(goAwayArgumentProblem(1008, 'a'.repeat(124)) ?? '', /124 UTF-8 bytes/);
    assert.match(goAwayArgumentProblem(1008, null as unknown as string) ?? '', /must be a string/);
  });
});

void describe('encodeClosePayload', () => {
  void it('writes the code in network order followed by the UTF-8 reason', () => {
    assert.deepEqual(encodeClosePayload(1000), Buffer.from([0x03, 0xe8]));
    assert.deepEqual(encodeClosePayload(4999, 'né'), Buffer.from([0x13, 0x87, 0x6e, 0xc3, 0xa9]));
    assert.deepEqual(encodeClosePayload(3000, ''), Buffer.from([0x0b, 0xb8]));
  });

  void it('is empty when there is no code', () => {
    assert.equal(encodeClosePayload(undefined).length, 0);
  });

  void it('fits a control frame with the longest allowed reason', () => {
    const payload = encodeClosePayload(1000, '€'.repeat(41));
    assert.equal(payload.length, 125);
    assert.equal(payload.subarray(2).toString('utf8'), '€'.repeat(41));
  });
});
