// Reusable buffers for large masked frames. A fresh buffer per frame costs page faults on first touch and
// leaves garbage for the collector (the RSS of a long upload grows with it); a buffer goes back to the pool
// once the socket has written it. Every buffer has the full size, whatever the frame, so that it can be
// reused by any frame: a smaller frame touches (and keeps resident) only the pages it uses, and the same
// few buffers, taken last-in first-out, stay in the CPU's cache.

import { Buffer } from 'node:buffer';

export class FrameBufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    /** Size of every buffer. */
    readonly bufferSize: number,
    /** How many free buffers are kept between uses; more are left to the garbage collector. */
    private readonly maxKept: number,
  ) {}

  /** A buffer of bufferSize bytes, contents unspecified. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferSize);
  }

  /** Takes back a buffer from take() that nothing reads any more. */
  give(buffer: Buffer): void {
    if (this.free.length < this.maxKept) this.free.push(buffer);
  }
}
