// One bound, shared by every connection of the process, on the zlib operations in progress. Compression
// runs on libuv's thread pool: a thousand connections inflating at once would fill its queue (delaying
// DNS lookups and file I/O behind them) and have zlib allocate in every pool thread at once, which
// fragments the heap until RSS far exceeds what is in use (ws learned this: its issues #1202, #1369).
// Operations past the bound wait their turn, first come first served.

/** How many zlib operations may run at once in the whole process. */
export const ZLIB_CONCURRENCY = 10;

export class ZlibLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Operations running now (for tests and benchmarks). */
  get active(): number {
    return this.running;
  }

  /** Calls `start` once a slot is free (at once when one is); the slot is held until release(). */
  acquire(start: () => void): void {
    if (this.running < this.limit) {
      this.running++;
      start();
    } else {
      this.waiting.push(start);
    }
  }

  /** Gives a slot back: the next waiting operation starts in it. */
  release(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.running--;
    else next();
  }
}

export const zlibLimiter = new ZlibLimiter(ZLIB_CONCURRENCY);
