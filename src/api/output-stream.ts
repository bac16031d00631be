// The write side of a WebSocket as a Node Writable with WinRT's writeAsync/flushAsync on top: each write
// is sent as one whole message, and a write completes once the socket can take more (backpressure).
// The Writable buffers up to OUTPUT_HIGH_WATER_MARK bytes of writes (by reference, as any Writable), so
// that pipeline() goes on while a write is in flight, and the writes that gathered go out together.

import { Buffer } from 'node:buffer';
import { Writable } from 'node:stream';

import { closedError, illegalMethodCall, toWebSocketError, type WebSocketError } from '../errors.js';

/** A message ready to go: sends it when its turn comes. */
export type PreparedMessage = () => Promise<void>;

/**
 * Turns a write into a message when the write is made (so the message's type is the one in force at that
 * moment), or says why it cannot be sent.
 */
export type MessagePreparer = (payload: Buffer) => PreparedMessage | WebSocketError;

/** Why a flush cannot succeed now (the socket was closed), or undefined while it can. */
export type FlushRefusal = () => WebSocketError | undefined;

/** Bytes of writes the Writable holds before write() returns false (the socket's own buffer comes after). */
export const OUTPUT_HIGH_WATER_MARK = 256 * 1024;

export class OutputStream extends Writable {
  private prepare: MessagePreparer | undefined;
  private flushRefusal: FlushRefusal | undefined;
  /** Messages prepared by writeAsync, found again by their chunk when the Writable gets to them. */
  private prepared: WeakMap<Buffer, PreparedMessage> | undefined;
  private flushWaiters: { resolve: (flushed: boolean) => void; reject: (error: Error) => void }[] = [];
  /** writeAsync calls sent without the Writable's queue (it was empty) and not yet complete. */
  private directWrites = 0;

  constructor() {
    super({ highWaterMark: OUTPUT_HIGH_WATER_MARK, decodeStrings: true });
  }

  /** Connects the stream to its socket. Until then a write fails: the socket is not connected yet. */
  bind(prepare: MessagePreparer, flushRefusal: FlushRefusal): void {
    this.prepare = prepare;
    this.flushRefusal = flushRefusal;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const message = this.prepared?.get(chunk) ?? this.prepareMessage(chunk);
    if (typeof message !== 'function') {
      callback(message);
      return;
    }
    this.settleWhenSent(message(), callback);
  }

  /** The writes that gathered while one was in flight: sent one after the other in this tick. */
  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    const sent: Promise<void>[] = [];
    for (const { chunk } of chunks) {
      const message = this.prepared?.get(chunk) ?? this.prepareMessage(chunk);
      if (typeof message !== 'function') {
        // The ones before it go out; this one fails the stream, as it would written alone.
        sent.push(Promise.reject(message));
        break;
      }
      sent.push(message());
    }
    this.settleWhenSent(Promise.all(sent), callback);
  }

  private settleWhenSent(sent: Promise<unknown>, callback: (error?: Error | null) => void): void {
    sent.then(
      () => {
        callback();
        this.settleFlushWaitersIfIdle();
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

  /**
   * Sends data as one message (WinRT IOutputStream.WriteAsync); resolves to the number of bytes written.
   * A write that cannot be sent (not connected, not valid for the message type) is rejected without
   * harming the stream.
   */
  writeAsync(data: Uint8Array): Promise<number> {
    if (this.destroyed) return Promise.reject(closedError('the WebSocket is closed'));
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
    const message = this.prepareMessage(chunk);
    if (typeof message !== 'function') return Promise.reject(message);
    // Nothing queued in the Writable: the message can go now, in order, without the Writable's machinery.
    if (this.writableLength === 0 && !this.writableCorked && !this.writableEnded) {
      return this.sendDirectly(message, chunk.length);
    }
    (this.prepared ??= new WeakMap()).set(chunk, message);
    return new Promise((resolve, reject) => {
      this.write(chunk, (error) => {
        if (error === null || error === undefined) resolve(chunk.length);
        else reject(toWebSocketError(error));
      });
    });
  }

  /**
   * Resolves true once every write so far has been handed to the socket (WinRT FlushAsync). Before the
   * socket is connected: E_ILLEGAL_METHOD_CALL; after it was closed: RO_E_CLOSED.
   */
  flushAsync(): Promise<boolean> {
    if (this.errored !== null) return Promise.reject(toWebSocketError(this.errored));
    if (this.destroyed) return Promise.reject(closedError('the output stream is closed'));
    if (this.prepare === undefined) {
      return Promise.reject(illegalMethodCall('the WebSocket is not connected yet'));
    }
    const refusal = this.flushRefusal?.();
    if (refusal !== undefined) return Promise.reject(refusal);
    if (this.isIdle) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      this.flushWaiters.push({ resolve, reject });
    });
  }

  private sendDirectly(message: PreparedMessage, length: number): Promise<number> {
    this.directWrites++;
    return message().then(
      () => {
        this.directWrites--;
        this.settleFlushWaitersIfIdle();
        return length;
      },
      (error: unknown) => {
        this.directWrites--;
        const failure = toWebSocketError(error);
        // As a failed write through the Writable would: the stream is done.
        this.destroy(failure);
        throw failure;
      },
    );
  }

  private get isIdle(): boolean {
    return this.writableLength === 0 && this.directWrites === 0;
  }

  private settleFlushWaitersIfIdle(): void {
    if (this.isIdle) this.settleFlushWaiters(undefined);
  }

  private prepareMessage(chunk: Buffer): PreparedMessage | WebSocketError {
    if (this.prepare === undefined) return illegalMethodCall('the WebSocket is not connected yet');
    return this.prepare(chunk);
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
