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

// The socket's DeferredInput feeds it (the members marked internal are left out of the published types).
export class InputStream extends SectionReadable {
  private control: ReadControl | undefined;

  constructor(highWaterMark = INPUT_HIGH_WATER_MARK) {
    super(highWaterMark, () => {
      this.control?.resumeReading();
    });
  }

  /** @internal The connection this stream stops and resumes reading from. */
  attach(control: ReadControl): void {
    this.control = control;
  }

  /** @internal A received section; false: stop reading the socket for now. */
  messageData(section: Buffer): boolean {
    return this.pushSection(section);
  }

  /** @internal No more data: a clean end (undefined) or why reading failed. */
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
    let filled = this.copyReceived(target);
    while (filled < count && (filled === 0 || options === InputStreamOptions.None)) {
      if (this.errored !== null) throw this.errored;
      if (this.isOver) break;
      await this.whenSectionArrives();
      filled += this.copyReceived(target.subarray(filled));
    }
    return target.subarray(0, filled);
  }
}
