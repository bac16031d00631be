// Faults in the middle of large transfers: a peer that resets (or just vanishes) halfway through a
// message of hundreds of MiB, in either direction, and a peer that stops reading while we write 1 GiB.
// What must hold: a reader fails (ConnectionReset/ConnectionAborted) instead of ending as if the message
// were complete, a writer's promise rejects instead of resolving, 'closed' reports 1006, and a writer
// facing a peer that does not read waits with flat memory until close() cancels it (OperationCanceled).

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import {
  MessageWebSocket,
  SocketMessageType,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
  type ListenerMode,
  type ServerMessageWebSocket,
  type ServerStreamWebSocket,
} from '../src/index.js';
import { clientFrame, RawClient } from './helpers/raw-client.js';
import { within } from './helpers/within.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** A zeroed MiB: with a zero mask key a client frame's payload is these bytes as they are. */
const ZERO_MIB = Buffer.alloc(MiB);
const ZERO_KEY = Buffer.alloc(4);

/** The error `promise` rejects with; fails if it resolves (something reported as complete). */
async function rejection(promise: Promise<unknown>, ms: number, what: string): Promise<WebSocketError> {
  const outcome = await within(
    promise.then(
      () => undefined,
      (error: unknown) => ({ error }),
    ),
    ms,
    what,
  );
  assert.ok(outcome !== undefined, `${what}: completed as if nothing had happened`);
  assert.ok(
    outcome.error instanceof WebSocketError,
    `${what}: not a WebSocketError: ${String(outcome.error)}`,
  );
  return outcome.error;
}

function assertLost(error: WebSocketError, what: string): void {
  assert.ok(
    error.status === WebErrorStatus.ConnectionReset || error.status === WebErrorStatus.ConnectionAborted,
    `${what}: status ${error.status} (${error.message}), expected ConnectionReset or ConnectionAborted`,
  );
}

function rssMiB(): number {
  return process.memoryUsage.rss() / MiB;
}

/** 1 MiB chunks up to `total` bytes, counting what was pulled. */
function source(total: number, counter: { produced: number }): Readable {
  return Readable.from(
    (function* generate(): Generator<Buffer> {
      for (let offset = 0; offset < total; offset += MiB) {
        counter.produced += MiB;
        yield ZERO_MIB;
      }
    })(),
    { objectMode: false, highWaterMark: 0 },
  );
}

/** Resolves once `counter.produced` has not moved for `quietMs` (the pipe is full). */
async function untilStalled(counter: { produced: number }, quietMs: number, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  let last = -1;
  let since = Date.now();
  while (Date.now() < deadline) {
    if (counter.produced !== last) {
      last = counter.produced;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return;
    }
    await delay(25);
  }
  throw new Error(`the writer never stalled: ${counter.produced / MiB} MiB pulled`);
}

