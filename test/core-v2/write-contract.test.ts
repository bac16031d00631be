// Issue 14, item 1: the write contract. Once a write's promise resolves or its callback runs, the caller
// owns the buffer again: refilling it must not change what the peer receives. Every write path, on
// client and server sockets, stream and message, at 20,000 bytes and 1 MiB, against a `ws` peer; and
// WinRT's echo loop (readAsync then writeAsync with one reused 64 KiB buffer) on either side.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import type { WebSocket as WsSocket } from 'ws';

import {
  InputStreamOptions,
  MessageWebSocket,
  SocketMessageType,
  StreamWebSocket,
  type ServerMessageWebSocket,
  type ServerStreamWebSocket,
} from '../../src/index.js';
import { listen, MiB, sha256, WsMessages, wsClient, wsServer } from '../helpers/peers.js';
import type { Cleanup } from '../helpers/raw-server.js';
import { within } from '../helpers/within.js';

type StreamSocket = StreamWebSocket | ServerStreamWebSocket;
type MessageSocket = MessageWebSocket | ServerMessageWebSocket;
type AnySocket = StreamSocket | MessageSocket;

interface Connected<S extends AnySocket> {
  socket: S;
  peer: WsSocket;
}

/** Our socket of `kind` on `side`, with a `ws` peer opposite it. */
async function connect(t: Cleanup, side: Side, kind: 'stream'): Promise<Connected<StreamSocket>>;
async function connect(t: Cleanup, side: Side, kind: 'message'): Promise<Connected<MessageSocket>>;
async function connect(t: Cleanup, side: Side, kind: Kind): Promise<Connected<AnySocket>> {
  if (side === 'server') {
    const bound = kind === 'stream' ? await listen(t) : await listen(t, { mode: 'message' });
    const socket = bound.next();
    const peer = await wsClient(t, bound.url);
    return { socket: await socket, peer };
  }
  const server = await wsServer(t);
  const socket = kind === 'stream' ? new StreamWebSocket() : new MessageWebSocket();
  t.after(() => {
    socket.close();
  });
  const peer = server.next();
  await within(socket.connectAsync(server.url), 5000, 'connectAsync');
  return { socket, peer: await peer };
}

type Side = 'client' | 'server';
type Kind = 'stream' | 'message';

/** Resolves when the callback of a Writable's write(chunk, cb) runs. */
function writeWithCallback(stream: NodeJS.WritableStream, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(chunk, (error) => {
      if (error === undefined || error === null) resolve();
      else reject(error);
    });
  });
}

interface WritePath {
  name: string;
  kinds: readonly Kind[];
  /** Writes `buffer` twice in the path's way, refilling it with 'B' after the first write completed and
   * with 'C' after the second: the peer must see A…A then B…B, never a B or a C too early. */
  run(socket: AnySocket, buffer: Buffer): Promise<void>;
  /** What the peer receives for a buffer of n bytes. */
  expected(n: number): Buffer[];
}

const twoMessages = (n: number): Buffer[] => [Buffer.alloc(n, 'A'), Buffer.alloc(n, 'B')];
const oneMessageOfTwo = (n: number): Buffer[] => [
  Buffer.concat([Buffer.alloc(n, 'A'), Buffer.alloc(n, 'B')]),
];

function asMessageSocket(socket: AnySocket): MessageSocket {
  assert.ok('openMessage' in socket, 'a message socket');
  return socket;
}

