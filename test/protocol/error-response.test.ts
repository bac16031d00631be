// The HTTP error answers a server gives instead of a 101, byte for byte: the library's own, and an
// application's refusal of an upgrade, which is checked first so that it can neither split the response
// (header injection) nor misstate its length.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import { buildErrorResponse, MAX_REFUSAL_BODY, refusalProblem } from '../../src/protocol/index.js';

function parse(response: Buffer): { statusLine: string; headers: Map<string, string>; body: Buffer } {
  const split = response.indexOf('\r\n\r\n');
  assert.notEqual(split, -1, 'the head ends with an empty line');
  const [statusLine, ...lines] = response.subarray(0, split).toString('latin1').split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(': ');
    assert.equal(
      headers.has(line.slice(0, colon).toLowerCase()),
      false,
      `one ${line.slice(0, colon)} header`,
    );
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 2));
  }
  return { statusLine: statusLine!, headers, body: response.subarray(split + 4) };
}

void describe('buildErrorResponse', () => {
  void it('answers 400 with a plain-text body, its exact length and Connection: close', () => {
    const { statusLine, headers, body } = parse(buildErrorResponse({ status: 400, body: 'bad key\n' }));
    assert.equal(statusLine, 'HTTP/1.1 400 Bad Request');
    assert.equal(body.toString(), 'bad key\n');
    assert.equal(headers.get('content-length'), '8');
    assert.equal(headers.get('connection'), 'close');
    assert.equal(headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(headers.has('sec-websocket-version'), false);
  });

  void it('counts Content-Length in bytes for a non-ASCII body', () => {
    const { headers, body } = parse(buildErrorResponse({ status: 404, body: 'pas trouvé — €\n' }));
    assert.equal(body.toString(), 'pas trouvé — €\n');
    assert.equal(Number(headers.get('content-length')), 'pas trouvé — €\n'.length + 1 + 2 + 2);
  });

  void it('answers 426 with the version this server speaks', () => {
    const { statusLine, headers } = parse(buildErrorResponse({ status: 426, body: 'use version 13\n' }));
    assert.equal(statusLine, 'HTTP/1.1 426 Upgrade Required');
    assert.equal(headers.get('sec-websocket-version'), '13');
    assert.equal(headers.get('upgrade'), 'websocket');
  });

  void it('adds extra headers and names unknown statuses', () => {
    const { statusLine, headers } = parse(
      buildErrorResponse({ status: 499, body: 'x', headers: { 'Retry-After': '5' } }),
    );
    assert.equal(statusLine, 'HTTP/1.1 499 Error');
    assert.equal(headers.get('retry-after'), '5');
  });

  void it('writes a refusal exactly: status line, headers in order, Content-Length, body', () => {
    const response = buildErrorResponse({
      status: 403,
      headers: { 'X-Reason': 'banned', 'content-type': 'application/json' },
      body: '{"error":"banned"}',
    });
    assert.equal(
      response.toString('latin1'),
      [
        'HTTP/1.1 403 Forbidden',
        'Connection: close',
        'content-type: application/json',
        'X-Reason: banned',
        'Content-Length: 18',
        '',
        '{"error":"banned"}',
      ].join('\r\n'),
    );
  });

  void it('sends bytes as they are (application/octet-stream), and the status name when there is no body', () => {
    const bytes = new Uint8Array([0, 0xff, 13, 10, 1]).subarray(1, 4);
    const binary = parse(buildErrorResponse({ status: 500, body: bytes }));
    assert.deepEqual([...binary.body], [0xff, 13, 10]);
    assert.equal(binary.headers.get('content-type'), 'application/octet-stream');
    assert.equal(binary.headers.get('content-length'), '3');
    const bare = parse(buildErrorResponse({ status: 503 }));
    assert.equal(bare.body.toString(), 'Service Unavailable\n');
  });

  void it('writes header values as their bytes (latin1), as node:http does', () => {
    const { headers } = parse(
      buildErrorResponse({ status: 401, headers: { 'WWW-Authenticate': 'Basic realm="café"' } }),
    );
    assert.equal(headers.get('www-authenticate'), 'Basic realm="café"');
  });
});

void describe('refusalProblem', () => {
  void it('accepts any 4xx or 5xx with headers and a body up to the limit', () => {
    for (const status of [400, 401, 403, 404, 418, 429, 451, 500, 503, 599]) {
      assert.equal(refusalProblem({ status }), undefined, String(status));
    }
    assert.equal(
      refusalProblem({
        status: 429,
        headers: { 'Retry-After': '30', 'X-Empty': '' },
        body: 'x'.repeat(MAX_REFUSAL_BODY),
      }),
      undefined,
    );
    assert.equal(refusalProblem({ status: 403, body: new Uint8Array(MAX_REFUSAL_BODY) }), undefined);
  });

  void it('refuses what is not a refusal, and statuses that are not errors', () => {
    for (const value of [undefined, null, 403, 'no', true]) {
      assert.match(refusalProblem(value) ?? '', /a refusal is/, String(value));
    }
    for (const status of [101, 200, 302, 399, 600, 403.5, Number.NaN, '403', undefined]) {
      assert.match(refusalProblem({ status }) ?? '', /400 to 599/, String(status));
    }
  });

  void it('refuses headers that would split or reframe the response', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ 'X-Evil': 'a\r\nSet-Cookie: stolen=1' }, /control characters/],
      [{ 'X-Evil': 'a\nb' }, /control characters/],
      [{ 'X-Evil': 'nul\0' }, /control characters/],
      [{ 'X-Evil': 'snow ☃' }, /U\+00FF/],
      [{ 'X-Number': 5 }, /must be a string/],
      [{ 'Bad Name': 'x' }, /not a valid header name/],
      [{ 'X:Colon': 'x' }, /not a valid header name/],
      [{ '': 'x' }, /not a valid header name/],
      [{ 'Content-Length': '0' }, /set by the server/],
      [{ 'transfer-encoding': 'chunked' }, /set by the server/],
      [{ Connection: 'keep-alive' }, /set by the server/],
    ];
    for (const [headers, expected] of cases) {
      assert.match(refusalProblem({ status: 403, headers }) ?? '', expected, JSON.stringify(headers));
    }
    assert.match(refusalProblem({ status: 403, headers: 'X-A: b' }) ?? '', /must be an object/);
  });

  void it('refuses bodies that are not text or bytes, or too long', () => {
    assert.match(refusalProblem({ status: 403, body: { error: 1 } }) ?? '', /string or bytes/);
    assert.match(refusalProblem({ status: 403, body: 'x'.repeat(MAX_REFUSAL_BODY + 1) }) ?? '', /more than/);
    assert.match(
      refusalProblem({ status: 403, body: 'é'.repeat(MAX_REFUSAL_BODY / 2 + 1) }) ?? '',
      /more than/,
      'bytes, not characters',
    );
  });
});