/** A listener on 127.0.0.1 whose connections are handed to the test (closed at test end). */
async function listen(
  t: TestContext,
  mode: ListenerMode,
  options: { keepAliveInterval?: number; keepAliveTimeout?: number } = {},
): Promise<{
  port: number;
  next: () => Promise<ServerStreamWebSocket | ServerMessageWebSocket>;
}> {
  const listener = new WebSocketListener<ListenerMode>({ mode, closeTimeout: 500, ...options });
  const takers: ((socket: ServerStreamWebSocket | ServerMessageWebSocket) => void)[] = [];
  listener.on('connectionReceived', ({ socket }) => {
    takers.shift()?.(socket);
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(() => within(listener.closeAsync(), 5000, 'closeAsync'));
  return {
    port: listener.information.localPort ?? 0,
    next: () => new Promise((resolve) => takers.push(resolve)),
  };
}

interface RawServerConnection {
  socket: net.Socket;
  /** Bytes received after the handshake. */
  received: () => number;
}

/**
 * A TCP server that completes the opening handshake by hand, then either resets the connection once
 * `resetAfter` bytes of frames have arrived, or never reads again (`stopReading`).
 */
async function rawServer(
  t: TestContext,
  behaviour: { resetAfter: number } | { stopReading: true },
): Promise<{ url: string; connection: Promise<RawServerConnection> }> {
  let deliver!: (connection: RawServerConnection) => void;
  const connection = new Promise<RawServerConnection>((resolve) => (deliver = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    let upgraded = false;
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      if (!upgraded) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        upgraded = true;
        received = Buffer.byteLength(head.slice(end + 4), 'latin1');
        const key = /sec-websocket-key: *(.+)/i.exec(head)?.[1]?.trim() ?? '';
        const accept = createHash('sha1')
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        if ('stopReading' in behaviour) socket.pause();
        deliver({ socket, received: () => received });
        return;
      }
      received += chunk.length;
      if ('resetAfter' in behaviour && received >= behaviour.resetAfter && !socket.destroyed) {
        socket.resetAndDestroy();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const { port } = server.address() as net.AddressInfo;
  return { url: `ws://127.0.0.1:${port}/`, connection };
}

/** Resolves on the socket's next 'drain' or its 'close', whichever comes first. */
function drainedOrClosed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** Writes `total` bytes of zero payload on a raw socket (awaiting drain), or until it closes. */
async function writeZeros(socket: net.Socket, total: number): Promise<number> {
  let written = 0;
  while (written < total && !socket.destroyed) {
    const size = Math.min(MiB, total - written);
    written += size;
    if (!socket.write(size === MiB ? ZERO_MIB : ZERO_MIB.subarray(0, size))) await drainedOrClosed(socket);
  }
  return written;
}

// ---------------------------------------------------------------------------------------------------
// (c) A peer that stops reading: backpressure holds memory flat. (First: before anything large was
// allocated in this process, so that its RSS means something.)

test(
  'our client writes 1 GiB to a server that never reads: writes wait, memory stays flat, close() cancels',
  { timeout: 60_000 },
  async (t) => {
    const server = await rawServer(t, { stopReading: true });
    const client = new StreamWebSocket();
    client.control.closeTimeout = 500;
    await client.connectAsync(server.url);
    await within(server.connection, 2000, 'the raw server connection');
    const rssBefore = rssMiB();
    const counter = { produced: 0 };
    const piping = pipeline(source(GiB, counter), client.outputStream);
    piping.catch(() => undefined);
    await untilStalled(counter, 500, 20_000);
    const rss = rssMiB();
    assert.ok(
      counter.produced < 128 * MiB,
      `${counter.produced / MiB} MiB went out to a peer that reads nothing`,
    );
    assert.ok(rss < 300, `RSS ${rss.toFixed(0)} MiB while the writer waits`);
    assert.ok(
      rss - rssBefore < 100,
      `RSS grew by ${(rss - rssBefore).toFixed(0)} MiB while the writer waits`,
    );
    // A separate write waits too, and both are cancelled by close().
    const pending = client.outputStream.writeAsync(Buffer.from('one more'));
    const stillPending = await Promise.race([
      pending.then(
        () => 'done',
        () => 'failed',
      ),
      delay(200).then(() => 'pending'),
    ]);
    assert.equal(stillPending, 'pending', 'a write to a peer that reads nothing must wait');
    client.close(1000);
    const canceled = await rejection(piping, 3000, 'the pipeline after close()');
    assert.equal(canceled.status, WebErrorStatus.OperationCanceled, canceled.message);
    assert.equal(
      (await rejection(pending, 3000, 'writeAsync after close()')).status,
      WebErrorStatus.OperationCanceled,
    );
    // The peer never answers the close frame: the close timeout drops the connection, 1006.
    assert.equal((await within(client.whenClosed(), 3000, 'closed')).code, 1006);
  },
);

test(
  'openMessage(): one 1 GiB message to a server that never reads waits with flat memory; close() cancels',
  { timeout: 60_000 },
  async (t) => {
    const server = await rawServer(t, { stopReading: true });
    const client = new MessageWebSocket();
    client.control.closeTimeout = 500;
    await client.connectAsync(server.url);
    await within(server.connection, 2000, 'the raw server connection');
    const rssBefore = rssMiB();
    const counter = { produced: 0 };
    const piping = pipeline(source(GiB, counter), client.openMessage(SocketMessageType.Binary));
    piping.catch(() => undefined);
    await untilStalled(counter, 500, 20_000);
    assert.ok(counter.produced < 128 * MiB, `${counter.produced / MiB} MiB went out`);
    assert.ok(rssMiB() - rssBefore < 100, `RSS grew by ${(rssMiB() - rssBefore).toFixed(0)} MiB`);
    client.close(1000);
    const canceled = await rejection(piping, 3000, 'the message writer after close()');
    assert.equal(canceled.status, WebErrorStatus.OperationCanceled, canceled.message);
    assert.equal((await within(client.whenClosed(), 3000, 'closed')).code, 1006);
  },
);

test(
  'the server writes 1 GiB to a client that never reads: writes wait, memory stays flat, close() cancels',
  { timeout: 60_000 },
  async (t) => {
    const { port, next } = await listen(t, 'stream');
    const serverSide = next();
    const raw = await RawClient.open(port, '/');
    t.after(() => {
      raw.destroy();
    });
    raw.socket.pause();
    const socket = (await within(serverSide, 2000, 'connectionReceived')) as ServerStreamWebSocket;
    const rssBefore = rssMiB();
    const counter = { produced: 0 };
    const piping = pipeline(source(GiB, counter), socket.outputStream);
    piping.catch(() => undefined);
    await untilStalled(counter, 500, 20_000);
    assert.ok(counter.produced < 128 * MiB, `${counter.produced / MiB} MiB went out`);
    assert.ok(rssMiB() - rssBefore < 100, `RSS grew by ${(rssMiB() - rssBefore).toFixed(0)} MiB`);
    socket.close(1000);
    const canceled = await rejection(piping, 3000, 'the server pipeline after close()');
    assert.equal(canceled.status, WebErrorStatus.OperationCanceled, canceled.message);
    assert.equal((await within(socket.whenClosed(), 3000, 'closed')).code, 1006);
  },
);

// ---------------------------------------------------------------------------------------------------
// (a) A client uploading to our server resets in the middle of a large message.

test(
  'stream server: a client resets 256 MiB into a 1 GiB message: inputStream fails, never ends; 1006',
  { timeout: 60_000 },
  async (t) => {
    const { port, next } = await listen(t, 'stream');
    const serverSide = next();
    const raw = await RawClient.open(
      port,
      '/',
      clientFrame({ opcode: 0x2, declaredLength: BigInt(GiB), maskKey: ZERO_KEY }).subarray(0, 14),
    );
    const socket = (await within(serverSide, 2000, 'connectionReceived')) as ServerStreamWebSocket;
    let read = 0;
    const reading = (async () => {
      for await (const section of socket.inputStream) read += section.length;
    })();
    reading.catch(() => undefined);
    const written = await writeZeros(raw.socket, 256 * MiB);
    assert.equal(written, 256 * MiB);
    raw.socket.resetAndDestroy();
    const error = await rejection(reading, 5000, 'reading the interrupted message');
    assertLost(error, 'the inputStream');
    assert.ok(read > 0 && read <= 256 * MiB, `read ${read} bytes`);
    assert.equal((await within(socket.whenClosed(), 3000, 'closed')).code, 1006);
  },
);

test(
  'message server: a client resets 256 MiB into a fragmented 1 GiB message: messages() fails; 1006',
  { timeout: 60_000 },
  async (t) => {
    const { port, next } = await listen(t, 'message');
    const serverSide = next();
    const raw = await RawClient.open(port, '/');
    const socket = (await within(serverSide, 2000, 'connectionReceived')) as ServerMessageWebSocket;
    let read = 0;
    let messages = 0;
    const reading = (async () => {
      for await (const message of socket.messages()) {
        messages++;
        for await (const section of message) read += section.length;
      }
    })();
    reading.catch(() => undefined);
    // 1 GiB as 1024 fragments of 1 MiB; the client vanishes after 256 of them.
    const fragment = (index: number): Buffer =>
      clientFrame({
        opcode: index === 0 ? 0x2 : 0x0,
        fin: false,
        declaredLength: BigInt(MiB),
        maskKey: ZERO_KEY,
      }).subarray(0, 14);
    for (let index = 0; index < 256 && !raw.isClosed; index++) {
      raw.socket.write(fragment(index));
      if (!raw.socket.write(ZERO_MIB)) await drainedOrClosed(raw.socket);
    }
    raw.socket.resetAndDestroy();
    const error = await rejection(reading, 5000, 'reading the interrupted message');
    assertLost(error, 'the message');
    assert.equal(messages, 1);
    assert.ok(read > 0 && read <= 256 * MiB, `read ${read} bytes`);
    assert.equal((await within(socket.whenClosed(), 3000, 'closed')).code, 1006);
  },
);

test(
  'stream server: a client that closes TCP (FIN, no close frame) in the middle of a message fails the read; 1006',
  { timeout: 60_000 },
  async (t) => {
    // The listener's sockets come from node:http, which allows half-open connections: the peer's FIN
    // alone must still end the WebSocket as lost.
    const { port, next } = await listen(t, 'stream', { keepAliveInterval: 0 });
    const serverSide = next();
    const raw = await RawClient.open(port, '/');
    const socket = (await within(serverSide, 2000, 'connectionReceived')) as ServerStreamWebSocket;
    const reading = (async () => {
      let bytes = 0;
      for await (const section of socket.inputStream) bytes += section.length;
      return bytes;
    })();
    reading.catch(() => undefined);
    raw.socket.write(
      clientFrame({ opcode: 0x2, declaredLength: BigInt(64 * MiB), maskKey: ZERO_KEY }).subarray(0, 14),
    );
    await writeZeros(raw.socket, 8 * MiB);
    raw.socket.end();
    const error = await rejection(reading, 3000, 'reading the message the peer abandoned');
    assertLost(error, 'the inputStream');
    assert.equal((await within(socket.whenClosed(), 3000, 'closed')).code, 1006);
  },
);

test(
  'a peer that vanishes while the application is not reading is still found dead by keep-alive',
  { timeout: 60_000 },
  async (t) => {
    // The application has not read for a while (its input is paused at the high-water mark); meanwhile
    // the peer's machine went away. Keep-alive must still find out, or the connection (and its buffered
    // MiB) stays forever.
    const { port, next } = await listen(t, 'stream', { keepAliveInterval: 200, keepAliveTimeout: 200 });
    const serverSide = next();
    const raw = await RawClient.open(port, '/');
    const socket = (await within(serverSide, 2000, 'connectionReceived')) as ServerStreamWebSocket;
    // 3 MiB: past the 1 MiB high-water mark, so the server stops reading; written without waiting for
    // 'drain' (the server will not take it all).
    raw.socket.write(clientFrame({ opcode: 0x2, declaredLength: BigInt(64 * MiB), maskKey: ZERO_KEY }));
    raw.socket.write(Buffer.alloc(3 * MiB));
    await delay(300);
    raw.socket.resetAndDestroy();
    const closed = await within(socket.whenClosed(), 3000, "'closed' of a connection whose peer vanished");
    assert.equal(closed.code, 1006);
  },
);

// ---------------------------------------------------------------------------------------------------
// (b) Our client writing a large message to a server that resets.

test(
  'openMessage(): piping 1 GiB to a server that resets after 64 MiB rejects; nothing completes; 1006',
  { timeout: 60_000 },
  async (t) => {
    const server = await rawServer(t, { resetAfter: 64 * MiB });
    const client = new MessageWebSocket();
    await client.connectAsync(server.url);
    const counter = { produced: 0 };
    const writer = client.openMessage(SocketMessageType.Binary);
    let finished = false;
    writer.on('finish', () => (finished = true));
    const error = await rejection(pipeline(source(GiB, counter), writer), 20_000, 'the message writer');
    assertLost(error, 'the message writer');
    assert.equal(finished, false, "the writer reported 'finish'");
    assert.ok(counter.produced < GiB, 'the source was not drained to its end');
    const connection = await server.connection;
    assert.ok(connection.received() >= 64 * MiB);
    assert.equal((await within(client.whenClosed(), 3000, 'closed')).code, 1006);
    // And the socket refuses further writes instead of pretending.
    await rejection(client.outputStream.writeAsync(Buffer.from('after')), 2000, 'a write after the reset');
  },
);

test(
  'outputStream.writeAsync(256 MiB) to a server that resets after 32 MiB rejects; flushAsync too; 1006',
  { timeout: 60_000 },
  async (t) => {
    const server = await rawServer(t, { resetAfter: 32 * MiB });
    const client = new StreamWebSocket();
    await client.connectAsync(server.url);
    const big = Buffer.alloc(256 * MiB, 0x61);
    const error = await rejection(client.outputStream.writeAsync(big), 20_000, 'writeAsync of 256 MiB');
    assertLost(error, 'writeAsync');
    await rejection(client.outputStream.flushAsync(), 2000, 'flushAsync after the reset');
    assert.equal((await within(client.whenClosed(), 3000, 'closed')).code, 1006);
  },
);
