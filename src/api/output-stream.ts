// The write side of a WebSocket as a Node Writable with WinRT's writeAsync/flushAsync on top: each write
// is sent as one whole message, and a write completes once the socket can take more (backpressure).
// end() means "nothing more to send": once everything written is out, the closing handshake starts with
// 1000 while reading goes on until the peer's close, so pipeline(source, outputStream) ends the
// connection cleanly when the source is done. The Writable buffers up to OUTPUT_HIGH_WATER_MARK bytes of
// writes (by reference, as any Writable: the caller has a buffer back when its write's callback runs), so
// that pipeline() goes on while a write is in flight, and the writes that gathered go out together.

import { Buffer } from 'node:buffer';
import { Writable } from 'node:stream';

import { closedError, illegalMethodCall, toWebSocketError, type WebSocketError } from '../errors.js';
import type { SocketMessageType } from '../protocol/opcodes.js';

/** A message ready to go: sends it when its turn comes. */
export type PreparedMessage = () => Promise<void>;

/** Makes a write's message from its payload, or says why it cannot be sent. */
export type MessageMaker = (payload: Buffer) => PreparedMessage | WebSocketError;

/**
 * Called when a write is made, with the message type the write chose (undefined: the socket's default):
 * it fixes then what the write's message will be, however long the write waits in the stream's queue.
 */
export type MessagePreparer = (messageType: SocketMessageType | undefined) => MessageMaker;

/** Why a flush cannot succeed now (the socket was closed), or undefined while it can. */
export type FlushRefusal = () => WebSocketError | undefined;

/** Starts the closing handshake once everything written is out; settles when the close frame is. */
export type OutputEnder = () => Promise<void>;

/** Bytes of writes the Writable holds before write() returns false (the socket's own buffer comes after). */
export const OUTPUT_HIGH_WATER_MARK = 256 * 1024;

type WriteCallback = (error: Error | null | undefined) => void;

export class OutputStream extends Writable {
  private prepare: MessagePreparer | undefined;
  private flushRefusal: FlushRefusal | undefined;
  private endOutput: OutputEnder | undefined;
  /** For each write still in the Writable's queue, in order: its message as fixed when it was made. */
  private readonly queuedMakers: MessageMaker[] = [];
  private flushWaiters: { resolve: (flushed: boolean) => void; reject: (error: Error) => void }[] = [];
  /** writeAsync calls sent without the Writable's queue (it was empty) and not yet complete. */
  private directWrites = 0;

  constructor() {
    super({ highWaterMark: OUTPUT_HIGH_WATER_MARK, decodeStrings: true });
  }

  /** @internal Connects the stream to its socket. Until then a write fails: not connected yet. */
  bind(prepare: MessagePreparer, flushRefusal: FlushRefusal, endOutput: OutputEnder): void {
    this.prepare = prepare;
    this.flushRefusal = flushRefusal;
    this.endOutput = endOutput;
  }

  /** Writable.write: the message goes with the type in force now, even if it waits in the queue. */
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | WriteCallback,
    callback?: WriteCallback,
  ): boolean {
    // A write the stream refuses (after end or destroy) never reaches _write: nothing to keep for it.
    const refused = this.destroyed || this.writableEnded || this.errored !== null;
    if (!refused) this.queuedMakers.push(this.makerFor(undefined));
    try {
      if (typeof encoding === 'function') return super.write(chunk, encoding);
      return encoding === undefined ? super.write(chunk, callback) : super.write(chunk, encoding, callback);
    } catch (error) {
      // Refused at once (a null or non-byte chunk): it never reaches the queue.
      if (!refused) this.queuedMakers.pop();
      throw error;
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const message = this.nextQueuedMessage(chunk);
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
      const message = this.nextQueuedMessage(chunk);
      if (typeof message !== 'function') {
        // The ones before it go out; this one fails the stream, as it would written alone.
        sent.push(Promise.reject(message));
        this.queuedMakers.length = 0;
        break;
      }
      sent.push(message());
    }
    this.settleWhenSent(Promise.all(sent), callback);
  }

  /** The message of the oldest write in the Writable's queue, as fixed when that write was made. */
  private nextQueuedMessage(chunk: Buffer): PreparedMessage | WebSocketError {
    // end(chunk) queues its chunk without write(): its message is made now.
    return (this.queuedMakers.shift() ?? this.makerFor(undefined))(chunk);
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
    if (this.endOutput === undefined) {
      callback(illegalMethodCall('the WebSocket is not connected yet'));
      return;
    }
    // 'finish' once our close frame is out; the input goes on until the peer's close.
    this.endOutput().then(
      () => {
        callback();
      },
      (error: unknown) => {
        callback(toWebSocketError(error));
      },
    );
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
    return this.writeMessage(data, undefined);
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

  /** @internal writeAsync, with the message type the caller chose (undefined: the socket's default). */
  protected writeMessage(data: Uint8Array, messageType: SocketMessageType | undefined): Promise<number> {
    if (this.destroyed) {
      // Why nothing more can be sent: the peer's close (its code), our own, or a lost connection.
      const refusal = this.flushRefusal?.() ?? this.errored ?? closedError('the WebSocket is closed');
      return Promise.reject(toWebSocketError(refusal));
    }
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
    const message = this.makerFor(messageType)(chunk);
    if (typeof message !== 'function') return Promise.reject(message);
    // Nothing queued in the Writable: the message can go now, in order, without the Writable's machinery.
    if (this.writableLength === 0 && !this.writableCorked && !this.writableEnded) {
      return this.sendDirectly(message, chunk.length);
    }
    // After end() the Writable refuses the write itself (and never gets to it).
    if (!this.writableEnded) this.queuedMakers.push(() => message);
    return new Promise((resolve, reject) => {
      super.write(chunk, (error) => {
        if (error === null || error === undefined) resolve(chunk.length);
        else reject(toWebSocketError(error));
      });
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

  /**
   * @internal Undefined when every write made so far has been handed to the socket; else a promise that
   * settles (never rejects) once they have been, or once the stream failed.
   */
  whenWritten(): Promise<void> | undefined {
    if (this.isIdle || this.destroyed) return undefined;
    return new Promise((resolve) => {
      const settle = (): void => {
        resolve();
      };
      this.flushWaiters.push({ resolve: settle, reject: settle });
    });
  }

  private get isIdle(): boolean {
    return this.writableLength === 0 && this.directWrites === 0;
  }

  private settleFlushWaitersIfIdle(): void {
    if (this.isIdle) this.settleFlushWaiters(undefined);
  }

  private makerFor(messageType: SocketMessageType | undefined): MessageMaker {
    if (this.prepare === undefined) return () => illegalMethodCall('the WebSocket is not connected yet');
    // A write made after close() is refused, while the writes made before it still go out.
    const refusal = this.flushRefusal?.();
    if (refusal !== undefined) return () => refusal;
    return this.prepare(messageType);
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
