// Issue 19, item 5, on the wire: goAway() sends every code RFC 6455 lets an endpoint send (the rule itself
// is tested without sockets in protocol/close.test.ts), and close() keeps WinRT's 1000 or 3000–4999 with
// an error that says where the other codes go.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { HResult, StreamWebSocket, WebSocketError } from '../src/index.js';
import { listen, wsClient } from './helpers/peers.js';
import { within } from './helpers/within.js';

test('a listener socket closes a ws client with goAway(1008, reason): policy violation on the wire', async (t) => {
  const { url, next } = await listen(t);
  const peer = await wsClient(t, url);
  const server = await next();
  const peerClosed = new Promise<[number, string]>((resolve) => {
    peer.once('close', (code, reason) => {
      resolve([code, reason.toString()]);
    });
  });
  assert.throws(
    () => {
      server.close(1008, 'not allowed');
    },
    (error: unknown) =>
      error instanceof WebSocketError &&
      error.hresult === HResult.E_INVALIDARG &&
      error.message.includes('goAway(1008, reason)'),
  );
  server.goAway(1008, 'not allowed');
  assert.deepEqual(await within(peerClosed, 5000, 'the ws client closing'), [1008, 'not allowed']);
  assert.deepEqual(await within(server.whenClosed(), 5000, 'closed'), { code: 1008, reason: 'not allowed' });
});

test('a client sends 1003 (unsupported data) with goAway, and never 1006', async (t) => {
  const { url, next } = await listen(t);
  const client = new StreamWebSocket();
  await client.connectAsync(url);
  const server = await next();
  assert.throws(() => {
    client.goAway(1006);
  }, /close code 1006 may not be sent/);
  client.goAway(1003, 'text only');
  assert.deepEqual(await within(server.whenClosed(), 5000, 'the listener socket closed'), {
    code: 1003,
    reason: 'text only',
  });
  assert.equal((await within(client.whenClosed(), 5000, 'the client closed')).code, 1003);
});
