// A slow peer's pace: let the other side run until a byte count stops moving. It is no synchronisation —
// a side that stops early only makes a memory bound easier to meet, and one that never stops (no
// backpressure) sends everything and fails it — so the helpers that measure what a library holds for a
// slow reader or writer use it instead of a fixed read rate.

import { setTimeout as delay } from 'node:timers/promises';

/** Resolves once `count()` has stayed the same over `checks` checks `intervalMs` apart. */
export async function untilQuiet(count: () => number, intervalMs: number, checks = 1): Promise<void> {
  let seen = count();
  let unchanged = 0;
  while (unchanged < checks) {
    await delay(intervalMs);
    const now = count();
    unchanged = now === seen ? unchanged + 1 : 0;
    seen = now;
  }
}
