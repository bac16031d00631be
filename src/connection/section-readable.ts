// A Readable over a SectionQueue: the received sections of a byte stream or of one message, handed to
// readers one at a time as they arrived. The Readable itself buffers at most one section (its high-water
// mark is 0), so `for await`, 'data' events and read() never join sections, and no read(n) can raise a
// buffer limit: the queue's watermarks alone bound what waits, and stop the socket past the high one.

import type { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';

import { SectionQueue } from './section-queue.js';

/* eslint-disable @typescript-eslint/no-unsafe-declaration-merging -- the interface narrows Readable's `any` chunks to what this stream yields */

/** What the stream yields: Buffer sections (Readable's own types say `any`). */
export interface SectionReadable {
  [Symbol.asyncIterator](): NodeJS.AsyncIterator<Buffer>;
}

export class SectionReadable extends Readable {
  private readonly queue: SectionQueue;
  /** _read found nothing to give: the next section goes straight to the Readable. */
  private wanted = false;
  /** No more sections will come; the stream ends once the queue is empty. */
  private ended = false;

  constructor(
    /** Bytes that may wait before the producer is stopped. */
    highWaterMark: number,
    /** Called when the queue, after stopping the producer, has drained below its low watermark. */
    onLow: () => void,
  ) {
    super({ highWaterMark: 0 });
    this.queue = new SectionQueue(highWaterMark, onLow);
    // What users (and Readable.toWeb) read as the stream's bound is the queue's, not the Readable's 0.
    Object.defineProperty(this, 'readableHighWaterMark', { value: highWaterMark, enumerable: true });
  }

  /** @internal Takes a received section (a view); false: the queue is full, stop reading the socket. */
  pushSection(section: Buffer): boolean {
    // A reader that gave up (destroyed the stream) takes nothing more: the rest is dropped.
    if (this.destroyed) return true;
    if (this.wanted && this.queue.isEmpty) {
      this.wanted = false;
      this.push(section);
      return true;
    }
    return this.queue.push(section);
  }

  /** @internal No more sections: the stream ends after the queued ones, or fails at once with `error`. */
  endSections(error?: Error): void {
    if (error !== undefined) {
      this.destroy(error);
      return;
    }
    this.ended = true;
    if (this.wanted && this.queue.isEmpty) {
      this.wanted = false;
      this.push(null);
    }
  }

  override _read(): void {
    const section = this.queue.shift();
    if (section !== undefined) this.push(section);
    else if (this.ended) this.push(null);
    else this.wanted = true;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.queue.clear();
    callback(error);
  }
}
