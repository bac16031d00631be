// The WebSocketError a promise must reject with, within a deadline: for tests of failures.

import assert from 'node:assert/strict';

import { WebSocketError } from '../../src/index.js';
import { within } from './within.js';

/** Awaits `promise`, which must reject with a WebSocketError within `ms`; returns that error. */
export async function rejectionOf(
  promise: Promise<unknown>,
  what: string,
  ms = 10_000,
): Promise<WebSocketError> {
  const error = await within(
    promise.then(
      () => assert.fail(`${what} completed`),
      (caught: unknown) => caught,
    ),
    ms,
    what,
  );
  assert.ok(error instanceof WebSocketError, `${what}: ${String(error)}`);
  return error;
}
