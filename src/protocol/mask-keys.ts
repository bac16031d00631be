// Fresh random masking keys for client frames (§5.3), drawn from a pool refilled by the CSPRNG.

import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 8192;
const pool = new Uint8Array(POOL_SIZE);
let poolIndex = POOL_SIZE;

/**
 * Returns the next 4-byte key, copied out of the pool (so that refilling the pool never changes it) into
 * `target`, by default a new array.
 */
export function nextMaskKey(target = new Uint8Array(4)): Uint8Array {
  if (poolIndex === POOL_SIZE) {
    randomFillSync(pool);
    poolIndex = 0;
  }
  target[0] = pool[poolIndex]!;
  target[1] = pool[poolIndex + 1]!;
  target[2] = pool[poolIndex + 2]!;
  target[3] = pool[poolIndex + 3]!;
  poolIndex += 4;
  return target;
}
