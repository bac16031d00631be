// Reusable buffers for large masked frames. A fresh megabyte per frame costs page faults on first touch and
// leaves garbage for the collector (the RSS of a long upload grows with it); a buffer goes back to the pool
// once the socket has written it. While the pool is empty, smaller frames get buffers of their own size.

import { Buffer } from 'node:buffer';

export class FrameBufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    /** Size of every buffer. */
    readonly bufferSize: number,
    /** How many free buffers are kept between uses; more are left to the garbage collector. */
    private readonly maxKept: number,
  ) {}

  /** A buffer of at least `size` (≤ bufferSize) bytes, contents unspecified. */
  take(size: number): Buffer {
    const pooled = this.free.pop();
    if (pooled !== undefined) return pooled;
    return Buffer.allocUnsafeSlow(size > this.bufferSize / 2 ? this.bufferSize : size);
  }

  /** Takes back a buffer from take() that nothing reads any more. */
  give(buffer: Buffer): void {
    if (buffer.length === this.bufferSize && this.free.length < this.maxKept) this.free.push(buffer);
  }
}
