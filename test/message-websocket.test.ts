// MessageWebSocket and ServerMessageWebSocket over real loopback sockets: whole messages and fragments
// both ways, messageReceived in FullMessage and PartialMessage mode with async-handler backpressure,
// messages() and openMessage() as streams in bounded memory, and the faults (1007, 1009, 1011, 1002)
// that must surface as errors instead of truncated or lost messages.

import assert from 'node:assert/strict';
import { Buffer, isUtf8 } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type net from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { WebSocketServer, type WebSocket as WsSocket } from 'ws';

import {
  HResult,
  type IncomingMessage,
  MessageWebSocket,
  type MessageWebSocketMessageReceivedEventArgs,
  MessageWebSocketReceiveMode,
  type ServerMessageWebSocket,
  SocketMessageType,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
  type WebSocketListenerOptions,
} from '../src/index.js';
import { closeCodeOf, rawWebSocketServer, serverFrame, type Frame } from './helpers/raw-server.js';
import { within as settleWithin } from './helpers/within.js';

const MIB = 1024 * 1024;
const WAIT = 5_000;

type MessageSocket = MessageWebSocket | ServerMessageWebSocket;

// ---- helpers -------------------------------------------------------------------------------------------

/** Settles like `promise`, or rejects after `ms`. */
function within<T>(promise: Promise<T>, what: string, ms = WAIT): Promise<T> {
  return settleWithin(promise, ms, what);
}

/** Items pushed by callbacks, taken in order with a bounded wait. */
class Inbox<T> {
  private readonly items: T[] = [];
  private readonly takers: ((item: T) => void)[] = [];

  push(item: T): void {
    const taker = this.takers.shift();
    if (taker === undefined) this.items.push(item);
    else taker(item);
  }

  get size(): number {
    return this.items.length;
  }

  next(what = 'the next item'): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return within(
      new Promise<T>((resolve) => {
        this.takers.push(resolve);
      }),
      what,
    );
  }
}

/** The messageReceived events of a socket, in order. */
function events(socket: MessageSocket): Inbox<MessageWebSocketMessageReceivedEventArgs> {
  const inbox = new Inbox<MessageWebSocketMessageReceivedEventArgs>();
  socket.on('messageReceived', (args) => {
    inbox.push(args);
  });
  return inbox;
}

function newClient(t: TestContext): MessageWebSocket {
  const client = new MessageWebSocket();
  client.control.closeTimeout = 2_000;
  t.after(() => {
    client.close();
  });
  return client;
}

async function messageListener(
  t: TestContext,
  options: WebSocketListenerOptions<'message'> = {},
): Promise<{ url: string; nextSocket: () => Promise<ServerMessageWebSocket> }> {
  const listener = new WebSocketListener({ mode: 'message', closeTimeout: 2_000, ...options });
  const inbox = new Inbox<ServerMessageWebSocket>();
  listener.on('connectionReceived', ({ socket }) => {
    inbox.push(socket);
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(() => listener.closeAsync());
  return {
    url: `ws://127.0.0.1:${String(listener.information.localPort)}/chat`,
    nextSocket: () => inbox.next('a connection at the listener'),
  };
}

/** Our client connected to our listener in 'message' mode. */
async function connectedPair(
  t: TestContext,
  configure: (client: MessageWebSocket) => void = () => undefined,
  options: WebSocketListenerOptions<'message'> = {},
): Promise<{ client: MessageWebSocket; server: ServerMessageWebSocket }> {
  const { url, nextSocket } = await messageListener(t, options);
  const client = newClient(t);
  configure(client);
  const server = nextSocket();
  await client.connectAsync(url);
  return { client, server: await server };
}

/** A `ws` WebSocketServer that records the messages it receives. */
async function wsPeer(t: TestContext): Promise<{
  url: string;
  messages: Inbox<{ data: Buffer; isBinary: boolean }>;
  closed: Promise<{ code: number; reason: string }>;
  /** Runs `fn` with the peer's side of each connection. */
  onConnection: (fn: (socket: WsSocket) => void) => void;
}> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const peer of wss.clients) peer.terminate();
        wss.close(() => {
          resolve();
        });
      }),
  );
  const messages = new Inbox<{ data: Buffer; isBinary: boolean }>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    wss.on('connection', (peer) => {
      peer.on('message', (data: Buffer, isBinary: boolean) => {
        messages.push({ data, isBinary });
      });
      peer.on('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString() });
      });
    });
  });
  return {
    url: `ws://127.0.0.1:${String((wss.address() as net.AddressInfo).port)}/`,
    messages,
    closed,
    onConnection: (fn) => {
      wss.on('connection', fn);
    },
  };
}

async function readStream(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const sections: Buffer[] = [];
  for await (const section of stream) sections.push(section as Buffer);
  return Buffer.concat(sections);
}

/** Runs `fn` and returns the WebSocketError it throws (synchronously or as a rejection). */
async function webSocketErrorOf(fn: () => unknown, what: string): Promise<WebSocketError> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof WebSocketError, `${what}: expected a WebSocketError, got ${String(error)}`);
    return error;
  }
  assert.fail(`${what}: expected an error`);
}

function assertHresult(error: WebSocketError, hresult: number, what: string): void {
  assert.equal(error.hresult >>> 0, hresult >>> 0, `${what}: hresult 0x${error.hresult.toString(16)}`);
}

function dataFrames(frames: readonly Frame[]): { fin: boolean; opcode: number; payload: string }[] {
  return frames
    .filter((frame) => frame.opcode < 0x8)
    .map(({ fin, opcode, payload }) => ({ fin, opcode, payload: payload.toString('hex') }));
}

// ---- whole messages --------------------------------------------------------------------------------------

test('control defaults: Binary and FullMessage on both sides, no size limit', async (t) => {
  const client = new MessageWebSocket();
  assert.equal(client.control.messageType, SocketMessageType.Binary);
  assert.equal(client.control.receiveMode, MessageWebSocketReceiveMode.FullMessage);
  assert.equal(client.control.maxMessageSize, Infinity);
  const { server } = await connectedPair(t);
  assert.equal(server.control.messageType, SocketMessageType.Binary);
  assert.equal(server.control.receiveMode, MessageWebSocketReceiveMode.FullMessage);
});

