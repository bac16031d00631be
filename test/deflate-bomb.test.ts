// Decompression bombs (issue 17): a few MiB of deflate that inflate to GiBs, sent by a raw-socket peer to
// a target in a process of its own (helpers/deflate-bomb-target.ts), whose peak RSS is measured. Sent to a
// listener with the defaults (whole messages, 16 MiB) the bomb is refused with 1009 before more than the
// limit is held, and the listener serves on; read as a stream (messages() with a raised limit, or a
// client's inputStream) it flows through in memory bounded by the high-water mark.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { test } from 'node:test';

import { DEFAULT_WHOLE_MESSAGE_LIMIT } from '../src/index.js';
import { startHelper, type HelperProcess } from './helpers/child.js';
import { deflateBomb } from './helpers/deflate-peer.js';
import { MiB } from './helpers/peers.js';
import { clientFrame, RawClient } from './helpers/raw-client.js';
import { rawWebSocketServer, serverFrame } from './helpers/raw-server.js';

const GiB = 1024 * MiB;
const HIGH_WATER_MARK_MIB = 1;
/**
 * What else moves a process's peak, whatever the message: the heap's young generation and the garbage
 * sections waiting for it, zlib's and the sockets' buffers. 2 GiB streamed uncompressed through
 * messages() grow the same target by about 37 MiB.
 */
const SLACK_MIB = 48;

interface Report {
  received: number;
  code?: number;
  growthMiB: number;
}

/** One compressed binary message in frames of at most 1 MiB of payload, as a client or a server sends it. */
function bombFrames(payload: Buffer, fromClient: boolean): Buffer[] {
  const frames: Buffer[] = [];
  for (let offset = 0; offset < payload.length; offset += MiB) {
    const end = Math.min(offset + MiB, payload.length);
    const part = payload.subarray(offset, end);
    const first = offset === 0;
    const fin = end === payload.length;
    frames.push(
      fromClient
        ? clientFrame({ opcode: first ? 0x2 : 0x0, rsv: first ? 0b100 : 0, fin, payload: part })
        : serverFrame(first ? 0x2 : 0x0, part, fin, first ? 0b100 : 0),
    );
  }
  return frames;
}

async function report(target: HelperProcess, ms: number): Promise<Report> {
  const [line] = await target.line(/^\{.*\}$/, ms, "the target's report");
  return JSON.parse(line) as Report;
}

async function bombListener(
  t: Parameters<typeof startHelper>[0],
  args: string[],
  inflatedMiB: number,
): Promise<{ target: HelperProcess; port: number }> {
  const target = startHelper(t, 'deflate-bomb-target', args);
  const [, port] = await target.line(/^PORT (\d+)$/, 10_000, 'the listener');
  const attacker = (
    await RawClient.open(Number(port), '/', undefined, 3000, 'permessage-deflate')
  ).answerClose();
  t.after(() => {
    attacker.destroy();
  });
  for (const frame of bombFrames(deflateBomb(inflatedMiB), true)) attacker.send(frame);
  return { target, port: Number(port) };
}

test('a listener with the defaults closes a 4 GiB bomb with 1009, holding at most its 16 MiB limit, and serves on', async (t) => {
  const { target, port } = await bombListener(t, ['listener-whole'], 4096);
  const result = await report(target, 60_000);
  t.diagnostic(`the listener's peak RSS grew by ${result.growthMiB.toFixed(1)} MiB`);
  assert.equal(result.code, 1009);
  assert.equal(result.received, 0);
  assert.ok(
    result.growthMiB < DEFAULT_WHOLE_MESSAGE_LIMIT / MiB + HIGH_WATER_MARK_MIB + SLACK_MIB,
    `peak RSS grew by ${result.growthMiB.toFixed(1)} MiB`,
  );

  const next = (await RawClient.open(port, '/', undefined, 3000, 'permessage-deflate')).answerClose();
  t.after(() => {
    next.destroy();
  });
  next.send(clientFrame({ opcode: 0x2, payload: 'still serving' }));
  await next.until(() => next.frames.some((frame) => frame.opcode === 0x2), 5000, 'the echo');
  assert.equal(next.frames.find((frame) => frame.opcode === 0x2)?.payload.toString(), 'still serving');
});

test('the same bomb (2 GiB) read through messages() with a raised limit flows within the high-water mark', async (t) => {
  const size = 2 * GiB;
  const { target } = await bombListener(t, ['listener-messages', '--limit', String(4 * GiB)], size / MiB);
  const result = await report(target, 180_000);
  t.diagnostic(`the listener's peak RSS grew by ${result.growthMiB.toFixed(1)} MiB for ${size} bytes`);
  assert.equal(result.received, size);
  assert.ok(
    result.growthMiB < HIGH_WATER_MARK_MIB + SLACK_MIB,
    `peak RSS grew by ${result.growthMiB.toFixed(1)} MiB`,
  );
});

test('1 GiB inflating from 1 MiB flows through a client’s inputStream within the high-water mark', async (t) => {
  const size = GiB;
  const frames = bombFrames(deflateBomb(size / MiB), false);
  const raw = await rawWebSocketServer(
    t,
    (connection) => {
      for (const frame of frames) connection.send(frame);
    },
    { extensions: 'permessage-deflate' },
  );
  const target = startHelper(t, 'deflate-bomb-target', [
    'client-stream',
    '--url',
    raw.url,
    '--total',
    String(size),
  ]);
  const result = await report(target, 180_000);
  t.diagnostic(`the client's peak RSS grew by ${result.growthMiB.toFixed(1)} MiB for ${size} bytes`);
  assert.equal(result.received, size);
  assert.ok(
    result.growthMiB < HIGH_WATER_MARK_MIB + SLACK_MIB,
    `peak RSS grew by ${result.growthMiB.toFixed(1)} MiB`,
  );
});
