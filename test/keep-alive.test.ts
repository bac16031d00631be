// Keep-alive: a quiet peer is pinged; one that never answers (a half-open connection) is declared dead
// with ConnectionAborted and 1006; one that answers stays connected. Raw peers see the pings themselves,
// so these tests fail when keep-alive does not ping at all.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { test } from 'node:test';

import {
  InputStreamOptions,
  type ServerStreamWebSocket,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
} from '../src/index.js';
import { Arrivals } from './helpers/peers.js';
import { clientFrame, RawClient, upgradeRequest } from './helpers/raw-client.js';
import { rawWebSocketServer, serverFrame } from './helpers/raw-server.js';
import { within } from './helpers/within.js';

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
  const failure = await within(
    client.inputStream.readAsync(new Uint8Array(8), 8, InputStreamOptions.Partial).then(
      () => assert.fail('the read completed'),
      (error: unknown) => error,
    ),
    5000,
    'the read failing',
  );
  assert.ok(failure instanceof WebSocketError);
  assert.equal(failure.status, WebErrorStatus.ConnectionAborted);
  assert.ok(performance.now() - started < 5000);
  assert.equal((await within(client.whenClosed(), 3000, 'closed')).code, 1006);
});

/**
 * Answers every ping a raw peer receives with a pong, and counts them. `frames` is the peer's list of
 * decoded frames (updated by the peer's own 'data' listener, which runs before this one).
 */
function answerPings(
  socket: net.Socket,
  frames: readonly { opcode: number; payload: Buffer }[],
  pong: (payload: Buffer) => Buffer,
): { atLeast: (count: number, ms: number) => Promise<void> } {
  const counted = new Set<(pings: number) => void>();
  let answered = 0;
  socket.on('data', () => {
    const pings = frames.filter((frame) => frame.opcode === 0x9);
    for (const ping of pings.slice(answered)) socket.write(pong(ping.payload));
    answered = pings.length;
    for (const check of [...counted]) check(answered);
  });
  return {
    atLeast: (count, ms) => {
      let check!: (pings: number) => void;
      const reached = new Promise<void>((resolve) => {
        check = (pings) => {
          if (pings >= count) resolve();
        };
        counted.add(check);
        check(answered);
      });
      return within(reached, ms, `${String(count)} keep-alive pings`).finally(() => counted.delete(check));
    },
  };
}

test('a client pings a quiet server, and stays connected while the pings are answered', async (t) => {
  let pings!: ReturnType<typeof answerPings>;
  const server = await rawWebSocketServer(t, (connection) => {
    pings = answerPings(connection.socket, connection.frames, (payload) => serverFrame(0xa, payload));
  });
  const client = new StreamWebSocket();
  client.control.keepAliveInterval = 50;
  client.control.keepAliveTimeout = 100;
  let closedEarly = false;
  client.on('closed', () => (closedEarly = true));
  await client.connectAsync(server.url);
  const connection = await server.connection;
  // Three answered pings: at least three quiet intervals, longer than the keep-alive timeout.
  await pings.atLeast(3, 5000);
  assert.equal(closedEarly, false, 'the client dropped a server that answered its pings');
  connection.send(serverFrame(0x2, Buffer.from('alive')));
  const got = await client.inputStream.readAsync(new Uint8Array(16), 16, InputStreamOptions.Partial);
  assert.equal(got.toString(), 'alive');
  client.close(1000);
  assert.equal((await within(client.whenClosed(), 3000, 'closed')).code, 1000);
});

test('the listener pings a quiet client, and keeps it while the pings are answered', async () => {
  const listener = new WebSocketListener({ keepAliveInterval: 50, keepAliveTimeout: 100 });
  const sockets = new Arrivals<ServerStreamWebSocket>();
  listener.on('connectionReceived', ({ socket }) => {
    sockets.push(socket);
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  const raw = await RawClient.open(listener.information.localPort ?? 0);
  const pings = answerPings(raw.socket, raw.frames, (payload) => clientFrame({ opcode: 0xa, payload }));
  const socket = await sockets.next();
  let closedEarly = false;
  socket.on('closed', () => (closedEarly = true));
  await pings.atLeast(3, 5000);
  assert.equal(closedEarly, false, 'the listener dropped a client that answered its pings');
  await socket.outputStream.writeAsync(Buffer.from('alive'));
  await raw.until(() => raw.frames.some((frame) => frame.opcode === 0x2), 3000, 'the message');
  raw.destroy();
  await within(listener.closeAsync(), 5000, 'closeAsync');
});

test('the listener drops a client that went silent, and keeps serving others', async () => {
  const listener = new WebSocketListener({ keepAliveInterval: 100, keepAliveTimeout: 200 });
  const closes = new Arrivals<number>();
  listener.on('connectionReceived', ({ socket }) => {
    socket.on('closed', ({ code }) => {
      closes.push(code);
    });
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  const port = listener.information.localPort ?? 0;
  // A raw client: the handshake, then silence (it never reads either, so it never answers a ping).
  const raw = net.connect(port, '127.0.0.1');
  raw.on('error', () => undefined);
  raw.write(upgradeRequest('/'));
  assert.equal(await closes.next(5000, 'the silent client dropped'), 1006);
  raw.destroy();
  const client = new StreamWebSocket();
  await client.connectAsync(`ws://127.0.0.1:${String(port)}/`);
  client.close(1000);
  await client.whenClosed();
  await listener.closeAsync();
});