test('text (non-ASCII) and binary messages flow both ways with the received messageType', async (t) => {
  const { client, server } = await connectedPair(t);
  const atServer = events(server);
  const atClient = events(client);
  const text = 'héllo wörld — € 😀 日本語';
  const bytes = Buffer.from([0, 1, 2, 0x80, 0xfe, 0xff]);

  client.control.messageType = SocketMessageType.Utf8;
  assert.equal(await client.outputStream.writeAsync(Buffer.from(text)), Buffer.byteLength(text));
  client.control.messageType = SocketMessageType.Binary;
  assert.equal(await client.outputStream.writeAsync(bytes), bytes.length);
  await client.outputStream.writeAsync(Buffer.from('ünïcödé in binary'));
  client.control.messageType = SocketMessageType.Utf8;
  await client.sendFinalFrameAsync(Buffer.from('sent whole by sendFinalFrameAsync'));

  const first = await atServer.next();
  assert.equal(first.messageType, SocketMessageType.Utf8);
  assert.equal(first.isMessageComplete, true);
  assert.equal(first.getText(), text);
  assert.deepEqual(first.getData(), Buffer.from(text));
  const second = await atServer.next();
  assert.equal(second.messageType, SocketMessageType.Binary);
  assert.equal(second.isMessageComplete, true);
  assert.deepEqual(second.getData(), bytes);
  const invalidText = await webSocketErrorOf(() => second.getText(), 'getText of bytes that are not UTF-8');
  assert.ok(invalidText.message.length > 0);
  const third = await atServer.next();
  assert.equal(third.messageType, SocketMessageType.Binary);
  assert.equal(third.getText(), 'ünïcödé in binary', 'a binary message may carry UTF-8: getText works');
  const fourth = await atServer.next();
  assert.equal(fourth.messageType, SocketMessageType.Utf8);
  assert.equal(fourth.getText(), 'sent whole by sendFinalFrameAsync');

  // The server's default type is Binary; switching to Utf8 changes the next write.
  await server.outputStream.writeAsync(bytes);
  server.control.messageType = SocketMessageType.Utf8;
  await server.outputStream.writeAsync(Buffer.from(text));
  const fromServer1 = await atClient.next();
  assert.equal(fromServer1.messageType, SocketMessageType.Binary);
  assert.deepEqual(fromServer1.getData(), bytes);
  const fromServer2 = await atClient.next();
  assert.equal(fromServer2.messageType, SocketMessageType.Utf8);
  assert.equal(fromServer2.isMessageComplete, true);
  assert.equal(fromServer2.getText(), text);
  assert.equal(atServer.size + atClient.size, 0, 'one event per message');
});

test('control.messageType changed between writes: each write is one message of the type set for it', async (t) => {
  const peer = await wsPeer(t);
  const client = newClient(t);
  await client.connectAsync(peer.url);
  // Awaited writes.
  const sequence = [
    [SocketMessageType.Utf8, 'a'],
    [SocketMessageType.Binary, 'b'],
    [SocketMessageType.Utf8, 'c'],
    [SocketMessageType.Binary, 'd'],
  ] as const;
  for (const [type, data] of sequence) {
    client.control.messageType = type;
    await client.outputStream.writeAsync(Buffer.from(data));
  }
  for (const [type, data] of sequence) {
    const message = await peer.messages.next();
    assert.equal(message.data.toString(), data);
    assert.equal(message.isBinary, type === SocketMessageType.Binary, `message ${data}`);
  }
});

test('writes issued back to back keep the messageType that was set when each write was made', async (t) => {
  const peer = await wsPeer(t);
  const client = newClient(t);
  await client.connectAsync(peer.url);
  // The second and third writes are queued in the Writable while the first is in flight.
  client.control.messageType = SocketMessageType.Utf8;
  const first = client.outputStream.writeAsync(Buffer.from('text 1'));
  client.control.messageType = SocketMessageType.Binary;
  const second = client.outputStream.writeAsync(Buffer.from([0xff, 0x00]));
  client.control.messageType = SocketMessageType.Utf8;
  const third = client.outputStream.writeAsync(Buffer.from('text 2'));
  const outcomes = await Promise.allSettled([first, second, third]);
  const [, secondOutcome] = outcomes;
  assert.deepEqual(
    outcomes.map((outcome) => outcome.status),
    ['fulfilled', 'fulfilled', 'fulfilled'],
    `the second write was handled with the type set after it: ${secondOutcome.status === 'rejected' ? String(secondOutcome.reason) : 'ok'}`,
  );
  const received = [await peer.messages.next(), await peer.messages.next(), await peer.messages.next()];
  assert.deepEqual(
    received.map((message) => message.isBinary),
    [false, true, false],
  );
});

test('empty messages, and getData/getText/getDataStream agree', async (t) => {
  const { client, server } = await connectedPair(t);
  const atServer = events(server);
  const atClient = events(client);
  client.control.messageType = SocketMessageType.Utf8;
  await client.outputStream.writeAsync(Buffer.alloc(0));
  client.control.messageType = SocketMessageType.Binary;
  await client.outputStream.writeAsync(new Uint8Array(0));
  await client.sendFinalFrameAsync(new Uint8Array(0));
  for (const type of [SocketMessageType.Utf8, SocketMessageType.Binary, SocketMessageType.Binary]) {
    const empty = await atServer.next();
    assert.equal(empty.messageType, type);
    assert.equal(empty.isMessageComplete, true);
    assert.equal(empty.getData().length, 0);
    assert.equal(empty.getText(), '');
    assert.equal((await readStream(empty.getDataStream())).length, 0);
  }

  const payload = randomBytes(300 * 1024);
  await server.outputStream.writeAsync(payload);
  const big = await atClient.next();
  assert.deepEqual(big.getData(), payload);
  assert.deepEqual(await readStream(big.getDataStream()), payload, 'the stream yields the same bytes');
  assert.deepEqual(await readStream(big.getDataStream()), payload, 'and can be asked for again');
});

