// A listener facing the internet: garbage instead of a request, slowloris, every RFC 6455 violation a
// peer can commit, lies in length fields, data after the close, ping floods, tiny-frame floods and
// thousands of connections dropped at every stage. Each case is a raw TCP client against the same two
// listeners (one in 'message' mode with an echo handler, one in 'stream' mode); after every case a
// normal client must still be served, and every server socket must have reported 'closed'.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

import {
  InputStreamOptions,
  MessageWebSocket,
  SocketMessageType,
  StreamWebSocket,
  WebSocketListener,
  type ListenerMode,
  type ServerMessageWebSocket,
  type ServerStreamWebSocket,
  type WebSocketClosedEventArgs,
} from '../src/index.js';
import { EchoClient } from './helpers/echo-client.js';
import { clientFrame, closePayload, RawClient, upgradeRequest } from './helpers/raw-client.js';
import { within } from './helpers/within.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
/** The message listener's limit; the stream listener has none (a byte stream has no message size). */
const MAX_MESSAGE_SIZE = 1 * MiB;

/** One connection the listener handed out, and how it ended. */
interface Served {
  socket: ServerStreamWebSocket | ServerMessageWebSocket;
  path: string;
  closed: WebSocketClosedEventArgs | undefined;
  whenClosed: Promise<WebSocketClosedEventArgs>;
  /** Messages (message mode) or bytes (stream mode) the application received. */
  received: Buffer[];
  /** The server's TCP socket under it. */
  tcp: net.Socket;
}

interface Bound {
  mode: ListenerMode;
  listener: WebSocketListener<ListenerMode>;
  port: number;
  served: Served[];
  /** The next connection the listener hands out. */
  next(): Promise<Served>;
}

/**
 * A listener of `mode` on 127.0.0.1. Connections to /noread are never read by the application; all
 * others echo: each message back as it came (message mode), or the byte stream back (stream mode).
 */
