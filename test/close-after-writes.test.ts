// close() after writes that have not left yet: the writes made before close() go out ahead of the close
// frame (as ws's send() before close() do), so that `pipeline(source, outputStream, { end: false })`
// followed by close(code, reason) — the README's pattern for a close that carries a reason — never
// truncates what the pipeline accepted. Writes made after close() are refused; a peer that takes none of
// the data does not hold the close beyond the close timeout.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { HResult, MessageWebSocket, StreamWebSocket, WebSocketError } from '../src/index.js';
import { KiB, listen, sha256, toBuffer, wsClient, WsMessages, wsServer } from './helpers/peers.js';
import { rawWebSocketServer } from './helpers/raw-server.js';
import { within } from './helpers/within.js';

/** write(chunk, cb) on a Writable, as a promise of its callback. */
function written(stream: NodeJS.WritableStream, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(chunk, (error) => {
      if (error === undefined || error === null) resolve();
      else reject(error);
    });
  });
}

test('writes made without waiting, then close(4000): the ws peer gets every byte, then 4000', async (t) => {
  const { url, next } = await wsServer(t);
  const client = new StreamWebSocket();
  await client.connectAsync(url);
  const peer = await next();
  const received: Buffer[] = [];
  peer.on('message', (data) => received.push(toBuffer(data)));
  const peerClosed = new Promise<{ code: number; bytes: number }>((resolve) => {
    peer.once('close', (code) => {
      resolve({ code, bytes: received.reduce((sum, part) => sum + part.length, 0) });
    });
  });
  const chunks = Array.from({ length: 8 }, () => randomBytes(64 * KiB));
  // Past the first, these wait in the stream's buffer when close() is called.
  const writes = chunks.map((chunk) => written(client.outputStream, chunk));
  assert.ok(client.outputStream.writableLength > 64 * KiB, 'writes are waiting when close() is called');
  client.close(4000, 'done');
  await within(Promise.all(writes), 5000, 'the writes');
  assert.deepEqual(await within(peerClosed, 5000, 'the peer closing'), { code: 4000, bytes: 8 * 64 * KiB });
  assert.equal(sha256(Buffer.concat(received)), sha256(Buffer.concat(chunks)));
});

test('send() calls not awaited, then close(): a ws client gets each message, then 1000', async (t) => {
  const { url, next } = await listen(t, { mode: 'message' });
  const accepted = next();
  const peer = await wsClient(t, url);
  const server = await accepted;
  const messages = new WsMessages(peer);
  const sends = Array.from({ length: 20 }, (_, index) => server.send(Buffer.alloc(32 * KiB, index)));
  server.close(1000);
  await within(Promise.all(sends), 5000, 'the sends');
  const arrived = await messages.first(20);
  assert.deepEqual(
    arrived.map((message) => message[0]),
    Array.from({ length: 20 }, (_, index) => index),
  );
  assert.deepEqual(await within(server.whenClosed(), 5000, 'closed'), { code: 1000, reason: '' });
});

test('a write made after close() is refused (RO_E_CLOSED) while the earlier ones go out', async (t) => {
  const { url, next } = await wsServer(t);
  const client = new MessageWebSocket();
  await client.connectAsync(url);
  const peer = await next();
  const messages = new WsMessages(peer);
  const before = client.outputStream.writeAsync(Buffer.alloc(16 * KiB, 1));
  client.close(1000);
  const error = await client.outputStream.writeAsync(Buffer.alloc(16, 2)).then(
    () => assert.fail('a write after close() was accepted'),
    (failure: unknown) => failure,
  );
  assert.ok(error instanceof WebSocketError && error.hresult === HResult.RO_E_CLOSED, String(error));
  assert.throws(() => client.openMessage(), WebSocketError);
  assert.equal(await within(before, 5000, 'the write before close()'), 16 * KiB);
  assert.equal((await messages.first(1))[0]!.length, 16 * KiB);
});

test('close() with writes a peer never takes: closed within the close timeout (twice), the writes fail', async (t) => {
  const { url, connection } = await rawWebSocketServer(t);
  const client = new StreamWebSocket();
  client.control.closeTimeout = 300;
  await client.connectAsync(url);
  // The peer reads nothing more: our writes fill the socket and then wait.
  (await connection).socket.pause();
  const writes = Array.from({ length: 32 }, () => written(client.outputStream, Buffer.alloc(1024 * KiB)));
  const outcomes = Promise.allSettled(writes);
  client.close(1000);
  const closed = await within(client.whenClosed(), 5000, "'closed' despite the peer");
  assert.equal(closed.code, 1006);
  const failed = (await outcomes).filter((outcome) => outcome.status === 'rejected');
  assert.ok(failed.length > 0, 'the writes the peer never took fail');
});