// ---- fragments out ---------------------------------------------------------------------------------------

test('sendNonfinalFrameAsync ×N + sendFinalFrameAsync arrive as one message (ws peer)', async (t) => {
  const peer = await wsPeer(t);
  const client = newClient(t);
  await client.connectAsync(peer.url);
  client.control.messageType = SocketMessageType.Utf8;
  const euro = Buffer.from('€');
  const parts = [
    Buffer.from('Grüße aus '),
    euro.subarray(0, 2),
    Buffer.concat([euro.subarray(2), Buffer.from(' Köln')]),
  ];
  for (const part of parts) assert.equal(await client.sendNonfinalFrameAsync(part), part.length);
  assert.equal(await client.sendFinalFrameAsync(Buffer.from('!')), 1);
  const text = await peer.messages.next('the fragmented text message');
  assert.equal(text.isBinary, false);
  assert.equal(text.data.toString(), 'Grüße aus € Köln!');

  client.control.messageType = SocketMessageType.Binary;
  await client.sendNonfinalFrameAsync(Buffer.from([1, 2]));
  await client.sendNonfinalFrameAsync(Buffer.from([3]));
  await client.sendFinalFrameAsync(Buffer.from([4, 5]));
  await client.sendFinalFrameAsync(Buffer.from([6]));
  const binary = await peer.messages.next('the fragmented binary message');
  assert.equal(binary.isBinary, true);
  assert.deepEqual([...binary.data], [1, 2, 3, 4, 5]);
  const alone = await peer.messages.next('the message of one final frame');
  assert.deepEqual([...alone.data], [6]);

  // A large fragment (client frames are masked in pieces) still belongs to the same message.
  const large = randomBytes(3 * MIB + 17);
  await client.sendNonfinalFrameAsync(large);
  await client.sendFinalFrameAsync(Buffer.from('end'));
  const joined = await peer.messages.next('the large fragmented message');
  assert.deepEqual(joined.data, Buffer.concat([large, Buffer.from('end')]));

  const closed = peer.closed;
  client.close(1000, 'done');
  assert.deepEqual(await closed, { code: 1000, reason: 'done' });
  assert.equal(peer.messages.size, 0, 'no other message was seen');
});

test('the fragments go out as separate frames: FIN clear, then continuations, FIN on the last', async (t) => {
  const raw = await rawWebSocketServer(t);
  const client = newClient(t);
  await client.connectAsync(raw.url);
  const connection = await raw.connection;
  client.control.messageType = SocketMessageType.Utf8;
  // '€' (E2 82 AC) split over the first two frames: valid, as the message is checked as a whole.
  await client.sendNonfinalFrameAsync(Buffer.from([0x61, 0xe2, 0x82]));
  await client.sendNonfinalFrameAsync(Buffer.from([0xac]));
  await client.sendNonfinalFrameAsync(Buffer.from('b'));
  await client.sendFinalFrameAsync(Buffer.from('c'));
  client.control.messageType = SocketMessageType.Binary;
  await client.sendFinalFrameAsync(Buffer.from([9]));
  client.close(1000);
  const frames = await within(connection.closed, 'the close handshake');
  assert.deepEqual(dataFrames(frames), [
    { fin: false, opcode: 0x1, payload: '61e282' },
    { fin: false, opcode: 0x0, payload: 'ac' },
    { fin: false, opcode: 0x0, payload: '62' },
    { fin: true, opcode: 0x0, payload: '63' },
    { fin: true, opcode: 0x2, payload: '09' },
  ]);
  assert.equal(closeCodeOf(frames), 1000);
});

test('invalid UTF-8 in a Utf8 write or fragment is rejected (E_INVALIDARG) before anything is sent', async (t) => {
  const raw = await rawWebSocketServer(t);
  const client = newClient(t);
  await client.connectAsync(raw.url);
  const connection = await raw.connection;
  client.control.messageType = SocketMessageType.Utf8;
  const attempts: [string, () => Promise<number>][] = [
    ['outputStream write of C3 28', () => client.outputStream.writeAsync(Buffer.from([0xc3, 0x28]))],
    ['final frame of C3 28', () => client.sendFinalFrameAsync(Buffer.from([0xc3, 0x28]))],
    [
      'final frame ending inside a sequence',
      () => client.sendFinalFrameAsync(Buffer.from([0x61, 0xe2, 0x82])),
    ],
    ['non-final frame of FF', () => client.sendNonfinalFrameAsync(Buffer.from([0xff]))],
  ];
  for (const [what, attempt] of attempts) {
    const error = await webSocketErrorOf(attempt, what);
    assertHresult(error, HResult.E_INVALIDARG, what);
  }
  client.close(1000);
  const frames = await within(connection.closed, 'the close handshake');
  assert.deepEqual(dataFrames(frames), [], 'no data frame reached the wire');
  assert.equal(closeCodeOf(frames), 1000);
});

test('a rejected (invalid UTF-8) fragment leaves the message as it was before it', async (t) => {
  const peer = await wsPeer(t);
  const client = newClient(t);
  await client.connectAsync(peer.url);
  client.control.messageType = SocketMessageType.Utf8;
  await client.sendNonfinalFrameAsync(Buffer.from([0xe2, 0x82])); // the first two bytes of '€'
  const bad = await webSocketErrorOf(() => client.sendNonfinalFrameAsync(Buffer.from([0xff])), 'FF');
  assertHresult(bad, HResult.E_INVALIDARG, 'FF');
  // E2 82 followed by 'abc' is still not UTF-8: it must be refused, not sent.
  const stillBad = await webSocketErrorOf(
    () => within(client.sendFinalFrameAsync(Buffer.from('abc')), 'sendFinalFrameAsync'),
    "E2 82 then 'abc'",
  );
  assertHresult(stillBad, HResult.E_INVALIDARG, "E2 82 then 'abc'");
  // The missing byte completes the message.
  await within(client.sendFinalFrameAsync(Buffer.from([0xac])), 'sendFinalFrameAsync(AC)');
  const message = await peer.messages.next();
  assert.equal(message.data.toString(), '€');
});

