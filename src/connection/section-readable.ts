// A Readable over a SectionQueue: the received sections of a byte stream or of one message, handed to
// readers one at a time as they arrived. The Readable itself buffers at most one section (its high-water
// mark is 0), so `for await`, 'data' events and read() never join sections, and no read(n) can raise a
// buffer limit: the queue's watermarks alone bound what waits, and stop the socket past the high one.
// Readers with a buffer of their own (readAsync) copy straight out of the queue, and `for await` takes
// sections straight from it, past the Readable's machinery.

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
  /** Readers copying out of the queue that wait for sections (or the end). */
  private arrivalWaiters: (() => void)[] = [];

  constructor(
    /** Bytes that may wait before the producer is stopped. */
    highWaterMark: number,
    /** Called when the queue, after stopping the producer, has drained below its low watermark. */
    onLow: () => void,
  ) {
    super({ highWaterMark: 0 });
    this.queue = new SectionQueue(highWaterMark, onLow);
  }

  static {
    // What users (and Readable.toWeb) read as the stream's bound is the queue's, not the Readable's 0.
    // On the prototype: a property defined on each instance would give each its own hidden class.
    Object.defineProperty(SectionReadable.prototype, 'readableHighWaterMark', {
      get(this: SectionReadable): number {
        return this.queue.highWaterMark;
      },
      enumerable: true,
    });
  }

  /** @internal Takes a received section (a view); false: the queue is full, stop reading the socket. */
  pushSection(section: Buffer): boolean {
    // A reader that gave up (destroyed the stream) takes nothing more: the rest is dropped.
    if (this.destroyed) return true;
    this.wakeArrivalWaiters();
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
    this.wakeArrivalWaiters();
    if (this.wanted && this.queue.isEmpty) {
      this.wanted = false;
      this.push(null);
    }
  }

  /**
   * The sections as they arrived, taken straight from the queue: `for await` on a message or a byte
   * stream costs a promise per section, not the Readable's iterator machinery (its listeners, its
   * 'readable' round trips). As with Readable's own iterator, a failure is thrown, and the stream is
   * destroyed when the loop ends, early or not; 'end' is emitted first only if something listens.
   */
  override async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    try {
      for (;;) {
        const section = this.takeSection();
        if (section !== undefined) {
          yield section;
          continue;
        }
        if (this.errored !== null) throw this.errored;
        // Destroyed before its end (a message skipped for the next one): never a stream that looks complete.
        if (this.destroyed) throw prematureClose();
        if (this.allTaken) {
          // 'end' costs three ticks: it is emitted for those who wait for it (finished() among them).
          if (this.listenerCount('end') > 0) this.read();
          return;
        }
        await this.whenSectionArrives();
      }
    } finally {
      if (!this.destroyed) this.destroy();
    }
  }

  /** The oldest received section, whole; undefined when none is waiting. */
  private takeSection(): Buffer | undefined {
    if (this.destroyed) return undefined;
    // A section the Readable took already (for read() or 'data'): older than the queue's.
    if (this.readableLength > 0) return (this.read() as Buffer | null) ?? undefined;
    return this.queue.shift();
  }

  /**
   * Copies received bytes, oldest first, into target, each byte once; returns how many (0: none are
   * waiting). A section it takes in part stays for the next reader, as the rest of it.
   */
  protected copyReceived(target: Uint8Array): number {
    let copied = 0;
    if (this.readableLength > 0) {
      // A section the Readable took already (for read() or an iterator): older than the queue's.
      const held = this.read() as Buffer | null;
      if (held !== null) {
        copied = Math.min(held.length, target.length);
        target.set(copied === held.length ? held : held.subarray(0, copied));
        if (copied < held.length) {
          this.unshift(held.subarray(copied));
          return copied;
        }
      }
    }
    return copied + this.queue.copyInto(target.subarray(copied));
  }

  /**
   * Resolves when copyReceived may find something new: a section arrived, or the stream ended or failed.
   * Resolves at once when the stream is over (see isOver).
   */
  protected whenSectionArrives(): Promise<void> {
    if (this.isOver) return Promise.resolve();
    return new Promise((resolve) => {
      this.arrivalWaiters.push(resolve);
    });
  }

  /**
   * Nothing more will be received: the stream was destroyed (by a failure: see errored), or ended and
   * every section has been taken. The Readable is ended too, as a read() at the end would.
   */
  protected get isOver(): boolean {
    if (this.destroyed) return true;
    if (!this.allTaken) return false;
    if (!this.readableEnded) this.read();
    return true;
  }

  /** The sections have ended and every one of them has been taken. */
  private get allTaken(): boolean {
    return this.ended && this.queue.isEmpty && this.readableLength === 0;
  }

  private wakeArrivalWaiters(): void {
    if (this.arrivalWaiters.length === 0) return;
    const waiters = this.arrivalWaiters;
    this.arrivalWaiters = [];
    for (const wake of waiters) wake();
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
    this.wakeArrivalWaiters();
  }
}

/** What Node's own stream iterator throws for a stream destroyed before its end. */
function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}
