// Fresh random masking keys for client frames (§5.3), drawn from a pool refilled by the CSPRNG.

import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 8192;
const pool = new Uint8Array(POOL_SIZE);
let poolIndex = POOL_SIZE;

/** Returns a new 4-byte key of its own: a copy from the pool, so that refilling the pool never changes it. */
export function nextMaskKey(): Uint8Array {
  if (poolIndex === POOL_SIZE) {
    randomFillSync(pool);
    poolIndex = 0;
  }
  const key = pool.slice(poolIndex, poolIndex + 4);
  poolIndex += 4;
  return key;
}
