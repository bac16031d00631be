// What every WebSocketStream client must report from the scenario (webstream-scenario.ts): Chromium's
// native one and ours are held to the same assertions, but for the two places where Chromium 156 departs
// from the explainer and we follow the explainer: binary messages arrive as ArrayBuffer there (Uint8Array
// in the explainer), and an aborted handshake rejects with an AbortError instead of the signal's reason.

import assert from 'node:assert/strict';

import type { ScenarioReport, ScenarioSettings } from './webstream-scenario.js';
import { FLOOD_MESSAGE_SIZE, FLOOD_MESSAGES } from './webstream-server.js';

/** Bytes the flood's server may have handed over beyond what the reader read, once it can send no more. */
const FLOOD_BOUND = 16 * 1024 * 1024;

export function assertScenarioReport(
  report: ScenarioReport,
  settings: ScenarioSettings,
  client: 'ours' | 'chromium',
): void {
  assert.equal(report.url, `${settings.base}echo`);
  assert.equal(report.protocol, 'chat.v2', 'the first protocol the client offers that the server speaks');
  assert.equal(report.extensions, '');
  const binary = client === 'ours' ? 'Uint8Array' : 'ArrayBuffer';
  const bytes = (from: number): number[] =>
    Array.from({ length: 256 - from }, (_unused, index) => from + index);
  assert.deepEqual(report.echoed, [
    { text: settings.text },
    { kind: binary, ownBuffer: true, bytes: bytes(0) },
    { kind: binary, ownBuffer: true, bytes: [] },
    { kind: binary, ownBuffer: true, bytes: bytes(250) },
  ]);
  // Our listener answers a close with the client's code (not its reason).
  assert.deepEqual(report.closed, { closeCode: 4001, reason: '' });
  assert.equal(report.readAfterClose, true, 'the readable ends after a clean close');
  assert.equal(report.writeAfterClose, 'InvalidStateError');
  assert.deepEqual(report.closeArgumentErrors, {
    'code 1001': 'InvalidAccessError',
    'code 2999': 'InvalidAccessError',
    'code 5000': 'InvalidAccessError',
    'reason of 124 bytes': 'SyntaxError',
    'reason of 62 two-byte characters': 'SyntaxError',
  });
  assert.equal(report.flood.total, FLOOD_MESSAGES * FLOOD_MESSAGE_SIZE);
  assert.equal(report.flood.read, report.flood.total, 'every flood message was read in the end');
  assert.ok(
    report.flood.takenBeyondRead <= FLOOD_BOUND,
    `the server handed over ${report.flood.takenBeyondRead} bytes beyond what the reader had read`,
  );
  assert.deepEqual(report.flood.closed, { closeCode: 1000, reason: '' });
  assert.deepEqual(report.abortedWritable, { closeCode: 4002, reason: '' });
  assert.deepEqual(report.cancelledReadable, { closeCode: 1005, reason: '' }, 'a close frame without a code');
  const aborted = client === 'ours' ? 'reason' : 'AbortError';
  assert.deepEqual(report.abortedHandshake, { opened: aborted, closed: aborted });
  assert.deepEqual(report.refused, {
    opened: { name: 'WebSocketError', tag: '[object WebSocketError]', closeCode: null, reason: '' },
    closed: { name: 'WebSocketError', tag: '[object WebSocketError]', closeCode: 1006, reason: '' },
  });
  assert.deepEqual(report.webSocketError, {
    name: 'WebSocketError',
    isDOMException: true,
    closeCode: 4000,
    reason: 'why',
  });
}
