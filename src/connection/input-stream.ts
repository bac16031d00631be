// The byte stream of a StreamWebSocket: the payload of every received data message, in order, as a
// Node Readable with WinRT's readAsync on top. Sections arrive as frames do; the high-water mark bounds
// what is held, whatever the size of a message.

import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';

import { invalidArgument, type WebSocketError } from '../errors.js';
import type { InboundSink, ReadResumer } from './inbound-sink.js';

/** Windows.Storage.Streams.InputStreamOptions. */
export const InputStreamOptions = {
  /** Complete when `count` bytes have arrived or the stream has ended. */
  None: 0,
  /** Complete as soon as at least one byte is there. */
  Partial: 1,
  /** Like Partial, and the stream may read ahead of what was asked. */
  ReadAhead: 2,
} as const;
export type InputStreamOptions = (typeof InputStreamOptions)[keyof typeof InputStreamOptions];

/** Default high-water mark: how much received payload may wait for the application. */
export const INPUT_HIGH_WATER_MARK = 1024 * 1024;

export class InputStream extends Readable implements InboundSink {
  private resumer: ReadResumer | undefined;

  constructor(highWaterMark = INPUT_HIGH_WATER_MARK) {
    super({ highWaterMark });
  }

  attach(resumer: ReadResumer): void {
    this.resumer = resumer;
  }

  override _read(): void {
    this.resumer?.resumeReading();
  }

  messageStart(): void {
    // Message boundaries are not part of a byte stream.
  }

  messageData(section: Buffer): boolean {
    return this.push(section);
  }

  messageEnd(): boolean {
    // As above: the byte stream's own high-water mark governs.
    return true;
  }

  finish(error: WebSocketError | undefined): void {
    if (error === undefined) this.push(null);
    else this.destroy(error);
  }

  /**
   * Reads up to `count` bytes into `buffer` (WinRT IInputStream.ReadAsync) and returns a view of the bytes
   * read: of `buffer` itself. A 0-length result means the peer closed the stream.
   */
  async readAsync(
    buffer: Uint8Array,
    count: number = buffer.length,
    options: InputStreamOptions = InputStreamOptions.None,
  ): Promise<Buffer> {
    if (!Number.isInteger(count) || count < 0 || count > buffer.length) {
      throw invalidArgument(`count must be an integer from 0 to the buffer's length (${buffer.length})`);
    }
    const target = Buffer.from(buffer.buffer, buffer.byteOffset, count);
    let filled = 0;
    while (filled < count) {
      if (this.readableLength === 0 && !(await this.whenReadable())) break;
      const chunk = this.read(Math.min(count - filled, this.readableLength)) as Buffer | null;
      if (chunk === null) continue;
      chunk.copy(target, filled);
      filled += chunk.length;
      if (options !== InputStreamOptions.None) break;
    }
    return target.subarray(0, filled);
  }

  /** Waits until bytes are buffered (true) or the stream has ended (false); throws its error. */
  private whenReadable(): Promise<boolean> {
    if (this.errored !== null) return Promise.reject(this.errored);
    if (this.readableEnded || this.destroyed) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        this.off('readable', settle);
        this.off('end', settle);
        this.off('close', settle);
        if (this.errored !== null) reject(this.errored);
        else resolve(this.readableLength > 0);
      };
      this.on('readable', settle);
      this.on('end', settle);
      this.on('close', settle);
      this.read(0);
    });
  }
}
