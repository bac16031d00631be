// Issue 18: WebSocketStream keeps memory bounded whatever the data, each side measured in a process of
// its own (test/helpers/webstream-peer.ts). A slow reader of 1 GiB of 1 MiB messages: neither the
// reader nor the server writing to it grows with what is sent (without backpressure from the readable,
// the reader would hold what the server could push). And ONE 4 GiB message through the writable (a
// ReadableStream) into a messageStreams readable on the server: neither side grows with the message.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { startHelper } from './helpers/child.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Far below what either transfer would cost a side that held it (1 GiB, 4 GiB). */
const GROWTH_LIMIT_MIB = 96;

interface SideReport {
  growthMiB: number;
  bytes: number;
  sha256: string;
}

function parse(line: string): SideReport {
  return JSON.parse(line) as SideReport;
}

test('a slow reader of 1 GiB of messages: both sides stay bounded (reader and server, each its own process)', async (t) => {
  const messages = 1024;
  const server = startHelper(t, 'webstream-peer', [
    'serve-flood',
    '--messages',
    String(messages),
    '--size',
    String(MiB),
  ]);
  const [, port] = await server.line(/^PORT (\d+)$/, 10_000, 'the server listening');
  const reader = startHelper(t, 'webstream-peer', [
    'slow-read',
    '--url',
    `ws://127.0.0.1:${port!}/`,
    '--total',
    String(messages * MiB),
  ]);
  const [readerLine] = await reader.line(/^\{.*\}$/, 300_000, "the reader's report");
  const [serverLine] = await server.line(/^\{.*\}$/, 30_000, "the server's report");
  const read = parse(readerLine);
  const sent = parse(serverLine);
  t.diagnostic(
    `peak RSS growth: reader ${read.growthMiB.toFixed(1)} MiB, server ${sent.growthMiB.toFixed(1)} MiB`,
  );
  assert.equal(read.bytes, GiB);
  assert.equal(sent.bytes, GiB);
  assert.ok(read.growthMiB < GROWTH_LIMIT_MIB, `the reader grew by ${read.growthMiB.toFixed(0)} MiB`);
  assert.ok(sent.growthMiB < GROWTH_LIMIT_MIB, `the server grew by ${sent.growthMiB.toFixed(0)} MiB`);
});

test('ONE 4 GiB message in messageStreams mode: sender and receiver stay bounded, SHA-256 equal', async (t) => {
  const size = 4 * GiB;
  const server = startHelper(t, 'webstream-peer', ['serve-sink']);
  const [, port] = await server.line(/^PORT (\d+)$/, 10_000, 'the server listening');
  const sender = startHelper(t, 'webstream-peer', [
    'send-huge',
    '--url',
    `ws://127.0.0.1:${port!}/`,
    '--size',
    String(size),
  ]);
  const [senderLine] = await sender.line(/^\{.*\}$/, 600_000, "the sender's report");
  const [serverLine] = await server.line(/^\{.*\}$/, 30_000, "the receiver's report");
  const sent = parse(senderLine);
  const received = parse(serverLine);
  t.diagnostic(
    `peak RSS growth: sender ${sent.growthMiB.toFixed(1)} MiB, receiver ${received.growthMiB.toFixed(1)} MiB`,
  );
  assert.equal(sent.bytes, size);
  assert.deepEqual({ bytes: received.bytes, sha256: received.sha256 }, { bytes: size, sha256: sent.sha256 });
  assert.ok(sent.growthMiB < GROWTH_LIMIT_MIB, `the sender grew by ${sent.growthMiB.toFixed(0)} MiB`);
  assert.ok(
    received.growthMiB < GROWTH_LIMIT_MIB,
    `the receiver grew by ${received.growthMiB.toFixed(0)} MiB`,
  );
});
