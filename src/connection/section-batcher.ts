// Small payload sections gathered per socket read. A flood of tiny frames would otherwise become as
// many Buffer objects (each costing far more than its bytes), and each of those views would keep its
// whole 64 KiB read chunk alive. Small sections are copied together; large ones pass through as views.

import { Buffer } from 'node:buffer';

/** Sections up to this size are copied into the batch. */
const SMALL_SECTION = 1024;
const BATCH_SIZE = 16 * 1024;

export class SectionBatcher {
  private batch: Buffer | undefined;
  /** The batch's bytes before this offset were handed on; those up to `filled` wait. */
  private start = 0;
  private filled = 0;

  constructor(private readonly deliver: (section: Buffer) => void) {}

  add(section: Buffer): void {
    if (section.length > SMALL_SECTION) {
      this.flush();
      this.deliver(section);
      return;
    }
    if (this.batch !== undefined && this.filled + section.length > this.batch.length) this.flush();
    if (this.batch === undefined) {
      this.batch = Buffer.allocUnsafe(BATCH_SIZE);
      this.start = 0;
      this.filled = 0;
    }
    // TypedArray set: a plain copy, without Buffer.copy's argument handling (sections are small).
    this.batch.set(section, this.filled);
    this.filled += section.length;
  }

  /** Hands on what was gathered (at the end of a read, a message, or the connection). */
  flush(): void {
    if (this.batch === undefined || this.filled === this.start) return;
    const gathered = this.batch.subarray(this.start, this.filled);
    // The rest of the batch stays free for the next sections.
    this.start = this.filled;
    if (this.batch.length - this.filled < SMALL_SECTION) this.batch = undefined;
    this.deliver(gathered);
  }
}
