// A client's control as the README states it: the list settings (supportedProtocols,
// ignorableServerCertificateErrors, ca) are plain arrays before connectAsync, still changeable after a
// connectAsync refused for a bad argument (nothing started), and refused with E_ILLEGAL_METHOD_CALL once
// connected, like every other setting; keep-alive is off by default. Real sockets on 127.0.0.1.

import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';

import {
  ChainValidationResult,
  HResult,
  MessageWebSocket,
  StreamWebSocket,
  WebSocketError,
  WebSocketListener,
} from '../src/index.js';
import { within } from './helpers/within.js';

/** A listener on 127.0.0.1 that speaks subprotocol 'b' and keeps its connections open. */
async function listening(t: TestContext): Promise<string> {
  const listener = new WebSocketListener({ supportedProtocols: ['b'], closeTimeout: 1000 });
  listener.on('connectionReceived', () => undefined);
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(() => within(listener.closeAsync(), 3000, 'listener.closeAsync'));
  return `ws://127.0.0.1:${listener.information.localPort ?? 0}/`;
}

function assertIllegal(change: () => unknown, what: string): void {
  assert.throws(
    change,
    (error: unknown) =>
      error instanceof WebSocketError && error.hresult >>> 0 === HResult.E_ILLEGAL_METHOD_CALL,
    `${what}: E_ILLEGAL_METHOD_CALL after connect`,
  );
}

for (const Socket of [StreamWebSocket, MessageWebSocket]) {
  void test(`${Socket.name}: control lists are arrays until connect, then changes are E_ILLEGAL_METHOD_CALL`, async (t) => {
    const url = await listening(t);
    const ws = new Socket();
    t.after(() => {
      ws.close();
    });
    const { supportedProtocols, ignorableServerCertificateErrors, ca } = ws.control;
    assert.ok(Array.isArray(supportedProtocols));
    supportedProtocols.push('a');
    await assert.rejects(within(ws.connectAsync('http://127.0.0.1/'), 3000, 'an http: URI'), {
      hresult: HResult.E_INVALIDARG,
    });
    supportedProtocols.push('b'); // refused before any I/O: the socket is as it was
    await within(ws.connectAsync(url), 3000, 'connect');
    assert.equal(ws.information.protocol, 'b', 'the list as it was at connect was offered');

    assertIllegal(() => supportedProtocols.push('x'), 'supportedProtocols.push');
    assertIllegal(() => supportedProtocols.splice(0, 1), 'supportedProtocols.splice');
    assertIllegal(() => (supportedProtocols.length = 0), 'supportedProtocols.length = 0');
    assertIllegal(() => (supportedProtocols[0] = 'x'), 'supportedProtocols[0] =');
    assertIllegal(() => supportedProtocols.sort(), 'supportedProtocols.sort');
    assertIllegal(
      () => ignorableServerCertificateErrors.push(ChainValidationResult.Untrusted),
      'ignorableServerCertificateErrors.push',
    );
    assertIllegal(() => ca.push('-----BEGIN CERTIFICATE-----'), 'ca.push');
    assert.deepEqual([...supportedProtocols], ['a', 'b'], 'unchanged');
    assert.deepEqual([...ignorableServerCertificateErrors, ...ca], []);
  });
}

void test('a client sends no keep-alive pings unless asked: keepAliveInterval defaults to 0', () => {
  for (const Socket of [StreamWebSocket, MessageWebSocket]) {
    assert.equal(new Socket().control.keepAliveInterval, 0, Socket.name);
  }
});