test('outputStream keeps working after a write rejected for invalid UTF-8', async (t) => {
  const peer = await wsPeer(t);
  const client = newClient(t);
  await client.connectAsync(peer.url);
  client.control.messageType = SocketMessageType.Utf8;
  const error = await webSocketErrorOf(
    () => client.outputStream.writeAsync(Buffer.from([0xc3, 0x28])),
    'invalid write',
  );
  assertHresult(error, HResult.E_INVALIDARG, 'invalid write');
  const retry = await webSocketErrorOf(
    () => client.outputStream.writeAsync(Buffer.from('fine')),
    'the next, valid write',
  ).catch(() => undefined);
  assert.equal(
    retry,
    undefined,
    `a valid write after a bad argument failed: ${retry?.message ?? ''} (hresult 0x${(retry?.hresult ?? 0).toString(16)})`,
  );
  assert.equal((await peer.messages.next()).data.toString(), 'fine');
});

test('outputStream works after connect even if a write before connect was refused', async (t) => {
  const peer = await wsPeer(t);
  const client = newClient(t);
  const early = await webSocketErrorOf(
    () => client.outputStream.writeAsync(Buffer.from('too early')),
    'write before connect',
  );
  assertHresult(early, HResult.E_ILLEGAL_METHOD_CALL, 'write before connect');
  await client.connectAsync(peer.url);
  await within(client.outputStream.writeAsync(Buffer.from('on time')), 'the write after connect');
  assert.equal((await peer.messages.next()).data.toString(), 'on time');
});

// ---- receiving: PartialMessage, UTF-8, size limit ------------------------------------------------------------

test('PartialMessage: pieces in order, complete on the last, code points split across pieces carried over', async (t) => {
  // 'a€b😀c' = 61 | E2 82 AC | 62 | F0 9F 98 80 | 63, cut inside both multi-byte characters.
  const text = 'a€b😀c';
  const cuts = [[0x61, 0xe2], [0x82], [0xac, 0x62, 0xf0, 0x9f], [0x98, 0x80, 0x63]].map((bytes) =>
    Buffer.from(bytes),
  );
  assert.deepEqual(Buffer.concat(cuts), Buffer.from(text));
  const sendFragmented = async (connection: { send(bytes: Buffer): void }): Promise<void> => {
    for (let index = 0; index < cuts.length; index++) {
      connection.send(serverFrame(index === 0 ? 0x1 : 0x0, cuts[index]!, index === cuts.length - 1));
      await delay(30);
    }
  };
  const raw = await rawWebSocketServer(t);
  const client = newClient(t);
  client.control.receiveMode = MessageWebSocketReceiveMode.PartialMessage;
  const pieces: MessageWebSocketMessageReceivedEventArgs[] = [];
  const wholes = new Inbox<MessageWebSocketMessageReceivedEventArgs>();
  client.on('messageReceived', (args) => {
    if (client.control.receiveMode === MessageWebSocketReceiveMode.FullMessage) {
      wholes.push(args);
      return;
    }
    pieces.push(args);
    // receiveMode may change on a connected socket: the next message comes whole.
    if (args.isMessageComplete) client.control.receiveMode = MessageWebSocketReceiveMode.FullMessage;
  });
  await client.connectAsync(raw.url);
  const connection = await raw.connection;
  await sendFragmented(connection);
  await delay(50);
  assert.ok(pieces.length >= 2, `${pieces.length} pieces`);
  assert.ok(
    pieces.every((piece) => piece.messageType === SocketMessageType.Utf8),
    'every piece says Utf8',
  );
  assert.deepEqual(
    pieces.map((piece) => piece.isMessageComplete),
    [...pieces.map(() => false).slice(1), true],
  );
  assert.deepEqual(Buffer.concat(pieces.map((piece) => piece.getData())), Buffer.from(text));
  assert.ok(
    pieces.some((piece) => !isUtf8(piece.getData())),
    'some piece ends or starts inside a character (else the test proves nothing)',
  );
  assert.equal(pieces.map((piece) => piece.getText()).join(''), text);

  await sendFragmented(connection);
  const whole = await wholes.next('the message in FullMessage mode');
  assert.equal(whole.isMessageComplete, true);
  assert.equal(whole.getText(), text);
  assert.equal(wholes.size, 0);
});

test('PartialMessage on the server socket: fragments from our client arrive as pieces', async (t) => {
  const { client, server } = await connectedPair(t);
  server.control.receiveMode = MessageWebSocketReceiveMode.PartialMessage;
  const atServer = events(server);
  client.control.messageType = SocketMessageType.Binary;
  await client.sendNonfinalFrameAsync(Buffer.from('ab'));
  await delay(40);
  await client.sendNonfinalFrameAsync(Buffer.from('cd'));
  await delay(40);
  await client.sendFinalFrameAsync(Buffer.from('ef'));
  const pieces: MessageWebSocketMessageReceivedEventArgs[] = [];
  do pieces.push(await atServer.next());
  while (!pieces.at(-1)!.isMessageComplete);
  assert.ok(pieces.length >= 2, `${pieces.length} pieces`);
  assert.equal(Buffer.concat(pieces.map((piece) => piece.getData())).toString(), 'abcdef');
  assert.ok(pieces.every((piece) => piece.messageType === SocketMessageType.Binary));
});

test('invalid UTF-8 (C3 28) in a received text message closes with 1007; the event getters throw', async (t) => {
  const raw = await rawWebSocketServer(t, (connection) => {
    connection.send(serverFrame(0x1, Buffer.from([0x68, 0x69, 0xc3, 0x28])));
  });
  const client = newClient(t);
  const received = events(client);
  const closed = client.whenClosed();
  await client.connectAsync(raw.url);
  const connection = await raw.connection;
  const args = await received.next();
  for (const [what, getter] of [
    ['getData', () => args.getData()],
    ['getText', () => args.getText()],
    ['getDataStream', () => args.getDataStream()],
  ] as const) {
    const error = await webSocketErrorOf(getter, what);
    assert.equal(error.closeCode, 1007, what);
  }
  assert.equal((await within(closed, "'closed'")).code, 1007);
  assert.equal(closeCodeOf(await within(connection.closed, 'TCP close')), 1007);
});

