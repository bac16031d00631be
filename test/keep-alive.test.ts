// Keep-alive: a quiet peer is pinged; one that never answers (a half-open connection) is declared dead
// with ConnectionAborted and 1006; one that answers stays connected. Raw peers see the pings themselves,
// so these tests fail when keep-alive does not ping at all. A peer that sends nothing but keeps taking a
// download is alive, however far behind it the pings wait; one that stops taking it is dropped.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import {
  type InputStream,
  InputStreamOptions,
  type ServerStreamWebSocket,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
} from '../src/index.js';
import { Arrivals, listen } from './helpers/peers.js';
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

/** Sends 64 KiB messages until the socket fails (at most 1 GiB); resolves with why it stopped. */
async function download(socket: ServerStreamWebSocket): Promise<unknown> {
  const chunk = Buffer.alloc(64 * 1024, 7);
  for (let sent = 0; sent < 16_384; sent++) {
    try {
      await socket.outputStream.writeAsync(chunk);
    } catch (error) {
      return error;
    }
  }
  return undefined;
}

/**
 * Reads `total` bytes at about `bytesPerSecond` (the reader's own pace: it waits before reading on when
 * ahead of it). Meanwhile it sends nothing at all.
 */
async function readSlowly(input: InputStream, total: number, bytesPerSecond: number): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  const started = performance.now();
  for (let got = 0; got < total;) {
    const read = await input.readAsync(buffer, buffer.length, InputStreamOptions.Partial);
    assert.ok(read.length > 0, 'the download ended early');
    got += read.length;
    const ahead = (got / bytesPerSecond) * 1000 - (performance.now() - started);
    if (ahead > 0) await delay(ahead);
  }
}

test('the listener keeps a client that takes a download slowly for many intervals, sending nothing', async (t) => {
  // The pings wait behind megabytes of queued data, so their answers come long after the timeout; the
  // client taking the data is what shows it alive.
  const { url, next } = await listen(t, { keepAliveInterval: 250, keepAliveTimeout: 750 });
  const client = new StreamWebSocket();
  await client.connectAsync(url);
  const server = await next();
  let dropped: unknown;
  server.on('closed', (args) => (dropped = args));
  const stopped = download(server);
  // 16 MiB at 4 MiB/s: four seconds, sixteen keep-alive intervals.
  await within(readSlowly(client.inputStream, 16 * 1024 * 1024, 4 * 1024 * 1024), 30_000, 'the download');
  assert.equal(dropped, undefined, 'the listener dropped a client that was taking its download');
  client.close(1000);
  assert.equal((await within(client.whenClosed(), 5000, 'closed')).code, 1000);
  // The download ends with the client's close, which the failed write names.
  const ended = await within(stopped, 5000, 'the download ending');
  assert.ok(ended instanceof WebSocketError);
  assert.equal(ended.closeCode, 1000);
});

test('the listener drops a client that stopped taking its download (TCP open, nothing read)', async (t) => {
  const { port, next } = await listen(t, { keepAliveInterval: 100, keepAliveTimeout: 200 });
  const raw = await RawClient.open(port);
  const server = await next();
  const stopped = download(server);
  // It takes a little, then reads no more: its receive window fills, then our socket's buffers.
  await raw.until(() => raw.frames.length > 0, 5000, 'the first message');
  raw.socket.pause();
  assert.equal((await within(server.whenClosed(), 10_000, 'the client dropped')).code, 1006);
  const failure = await within(stopped, 5000, 'the download failing');
  assert.ok(failure instanceof WebSocketError);
  assert.equal(failure.status, WebErrorStatus.ConnectionAborted);
  raw.destroy();
});
