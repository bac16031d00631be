// A byte-counted queue of received sections, as they arrived (views, never joined), with a high and a low
// watermark: above the high one the producer is told to stop (the socket is not read), and it is asked
// for more only once the queue has drained below the low one, so reading does not pause and resume on
// every chunk. Readers take whole sections, or copy bytes straight into a buffer of their own.

import type { Buffer } from 'node:buffer';

/** Default high watermark: how much received payload may wait for the application. */
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

export class SectionQueue {
  private sections: (Buffer | undefined)[] = [];
  /** Index of the first section not yet taken (the array is compacted now and then). */
  private head = 0;
  private bytes = 0;
  private producerStopped = false;

  constructor(
    readonly highWaterMark: number,
    /** Called when the producer was told to stop and the queue has drained below the low watermark. */
    private readonly onLow: () => void,
    readonly lowWaterMark = Math.floor(highWaterMark / 4),
  ) {}

  /** Bytes waiting. */
  get length(): number {
    return this.bytes;
  }

  get isEmpty(): boolean {
    return this.head === this.sections.length;
  }

  /** Adds a section; false: the queue is at its high watermark and the producer should stop. */
  push(section: Buffer): boolean {
    this.sections.push(section);
    this.bytes += section.length;
    if (this.bytes < this.highWaterMark) return true;
    this.producerStopped = true;
    return false;
  }

  /** The oldest section, whole; undefined when empty. */
  shift(): Buffer | undefined {
    if (this.isEmpty) return undefined;
    const section = this.sections[this.head]!;
    this.sections[this.head++] = undefined;
    this.taken(section.length);
    return section;
  }

  /** Copies up to target.length bytes into target, oldest first; returns how many were copied. */
  copyInto(target: Uint8Array): number {
    let copied = 0;
    while (copied < target.length && !this.isEmpty) {
      const section = this.sections[this.head]!;
      const take = Math.min(section.length, target.length - copied);
      target.set(take === section.length ? section : section.subarray(0, take), copied);
      copied += take;
      if (take === section.length) this.sections[this.head++] = undefined;
      else this.sections[this.head] = section.subarray(take);
    }
    if (copied > 0) this.taken(copied);
    return copied;
  }

  /** Drops everything waiting. */
  clear(): void {
    const had = this.bytes;
    this.sections = [];
    this.head = 0;
    if (had > 0) this.taken(had);
  }

  private taken(count: number): void {
    this.bytes -= count;
    if (this.isEmpty) {
      this.sections = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.sections.length) {
      this.sections = this.sections.slice(this.head);
      this.head = 0;
    }
    if (this.producerStopped && this.bytes < this.lowWaterMark) {
      this.producerStopped = false;
      this.onLow();
    }
  }
}
