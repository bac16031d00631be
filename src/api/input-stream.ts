// The byte stream of a StreamWebSocket: the payload of every received data message, in order, as a
// Node Readable with WinRT's readAsync on top. Sections arrive as frames do and are handed on as they
// came; the high-water mark bounds what is held, whatever the size of a message or of a read.

import { Buffer } from 'node:buffer';

import type { ReadControl } from '../connection/incoming-sink.js';
import { DEFAULT_HIGH_WATER_MARK } from '../connection/section-queue.js';
import { SectionReadable } from '../connection/section-readable.js';
import { invalidArgument, type WebSocketError } from '../errors.js';

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
export const INPUT_HIGH_WATER_MARK = DEFAULT_HIGH_WATER_MARK;

// The socket feeds it as its IncomingSink (checked where it is bound). Those members are left out of the
// published types, so the class does not declare `implements`: the .d.ts could not honour it.
export class InputStream extends SectionReadable {
  private control: ReadControl | undefined;

  constructor(highWaterMark = INPUT_HIGH_WATER_MARK) {
    super(highWaterMark, () => {
      this.control?.resumeReading();
    });
  }

  /** @internal The connection's side of the stream (IncomingSink), from here to finish(). */
  attach(control: ReadControl): void {
    this.control = control;
  }

  /** @internal */
  messageStart(): void {
    // Message boundaries are not part of a byte stream.
  }

  /** @internal */
  messageData(section: Buffer): boolean {
    return this.pushSection(section);
  }

  /** @internal */
  messageEnd(): boolean {
    // As above: the byte stream's own watermarks govern.
    return true;
  }

  /** @internal */
  finish(error: WebSocketError | undefined): void {
    this.endSections(error);
  }

  /**
   * Reads up to `count` bytes into `buffer` (WinRT IInputStream.ReadAsync) and returns a view of the bytes
   * read: of `buffer` itself. Each byte is copied once, from the received section into `buffer`; `count`
   * never changes how much the stream holds. A 0-length result means the peer closed the stream.
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
      // read() without a size hands over one section and never raises the high-water mark.
      const section = this.read() as Buffer | null;
      if (section === null) {
        if (filled > 0 && options !== InputStreamOptions.None) break;
        if (!(await this.whenReadable())) break;
        continue;
      }
      const take = Math.min(section.length, count - filled);
      target.set(take === section.length ? section : section.subarray(0, take), filled);
      filled += take;
      if (take < section.length) this.unshift(section.subarray(take));
    }
    return target.subarray(0, filled);
  }

  /** Waits until a section can be read (true) or the stream has ended (false); throws its error. */
  private whenReadable(): Promise<boolean> {
    if (this.errored !== null) return Promise.reject(this.errored);
    if (this.readableEnded || this.destroyed) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        this.off('readable', settle);
        this.off('end', settle);
        this.off('close', settle);
        if (this.errored !== null) reject(this.errored);
        else resolve(!this.readableEnded && !this.destroyed);
      };
      this.on('readable', settle);
      this.on('end', settle);
      this.on('close', settle);
    });
  }
}
