// Keep-alive: a quiet peer is pinged; one that never answers (a half-open connection) is declared dead
// with ConnectionAborted and 1006; one that answers stays connected.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import {
  InputStreamOptions,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
} from '../src/index.js';
import { rawWebSocketServer } from './helpers/raw-server.js';

test('a client finds a server that stopped answering, and fails its reads with ConnectionAborted', async (t) => {
  // The raw server completes the handshake and then neither reads nor answers: a half-open connection.
  const server = await rawWebSocketServer(t, (connection) => {
    connection.socket.pause();
  });
  const client = new StreamWebSocket();
  client.control.keepAliveInterval = 100;
  client.control.keepAliveTimeout = 200;
  await client.connectAsync(server.url);
  const started = performance.now();
  const failure = await client.inputStream.readAsync(new Uint8Array(8), 8, InputStreamOptions.Partial).then(
    () => assert.fail('the read completed'),
    (error: unknown) => error,
  );
  assert.ok(failure instanceof WebSocketError);
  assert.equal(failure.status, WebErrorStatus.ConnectionAborted);
  assert.ok(performance.now() - started < 5000);
  assert.equal((await client.whenClosed()).code, 1006);
});

test('a peer that answers pings stays connected through quiet periods', async () => {
  const listener = new WebSocketListener({ keepAliveInterval: 50, keepAliveTimeout: 100 });
  let serverClosed = false;
  listener.on('connectionReceived', ({ socket }) => {
    socket.on('closed', () => (serverClosed = true));
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  const client = new StreamWebSocket();
  client.control.keepAliveInterval = 50;
  client.control.keepAliveTimeout = 100;
  await client.connectAsync(`ws://127.0.0.1:${String(listener.information.localPort)}/`);
  await delay(600);
  assert.equal(serverClosed, false);
  client.close(1000);
  assert.equal((await client.whenClosed()).code, 1000);
  await listener.closeAsync();
});

test('the listener drops a client that went silent, and keeps serving others', async () => {
  const listener = new WebSocketListener({ keepAliveInterval: 100, keepAliveTimeout: 200 });
  const closes: number[] = [];
  listener.on('connectionReceived', ({ socket }) => {
    socket.on('closed', ({ code }) => closes.push(code));
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  const port = listener.information.localPort ?? 0;
  // A raw client: the handshake, then silence (it never reads either, so it never answers a ping).
  const raw = net.connect(port, '127.0.0.1');
  raw.on('error', () => undefined);
  raw.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  for (let waited = 0; closes.length === 0 && waited < 5000; waited += 50) await delay(50);
  assert.deepEqual(closes, [1006]);
  raw.destroy();
  const client = new StreamWebSocket();
  await client.connectAsync(`ws://127.0.0.1:${String(port)}/`);
  client.close(1000);
  await client.whenClosed();
  await listener.closeAsync();
});
