// Small payload sections gathered per socket read. A flood of tiny frames would otherwise become as
// many Buffer objects (each costing far more than its bytes), and each of those views would keep its
// whole 64 KiB read chunk alive. Small sections are copied together; large ones pass through as views.

import { Buffer } from 'node:buffer';

/** Sections up to this size are copied into the batch. */
const SMALL_SECTION = 1024;
const BATCH_SIZE = 16 * 1024;

export class SectionBatcher {
  private batch: Buffer | undefined;
  private filled = 0;

  constructor(private readonly deliver: (section: Buffer) => void) {}

  add(section: Buffer): void {
    if (section.length > SMALL_SECTION) {
      this.flush();
      this.deliver(section);
      return;
    }
    if (this.batch !== undefined && this.filled + section.length > this.batch.length) this.flush();
    this.batch ??= Buffer.allocUnsafe(BATCH_SIZE);
    section.copy(this.batch, this.filled);
    this.filled += section.length;
  }

  /** Hands on what was gathered (at the end of a read, a message, or the connection). */
  flush(): void {
    if (this.batch === undefined || this.filled === 0) return;
    const gathered = this.batch.subarray(0, this.filled);
    // The rest of the batch stays free for the next sections.
    this.batch = this.batch.subarray(this.filled);
    this.filled = 0;
    if (this.batch.length < SMALL_SECTION) this.batch = undefined;
    this.deliver(gathered);
  }
}
