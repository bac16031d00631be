// The write side of a WebSocket as a Node Writable with WinRT's writeAsync/flushAsync on top: each write
// is sent as one whole message, and a write completes once the socket can take more (backpressure).

import type { Buffer } from 'node:buffer';
import { Writable } from 'node:stream';

import { closedError, illegalMethodCall, toWebSocketError, type WebSocketError } from '../errors.js';

/** Sends one whole message; the output stream does not know about connections. */
export type MessageSender = (payload: Buffer) => Promise<void>;

export class OutputStream extends Writable {
  private sendMessage: MessageSender | undefined;
  private flushWaiters: { resolve: (flushed: boolean) => void; reject: (error: Error) => void }[] = [];

  constructor() {
    super({ highWaterMark: 0, decodeStrings: true });
  }

  /** Connects the stream to its socket. Until then a write fails: the socket is not connected yet. */
  bind(sendMessage: MessageSender): void {
    this.sendMessage = sendMessage;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.sendMessage === undefined) {
      callback(illegalMethodCall('the WebSocket is not connected yet'));
      return;
    }
    this.sendMessage(chunk).then(
      () => {
        callback();
        if (this.writableLength === 0) this.settleFlushWaiters(undefined);
      },
      (error: unknown) => {
        const failure = toWebSocketError(error);
        callback(failure);
        this.settleFlushWaiters(failure);
      },
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    // Ending the output stream leaves the WebSocket open for reading; close() closes it.
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.settleFlushWaiters(
      error === null ? closedError('the output stream was destroyed') : toWebSocketError(error),
    );
    callback(error);
  }

  /** Sends data as one message (WinRT IOutputStream.WriteAsync); resolves to the number of bytes written. */
  writeAsync(data: Uint8Array): Promise<number> {
    if (this.destroyed) return Promise.reject(closedError('the WebSocket is closed'));
    return new Promise((resolve, reject) => {
      const bytes = data.length;
      this.write(data, (error) => {
        if (error === null || error === undefined) resolve(bytes);
        else reject(toWebSocketError(error));
      });
    });
  }

  /** Resolves true once every write so far has been handed to the socket (WinRT FlushAsync). */
  flushAsync(): Promise<boolean> {
    if (this.errored !== null) return Promise.reject(toWebSocketError(this.errored));
    if (this.destroyed) return Promise.reject(closedError('the output stream is closed'));
    if (this.writableLength === 0) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      this.flushWaiters.push({ resolve, reject });
    });
  }

  private settleFlushWaiters(error: WebSocketError | undefined): void {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve(true);
      else waiter.reject(error);
    }
  }
}