const PATHS: readonly WritePath[] = [
  {
    name: 'outputStream.writeAsync',
    kinds: ['stream', 'message'],
    run: async (socket, buffer) => {
      await socket.outputStream.writeAsync(buffer);
      buffer.fill('B');
      await socket.outputStream.writeAsync(buffer);
      buffer.fill('C');
    },
    expected: twoMessages,
  },
  {
    name: "outputStream.write's callback",
    kinds: ['stream', 'message'],
    run: async (socket, buffer) => {
      await writeWithCallback(socket.outputStream, buffer);
      buffer.fill('B');
      await writeWithCallback(socket.outputStream, buffer);
      buffer.fill('C');
    },
    expected: twoMessages,
  },
  {
    name: 'sendFinalFrameAsync (whole messages)',
    kinds: ['message'],
    run: async (socket, buffer) => {
      const messages = asMessageSocket(socket);
      await messages.sendFinalFrameAsync(buffer);
      buffer.fill('B');
      await messages.sendFinalFrameAsync(buffer);
      buffer.fill('C');
    },
    expected: twoMessages,
  },
  {
    name: 'sendNonfinalFrameAsync then sendFinalFrameAsync',
    kinds: ['message'],
    run: async (socket, buffer) => {
      const messages = asMessageSocket(socket);
      await messages.sendNonfinalFrameAsync(buffer);
      buffer.fill('B');
      await messages.sendFinalFrameAsync(buffer);
      buffer.fill('C');
    },
    expected: oneMessageOfTwo,
  },
  {
    name: "an openMessage() writer's write callback",
    kinds: ['message'],
    run: async (socket, buffer) => {
      const writer = asMessageSocket(socket).openMessage(SocketMessageType.Binary);
      await writeWithCallback(writer, buffer);
      buffer.fill('B');
      await writeWithCallback(writer, buffer);
      buffer.fill('C');
      writer.end();
    },
    expected: oneMessageOfTwo,
  },
];

/** Where two buffers first differ, for a message a person can read. */
function firstDifference(actual: Buffer, expected: Buffer): string {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  const at = actual.findIndex((byte, index) => byte !== expected[index]);
  return `byte ${at} is '${String.fromCharCode(actual[at]!)}', expected '${String.fromCharCode(expected[at]!)}'`;
}

for (const side of ['client', 'server'] as const) {
  for (const kind of ['stream', 'message'] as const) {
    for (const path of PATHS.filter((candidate) => candidate.kinds.includes(kind))) {
      for (const size of [20_000, MiB]) {
        test(`${side} ${kind} socket, ${path.name}: a buffer refilled after the write completed does not change what was sent (${String(size)} bytes)`, async (t) => {
          const { socket, peer } =
            kind === 'stream' ? await connect(t, side, kind) : await connect(t, side, kind);
          const received = new WsMessages(peer);
          const buffer = Buffer.alloc(size, 'A');
          await within(path.run(socket, buffer), 10_000, 'the writes');
          const expected = path.expected(size);
          const messages = await received.first(expected.length);
          messages.forEach((message, index) => {
            assert.ok(
              message.equals(expected[index]!),
              `message ${index}: ${firstDifference(message, expected[index]!)}`,
            );
          });
        });
      }
    }
  }
}

/** WinRT's echo: readAsync into one 64 KiB buffer, writeAsync the bytes read, until the stream ends. */
async function echoLoop(socket: StreamSocket): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const got = await socket.inputStream.readAsync(buffer, buffer.length, InputStreamOptions.Partial);
    if (got.length === 0) return;
    await socket.outputStream.writeAsync(got);
  }
}

for (const side of ['client', 'server'] as const) {
  test(`${side}: the WinRT echo loop with one reused 64 KiB buffer echoes 32 MiB byte for byte`, async (t) => {
    const { socket, peer } = await connect(t, side, 'stream');
    const echoed = new WsMessages(peer);
    const echoing = echoLoop(socket).catch((error: unknown) => error);
    const data = randomBytes(32 * MiB);
    for (let offset = 0; offset < data.length; offset += MiB) peer.send(data.subarray(offset, offset + MiB));
    await echoed.until(() => echoed.bytes >= data.length, 60_000, 'the 32 MiB echo');
    const echo = Buffer.concat(echoed.messages);
    assert.equal(echo.length, data.length);
    const at = echo.findIndex((byte, index) => byte !== data[index]);
    assert.equal(sha256(echo), sha256(data), `the echo differs from byte ${at} on`);
    peer.close(1000);
    assert.equal(await within(echoing, 10_000, 'the echo loop ending with the stream'), undefined);
  });
}
