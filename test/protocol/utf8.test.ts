// The streaming UTF-8 validator: every class of valid and invalid sequence, at every split, failing at
// the first impossible byte, and in agreement with the platform's fatal TextDecoder on random input.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { isValidUtf8, utf8ByteLength, Utf8Validator } from '../../src/protocol/index.js';

const VALID: { name: string; bytes: number[] }[] = [
  { name: 'empty', bytes: [] },
  { name: 'ASCII, NUL and DEL', bytes: [0x00, 0x41, 0x7f] },
  { name: 'smallest 2-byte (U+0080)', bytes: [0xc2, 0x80] },
  { name: 'largest 2-byte (U+07FF)', bytes: [0xdf, 0xbf] },
  { name: 'smallest 3-byte (U+0800)', bytes: [0xe0, 0xa0, 0x80] },
  { name: 'last before the surrogates (U+D7FF)', bytes: [0xed, 0x9f, 0xbf] },
  { name: 'first after the surrogates (U+E000)', bytes: [0xee, 0x80, 0x80] },
  { name: 'largest 3-byte (U+FFFF)', bytes: [0xef, 0xbf, 0xbf] },
  { name: 'BOM (U+FEFF)', bytes: [0xef, 0xbb, 0xbf] },
  { name: 'smallest 4-byte (U+10000)', bytes: [0xf0, 0x90, 0x80, 0x80] },
  { name: 'a 4-byte lead F1–F3', bytes: [0xf3, 0xbf, 0xbf, 0xbf] },
  { name: 'largest code point (U+10FFFF)', bytes: [0xf4, 0x8f, 0xbf, 0xbf] },
  { name: 'mixed text', bytes: [...Buffer.from('aé€😀z', 'utf8')] },
];

/** Each invalid sequence with the index of the first byte at which it can no longer be valid UTF-8. */
const INVALID: { name: string; bytes: number[]; invalidAt: number }[] = [
  { name: 'overlong 2-byte C0', bytes: [0xc0, 0x80], invalidAt: 0 },
  { name: 'overlong 2-byte C1', bytes: [0xc1, 0xbf], invalidAt: 0 },
  { name: 'overlong 3-byte (U+007F)', bytes: [0xe0, 0x81, 0xbf], invalidAt: 1 },
  { name: 'overlong 3-byte (U+07FF)', bytes: [0xe0, 0x9f, 0xbf], invalidAt: 1 },
  { name: 'overlong 4-byte (U+FFFF)', bytes: [0xf0, 0x8f, 0xbf, 0xbf], invalidAt: 1 },
  { name: 'overlong 4-byte (U+0000)', bytes: [0xf0, 0x80, 0x80, 0x80], invalidAt: 1 },
  { name: 'high surrogate U+D800', bytes: [0xed, 0xa0, 0x80], invalidAt: 1 },
  { name: 'low surrogate U+DFFF', bytes: [0xed, 0xbf, 0xbf], invalidAt: 1 },
  { name: 'surrogate pair as CESU-8', bytes: [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80], invalidAt: 1 },
  { name: 'U+110000', bytes: [0xf4, 0x90, 0x80, 0x80], invalidAt: 1 },
  { name: 'F5 lead', bytes: [0xf5, 0x80, 0x80, 0x80], invalidAt: 0 },
  { name: 'F7 lead', bytes: [0xf7, 0xbf, 0xbf, 0xbf], invalidAt: 0 },
  { name: 'F8 (5-byte form)', bytes: [0xf8, 0x88, 0x80, 0x80, 0x80], invalidAt: 0 },
  { name: 'FC (6-byte form)', bytes: [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80], invalidAt: 0 },
  { name: 'FE', bytes: [0x41, 0xfe], invalidAt: 1 },
  { name: 'FF', bytes: [0xff], invalidAt: 0 },
  { name: 'lone continuation 80', bytes: [0x80], invalidAt: 0 },
  { name: 'lone continuation BF after ASCII', bytes: [0x61, 0x62, 0xbf], invalidAt: 2 },
  { name: 'continuation after a complete 2-byte', bytes: [0xc3, 0xa9, 0xa9], invalidAt: 2 },
  { name: '2-byte lead then ASCII', bytes: [0xc3, 0x41], invalidAt: 1 },
  { name: '3-byte lead, one continuation, then ASCII', bytes: [0xe2, 0x82, 0x41], invalidAt: 2 },
  {
    name: '4-byte lead, two continuations, then a lead',
    bytes: [0xf0, 0x9f, 0x98, 0xc3, 0xa9],
    invalidAt: 3,
  },
  {
    name: 'invalid after a long valid run',
    bytes: [...Buffer.from('x'.repeat(40) + 'é'), 0xc0],
    invalidAt: 42,
  },
];

