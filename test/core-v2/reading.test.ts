// Issue 14, items 2 and 3: how the application reads. readAsync with a huge buffer must not raise the
// input's high-water mark (nor let a slow reader's process grow with what the peer sends), and
// `for await` over inputStream or over one message of messages() yields sections as they arrived,
// never joined into one copy.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { test } from 'node:test';

import type { WebSocket as WsSocket } from 'ws';

import {
  MessageWebSocket,
  StreamWebSocket,
  type ServerMessageWebSocket,
  type ServerStreamWebSocket,
} from '../../src/index.js';
import { startHelper } from '../helpers/child.js';
import { KiB, listen, MiB, wsClient, wsRoundTrip, wsServer } from '../helpers/peers.js';
import type { Cleanup } from '../helpers/raw-server.js';
import { within } from '../helpers/within.js';

const DEFAULT_HIGH_WATER_MARK = MiB;

for (const [label, bufferSize] of [
  ['64 MiB', 64 * MiB],
  ['1 GiB', 2 ** 30],
] as const) {
  test(`readAsync(buffer of ${label}, Partial) by a slow reader keeps the 1 MiB high-water mark and the reader's RSS bounded while the peer sends 256 MiB`, async (t) => {
    const total = 256 * MiB;
    const { url, next } = await listen(t);
    const reader = startHelper(t, 'slow-reader', [
      '--url',
      url,
      '--buffer',
      String(bufferSize),
      '--total',
      String(total),
    ]);
    const server = await next();
    const chunk = Buffer.alloc(MiB, 0x5a);
    const sending = (async () => {
      for (let sent = 0; sent < total; sent += chunk.length) await server.outputStream.writeAsync(chunk);
    })().catch((error: unknown) => error);
    const [line] = await reader.line(/^\{.*\}$/, 180_000, "the slow reader's report");
    const report = JSON.parse(line) as { highWaterMarks: number[]; growthMiB: number; received: number };
    assert.equal(await within(sending, 10_000, 'the server writing'), undefined);
    assert.equal(report.received, total);
    assert.ok(
      report.growthMiB < 64,
      `the reader's RSS grew by ${report.growthMiB.toFixed(0)} MiB while 256 MiB went through`,
    );
    assert.deepEqual(
      report.highWaterMarks,
      [DEFAULT_HIGH_WATER_MARK],
      'inputStream.readableHighWaterMark before and after every readAsync',
    );
  });
}

const SECTION = 4 * KiB;
const SECTIONS = 64;

/** 64 sections of 4 KiB, each filled with its own index. */
function sections(): Buffer[] {
  return Array.from({ length: SECTIONS }, (_unused, index) => Buffer.alloc(SECTION, index));
}

interface Reading {
  /** Our socket's sections, taken only after the peer's bytes are all on our side. */
  read: () => Promise<Buffer[]>;
  peer: WsSocket;
}

/** Collects what `for await` yields until `bytes` have come, then stops iterating. */
async function iterate(source: AsyncIterable<Buffer>, bytes: number): Promise<Buffer[]> {
  const taken: Buffer[] = [];
  let count = 0;
  for await (const section of source) {
    taken.push(section);
    count += section.length;
    if (count >= bytes) break;
  }
  return taken;
}

async function streamSocket(t: Cleanup, side: 'client' | 'server'): Promise<Reading> {
  let socket: StreamWebSocket | ServerStreamWebSocket;
  let peer: WsSocket;
  if (side === 'server') {
    const bound = await listen(t);
    const next = bound.next();
    peer = await wsClient(t, bound.url);
    socket = await next;
  } else {
    const server = await wsServer(t);
    const client = new StreamWebSocket();
    t.after(() => {
      client.close();
    });
    const next = server.next();
    await within(client.connectAsync(server.url), 5000, 'connectAsync');
    peer = await next;
    socket = client;
  }
  return { peer, read: () => iterate(socket.inputStream, SECTION * SECTIONS) };
}

async function messageSocket(t: Cleanup, side: 'client' | 'server'): Promise<Reading> {
  let socket: MessageWebSocket | ServerMessageWebSocket;
  let peer: WsSocket;
  if (side === 'server') {
    const bound = await listen(t, { mode: 'message' });
    const next = bound.next();
    peer = await wsClient(t, bound.url);
    socket = await next;
  } else {
    const server = await wsServer(t);
    const client = new MessageWebSocket();
    t.after(() => {
      client.close();
    });
    const next = server.next();
    await within(client.connectAsync(server.url), 5000, 'connectAsync');
    peer = await next;
    socket = client;
  }
  const read = async (): Promise<Buffer[]> => {
    for await (const message of socket.messages()) return iterate(message, SECTION * SECTIONS);
    assert.fail('messages() ended without a message');
  };
  return { peer, read };
}

function assertUnjoined(taken: Buffer[]): void {
  const largest = Math.max(...taken.map((section) => section.length));
  assert.ok(
    largest <= SECTION,
    `a section of ${largest} bytes was yielded (${taken.length} sections): frames of ${SECTION} bytes were joined`,
  );
  assert.ok(Buffer.concat(taken).equals(Buffer.concat(sections())), 'the bytes, in order');
}

for (const side of ['client', 'server'] as const) {
  test(`${side}: for await over inputStream yields 64 frames of 4 KiB that were waiting as 64 sections, not one`, async (t) => {
    const { peer, read } = await streamSocket(t, side);
    for (const section of sections()) peer.send(section);
    // The pong comes back after our side has read everything sent before the ping.
    await wsRoundTrip(peer);
    assertUnjoined(await within(read(), 5000, 'for await over inputStream'));
  });

  test(`${side}: for await over a messages() Readable yields the 64 waiting fragments of 4 KiB as sections, not one`, async (t) => {
    const { peer, read } = await messageSocket(t, side);
    sections().forEach((section, index) => {
      peer.send(section, { binary: true, fin: index === SECTIONS - 1 });
    });
    await wsRoundTrip(peer);
    assertUnjoined(await within(read(), 5000, 'for await over a message'));
  });
}
