// Small pieces shared by test/proxy-auth.test.ts and test/interop/nginx-tinyproxy.test.ts: bounded waits,
// a queue of arrivals, echo servers on our listener's sockets, and reading exact byte counts.

import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';

import {
  InputStreamOptions,
  WebSocketError,
  type InputStream,
  type ServerMessageWebSocket,
  type ServerStreamWebSocket,
} from '../../../src/index.js';
import { within as settleWithin } from '../../helpers/within.js';

/** Settles like `promise`, or rejects after `ms`. */
export function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  return settleWithin(promise, ms, what);
}

/** A queue of what arrives (connections, requests), with bounded waits for the next one. */
export class Arrivals<T> {
  private readonly arrived: T[] = [];
  private readonly waiting: ((value: T) => void)[] = [];
  /** How many arrived in all. */
  count = 0;

  push(value: T): void {
    this.count++;
    const taker = this.waiting.shift();
    if (taker === undefined) this.arrived.push(value);
    else taker(value);
  }

  next(what = 'the next connection', ms = 5_000): Promise<T> {
    const value = this.arrived.shift();
    if (value !== undefined) return Promise.resolve(value);
    return within(new Promise<T>((resolve) => this.waiting.push(resolve)), what, ms);
  }
}

/** Sends back every section a server stream socket receives, each as one binary message. */
export function echoStream(socket: ServerStreamWebSocket): void {
  void (async () => {
    try {
      for await (const section of socket.inputStream) {
        await socket.outputStream.writeAsync(section);
      }
    } catch {
      // The client's side of the test sees what went wrong.
    }
  })();
}

/** Sends back every message a server message socket receives, with its type. */
export function echoMessages(socket: ServerMessageWebSocket): void {
  socket.on('messageReceived', async (args) => {
    socket.control.messageType = args.messageType;
    await socket.outputStream.writeAsync(args.getData());
  });
}

/** Reads exactly `count` bytes (rejects if the stream ends first). */
export async function readExactly(input: InputStream, count: number): Promise<Buffer> {
  const got = await input.readAsync(new Uint8Array(count), count, InputStreamOptions.None);
  if (got.length !== count) throw new Error(`the stream ended after ${got.length} of ${count} bytes`);
  return Buffer.from(got);
}

/** Reads and hashes exactly `size` bytes in pieces of up to 1 MiB; rejects if the stream ends first. */
export async function hashExactly(input: InputStream, size: number): Promise<string> {
  const hash = createHash('sha256');
  const buffer = new Uint8Array(1 << 20);
  let left = size;
  while (left > 0) {
    const got = await input.readAsync(buffer, Math.min(buffer.length, left), InputStreamOptions.Partial);
    if (got.length === 0) throw new Error(`the stream ended ${left} bytes short of ${size}`);
    hash.update(got);
    left -= got.length;
  }
  return hash.digest('hex');
}

/** The WebErrorStatus a promise rejects with (fails if it resolves or rejects with something else). */
export async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof WebSocketError)) throw error;
    return error.status;
  }
  throw new Error('expected a WebSocketError, but it succeeded');
}
