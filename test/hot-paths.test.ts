// The paths the README teaches, made fast (issue 16), keep their contracts: outputStream buffers writes up
// to its high-water mark and sends the gathered ones together, each still a message of its own whose
// buffer is the caller's again once its callback ran; `for await` over a message takes sections past the
// Readable's machinery but still ends it for whoever waits; streams made on first use lose nothing that
// arrived before; masked frame buffers are reused whatever the frame's size.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { finished } from 'node:stream/promises';
import { test } from 'node:test';

import type { WebSocket as WsSocket } from 'ws';

import { FrameBufferPool } from '../src/connection/frame-buffer-pool.js';
import {
  MessageWebSocket,
  SocketMessageType,
  StreamWebSocket,
  HResult,
  WebSocketError,
  type ServerStreamWebSocket,
} from '../src/index.js';
import { KiB, listen, WsMessages, wsClient, wsServer, wsRoundTrip } from './helpers/peers.js';
import type { Cleanup } from './helpers/raw-server.js';
import { within } from './helpers/within.js';

type Side = 'client' | 'server';

/** Our stream socket on `side`, a `ws` peer opposite it. */
async function connect(
  t: Cleanup,
  side: Side,
): Promise<{ socket: StreamWebSocket | ServerStreamWebSocket; peer: WsSocket }> {
  if (side === 'server') {
    const bound = await listen(t);
    const socket = bound.next();
    const peer = await wsClient(t, bound.url);
    return { socket: await socket, peer };
  }
  const server = await wsServer(t);
  const socket = new StreamWebSocket();
  t.after(() => {
    socket.close();
  });
  const peer = server.next();
  await within(socket.connectAsync(server.url), 5000, 'connectAsync');
  return { socket, peer: await peer };
}

/** write(chunk, cb) on a Writable: whether it accepted more, and when its callback ran. */
function write(stream: NodeJS.WritableStream, chunk: Buffer): { accepted: boolean; done: Promise<void> } {
  let accepted = false;
  const done = new Promise<void>((resolve, reject) => {
    accepted = stream.write(chunk, (error) => {
      if (error === undefined || error === null) resolve();
      else reject(error);
    });
  });
  return { accepted, done };
}

for (const side of ['client', 'server'] as const) {
  test(`${side}: outputStream takes writes without waiting up to 256 KiB, then asks for drain`, async (t) => {
    const { socket, peer } = await connect(t, side);
    const received = new WsMessages(peer);
    const writes = [0, 1, 2, 3, 4].map((index) =>
      write(socket.outputStream, Buffer.alloc(64 * KiB, 65 + index)),
    );
    // The first write is in flight at once; the next ones wait in the Writable until 256 KiB do.
    assert.deepEqual(
      writes.map((each) => each.accepted),
      [true, true, true, false, false],
    );
    await within(Promise.all(writes.map((each) => each.done)), 10_000, 'the write callbacks');
    const messages = await received.first(5);
    messages.forEach((message, index) => {
      assert.ok(message.equals(Buffer.alloc(64 * KiB, 65 + index)), `message ${index}`);
    });
  });

  test(`${side}: writes gathered while one is in flight go out as messages of their own, each buffer the caller's again after its callback`, async (t) => {
    const { socket, peer } = await connect(t, side);
    const received = new WsMessages(peer);
    const buffers = Array.from({ length: 8 }, (_unused, index) => Buffer.alloc(20 * KiB, 97 + index));
    const writes = buffers.map((buffer) => {
      const each = write(socket.outputStream, buffer);
      // Refilled the moment it is handed back: the peer must still see what it held when written.
      return each.done.then(() => buffer.fill('Z'));
    });
    await within(Promise.all(writes), 10_000, 'the write callbacks');
    const messages = await received.first(8);
    messages.forEach((message, index) => {
      assert.ok(message.equals(Buffer.alloc(20 * KiB, 97 + index)), `message ${index}`);
    });
  });
}

