// The opening handshake (§4): the client's request and its check of the 101, the server's check of a
// request and its 101 (its error answers: error-response.test.ts).

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import {
  buildClientRequestHeaders,
  buildServerResponse,
  computeAccept,
  generateKey,
  HandshakeError,
  isHeaderValue,
  isToken,
  requestHeaderProblem,
  selectSubprotocol,
  subprotocolsProblem,
  validateClientRequest,
  validateServerResponse,
  type ParsedHeaders,
  type UpgradeRequest,
} from '../../src/protocol/index.js';

// RFC 6455 §1.3.
const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

void describe('keys', () => {
  void it('computes the accept value of the RFC 6455 §1.3 example', () => {
    assert.equal(computeAccept(RFC_KEY), RFC_ACCEPT);
  });

  void it('generates fresh keys of 16 random bytes in base64', () => {
    const first = generateKey();
    const second = generateKey();
    assert.match(first, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(Buffer.from(first, 'base64').length, 16);
    assert.notEqual(first, second);
  });
});

void describe('buildClientRequestHeaders', () => {
  const build = (
    url: string,
    protocols: string[] = [],
    extraHeaders: [string, string][] = [],
  ): Record<string, string> =>
    buildClientRequestHeaders({ url: new URL(url), key: RFC_KEY, protocols, extraHeaders });

  void it('sends the handshake headers of §4.1', () => {
    assert.deepEqual(build('ws://example.com/chat'), {
      Host: 'example.com',
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': RFC_KEY,
      'Sec-WebSocket-Version': '13',
    });
  });

  void it('puts a non-default port in Host and leaves the default one out', () => {
    assert.equal(build('ws://example.com:8080/').Host, 'example.com:8080');
    assert.equal(build('ws://example.com:80/').Host, 'example.com');
    assert.equal(build('wss://example.com:443/').Host, 'example.com');
    assert.equal(build('wss://example.com:80/').Host, 'example.com:80');
    assert.equal(build('ws://example.com:443/').Host, 'example.com:443');
  });

  void it('keeps the brackets of an IPv6 address', () => {
    assert.equal(build('ws://[::1]:9000/').Host, '[::1]:9000');
    assert.equal(build('wss://[2001:db8::1]/').Host, '[2001:db8::1]');
  });

  void it('offers the subprotocols in order (comma-separated without spaces, which websockify needs), and none when the list is empty', () => {
    assert.equal(build('ws://h/', ['chat.v2', 'chat.v1'])['Sec-WebSocket-Protocol'], 'chat.v2,chat.v1');
    assert.equal('Sec-WebSocket-Protocol' in build('ws://h/'), false);
  });

  void it('offers extensions when given, and none otherwise', () => {
    const headers = buildClientRequestHeaders({
      url: new URL('ws://h/'),
      key: RFC_KEY,
      protocols: [],
      extensions: 'permessage-deflate; client_max_window_bits',
      extraHeaders: [],
    });
    assert.equal(headers['Sec-WebSocket-Extensions'], 'permessage-deflate; client_max_window_bits');
    assert.equal('Sec-WebSocket-Extensions' in build('ws://h/'), false);
  });

  void it('adds application headers, joining repeated names', () => {
    const headers = build(
      'ws://h/',
      [],
      [
        ['Authorization', 'Bearer abc'],
        ['X-Trace', 'one'],
        ['x-trace', 'two'],
      ],
    );
    assert.equal(headers.Authorization, 'Bearer abc');
    assert.equal(headers['X-Trace'], 'one, two');
    assert.equal('x-trace' in headers, false);
  });
});

void describe('requestHeaderProblem', () => {
  void it('allows ordinary application headers', () => {
    for (const name of ['Authorization', 'Cookie', 'X-Custom', 'Origin', "x!#$%&'*+-.^_`|~9"]) {
      assert.equal(requestHeaderProblem(name, 'value'), undefined, name);
    }
    assert.equal(requestHeaderProblem('X-Empty', ''), undefined);
  });

  void it('refuses the headers the handshake sets, in any case', () => {
    for (const name of ['Host', 'host', 'UPGRADE', 'Connection', 'content-length']) {
      assert.match(requestHeaderProblem(name, 'x') ?? '', /set by the handshake/, name);
    }
  });

  void it('refuses every Sec-WebSocket-* header, pointing to supportedProtocols for the protocol one', () => {
    for (const name of [
      'Sec-WebSocket-Key',
      'sec-websocket-version',
      'Sec-WebSocket-Extensions',
      'Sec-WebSocket-Future',
    ]) {
      assert.notEqual(requestHeaderProblem(name, 'x'), undefined, name);
    }
    assert.match(requestHeaderProblem('Sec-WebSocket-Protocol', 'chat') ?? '', /supportedProtocols/);
  });

  void it('refuses CR, LF and NUL in values', () => {
    for (const value of ['a\r\nInjected: yes', 'a\rb', 'a\nb', 'a\0b']) {
      assert.match(requestHeaderProblem('X-Custom', value) ?? '', /CR, LF or NUL/);
      assert.equal(isHeaderValue(value), false);
    }
  });

  void it('refuses names that are not tokens', () => {
    for (const name of ['', 'Bad Name', 'X:Y', 'X-Ünicode', '(comment)', 'a/b', 'X\r\nY']) {
      assert.match(requestHeaderProblem(name, 'x') ?? '', /not a valid header name/, JSON.stringify(name));
      assert.equal(isToken(name), false);
    }
  });
});

void describe('subprotocolsProblem', () => {
  void it('accepts an empty list and distinct tokens', () => {
    assert.equal(subprotocolsProblem([]), undefined);
    assert.equal(subprotocolsProblem(['chat', 'v1.json', 'soap+xml']), undefined);
  });

  void it('refuses names that are not tokens', () => {
    for (const protocol of ['', 'two words', 'a,b', 'semi;colon', 'é']) {
      assert.match(
        subprotocolsProblem(['ok', protocol]) ?? '',
        /not a valid token/,
        JSON.stringify(protocol),
      );
    }
  });

  void it('refuses a name listed twice', () => {
    assert.match(subprotocolsProblem(['chat', 'other', 'chat']) ?? '', /listed twice/);
  });
});

void describe('validateServerResponse', () => {
  const good: ParsedHeaders = {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': RFC_ACCEPT,
  };
  const request = { key: RFC_KEY, protocols: ['chat', 'superchat'] };

  function rejects(
    statusCode: number,
    headers: ParsedHeaders,
    message: RegExp,
    expectedStatus?: number,
  ): void {
    assert.throws(
      () => validateServerResponse(statusCode, headers, request),
      (error: unknown) => {
        assert.ok(error instanceof HandshakeError);
        assert.equal(error.name, 'HandshakeError');
        assert.equal(error.statusCode, expectedStatus);
        assert.match(error.message, message);
        return true;
      },
    );
  }

  const none = { extensions: '', deflate: undefined };

  void it('accepts a correct 101 with no subprotocol', () => {
    assert.deepEqual(validateServerResponse(101, good, request), { protocol: null, ...none });
    assert.deepEqual(validateServerResponse(101, { ...good, 'sec-websocket-protocol': '' }, request), {
      protocol: null,
      ...none,
    });
  });

  void it('returns the subprotocol the server chose among those offered', () => {
    assert.deepEqual(
      validateServerResponse(101, { ...good, 'sec-websocket-protocol': 'superchat' }, request),
      {
        protocol: 'superchat',
        ...none,
      },
    );
  });

  void it('fails on any status but 101, with that status', () => {
    rejects(404, good, /404 Not Found instead of 101/, 404);
    rejects(200, good, /200 OK/, 200);
    rejects(401, {}, /401/, 401);
    rejects(599, good, /599 instead of 101/, 599);
  });

  void it('reads the Upgrade and Connection tokens case-insensitively, within lists', () => {
    const variants: ParsedHeaders[] = [
      { ...good, upgrade: 'WebSocket', connection: 'upgrade' },
      { ...good, upgrade: 'WEBSOCKET', connection: 'keep-alive, UPGRADE' },
      { ...good, connection: ['keep-alive', 'Upgrade'] },
    ];
    for (const headers of variants)
      assert.deepEqual(validateServerResponse(101, headers, request), { protocol: null, ...none });
  });

  void it('fails on a missing or wrong Upgrade', () => {
    rejects(101, { ...good, upgrade: undefined }, /Upgrade: websocket/);
    rejects(101, { ...good, upgrade: 'h2c' }, /Upgrade: websocket/);
    rejects(101, { ...good, upgrade: 'websockets' }, /Upgrade: websocket/);
  });

  void it('fails on a missing or wrong Connection', () => {
    rejects(101, { ...good, connection: undefined }, /Connection: Upgrade/);
    rejects(101, { ...good, connection: 'keep-alive' }, /Connection: Upgrade/);
    rejects(101, { ...good, connection: 'upgrades' }, /Connection: Upgrade/);
  });

  void it('fails on a wrong or missing accept value', () => {
    rejects(101, { ...good, 'sec-websocket-accept': computeAccept(generateKey()) }, /Sec-WebSocket-Accept/);
    rejects(101, { ...good, 'sec-websocket-accept': undefined }, /Sec-WebSocket-Accept/);
    rejects(101, { ...good, 'sec-websocket-accept': RFC_ACCEPT.toLowerCase() }, /Sec-WebSocket-Accept/);
  });

  void it('fails on a subprotocol that was not offered', () => {
    rejects(101, { ...good, 'sec-websocket-protocol': 'other' }, /not offered/);
    rejects(101, { ...good, 'sec-websocket-protocol': 'chat, superchat' }, /not offered/);
    assert.throws(
      () =>
        validateServerResponse(
          101,
          { ...good, 'sec-websocket-protocol': 'chat' },
          { key: RFC_KEY, protocols: [] },
        ),
      HandshakeError,
    );
  });

  void it('fails on an extension that was not offered', () => {
    rejects(
      101,
      { ...good, 'sec-websocket-extensions': 'permessage-deflate' },
      /extension that was not offered/,
    );
  });

  void it('takes permessage-deflate when it was offered, and its absence', () => {
    const offered = { ...request, deflate: { threshold: 0 } };
    const answer = { ...good, 'sec-websocket-extensions': 'permessage-deflate;server_max_window_bits=10' };
    assert.deepEqual(validateServerResponse(101, answer, offered), {
      protocol: null,
      extensions: 'permessage-deflate; server_max_window_bits=10',
      deflate: {
        parameters: {
          serverNoContextTakeover: false,
          clientNoContextTakeover: false,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 15,
        },
        threshold: 0,
        memLevel: 8,
      },
    });
    assert.deepEqual(validateServerResponse(101, good, offered), { protocol: null, ...none });
  });

  void it('fails, as an invalid answer without a status, on a permessage-deflate answer the offer does not allow', () => {
    const offered = { ...request, deflate: { serverMaxWindowBits: 9 } };
    for (const extensions of [
      'permessage-deflate; server_max_window_bits=10',
      'permessage-deflate; server_max_window_bits=9; x=1',
      'permessage-deflate; server_max_window_bits=9, other',
    ]) {
      assert.throws(
        () => validateServerResponse(101, { ...good, 'sec-websocket-extensions': extensions }, offered),
        (error: unknown) =>
          error instanceof HandshakeError &&
          error.statusCode === undefined &&
          error.message.startsWith('permessage-deflate: '),
      );
    }
  });
});

void describe('validateClientRequest', () => {
  const goodHeaders: ParsedHeaders = {
    host: 'server.example.com',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': RFC_KEY,
    'sec-websocket-version': '13',
  };
  const request = (changes: Partial<UpgradeRequest> = {}): UpgradeRequest => ({
    method: 'GET',
    httpVersion: '1.1',
    headers: goodHeaders,
    ...changes,
  });
  const withHeaders = (headers: ParsedHeaders): UpgradeRequest =>
    request({ headers: { ...goodHeaders, ...headers } });

  function fails(input: UpgradeRequest, status: number, reason: RegExp): void {
    const check = validateClientRequest(input);
    assert.equal(check.ok, false);
    assert.equal(check.status, status);
    assert.match(check.reason, reason);
  }

  void it('accepts the RFC example request', () => {
    assert.deepEqual(validateClientRequest(request()), { ok: true, key: RFC_KEY, protocols: [] });
  });

  void it('returns the offered subprotocols in order, from one or several headers', () => {
    const single = validateClientRequest(withHeaders({ 'sec-websocket-protocol': 'chat, superchat' }));
    assert.deepEqual(single, { ok: true, key: RFC_KEY, protocols: ['chat', 'superchat'] });
    const several = validateClientRequest(withHeaders({ 'sec-websocket-protocol': ['a', 'b ,c'] }));
    assert.deepEqual(several, { ok: true, key: RFC_KEY, protocols: ['a', 'b', 'c'] });
  });

  void it('refuses methods other than GET (405)', () => {
    fails(request({ method: 'POST' }), 405, /GET/);
    fails(request({ method: undefined }), 405, /GET/);
  });

  void it('refuses HTTP/1.0 and older (400)', () => {
    fails(request({ httpVersion: '1.0' }), 400, /HTTP\/1\.1/);
    fails(request({ httpVersion: '0.9' }), 400, /HTTP\/1\.1/);
    assert.equal(validateClientRequest(request({ httpVersion: '2.0' })).ok, true);
  });

  void it('answers a missing or wrong Upgrade with 426', () => {
    fails(withHeaders({ upgrade: undefined }), 426, /Upgrade: websocket/);
    fails(withHeaders({ upgrade: 'h2c' }), 426, /Upgrade: websocket/);
    assert.equal(validateClientRequest(withHeaders({ upgrade: 'WebSocket' })).ok, true);
  });

  void it('refuses a missing Connection: Upgrade (400), reading lists case-insensitively', () => {
    fails(withHeaders({ connection: undefined }), 400, /Connection: Upgrade/);
    fails(withHeaders({ connection: 'keep-alive' }), 400, /Connection: Upgrade/);
    assert.equal(validateClientRequest(withHeaders({ connection: 'keep-alive, upgrade' })).ok, true);
  });

  void it('refuses a request without a Host, or with an empty one (400, RFC 6455 §4.1)', () => {
    fails(withHeaders({ host: undefined }), 400, /Host/);
    fails(withHeaders({ host: ' ' }), 400, /Host/);
  });

  void it('answers a version other than 13 with 426', () => {
    for (const version of [undefined, '8', '12', '14', '13, 8', ' ']) {
      fails(withHeaders({ 'sec-websocket-version': version }), 426, /version 13/);
    }
  });

  void it('refuses keys that are not 16 bytes in base64 (400)', () => {
    const keys = [
      undefined,
      '',
      'short',
      Buffer.alloc(15).toString('base64'), // 20 characters
      Buffer.alloc(17).toString('base64'), // 24 characters, one '='
      Buffer.alloc(32).toString('base64'),
      `${RFC_KEY.slice(0, 21)}*==`,
      `${RFC_KEY} `,
    ];
    for (const key of keys) fails(withHeaders({ 'sec-websocket-key': key }), 400, /16 bytes/);
  });

  void it('refuses an invalid subprotocol list (400)', () => {
    fails(withHeaders({ 'sec-websocket-protocol': 'chat, two words' }), 400, /Sec-WebSocket-Protocol/);
  });
});

void describe('selectSubprotocol', () => {
  void it("picks the client's first preference that the server supports", () => {
    assert.equal(selectSubprotocol(['b', 'a'], ['a', 'b']), 'b');
    assert.equal(selectSubprotocol(['x', 'a'], ['a', 'b']), 'a');
    assert.equal(selectSubprotocol(['x'], ['a']), null);
    assert.equal(selectSubprotocol([], ['a']), null);
  });
});

void describe('buildServerResponse', () => {
  void it('writes the 101 of §4.2.2 byte for byte', () => {
    assert.equal(
      buildServerResponse(RFC_KEY, null),
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n` +
        '\r\n',
    );
  });

  void it('names the chosen subprotocol', () => {
    assert.equal(
      buildServerResponse(RFC_KEY, 'chat'),
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n` +
        'Sec-WebSocket-Protocol: chat\r\n' +
        '\r\n',
    );
  });

  void it('names the accepted extensions', () => {
    assert.equal(
      buildServerResponse(RFC_KEY, null, 'permessage-deflate; server_no_context_takeover'),
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n` +
        'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n' +
        '\r\n',
    );
  });

  void it('is accepted by validateServerResponse', () => {
    const key = generateKey();
    const [statusLine, ...lines] = buildServerResponse(key, 'v2').trimEnd().split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    assert.equal(statusLine, 'HTTP/1.1 101 Switching Protocols');
    assert.deepEqual(validateServerResponse(101, headers, { key, protocols: ['v1', 'v2'] }), {
      protocol: 'v2',
      extensions: '',
      deflate: undefined,
    });
  });
});