async function bind(mode: ListenerMode): Promise<Bound> {
  const listener = new WebSocketListener<ListenerMode>({
    mode,
    handshakeTimeout: 500,
    closeTimeout: 1000,
    ...(mode === 'message' ? { maxMessageSize: MAX_MESSAGE_SIZE } : {}),
  });
  const served: Served[] = [];
  const takers: ((entry: Served) => void)[] = [];
  listener.on('connectionReceived', ({ socket, request }) => {
    const entry: Served = {
      socket,
      path: request.url ?? '',
      closed: undefined,
      whenClosed: socket.whenClosed(),
      received: [],
      tcp: request.socket,
    };
    void entry.whenClosed.then((info) => (entry.closed = info));
    served.push(entry);
    takers.shift()?.(entry);
    if (entry.path === '/noread') return;
    if ('inputStream' in socket) {
      socket.inputStream.on('data', (chunk: Buffer) => entry.received.push(chunk));
      pipeline(socket.inputStream, socket.outputStream).catch(() => undefined);
    } else {
      socket.on('messageReceived', async (args) => {
        try {
          const data = args.getData();
          entry.received.push(data);
          socket.control.messageType = args.messageType;
          await socket.outputStream.writeAsync(data);
        } catch {
          // A message that failed (1007, 1009…) or a socket that closed under the echo.
        }
      });
    }
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  const port = listener.information.localPort ?? 0;
  return {
    mode,
    listener,
    port,
    served,
    next: () => new Promise((resolve) => takers.push(resolve)),
  };
}

let counter = 0;

/** A normal client of the right kind connects, gets its message echoed, and closes with 1000. */
async function assertServes(bound: Bound): Promise<void> {
  const text = `still serving ${++counter}`;
  const url = `ws://127.0.0.1:${bound.port}/check`;
  if (bound.mode === 'message') {
    const ws = new MessageWebSocket();
    ws.control.messageType = SocketMessageType.Utf8;
    ws.control.connectTimeout = 3000;
    await within(ws.connectAsync(url), 3000, 'connect a normal message client');
    const echoed = new Promise<string>((resolve) => {
      ws.once('messageReceived', (args) => {
        resolve(args.getText());
      });
    });
    await ws.outputStream.writeAsync(Buffer.from(text));
    assert.equal(await within(echoed, 3000, 'the echo'), text);
    const closed = ws.whenClosed();
    ws.close(1000);
    assert.equal((await within(closed, 3000, 'the closing handshake')).code, 1000);
  } else {
    const ws = new StreamWebSocket();
    ws.control.connectTimeout = 3000;
    await within(ws.connectAsync(url), 3000, 'connect a normal stream client');
    await ws.outputStream.writeAsync(Buffer.from(text));
    const length = Buffer.byteLength(text);
    const got = await within(
      ws.inputStream.readAsync(Buffer.alloc(length), length, InputStreamOptions.None),
      3000,
      'the echo',
    );
    assert.equal(got.toString(), text);
    const closed = ws.whenClosed();
    ws.close(1000);
    assert.equal((await within(closed, 3000, 'the closing handshake')).code, 1000);
  }
}

/** Every connection the listener ever handed out has reported 'closed' (its open set is empty). */
async function assertAllClosed(bound: Bound, ms = 5000): Promise<void> {
  const everyClose = Promise.all(bound.served.map((entry) => entry.whenClosed));
  await within(everyClose, ms, "every server socket's 'closed'").catch(() => undefined);
  const open = bound.served.filter((entry) => entry.closed === undefined);
  assert.equal(
    open.length,
    0,
    `${open.length} of ${bound.served.length} server sockets never reported 'closed'`,
  );
}

/** Server-side and client-side TCP sockets alive in this process. */
function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;
}

let message: Bound;
let stream: Bound;

before(async () => {
  message = await bind('message');
  stream = await bind('stream');
});

after(async () => {
  await within(
    Promise.all([message.listener.closeAsync(), stream.listener.closeAsync()]),
    5000,
    'closeAsync',
  );
});

// ---------------------------------------------------------------------------------------------------
// Before the handshake

describe('before the handshake', () => {
  test('random garbage and lying requests get an answer or a close, never a connection or a hang', async () => {
    const lies = [
      // A body on an upgrade request: the body bytes become the first "frames" (an unmasked mess).
      upgradeRequest('/').replace('\r\n\r\n', '\r\nContent-Length: 10\r\n\r\n') + '0123456789',
      upgradeRequest('/').replace('\r\n\r\n', '\r\nTransfer-Encoding: chunked\r\n\r\n') +
        '5\r\nhello\r\n0\r\n\r\n',
      upgradeRequest('/').replace('Sec-WebSocket-Key', 'Sec-WebSocket-Key: a\r\nSec-WebSocket-Key'),
      upgradeRequest('/').replace('13', '13\r\nSec-WebSocket-Version: 8'),
      upgradeRequest(`/${'x'.repeat(20_000)}`),
      upgradeRequest('/').replace('Host: 127.0.0.1', 'Host: \u0000evil'),
      'GET / HTTP/1.1\r\n' + 'X: y\r\n'.repeat(5000) + '\r\n',
      '\r\n'.repeat(10_000),
    ].map((text) => Buffer.from(text, 'latin1'));
    const garbage = Array.from({ length: 24 }, (_unused, index) =>
      index % 3 === 0
        ? Buffer.concat([randomBytes(1 + index * 97), Buffer.from('\r\n\r\n')])
        : randomBytes(1 + ((index * 331) % 9000)),
    );
    const before = message.served.length;
    const outcomes = await Promise.all(
      [...lies, ...garbage].map(async (bytes, index) => {
        const socket = net.connect({ port: message.port, host: '127.0.0.1' });
        socket.on('error', () => undefined);
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        await once(socket, 'connect');
        const started = Date.now();
        socket.write(bytes);
        const closed = await Promise.race([
          once(socket, 'close').then(() => true),
          delay(3000).then(() => false),
        ]);
        socket.destroy();
        const answer = Buffer.concat(chunks).toString('latin1');
        return { index, closed, elapsed: Date.now() - started, answer };
      }),
    );
    for (const outcome of outcomes) {
      assert.ok(outcome.closed, `input ${outcome.index}: still open after ${outcome.elapsed} ms`);
      if (outcome.index >= lies.length) {
        assert.doesNotMatch(outcome.answer, /^HTTP\/1\.1 101/, `garbage ${outcome.index} was upgraded`);
      }
    }
    // The lies that were upgraded (a body taken for frames) were failed with a close code, not served.
    await assertAllClosed(message);
    for (const entry of message.served.slice(before)) {
      assert.ok(entry.closed !== undefined && entry.closed.code !== 1000, `a lie was served: ${entry.path}`);
      assert.equal(entry.received.length, 0, 'nothing of a lie reached the application');
    }
    await assertServes(message);
  });

  test('slowloris: a request sent one byte per 10 ms is dropped by the 500 ms handshake timeout', async () => {
    const socket = net.connect({ port: message.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    await once(socket, 'connect');
    const request = Buffer.from(upgradeRequest('/slow'), 'latin1');
    const started = Date.now();
    const closed = once(socket, 'close');
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < request.length && !socket.destroyed) socket.write(request.subarray(sent, ++sent));
    }, 10);
    try {
      await within(closed, 3000, 'the server dropping the slow client');
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
    const elapsed = Date.now() - started;
    assert.ok(sent < request.length, `the whole request (${request.length} bytes) got through`);
    assert.ok(elapsed >= 400 && elapsed < 2000, `dropped after ${elapsed} ms`);
    assert.doesNotMatch(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 101/);
    assert.ok(!message.served.some((entry) => entry.path === '/slow'), 'the slow client was never served');
    await assertServes(message);
  });
});

// ---------------------------------------------------------------------------------------------------
// Protocol violations after a valid handshake: the raw client must receive the right close code, the
// server socket must report it, and nothing of the offending frame may reach the application.

interface ViolationCase {
  name: string;
  bytes: Buffer;
  code: number;
  /** Payload bytes that precede the violation and may legitimately reach a stream reader (and its echo). */
  prefix?: Buffer;
  /** Only for the listener of this mode (default: both). */
  only?: ListenerMode;
}

const text = (payload: Uint8Array | string, fin = true): Buffer => clientFrame({ opcode: 0x1, payload, fin });
const close = (payload: Uint8Array): Buffer => clientFrame({ opcode: 0x8, payload });

const violations: ViolationCase[] = [
  {
    name: 'an unmasked client frame',
    bytes: clientFrame({ opcode: 0x2, payload: 'x', masked: false }),
    code: 1002,
  },
  { name: 'an unmasked ping', bytes: clientFrame({ opcode: 0x9, masked: false }), code: 1002 },
  {
    name: 'RSV1 without a negotiated extension',
    bytes: clientFrame({ opcode: 0x2, payload: 'x', rsv: 4 }),
    code: 1002,
  },
  { name: 'RSV2', bytes: clientFrame({ opcode: 0x2, payload: 'x', rsv: 2 }), code: 1002 },
  { name: 'RSV3', bytes: clientFrame({ opcode: 0x1, payload: 'x', rsv: 1 }), code: 1002 },
  { name: 'RSV1 on a ping', bytes: clientFrame({ opcode: 0x9, rsv: 4 }), code: 1002 },
  ...[0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode) => ({
    name: `reserved opcode 0x${opcode.toString(16)}`,
    bytes: clientFrame({ opcode, payload: 'x' }),
    code: 1002,
  })),
  { name: 'a fragmented ping', bytes: clientFrame({ opcode: 0x9, payload: 'p', fin: false }), code: 1002 },
  {
    name: 'a fragmented close',
    bytes: clientFrame({ opcode: 0x8, payload: closePayload(1000), fin: false }),
    code: 1002,
  },
  {
    name: 'a ping of 126 bytes',
    bytes: clientFrame({ opcode: 0x9, payload: Buffer.alloc(126) }),
    code: 1002,
  },
  { name: 'a pong of 64 KiB', bytes: clientFrame({ opcode: 0xa, payload: Buffer.alloc(65536) }), code: 1002 },
  {
    name: 'a close of 200 bytes',
    bytes: clientFrame({ opcode: 0x8, payload: closePayload(1000, 'r'.repeat(198)) }),
    code: 1002,
  },
  {
    // §5.2: the minimal length form MUST be used, and §5.5: a control frame's length fits the 7-bit form.
    name: 'a ping of 100 bytes whose length is written in the 16-bit form',
    bytes: clientFrame({ opcode: 0x9, payload: Buffer.alloc(100), lengthForm: 16 }),
    code: 1002,
  },
  {
    name: 'a 64-bit length with the most significant bit set',
    bytes: clientFrame({ opcode: 0x2, declaredLength: 0x8000_0000_0000_0001n, lengthForm: 64 }),
    code: 1002,
  },
  {
    name: 'a 64-bit length of 2^63 + 5 on a continuation',
    bytes: Buffer.concat([
      clientFrame({ opcode: 0x2, payload: 'a', fin: false }),
      clientFrame({ opcode: 0x0, declaredLength: 0x8000_0000_0000_0005n, lengthForm: 64 }),
    ]),
    code: 1002,
    prefix: Buffer.from('a'),
  },
  {
    name: 'a declared length of 2^40 bytes over maxMessageSize',
    bytes: clientFrame({ opcode: 0x2, declaredLength: 1n << 40n }),
    code: 1009,
    only: 'message',
  },
  {
    name: 'fragments that add up to more than maxMessageSize',
    bytes: Buffer.concat([
      clientFrame({ opcode: 0x2, payload: Buffer.alloc(MAX_MESSAGE_SIZE / 2), fin: false }),
      clientFrame({ opcode: 0x0, payload: Buffer.alloc(MAX_MESSAGE_SIZE / 2), fin: false }),
      clientFrame({ opcode: 0x0, payload: 'x' }),
    ]),
    code: 1009,
    only: 'message',
  },
  {
    name: 'a continuation with no message open',
    bytes: clientFrame({ opcode: 0x0, payload: 'x' }),
    code: 1002,
  },
  {
    name: 'a new data frame inside a fragmented message',
    bytes: Buffer.concat([text('a', false), clientFrame({ opcode: 0x2, payload: 'b' })]),
    code: 1002,
    prefix: Buffer.from('a'),
  },
  { name: 'invalid UTF-8 in a text message (C3 28)', bytes: text(Buffer.from([0xc3, 0x28])), code: 1007 },
  {
    name: 'a UTF-16 surrogate in a text message (ED A0 80)',
    bytes: text(Buffer.from([0xed, 0xa0, 0x80])),
    code: 1007,
  },
  { name: 'an overlong encoding (C0 AF)', bytes: text(Buffer.from([0xc0, 0xaf])), code: 1007 },
  {
    name: 'a code point over U+10FFFF (F4 90 80 80)',
    bytes: text(Buffer.from([0xf4, 0x90, 0x80, 0x80])),
    code: 1007,
  },
  {
    name: 'a text message ending inside a code point',
    bytes: text(Buffer.from([0x61, 0xe2, 0x82])),
    code: 1007,
    prefix: Buffer.from([0x61, 0xe2, 0x82]),
  },
  {
    name: 'invalid UTF-8 across fragments',
    bytes: Buffer.concat([
      text(Buffer.from([0x61, 0xe2]), false),
      clientFrame({ opcode: 0x0, payload: Buffer.from([0x28]) }),
    ]),
    code: 1007,
    prefix: Buffer.from([0x61, 0xe2]),
  },
  {
    name: 'invalid UTF-8 in a close reason',
    bytes: close(closePayload(1000, Buffer.from([0xff, 0xfe]))),
    code: 1007,
  },
  {
    name: 'a close reason ending inside a code point',
    bytes: close(closePayload(1000, Buffer.from([0xe2, 0x82]))),
    code: 1007,
  },
  ...[1005, 1006, 1004, 1015, 999, 0, 2999, 5000, 65535].map((code) => ({
    name: `a close with the invalid code ${code}`,
    bytes: close(closePayload(code)),
    code: 1002,
  })),
  { name: 'a close with a one-byte payload', bytes: close(Buffer.from([0x03])), code: 1002 },
];