test('a text message ending inside a UTF-8 sequence: messages() rejects and the connection closes with 1007', async (t) => {
  const raw = await rawWebSocketServer(t, (connection) => {
    connection.send(serverFrame(0x1, Buffer.from([0x61, 0xe2]), false));
    connection.send(serverFrame(0x0, Buffer.from([0x82]), true));
  });
  const client = newClient(t);
  await client.connectAsync(raw.url);
  const connection = await raw.connection;
  const closed = client.whenClosed();
  const outcome = await within(
    (async () => {
      for await (const message of client.messages()) await readStream(message);
    })().then(
      () => 'ended',
      (error: unknown) => error,
    ),
    'messages()',
  );
  assert.ok(outcome instanceof WebSocketError, `messages() ${String(outcome)}`);
  assert.equal(outcome.closeCode, 1007);
  assert.equal((await within(closed, "'closed'")).code, 1007);
  assert.equal(closeCodeOf(await within(connection.closed, 'TCP close')), 1007);
});

test('maxMessageSize: a larger message still raises messageReceived, whose getters throw (1009)', async (t) => {
  const raw = await rawWebSocketServer(t, (connection) => {
    connection.send(serverFrame(0x2, Buffer.alloc(1000, 1)));
    connection.send(serverFrame(0x2, Buffer.alloc(2000, 2)));
  });
  const client = newClient(t);
  client.control.maxMessageSize = 1000;
  const received = events(client);
  const closed = client.whenClosed();
  await client.connectAsync(raw.url);
  const connection = await raw.connection;
  const fits = await received.next();
  assert.equal(fits.getData().length, 1000, 'a message of exactly maxMessageSize is fine');
  const tooBig = await received.next();
  for (const [what, getter] of [
    ['getData', () => tooBig.getData()],
    ['getText', () => tooBig.getText()],
    ['getDataStream', () => tooBig.getDataStream()],
  ] as const) {
    const error = await webSocketErrorOf(getter, what);
    assert.equal(error.closeCode, 1009, what);
  }
  assert.equal((await within(closed, "'closed'")).code, 1009);
  assert.equal(closeCodeOf(await within(connection.closed, 'TCP close')), 1009);

  // maxMessageSize is fixed once connected; messageType and receiveMode are not.
  const late = await webSocketErrorOf(() => (client.control.maxMessageSize = 5000), 'maxMessageSize');
  assertHresult(late, HResult.E_ILLEGAL_METHOD_CALL, 'maxMessageSize after connect');
  assert.equal(client.control.maxMessageSize, 1000);
  client.control.messageType = SocketMessageType.Utf8;
  client.control.receiveMode = MessageWebSocketReceiveMode.PartialMessage;
  assert.equal(client.control.messageType, SocketMessageType.Utf8);
  assert.equal(client.control.receiveMode, MessageWebSocketReceiveMode.PartialMessage);
});

test("the listener's maxMessageSize closes a server message socket with 1009", async (t) => {
  const { client, server } = await connectedPair(t, () => undefined, { maxMessageSize: 1000 });
  const clientClosed = client.whenClosed();
  await client.outputStream.writeAsync(Buffer.alloc(2000));
  const error = await webSocketErrorOf(async () => {
    for await (const message of server.messages()) await readStream(message);
  }, 'server messages()');
  assert.equal(error.closeCode, 1009);
  assert.equal((await within(clientClosed, "client 'closed'")).code, 1009);
});

// ---- async handlers and backpressure ---------------------------------------------------------------------

