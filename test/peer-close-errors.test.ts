// Issue 19, item 2: a read or a write that ends because the peer closed says so. The error carries the
// peer's close code and reason (closeCode, reason) and names them in its message, at once — not only
// later through whenClosed(). Peers: our own listener, `ws` (refusing with 1009, closing with 4400), and a
// raw server whose close cuts a message short.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';

import { WebSocketServer } from 'ws';

import { StreamWebSocket, WebErrorStatus } from '../src/index.js';
import { listen, wsClient } from './helpers/peers.js';
import { closePayload } from './helpers/raw-client.js';
import { rawWebSocketServer, serverFrame } from './helpers/raw-server.js';
import { rejectionOf } from './helpers/rejection.js';
import { within } from './helpers/within.js';

/** 64 KiB chunks, more than any test sends before the peer closes (bounded all the same). */
function* endlessChunks(): Generator<Buffer> {
  for (let chunk = 0; chunk < 100_000; chunk++) yield Buffer.alloc(64 * 1024, chunk);
}

test("a client's pipeline rejects with the listener's close(4400, 'x'): code and reason on the error", async (t) => {
  const { url, next } = await listen(t);
  const client = new StreamWebSocket();
  t.after(() => {
    client.close();
  });
  await client.connectAsync(url);
  const server = await next();
  server.inputStream.once('data', () => {
    server.close(4400, 'x');
  });
  const error = await rejectionOf(pipeline(endlessChunks(), client.outputStream), 'the pipeline');
  assert.equal(error.closeCode, 4400);
  assert.equal(error.reason, 'x');
  assert.equal(error.status, WebErrorStatus.Disconnected);
  assert.match(error.message, /the peer closed the WebSocket with 4400 "x"/);
  // A later write says the same.
  const later = await rejectionOf(client.outputStream.writeAsync(Buffer.from('more')), 'a later write');
  assert.equal(later.closeCode, 4400);
  assert.deepEqual(await within(client.whenClosed(), 5000, 'closed'), { code: 4400, reason: 'x' });
});

test('a pipeline into a listener socket rejects with the code and reason a ws client closed with', async (t) => {
  const { url, next } = await listen(t);
  const peer = await wsClient(t, url);
  const server = await next();
  peer.once('message', () => {
    peer.close(4400, 'enough\nsws: forged log line');
  });
  const error = await rejectionOf(pipeline(endlessChunks(), server.outputStream), 'the pipeline');
  assert.equal(error.closeCode, 4400);
  assert.equal(error.reason, 'enough\nsws: forged log line');
  // The peer's text is quoted as JSON: it cannot break the message into lines.
  assert.ok(error.message.endsWith('with 4400 "enough\\nsws: forged log line"'), error.message);
});

test('a ws server refusing a message with 1009 fails the pipeline with closeCode 1009', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 16 * 1024 });
  server.on('connection', (socket) => {
    socket.on('error', () => undefined);
  });
  await once(server, 'listening');
  t.after(() => {
    for (const peer of server.clients) peer.terminate();
    server.close();
  });
  const client = new StreamWebSocket();
  t.after(() => {
    client.close();
  });
  await client.connectAsync(`ws://127.0.0.1:${String((server.address() as AddressInfo).port)}/`);
  const error = await rejectionOf(pipeline(endlessChunks(), client.outputStream), 'the pipeline');
  assert.equal(error.closeCode, 1009);
  assert.equal(error.reason, '');
  assert.match(error.message, /the peer closed the WebSocket with 1009/);
});

test("a read cut short by the peer's close fails with the peer's code and reason", async (t) => {
  const raw = await rawWebSocketServer(t, (connection) => {
    connection.send(serverFrame(0x2, Buffer.from('the first half'), false));
    connection.send(serverFrame(0x8, closePayload(4400, 'x')));
  });
  const client = new StreamWebSocket();
  t.after(() => {
    client.close();
  });
  await client.connectAsync(raw.url);
  const reading = (async () => {
    for await (const section of client.inputStream) assert.ok(Buffer.isBuffer(section));
  })();
  const error = await rejectionOf(reading, 'reading');
  assert.equal(error.status, WebErrorStatus.ConnectionAborted);
  assert.equal(error.closeCode, 4400);
  assert.equal(error.reason, 'x');
  assert.match(error.message, /cut short: the peer closed the WebSocket with 4400 "x"/);
});