test('a text write that is not UTF-8 among gathered writes fails the stream; the writes before it are sent', async (t) => {
  const server = await wsServer(t);
  const socket = new MessageWebSocket();
  t.after(() => {
    socket.close();
  });
  socket.control.messageType = SocketMessageType.Utf8;
  const peer = server.next();
  await within(socket.connectAsync(server.url), 5000, 'connectAsync');
  const received = new WsMessages(await peer);
  const first = write(socket.outputStream, Buffer.from('first'));
  const broken = write(socket.outputStream, Buffer.from([0x66, 0xff, 0x66]));
  const after = write(socket.outputStream, Buffer.from('after'));
  await first.done;
  const failure = await within(
    broken.done.catch((error: unknown) => error),
    5000,
    'the broken write',
  );
  assert.ok(failure instanceof WebSocketError);
  assert.equal(failure.hresult, HResult.E_INVALIDARG);
  await within(
    after.done.then(
      () => assert.fail('a write after the failed one was sent'),
      () => undefined,
    ),
    5000,
    'the write after it',
  );
  // Everything our side sent has reached the peer once its ping is answered.
  await wsRoundTrip(received.socket);
  assert.deepEqual(
    received.messages.map((message) => message.toString()),
    ['first'],
  );
});

test('for await over a message ends it for whoever waits on it (finished() resolves), and leaves it destroyed', async (t) => {
  const bound = await listen(t, { mode: 'message' });
  const accepted = bound.next();
  const peer = await wsClient(t, bound.url);
  const socket = await accepted;
  peer.send(Buffer.alloc(100, 1));
  const messages = socket.messages();
  const next = await within(messages.next(), 5000, 'the message');
  assert.ok(next.done !== true);
  const message = next.value;
  const ended = finished(message);
  let bytes = 0;
  for await (const section of message) bytes += section.length;
  assert.equal(bytes, 100);
  await within(ended, 5000, 'finished(message)');
  assert.equal(message.readableEnded, true);
  assert.equal(message.destroyed, true);
});

test('for await over a message skipped by moving on throws premature close: never ends as if complete', async (t) => {
  const bound = await listen(t, { mode: 'message' });
  const accepted = bound.next();
  const peer = await wsClient(t, bound.url);
  const socket = await accepted;
  // Whole in the queue before it is read: the skip drops sections already received, not only later ones.
  peer.send(Buffer.alloc(100, 1));
  peer.send(Buffer.from('next'));
  const messages = socket.messages();
  const first = await within(messages.next(), 5000, 'the first message');
  assert.ok(first.done !== true);
  const sections = first.value[Symbol.asyncIterator]();
  const second = await within(messages.next(), 5000, 'the second message');
  assert.ok(second.done !== true);
  await assert.rejects(
    within(sections.next(), 5000, 'reading the skipped message'),
    (error: NodeJS.ErrnoException) => error.code === 'ERR_STREAM_PREMATURE_CLOSE',
  );
  let text = '';
  for await (const section of second.value) text += section.toString();
  assert.equal(text, 'next');
});

test('a server inputStream first touched after data and the close arrived reads every byte, then ends', async (t) => {
  const bound = await listen(t);
  const accepted = bound.next();
  const peer = await wsClient(t, bound.url);
  const socket = await accepted;
  const closed = new Promise<void>((resolve) => {
    socket.once('closeReceived', () => {
      resolve();
    });
  });
  for (let index = 0; index < 3; index++) peer.send(Buffer.alloc(10 * KiB, index));
  peer.close(1000);
  await within(closed, 5000, "the peer's close");
  const sections: Buffer[] = [];
  for await (const section of socket.inputStream) sections.push(section);
  const data = Buffer.concat(sections);
  assert.equal(data.length, 30 * KiB);
  for (let index = 0; index < 3; index++) {
    assert.ok(data.subarray(index * 10 * KiB, (index + 1) * 10 * KiB).every((byte) => byte === index));
  }
});

test('a masked frame buffer given back is reused by the next frame, whatever its size', () => {
  const pool = new FrameBufferPool(1024 * KiB, 2);
  const forSmallFrame = pool.take();
  assert.equal(forSmallFrame.length, 1024 * KiB);
  pool.give(forSmallFrame);
  // The same memory again (warm in cache, no page faults), for a 64 KiB frame as for a 1 MiB one.
  assert.equal(pool.take(), forSmallFrame);
  pool.give(forSmallFrame);
  const second = pool.take();
  assert.equal(second, forSmallFrame);
  const third = pool.take();
  assert.notEqual(third, second);
  pool.give(second);
  pool.give(third);
  pool.give(Buffer.alloc(1024 * KiB));
  // At most maxKept are kept: two of the three given back.
  const kept = [pool.take(), pool.take(), pool.take()];
  assert.equal(new Set(kept).size, 3);
  assert.ok(kept.includes(second) && kept.includes(third));
});