for (const mode of ['message', 'stream'] as const) {
  describe(`protocol violations against the ${mode} listener`, () => {
    for (const violation of violations) {
      if (violation.only !== undefined && violation.only !== mode) continue;
      test(`${violation.name} → ${violation.code}`, async () => {
        const bound = mode === 'message' ? message : stream;
        const serverSide = bound.next();
        const raw = await RawClient.open(bound.port, '/violation');
        const served = await within(serverSide, 2000, 'connectionReceived');
        raw.send(violation.bytes);
        assert.equal(await raw.closeCode(3000), violation.code, 'the close code the raw client received');
        const info = await within(served.whenClosed, 3000, "the server socket's 'closed'");
        assert.equal(info.code, violation.code, "the code the server socket reports in 'closed'");
        // Nothing of the offending frame reached the application or came back as an echo: at most the
        // valid bytes before it (a byte stream delivers them as they come; a message is never complete).
        const prefix = mode === 'stream' ? (violation.prefix ?? Buffer.alloc(0)) : Buffer.alloc(0);
        const delivered = Buffer.concat(served.received);
        assert.ok(
          prefix.subarray(0, delivered.length).equals(delivered),
          `delivered ${delivered.toString('hex')}`,
        );
        const echoed = Buffer.concat(
          raw.frames.filter((frame) => frame.opcode !== 0x8).map((frame) => frame.payload),
        );
        assert.ok(prefix.subarray(0, echoed.length).equals(echoed), `echoed ${echoed.toString('hex')}`);
        assert.equal(raw.frames.filter((frame) => frame.opcode === 0x8).length, 1, 'exactly one close frame');
        await assertServes(bound);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// The closing handshake and floods

describe('after the close and under floods', () => {
  for (const mode of ['message', 'stream'] as const) {
    test(`${mode}: data frames after the close frame are ignored; the server answers the close and closes TCP`, async () => {
      const bound = mode === 'message' ? message : stream;
      const serverSide = bound.next();
      const raw = await RawClient.open(bound.port, '/after-close');
      const served = await within(serverSide, 2000, 'connectionReceived');
      raw.send(
        Buffer.concat([
          clientFrame({ opcode: 0x8, payload: closePayload(1000, 'bye') }),
          clientFrame({ opcode: 0x2, payload: 'after the close' }),
          text(Buffer.from([0xc3, 0x28])), // would be a 1007 if it were read
          clientFrame({ opcode: 0x9, payload: 'ping after close' }),
        ]),
      );
      // Once the server's answer is here, it has read the close: this frame comes after it, on its own.
      await raw.until(() => raw.frames.some((frame) => frame.opcode === 0x8), 3000, "the server's close");
      raw.send(clientFrame({ opcode: 0x2, payload: 'later still' }));
      assert.equal(await raw.closeCode(3000), 1000, 'the server echoed the close code');
      assert.deepEqual(
        raw.frames.map((frame) => frame.opcode),
        [0x8],
        'one close frame and nothing else: no echo, no pong',
      );
      assert.deepEqual(await within(served.whenClosed, 3000, 'closed'), { code: 1000, reason: 'bye' });
      assert.equal(served.received.length, 0, 'nothing after the close reached the application');
      await assertServes(bound);
    });
  }

  test('10,000 pings without reading the pongs: the server stays responsive, its pong queue stays bounded', async () => {
    const serverSide = message.next();
    const raw = await RawClient.open(message.port, '/ping-flood');
    const served = await within(serverSide, 2000, 'connectionReceived');
    raw.socket.pause(); // never read the pongs
    gc();
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const payloadOf = (index: number): Buffer => {
      const payload = Buffer.alloc(125, 0x2e);
      payload.writeUInt32BE(index, 0);
      return payload;
    };
    // Loopback kernel buffers take a few MB of pongs: flood until the server's socket is full (at least
    // 10,000 pings), then send 10,000 more into the full socket.
    let largestQueue = 0;
    let pings = 0;
    let fullAt: number | undefined;
    while (fullAt === undefined ? pings < 500_000 : pings < fullAt + 10_000) {
      largestQueue = Math.max(largestQueue, served.tcp.writableLength);
      if (fullAt === undefined && pings >= 10_000 && served.tcp.writableNeedDrain) fullAt = pings;
      if (!raw.socket.write(clientFrame({ opcode: 0x9, payload: payloadOf(pings++) }))) {
        // The server reads pings even while we do not read its pongs: our writes must drain.
        await within(once(raw.socket, 'drain'), 5000, `drain after ping ${pings}`);
      }
      if (pings % 1000 === 0) await delay(1);
    }
    // A data message after the pings: once the application has it, the server has read every ping.
    const marker = Buffer.from('after the pings');
    const markerArrived = once(served.socket, 'messageReceived');
    raw.send(clientFrame({ opcode: 0x2, payload: marker }));
    await within(markerArrived, 5000, 'the message after the pings');
    assert.ok(served.received.at(-1)?.equals(marker), 'the message after the pings reached the application');
    largestQueue = Math.max(largestQueue, served.tcp.writableLength);
    assert.ok(fullAt !== undefined, `the server socket never filled up in ${pings} pings`);
    // The server's kernel buffers are full (we do not read), yet what it queues in user space stays
    // at about the socket's high-water mark: one pending pong, not 10,000.
    assert.ok(served.tcp.writableNeedDrain, 'the server socket is still full');
    const bound = served.tcp.writableHighWaterMark + 64 * 1024;
    assert.ok(largestQueue < bound, `the server queued ${largestQueue} bytes of pongs (bound ${bound})`);
    // Served meanwhile: another client gets its echo while the flooding one is still unread.
    await assertServes(message);
    gc();
    const growth = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore;
    assert.ok(growth < 8 * MiB, `memory grew by ${(growth / MiB).toFixed(1)} MiB during the flood`);
    // Now read: the pongs come, the last one answers the last ping (only the latest is kept while the
    // socket is full), and the server did not queue all 10,000 of them in memory.
    raw.socket.resume();
    const lastPayload = payloadOf(pings - 1);
    await raw.until(
      () => raw.frames.some((frame) => frame.opcode === 0xa && frame.payload.equals(lastPayload)),
      5000,
      'the pong of the last ping',
    );
    const pongs = raw.frames.filter((frame) => frame.opcode === 0xa);
    assert.ok(pongs.length <= pings, `${pongs.length} pongs for ${pings} pings`);
    assert.ok(pongs.every((pong) => pong.payload.length === 125));
    // Pongs are answered in order (never an older payload after a newer one).
    const order = pongs.map((pong) => pong.payload.readUInt32BE(0));
    assert.ok(
      order.every((value, index) => index === 0 || value > order[index - 1]!),
      'pongs in order',
    );
    raw.send(clientFrame({ opcode: 0x8, payload: closePayload(1000) }));
    assert.equal(await raw.closeCode(3000), 1000);
    assert.equal((await within(served.whenClosed, 3000, 'closed')).code, 1000);
  });

  for (const mode of ['message', 'stream'] as const) {
    test(`${mode}: 300,000 one-byte fragments to an application that does not read stay within bounded memory`, async (t) => {
      // 2.1 MB on the wire; each fragment is one section of one byte. What the server holds for a
      // reader that does not read is bounded by the high-water mark (1 MiB of payload) plus a bounded
      // cost per section: here that must stay far below the 300,000 objects the sections would be.
      const bound = mode === 'message' ? message : stream;
      const serverSide = bound.next();
      const raw = await RawClient.open(bound.port, '/noread');
      const served = await within(serverSide, 2000, 'connectionReceived');
      gc();
      const before = process.memoryUsage();
      const fragments = 300_000;
      const one = (opcode: number): Buffer =>
        clientFrame({ opcode, payload: 'A', fin: false, maskKey: Buffer.alloc(4) });
      const batch = Buffer.concat(Array.from({ length: 10_000 }, () => one(0x0)));
      // The server either reads everything or stops reading its TCP socket (it pauses it): the bound.
      const stopped = once(served.tcp, 'pause').then(() => 'stopped' as const);
      raw.send(one(0x2));
      for (let sent = 1; sent < fragments; sent += 10_000) {
        const ok = raw.socket.write(
          sent + 10_000 > fragments ? batch.subarray(0, (fragments - sent) * 7) : batch,
        );
        if (!ok) {
          const drained = once(raw.socket, 'drain').then(() => 'drained' as const);
          if ((await within(Promise.race([drained, stopped]), 5000, 'drain')) === 'stopped') break;
        }
      }
      const sentBytes = raw.socket.bytesWritten;
      const readAll = new Promise<'read'>((resolve) => {
        const check = (): void => {
          if (served.tcp.bytesRead >= sentBytes) resolve('read');
        };
        served.tcp.on('data', check);
        check();
      });
      const how = await within(Promise.race([readAll, stopped]), 5000, 'the server reading or stopping');
      t.diagnostic(`the server ${how === 'read' ? 'read all' : 'stopped reading'}`);
      gc();
      const after = process.memoryUsage();
      const growth = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);

      // The application gives up on it (a paused socket would not notice a vanished peer by itself).
      raw.destroy();
      served.socket.close(1000);
      await within(served.whenClosed, 3000, 'closed');
      assert.ok(
        growth < 12 * MiB,
        `holding 300,000 unread one-byte sections grew the heap by ${(growth / MiB).toFixed(1)} MiB: the ` +
          'high-water mark counts payload bytes only, so 1 MiB of one-byte sections is a million Buffer objects',
      );
      await assertServes(bound);
    });

    test(`${mode}: one payload byte per 64 KiB TCP chunk must not pin the whole chunk`, async () => {
      // Each chunk the server reads carries one byte of data frame and ~63 KiB of pings. The section
      // handed to the application is a view of that chunk: if it is held (a slow reader) it keeps
      // the whole chunk alive while only 1 byte counts against the high-water mark.
      const bound = mode === 'message' ? message : stream;
      const serverSide = bound.next();
      const raw = await RawClient.open(bound.port, '/noread');
      const served = await within(serverSide, 2000, 'connectionReceived');
      gc();
      const before = process.memoryUsage().arrayBuffers;
      const zero = Buffer.alloc(4);
      const ping = clientFrame({ opcode: 0x9, payload: Buffer.alloc(125), maskKey: zero });
      const padding = Buffer.concat(Array.from({ length: 480 }, () => ping));
      const chunks = 1024; // 64 MiB sent, 1 KiB of payload
      for (let index = 0; index < chunks; index++) {
        const data = clientFrame({
          opcode: index === 0 ? 0x2 : 0x0,
          payload: 'A',
          fin: false,
          maskKey: zero,
        });
        if (!raw.socket.write(Buffer.concat([data, padding]))) {
          await within(once(raw.socket, 'drain'), 5000, 'drain');
        }
      }
      // A last ping of its own: its pong comes after every other one, once the server has read
      // everything. The pongs this client decoded are dropped so that only the server's memory is measured.
      const last = Buffer.from('the last ping');
      raw.send(clientFrame({ opcode: 0x9, payload: last, maskKey: zero }));
      let pongs = 0;
      let lastAnswered = false;
      await raw.until(
        () => {
          for (const frame of raw.frames.splice(0)) {
            if (frame.payload.equals(last)) lastAnswered = true;
            else pongs++;
          }
          return lastAnswered;
        },
        10_000,
        'the pong of the last ping',
      );
      // Pings that find the socket full are answered only the latest (§5.5.3), but each read gets one.
      assert.ok(pongs >= chunks, `${pongs} pongs`);
      // Nothing is in flight between the two ends (both in this process) any more: what the heap holds
      // now is what the unread sections pin. (V8 frees dead ArrayBuffers in a sweep that the next
      // collection completes: hence two.)
      gc();
      gc();
      const growth = process.memoryUsage().arrayBuffers - before;
      raw.destroy();
      served.socket.close(1000);
      await within(served.whenClosed, 3000, 'closed');
      assert.ok(
        growth < 16 * MiB,
        `1 KiB of unread payload holds ${(growth / MiB).toFixed(1)} MiB of socket chunks alive`,
      );
      await assertServes(bound);
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// Connections by the thousand

describe('connections opened and dropped by the thousand', () => {
  test('2,000 connections, half dropped mid-handshake, half after the upgrade: all closed, none leaked', async () => {
    for (const bound of [message, stream]) await assertAllClosed(bound);
    const socketsBefore = tcpSockets();
    const servedBefore = message.served.length;
    const total = 2000;
    const batchSize = 100;
    let upgraded = 0;
    /** How each upgraded connection was dropped: FIN (destroy) or RST (resetAndDestroy). */
    const how = new Map<string, string>();
    const one = async (index: number): Promise<void> => {
      const socket = net.connect({ port: message.port, host: '127.0.0.1' });
      socket.on('error', () => undefined);
      const closed = once(socket, 'close');
      await once(socket, 'connect');
      const request = Buffer.from(upgradeRequest(`/drop/${index}`), 'latin1');
      if (index % 2 === 0) {
        // Mid-handshake: part of the request line or headers, then gone.
        socket.write(request.subarray(0, 1 + (index % (request.length - 10))));
        if (index % 4 === 0) await delay(index % 7);
        if (index % 8 === 0) socket.resetAndDestroy();
        else socket.destroy();
      } else {
        const answered = new Promise<void>((resolve) => {
          socket.once('data', () => {
            resolve();
          });
        });
        socket.write(
          index % 3 === 0
            ? Buffer.concat([request, clientFrame({ opcode: 0x2, payload: 'half', fin: false })])
            : request,
        );
        await within(answered, 3000, `the 101 of connection ${index}`);
        upgraded++;
        const kind = `${index % 3 === 0 ? 'mid-message ' : ''}${index % 3 === 1 ? 'RST' : 'FIN'}`;
        how.set(`/drop/${index}`, kind);
        if (index % 3 === 1) socket.resetAndDestroy();
        else socket.destroy();
      }
      await closed;
    };
    for (let start = 0; start < total; start += batchSize) {
      await within(
        Promise.all(Array.from({ length: batchSize }, (_unused, offset) => one(start + offset))),
        10_000,
        `batch at ${start}`,
      );
    }
    const dropped = message.served.slice(servedBefore);
    const everyClose = Promise.all(dropped.map((entry) => entry.whenClosed));
    await within(everyClose, 5000, "every dropped server socket's 'closed'").catch(() => undefined);
    const stillOpen = new Map<string, number>();
    for (const entry of dropped) {
      if (entry.closed !== undefined) continue;
      const kind = how.get(entry.path) ?? '?';
      stillOpen.set(kind, (stillOpen.get(kind) ?? 0) + 1);
    }
    assert.deepEqual(
      Object.fromEntries(stillOpen),
      {},
      "server sockets whose peer vanished never reported 'closed' (by how the peer left)",
    );
    assert.equal(dropped.length, upgraded, 'every upgraded connection was handed out once');
    assert.equal(upgraded, total / 2);
    for (const entry of dropped)
      assert.equal(entry.closed?.code, 1006, `${entry.path}: ${entry.closed?.code}`);
    // Partial messages of vanished peers reached nobody as complete messages.
    assert.ok(dropped.every((entry) => entry.received.length === 0));
    // No socket is left behind on either side.
    const deadline = Date.now() + 5000;
    while (tcpSockets() > socketsBefore && Date.now() < deadline) await delay(20);
    assert.ok(tcpSockets() <= socketsBefore, `${tcpSockets() - socketsBefore} TCP sockets leaked`);
    await assertServes(message);
    await assertAllClosed(message);
  });
});

// ---------------------------------------------------------------------------------------------------
// The application's handlers facing a misbehaving peer

describe('messageReceived handlers facing a misbehaving peer', () => {
  const SERVER_SCRIPT = fileURLToPath(new URL('./helpers/pid-echo-server.js', import.meta.url));

  for (const [name, bytes, code] of [
    ['invalid UTF-8 (1007)', text(Buffer.from([0xc3, 0x28])), 1007],
    ['a reserved opcode (1002)', clientFrame({ opcode: 0x3, payload: 'x' }), 1002],
    [
      'a message cut off by a protocol error (1002)',
      Buffer.concat([text('half', false), clientFrame({ opcode: 0x2 })]),
      1002,
    ],
  ] as const) {
    test(`a server with the README's handler (e => e.getText(), no try/catch) survives ${name}`, async (t) => {
      // In a process of its own: a crash must not take this test file down with it.
      const env = { ...process.env };
      delete env.NODE_TEST_CONTEXT;
      const child = spawn(process.execPath, [SERVER_SCRIPT, '--naive'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
      });
      t.after(() => {
        child.kill('SIGKILL');
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      let stdout = '';
      const port = await within(
        new Promise<number>((resolve, reject) => {
          child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
            stdout += chunk;
            const match = /^PORT (\d+)$/m.exec(stdout);
            if (match !== null) resolve(Number(match[1]));
          });
          child.once('exit', () => {
            reject(new Error(`the server exited at start: ${stderr}`));
          });
        }),
        10_000,
        'the server starting',
      );
      // A good message first: the handler has answered once (it is attached and working).
      const good = new EchoClient();
      await good.connect(`ws://127.0.0.1:${port}/good`);
      assert.match(await good.ask('first'), /^\d+:first$/);
      const raw = await RawClient.open(port, '/bad');
      raw.send(bytes);
      assert.equal(await raw.closeCode(3000), code);
      // A round trip on the good connection: what the bad frames set off in the server has run by then
      // (a crash ends the process, and the answer never comes).
      const exited = new Promise<undefined>((resolve) => {
        child.once('exit', () => {
          resolve(undefined);
        });
      });
      const second = await Promise.race([good.ask('second'), exited]);
      const thrown = stderr.split('\n').find((line) => /^\w*Error\b/.test(line)) ?? stderr.slice(0, 300);
      assert.equal(child.exitCode, null, `the server process crashed with an uncaught ${thrown}`);
      // Still serving, the old connection and a new one.
      assert.match(second ?? '', /^\d+:second$/);
      const fresh = new EchoClient();
      await fresh.connect(`ws://127.0.0.1:${port}/fresh`);
      assert.match(await fresh.ask('third'), /^\d+:third$/);
      for (const client of [good, fresh]) client.close();
      await within(Promise.all([good.whenClosed(), fresh.whenClosed()]), 3000, 'closing');
    });
  }

  test("once('messageReceived') runs its handler for one message only", async () => {
    // The server sends three messages; a once() handler must see the first and then be gone (it is
    // what the handlers that stay attached by mistake turn into: a throw on the failure event later).
    const serverSide = message.next();
    const ws = new MessageWebSocket();
    ws.control.messageType = SocketMessageType.Utf8;
    const seen: string[] = [];
    ws.once('messageReceived', (args) => {
      seen.push(args.getText());
    });
    // A second listener, attached after the once() one, sees all three: when it has the third, the
    // once() handler has been offered every message it could have run for.
    const allThree = new Promise<void>((resolve) => {
      let count = 0;
      const counter = (): void => {
        if (++count < 3) return;
        ws.off('messageReceived', counter);
        resolve();
      };
      ws.on('messageReceived', counter);
    });
    await ws.connectAsync(`ws://127.0.0.1:${message.port}/once`);
    const served = await within(serverSide, 2000, 'connectionReceived');
    const socket = served.socket as ServerMessageWebSocket;
    socket.control.messageType = SocketMessageType.Utf8;
    for (const word of ['one', 'two', 'three']) await socket.outputStream.writeAsync(Buffer.from(word));
    await within(allThree, 3000, 'the three messages');
    assert.deepEqual(seen, ['one']);
    assert.equal(ws.listenerCount('messageReceived'), 0);
    const closed = ws.whenClosed();
    ws.close(1000);
    await within(closed, 3000, 'closed');
  });
});
