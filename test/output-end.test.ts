// Issue 19, item 10: outputStream.end() means "nothing more to send". Once everything written is out
// (and a message still open is finished), the closing handshake starts with 1000, and reading goes on
// until the peer's close — so pipeline(source, socket.outputStream) needs no { end: false }: the peer
// gets every byte, then the close, and the answers it sends before its own close are still read.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';

import { MessageWebSocket, StreamWebSocket } from '../src/index.js';
import { listen, MiB, sha256, toBuffer, wsRoundTrip, wsServer } from './helpers/peers.js';
import { within } from './helpers/within.js';

/** `count` random chunks of `size` bytes, and their digest. */
function randomChunks(count: number, size: number): { chunks: Buffer[]; digest: string; total: number } {
  const chunks = Array.from({ length: count }, () => randomBytes(size));
  return { chunks, digest: sha256(Buffer.concat(chunks)), total: count * size };
}

/** Reads a stream to its end; its byte count and digest. */
async function digestOf(stream: AsyncIterable<Buffer>): Promise<{ bytes: number; digest: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const section of stream) {
    bytes += section.length;
    hash.update(section);
  }
  return { bytes, digest: hash.digest('hex') };
}

test('pipeline(source, client.outputStream) delivers every byte to a ws server, then closes with 1000', async (t) => {
  const { url, next } = await wsServer(t);
  const { chunks, digest, total } = randomChunks(64, 64 * 1024);
  const client = new StreamWebSocket();
  await client.connectAsync(url);
  const peer = await next();
  const received = createHash('sha256');
  let bytes = 0;
  peer.on('message', (data) => {
    const payload = toBuffer(data);
    bytes += payload.length;
    received.update(payload);
  });
  const peerClosed = new Promise<{ code: number; bytes: number; digest: string }>((resolve) => {
    peer.once('close', (code) => {
      // What had arrived when the close did: everything, or the close came too early.
      resolve({ code, bytes, digest: received.digest('hex') });
    });
  });
  await within(pipeline(Readable.from(chunks), client.outputStream), 10_000, 'the pipeline');
  assert.deepEqual(await within(peerClosed, 5000, 'the ws server closing'), {
    code: 1000,
    bytes: total,
    digest,
  });
  assert.deepEqual(await within(client.whenClosed(), 5000, 'closed'), { code: 1000, reason: '' });
});

test('a listener socket downloads with pipeline(source, socket.outputStream); the client reads to a clean end', async (t) => {
  const { url, next } = await listen(t);
  const { chunks, digest, total } = randomChunks(32, 128 * 1024);
  const client = new StreamWebSocket();
  await client.connectAsync(url);
  const server = await next();
  const sending = pipeline(Readable.from(chunks), server.outputStream);
  // Ends, rather than fails, only at the server's close frame.
  const downloaded = await within(digestOf(client.inputStream), 10_000, 'the download');
  await within(sending, 5000, "the server's pipeline");
  assert.deepEqual(downloaded, { bytes: total, digest });
  assert.deepEqual(await within(client.whenClosed(), 5000, 'closed'), { code: 1000, reason: '' });
  assert.deepEqual(await within(server.whenClosed(), 5000, 'server closed'), { code: 1000, reason: '' });
});

test("after end() the client keeps reading until the peer's close: a ws echo comes back whole", async (t) => {
  const { url, next } = await wsServer(t);
  const { chunks, digest, total } = randomChunks(48, 32 * 1024);
  const client = new StreamWebSocket();
  await client.connectAsync(url);
  const peer = await next();
  peer.on('message', (data) => {
    peer.send(toBuffer(data));
  });
  const echoed = digestOf(client.inputStream);
  await within(pipeline(Readable.from(chunks), client.outputStream), 10_000, 'the pipeline');
  assert.deepEqual(await within(echoed, 10_000, 'the echo'), { bytes: total, digest });
  assert.deepEqual(await within(client.whenClosed(), 5000, 'closed'), { code: 1000, reason: '' });
});

test('end() waits for a message still open (sendNonfinalFrameAsync) before the close', async (t) => {
  const { url, next } = await wsServer(t);
  const client = new MessageWebSocket();
  await client.connectAsync(url);
  const peer = await next();
  const messages: Buffer[] = [];
  peer.on('message', (data) => messages.push(toBuffer(data)));
  const peerClosed = once(peer, 'close');
  await client.sendNonfinalFrameAsync(Buffer.from('first half, '));
  const ended = new Promise<void>((resolve) => client.outputStream.end(resolve));
  // The peer's ping is answered after what was sent before it: no close has gone out yet.
  await wsRoundTrip(peer);
  assert.equal(peer.readyState, peer.OPEN);
  assert.deepEqual(messages, []);
  await client.sendFinalFrameAsync(Buffer.from('second half'));
  await within(ended, 5000, "the output stream's end");
  const [code] = (await within(peerClosed, 5000, 'the ws server closing')) as [number];
  assert.equal(code, 1000);
  assert.deepEqual(messages.map(String), ['first half, second half']);
  await assert.rejects(client.sendFinalFrameAsync(Buffer.from('late')), /ended|closed/);
});

test('a source of several MiB through pipeline: the listener reads it to its end and sees 1000', async (t) => {
  const { url, next } = await listen(t);
  const { chunks, digest, total } = randomChunks(8, MiB);
  const client = new StreamWebSocket();
  await client.connectAsync(url);
  const server = await next();
  const uploaded = digestOf(server.inputStream);
  await within(pipeline(Readable.from(chunks), client.outputStream), 10_000, 'the pipeline');
  assert.deepEqual(await within(uploaded, 10_000, 'the listener reading to the end'), {
    bytes: total,
    digest,
  });
  assert.deepEqual(await within(server.whenClosed(), 5000, 'closed'), { code: 1000, reason: '' });
});