test('an async messageReceived handler holds back the next event until its promise settles', async (t) => {
  const { client, server } = await connectedPair(t);
  const log: string[] = [];
  const done = new Inbox<null>();
  client.on('messageReceived', async (args) => {
    const name = args.getText();
    log.push(`start ${name}`);
    await delay(200);
    log.push(`end ${name}`);
    done.push(null);
  });
  server.control.messageType = SocketMessageType.Utf8;
  const started = Date.now();
  for (const name of ['1', '2', '3']) await server.outputStream.writeAsync(Buffer.from(name));
  for (let index = 0; index < 3; index++) await done.next();
  assert.deepEqual(log, ['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  assert.ok(Date.now() - started >= 550, `${Date.now() - started} ms for three 200 ms handlers`);
});

test('while a handler is pending the socket is not read: the sender is held back, then nothing is lost', async (t) => {
  const { client, server } = await connectedPair(t);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const received = new Inbox<number>();
  let count = 0;
  client.on('messageReceived', async (args) => {
    const data = args.getData();
    if (count++ === 0) await gate;
    received.push(data.length);
  });
  const chunk = Buffer.alloc(MIB, 7);
  let written = 0;
  let pending: Promise<number> | undefined;
  while (pending === undefined && written < 256) {
    const write = server.outputStream.writeAsync(chunk);
    written++;
    const outcome = await Promise.race([write.then(() => 'done'), delay(300).then(() => 'pending')]);
    if (outcome === 'pending') pending = write;
  }
  assert.ok(pending !== undefined, `${written} MiB were accepted while the handler was pending`);
  assert.ok(written < 64, `${written} MiB accepted before the sender was held back`);
  t.diagnostic(`the sender was held back after ${written} MiB`);
  const readWhileHeld = client.information.bytesReceived;
  await delay(100);
  assert.equal(client.information.bytesReceived, readWhileHeld, 'nothing is read while held');
  assert.equal(count, 1, 'no further event while the first handler is pending');
  release();
  await within(pending, 'the held write, once the handler settled');
  for (let index = 0; index < written; index++) assert.equal(await received.next(), MIB);
});

test('a messageReceived handler that throws closes the socket with 1011 and the error is rethrown', async (t) => {
  const { client, server } = await connectedPair(t);
  // node:test turns an uncaught exception into a failure of the running test: take the rethrown error
  // here instead, and put the runner's handlers back afterwards.
  const runnerHandlers = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  const restore = (): void => {
    process.removeAllListeners('uncaughtException');
    for (const handler of runnerHandlers) process.on('uncaughtException', handler);
  };
  t.after(restore);
  const uncaught = new Promise<unknown>((resolve) => {
    process.once('uncaughtException', resolve);
  });
  const boom = new Error('boom from a handler');
  client.on('messageReceived', () => {
    throw boom;
  });
  const clientClosed = client.whenClosed();
  const serverClosed = server.whenClosed();
  await server.outputStream.writeAsync(Buffer.from('trigger'));
  assert.equal(await within(uncaught, 'the rethrown handler error'), boom);
  restore();
  assert.equal((await within(serverClosed, "server 'closed'")).code, 1011);
  assert.equal((await within(clientClosed, "client 'closed'")).code, 1011);
});

test('a messageReceived handler whose promise rejects also closes with 1011', async (t) => {
  const { client, server } = await connectedPair(t);
  const runnerHandlers = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  const restore = (): void => {
    process.removeAllListeners('uncaughtException');
    for (const handler of runnerHandlers) process.on('uncaughtException', handler);
  };
  t.after(restore);
  const uncaught = new Promise<unknown>((resolve) => {
    process.once('uncaughtException', resolve);
  });
  const failure = new Error('async failure');
  server.on('messageReceived', async () => {
    await delay(10);
    throw failure;
  });
  const clientClosed = client.whenClosed();
  await client.outputStream.writeAsync(Buffer.from('trigger'));
  assert.equal(await within(uncaught, 'the rethrown rejection'), failure);
  restore();
  assert.equal((await within(clientClosed, "client 'closed'")).code, 1011);
});

// ---- messages() -----------------------------------------------------------------------------------------

test('messages() yields one Readable per message in order with its type, and ends after the close', async (t) => {
  const { client, server } = await connectedPair(t);
  server.control.messageType = SocketMessageType.Utf8;
  await server.outputStream.writeAsync(Buffer.from('one'));
  server.control.messageType = SocketMessageType.Binary;
  await server.outputStream.writeAsync(Buffer.from([2, 2]));
  server.control.messageType = SocketMessageType.Utf8;
  await server.outputStream.writeAsync(Buffer.alloc(0));
  await server.sendNonfinalFrameAsync(Buffer.from('fo'));
  await server.sendFinalFrameAsync(Buffer.from('ur'));
  server.close(1000, 'that is all');
  const got: [SocketMessageType, string][] = [];
  await within(
    (async () => {
      for await (const message of client.messages()) {
        got.push([message.messageType, (await readStream(message)).toString('hex')]);
      }
    })(),
    'messages() to end',
  );
  assert.deepEqual(got, [
    [SocketMessageType.Utf8, Buffer.from('one').toString('hex')],
    [SocketMessageType.Binary, '0202'],
    [SocketMessageType.Utf8, ''],
    [SocketMessageType.Utf8, Buffer.from('four').toString('hex')],
  ]);
  assert.deepEqual(await client.whenClosed(), { code: 1000, reason: 'that is all' });
});

test('a 256 MiB message from openMessage() flows through messages() in bounded memory', async (t) => {
  const { client, server } = await connectedPair(t);
  const size = 256 * MIB;
  const blocks = [0, 1, 2, 3].map((seed) => randomBytes(MIB).fill(seed, 0, 1));
  const expected = createHash('sha256');
  for (let index = 0; index < size / MIB; index++) expected.update(blocks[index % 4]!);
  const sending = pipeline(
    Readable.from(
      (function* () {
        for (let index = 0; index < size / MIB; index++) yield blocks[index % 4]!;
      })(),
    ),
    server.openMessage(),
  );
  let maxRss = 0;
  const receiving = (async () => {
    for await (const message of client.messages()) {
      assert.equal(message.messageType, SocketMessageType.Binary);
      const hash = createHash('sha256');
      let length = 0;
      for await (const section of message) {
        hash.update(section);
        length += section.length;
        if ((length & (16 * MIB - 1)) < section.length) {
          maxRss = Math.max(maxRss, process.memoryUsage.rss());
        }
      }
      return { length, digest: hash.digest('hex') };
    }
    return undefined;
  })();
  const [result] = await within(Promise.all([receiving, sending]), '256 MiB to pass', 30_000);
  assert.equal(result?.length, size);
  assert.equal(result.digest, expected.digest('hex'));
  const peak = process.resourceUsage().maxRSS * 1024;
  t.diagnostic(
    `RSS during the transfer ${Math.round(maxRss / MIB)} MiB, process peak ${Math.round(peak / MIB)} MiB`,
  );
  assert.ok(peak < 400 * MIB, `peak RSS ${Math.round(peak / MIB)} MiB`);
  assert.ok(maxRss < 400 * MIB, `RSS ${Math.round(maxRss / MIB)} MiB during the transfer`);
});

test('leaving a large message half read (break) or unread (continue): the rest is discarded and the next message arrives', async (t) => {
  const { client, server } = await connectedPair(t);
  const large = Buffer.alloc(8 * MIB, 0x55);
  // Sent in the background: the sender is held back while the client is not reading.
  const sending = (async () => {
    await server.outputStream.writeAsync(large);
    await server.outputStream.writeAsync(Buffer.from('after the half-read one'));
    await server.outputStream.writeAsync(large);
    await server.outputStream.writeAsync(Buffer.from('after the skipped one'));
  })();
  const iterator = client.messages();
  const got: string[] = [];
  await within(
    (async () => {
      let index = 0;
      for await (const message of iterator) {
        index++;
        if (index === 1) {
          // A slow application: by now the message's buffer is full and the socket is paused.
          await delay(200);
          for await (const section of message) {
            got.push(`first section of ${section.length > 0 ? 'large' : 'empty'}`);
            break;
          }
          continue;
        }
        if (index === 3) {
          await delay(200);
          got.push('skipped');
          continue;
        }
        got.push((await readStream(message)).toString());
        if (index === 4) break;
      }
    })(),
    'the messages after the abandoned ones',
  );
  assert.deepEqual(got, [
    'first section of large',
    'after the half-read one',
    'skipped',
    'after the skipped one',
  ]);
  await within(sending, 'the sender');
});

test('messages() rejects with a WebSocketError when the peer violates the protocol (1002)', async (t) => {
  const raw = await rawWebSocketServer(t, (connection) => {
    connection.send(serverFrame(0x2, Buffer.from('fine')));
    // A server must not mask its frames (RFC 6455 §5.1).
    connection.send(Buffer.from([0x82, 0x82, 1, 2, 3, 4, 0, 0]));
  });
  const client = newClient(t);
  await client.connectAsync(raw.url);
  const connection = await raw.connection;
  const got: string[] = [];
  const error = await webSocketErrorOf(
    () =>
      within(
        (async () => {
          for await (const message of client.messages()) got.push((await readStream(message)).toString());
        })(),
        'messages()',
      ),
    'messages() after a masked server frame',
  );
  assert.equal(error.closeCode, 1002);
  assert.equal(error.status, WebErrorStatus.ConnectionAborted);
  assert.deepEqual(got, ['fine']);
  assert.equal((await client.whenClosed()).code, 1002);
  assert.equal(closeCodeOf(await within(connection.closed, 'TCP close')), 1002);
});

// ---- nothing lost before the application pulls -----------------------------------------------------------

test('a message sent right after the handshake waits for messages() attached later', async (t) => {
  const { url, nextSocket } = await messageListener(t);
  const server = nextSocket();
  const client = newClient(t);
  await client.connectAsync(url);
  const socket = await server;
  socket.control.messageType = SocketMessageType.Utf8;
  await socket.outputStream.writeAsync(Buffer.from('early bird'));
  await socket.outputStream.writeAsync(Buffer.from('second'));
  await delay(150);
  const iterator = client.messages();
  const first = await within(iterator.next(), 'the first message');
  assert.equal(first.done, false);
  assert.equal(first.value.messageType, SocketMessageType.Utf8);
  assert.equal((await readStream(first.value)).toString(), 'early bird');
  const second = await within(iterator.next(), 'the second message');
  assert.equal((await readStream(second.value as IncomingMessage)).toString(), 'second');
});

test('messages sent in connectionReceived wait for a messageReceived listener added later', async (t) => {
  const listener = new WebSocketListener({ mode: 'message', closeTimeout: 2_000 });
  listener.on('connectionReceived', ({ socket }) => {
    socket.outputStream.writeAsync(Buffer.from('hello from connectionReceived')).catch(() => undefined);
    socket.outputStream.writeAsync(Buffer.from('and another')).catch(() => undefined);
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(() => listener.closeAsync());
  const client = newClient(t);
  await client.connectAsync(`ws://127.0.0.1:${String(listener.information.localPort)}/`);
  await delay(150);
  const received = events(client);
  assert.equal((await received.next()).getText(), 'hello from connectionReceived');
  assert.equal((await received.next()).getText(), 'and another');
});

test('a frame that arrives in the same packet as the 101 response is not lost', async (t) => {
  const raw = await rawWebSocketServer(t, () => undefined, {
    withHandshake: Buffer.concat([
      serverFrame(0x1, Buffer.from('in the head')),
      serverFrame(0x2, Buffer.from([1])),
    ]),
  });
  const client = newClient(t);
  await client.connectAsync(raw.url);
  await delay(100);
  const iterator = client.messages();
  const first = await within(iterator.next(), 'the first message');
  assert.equal((await readStream(first.value as IncomingMessage)).toString(), 'in the head');
  const second = await within(iterator.next(), 'the second message');
  assert.equal((second.value as IncomingMessage).messageType, SocketMessageType.Binary);
  assert.deepEqual([...(await readStream(second.value as IncomingMessage))], [1]);
});

test('many small messages nobody pulls yet are bounded too: the socket is not read on without limit', async (t) => {
  const peer = await wsPeer(t);
  const count = 200_000;
  const client = newClient(t);
  const flooding = new Promise<void>((resolve) => {
    // Every empty binary message is 2 bytes on the wire: 400 kB for all of them.
    peer.onConnection((socket) => {
      for (let index = 0; index < count; index++) socket.send(Buffer.alloc(0));
      resolve();
    });
  });
  await client.connectAsync(peer.url);
  await within(flooding, 'the peer sending');
  await delay(500);
  const read = client.information.bytesReceived;
  assert.ok(
    read < count * 2,
    `all ${count} empty messages (${read} bytes) were taken off the socket and queued while nobody pulled`,
  );
  // Once pulled, every one of them arrives.
  let pulled = 0;
  await within(
    (async () => {
      for await (const message of client.messages()) {
        assert.equal(message.messageType, SocketMessageType.Binary);
        if (++pulled === count) break;
      }
    })(),
    'pulling every message',
    10_000,
  );
  assert.equal(pulled, count);
});

// ---- openMessage() ------------------------------------------------------------------------------------

test('pipeline(…, openMessage()) sends one message of the total size (ws peer)', async (t) => {
  const peer = await wsPeer(t);
  const client = newClient(t);
  await client.connectAsync(peer.url);
  const chunks = Array.from({ length: 10 }, (_, index) => Buffer.alloc(100_000, index));
  await pipeline(Readable.from(chunks), client.openMessage());
  const binary = await peer.messages.next('the binary message');
  assert.equal(binary.isBinary, true, 'openMessage() defaults to control.messageType (Binary)');
  assert.deepEqual(binary.data, Buffer.concat(chunks));

  // A text message whose chunks split a character.
  const text = Buffer.from('naïve café — 😀 and more');
  const split = [text.subarray(0, 3), text.subarray(3, 17), text.subarray(17, 19), text.subarray(19)];
  await pipeline(Readable.from(split), client.openMessage(SocketMessageType.Utf8));
  const received = await peer.messages.next('the text message');
  assert.equal(received.isBinary, false);
  assert.equal(received.data.toString(), text.toString());

  // control.messageType is the default type.
  client.control.messageType = SocketMessageType.Utf8;
  await pipeline(Readable.from([Buffer.from('typed')]), client.openMessage());
  assert.equal((await peer.messages.next()).isBinary, false);
  assert.equal(peer.messages.size, 0);
});

test('destroying an openMessage() writer before end() closes with 1011 instead of delivering a truncated message', async (t) => {
  const { client, server } = await connectedPair(t);
  const completed: number[] = [];
  const receiving = (async () => {
    for await (const message of server.messages()) completed.push((await readStream(message)).length);
  })().then(
    () => 'ended',
    (error: unknown) => error,
  );
  const clientClosed = client.whenClosed();
  const serverClosed = server.whenClosed();
  const writer = client.openMessage();
  await new Promise<void>((resolve, reject) => {
    writer.write(Buffer.alloc(1000, 1), (error) => {
      if (error === null || error === undefined) resolve();
      else reject(error);
    });
  });
  writer.destroy();
  const outcome = await within(receiving, 'the server side');
  assert.ok(outcome instanceof WebSocketError, `the server's messages() ${String(outcome)}`);
  assert.deepEqual(completed, [], 'no message was delivered as complete');
  assert.equal((await within(serverClosed, "server 'closed'")).code, 1011);
  assert.equal((await within(clientClosed, "client 'closed'")).code, 1011);
});

test('openMessage, send*FrameAsync and writes before connect are E_ILLEGAL_METHOD_CALL', async (t) => {
  const client = newClient(t);
  const open = await webSocketErrorOf(() => client.openMessage(), 'openMessage');
  assertHresult(open, HResult.E_ILLEGAL_METHOD_CALL, 'openMessage');
  const final = await webSocketErrorOf(() => client.sendFinalFrameAsync(Buffer.from('x')), 'final');
  assertHresult(final, HResult.E_ILLEGAL_METHOD_CALL, 'sendFinalFrameAsync');
  const nonfinal = await webSocketErrorOf(() => client.sendNonfinalFrameAsync(Buffer.from('x')), 'nonfinal');
  assertHresult(nonfinal, HResult.E_ILLEGAL_METHOD_CALL, 'sendNonfinalFrameAsync');
});

// ---- consumers and closing ---------------------------------------------------------------------------------

test('messageReceived and messages() exclude each other (E_ILLEGAL_METHOD_CALL)', async (t) => {
  const listening = newClient(t);
  listening.on('messageReceived', () => undefined);
  const second = await webSocketErrorOf(() => listening.messages(), 'messages() after a listener');
  assertHresult(second, HResult.E_ILLEGAL_METHOD_CALL, 'messages() after a listener');
  listening.on('messageReceived', () => undefined); // more listeners are fine

  const iterating = newClient(t);
  iterating.messages();
  const listener = await webSocketErrorOf(
    () => iterating.on('messageReceived', () => undefined),
    'a listener after messages()',
  );
  assertHresult(listener, HResult.E_ILLEGAL_METHOD_CALL, 'a listener after messages()');
  assert.equal(iterating.listenerCount('messageReceived'), 0);
});

test('close(): a pending messages() step rejects with OperationCanceled; codes and reasons reach both sides', async (t) => {
  const { client, server } = await connectedPair(t);
  const iterator = client.messages();
  const step = iterator.next();
  const serverClosed = server.whenClosed();
  client.close(3001, 'client says bye');
  const error = await webSocketErrorOf(() => within(step, 'the pending step'), 'pending messages() step');
  assert.equal(error.status, WebErrorStatus.OperationCanceled);
  assert.deepEqual(await within(serverClosed, "server 'closed'"), { code: 3001, reason: 'client says bye' });
  assert.equal((await within(client.whenClosed(), "client 'closed'")).code, 3001);

  // The other direction, with messageReceived: the server's close ends it without any event.
  const pair = await connectedPair(t);
  let raised = 0;
  pair.client.on('messageReceived', () => {
    raised++;
  });
  const clientClosed = pair.client.whenClosed();
  pair.server.close(1000, 'server says bye');
  assert.deepEqual(await within(clientClosed, "client 'closed'"), { code: 1000, reason: 'server says bye' });
  assert.equal((await within(pair.server.whenClosed(), "server 'closed'")).code, 1000);
  await delay(30);
  assert.equal(raised, 0, 'a clean close raises no messageReceived');
});

test('a local close() with a messageReceived listener raises no event; later sends fail', async (t) => {
  const { client } = await connectedPair(t);
  let raised = 0;
  client.on('messageReceived', () => {
    raised++;
  });
  client.close(1000);
  await within(client.whenClosed(), "'closed'");
  await delay(30);
  assert.equal(raised, 0);
  const late = await webSocketErrorOf(() => client.sendFinalFrameAsync(Buffer.from('late')), 'late send');
  assert.ok(
    late.status === WebErrorStatus.Disconnected || late.status === WebErrorStatus.OperationCanceled,
    `status ${late.status}`,
  );
});

test('writeAsync while a sendNonfinalFrameAsync message is open is refused at once (E_ILLEGAL_METHOD_CALL), not left to wait for ever', async (t) => {
  const peer = await wsPeer(t);
  const client = newClient(t);
  await client.connectAsync(peer.url);
  await client.sendNonfinalFrameAsync(Buffer.from([1, 2]));
  const refused = await webSocketErrorOf(
    () => within(client.outputStream.writeAsync(Buffer.from([9])), 'writeAsync during an open message'),
    'writeAsync during an open message',
  );
  assertHresult(refused, HResult.E_ILLEGAL_METHOD_CALL, 'writeAsync during an open message');
  // The open message is unharmed and the output stream still works once it is finished.
  await client.sendFinalFrameAsync(Buffer.from([3]));
  assert.equal(await within(client.outputStream.writeAsync(Buffer.from([4])), 'writeAsync after the end'), 1);
  assert.deepEqual([...(await peer.messages.next('the fragmented message')).data], [1, 2, 3]);
  assert.deepEqual([...(await peer.messages.next('the next message')).data], [4]);
});