/** Feeds chunks in order; returns the index of the first chunk refused, 'end' if end() refuses, or 'ok'. */
function feed(chunks: readonly Uint8Array[], validator = new Utf8Validator()): number | 'end' | 'ok' {
  for (let index = 0; index < chunks.length; index++) {
    if (!validator.write(chunks[index]!)) return index;
  }
  return validator.end() ? 'ok' : 'end';
}

function cut(bytes: Uint8Array, positions: readonly number[]): Uint8Array[] {
  const sorted = [...positions].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const position of sorted) {
    chunks.push(bytes.subarray(start, position));
    start = position;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/** The platform's streaming answer: the same shape as feed(). */
function feedTextDecoder(chunks: readonly Uint8Array[]): number | 'end' | 'ok' {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  for (let index = 0; index < chunks.length; index++) {
    try {
      decoder.decode(chunks[index], { stream: true });
    } catch {
      return index;
    }
  }
  try {
    decoder.decode();
    return 'ok';
  } catch {
    return 'end';
  }
}

function decodesStrictly(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

void describe('Utf8Validator', () => {
  for (const { name, bytes } of VALID) {
    void it(`accepts ${name}, whole and at every split`, () => {
      const data = Uint8Array.from(bytes);
      assert.equal(feed([data]), 'ok');
      assert.equal(isValidUtf8(data), true);
      for (let position = 0; position <= data.length; position++) {
        assert.equal(feed(cut(data, [position])), 'ok', `split at ${position}`);
      }
      assert.equal(
        feed(
          cut(
            data,
            Array.from({ length: data.length }, (_, index) => index),
          ),
        ),
        'ok',
        'bytewise',
      );
    });
  }

  for (const { name, bytes, invalidAt } of INVALID) {
    void it(`rejects ${name} in the chunk that holds byte ${invalidAt}, at every split`, () => {
      const data = Uint8Array.from(bytes);
      assert.equal(feed([data]), 0);
      assert.equal(isValidUtf8(data), false);
      for (let position = 0; position <= data.length; position++) {
        // Two chunks: [0, position) and [position, end). The first holds invalidAt when it is before position.
        const expected = invalidAt < position ? 0 : 1;
        assert.equal(feed(cut(data, [position])), expected, `split at ${position}`);
      }
      const bytewise = cut(
        data,
        Array.from({ length: data.length }, (_, index) => index + 1),
      );
      assert.equal(feed(bytewise), invalidAt);
    });
  }

  void it('rejects a code point truncated at the end, for every incomplete prefix', () => {
    for (const text of ['é', '€', '😀', '\u{10FFFF}']) {
      const full = Buffer.from(text, 'utf8');
      for (let length = 1; length < full.length; length++) {
        const prefix = full.subarray(0, length);
        assert.equal(feed([Buffer.from('ok'), prefix]), 'end', `${text} cut after ${length}`);
        assert.equal(isValidUtf8(prefix), false);
      }
    }
  });

  void it('accepts every multi-byte character split at every position, in any surrounding', () => {
    const samples = ['é', 'ß', '€', '世', '\uFFFD', '😀', '\u{10000}', '\u{10FFFF}'];
    const surroundings: [string, string][] = [
      ['', ''],
      ['abc', 'xyz'],
      ['ü', '𝄞'],
    ];
    for (const sample of samples) {
      for (const [before, after] of surroundings) {
        const data = Buffer.from(`${before}${sample}${after}`, 'utf8');
        const start = Buffer.byteLength(before);
        const end = start + Buffer.byteLength(sample);
        for (let first = start; first <= end; first++) {
          for (let second = first; second <= end; second++) {
            assert.equal(feed(cut(data, [first, second])), 'ok', `${sample} cut at ${first}, ${second}`);
          }
        }
      }
    }
  });

  void it('starts afresh after end(); a rejected write leaves the state as it was', () => {
    const validator = new Utf8Validator();
    assert.equal(validator.write(Uint8Array.of(0xe2, 0x82)), true);
    assert.equal(validator.end(), false);
    // Nothing of the truncated sequence carries over.
    assert.equal(validator.write(Uint8Array.of(0x41)), true);
    assert.equal(validator.end(), true);
    assert.equal(validator.write(Uint8Array.of(0xc3)), true);
    assert.equal(validator.write(Uint8Array.of(0x41)), false);
    // Still inside the C3 sequence: its continuation is accepted, a new lead byte is not.
    assert.equal(validator.clone().write(Uint8Array.of(0xc3, 0xa9)), false);
    assert.equal(validator.write(Uint8Array.of(0xa9)), true);
    assert.equal(validator.end(), true);
  });

  void it('accepts empty writes anywhere, even inside a code point', () => {
    const validator = new Utf8Validator();
    const empty = new Uint8Array(0);
    assert.equal(validator.write(empty), true);
    assert.equal(validator.write(Uint8Array.of(0xf0, 0x9f)), true);
    assert.equal(validator.write(empty), true);
    assert.equal(validator.write(Uint8Array.of(0x98, 0x80)), true);
    assert.equal(validator.end(), true);
  });
});

void describe('Utf8Validator against TextDecoder', () => {
  /** Bytes that are often valid: encoded code points of every length, mixed with tricky single bytes. */
  const utf8ish = fc
    .array(
      fc.oneof(
        fc
          .integer({ min: 0, max: 0x10ffff })
          .filter((codePoint) => codePoint < 0xd800 || codePoint > 0xdfff)
          .map((codePoint) => [...Buffer.from(String.fromCodePoint(codePoint), 'utf8')]),
        fc.constantFrom(
          [0x80],
          [0xbf],
          [0xc0],
          [0xc1],
          [0xe0],
          [0xed],
          [0xf0],
          [0xf4],
          [0xf5],
          [0xff],
          [0xed, 0xa0],
        ),
        fc.integer({ min: 0, max: 255 }).map((byte) => [byte]),
      ),
      { maxLength: 30 },
    )
    .map((parts) => Uint8Array.from(parts.flat()));

  const anyBytes = fc.oneof(utf8ish, fc.uint8Array({ maxLength: 64 }));

  void it('agrees on random bytes cut at random points, chunk by chunk', () => {
    let valid = 0;
    fc.assert(
      fc.property(anyBytes, fc.array(fc.nat(), { maxLength: 6 }), (bytes, rawCuts) => {
        const chunks = cut(
          bytes,
          rawCuts.map((position) => position % (bytes.length + 1)),
        );
        const ours = feed(chunks);
        assert.equal(ours === 'ok', decodesStrictly(bytes), 'verdict on the whole');
        assert.equal(ours, feedTextDecoder(chunks), 'the chunk that fails');
        if (ours === 'ok') valid++;
      }),
      { seed: 3629, numRuns: 3000 },
    );
    // The generator must exercise both outcomes for the comparison to mean anything.
    assert.ok(valid > 300, `${valid} valid inputs`);
  });

  void it('isValidUtf8 agrees with TextDecoder', () => {
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        assert.equal(isValidUtf8(bytes), decodesStrictly(bytes));
      }),
      { seed: 3630, numRuns: 1000 },
    );
  });
});

void describe('utf8ByteLength', () => {
  void it('counts UTF-8 bytes, not UTF-16 units', () => {
    assert.equal(utf8ByteLength(''), 0);
    assert.equal(utf8ByteLength('abc'), 3);
    assert.equal(utf8ByteLength('é'), 2);
    assert.equal(utf8ByteLength('€'), 3);
    assert.equal(utf8ByteLength('😀'), 4);
  });
});
