// The deterministic test pattern shared by every interop peer: the same N bytes for the same seed in
// Node (here) and Python (python_peer.py), so a hash printed by one peer can be checked against another
// peer's or against patternSha256() computed in the test process. See README.md for the scheme.
import { createHash } from 'node:crypto';

/** Size of one pattern block, and the largest fragment `fragmentSizes` draws. */
export const BLOCK_SIZE = 1 << 20;

const PREFIX = 'stream-websocket pattern v1 seed=';
const bases = new Map<string, Buffer>();

function baseBlock(seed: string): Buffer {
  let base = bases.get(seed);
  if (base === undefined) {
    base = createHash('shake256', { outputLength: BLOCK_SIZE })
      .update(PREFIX + seed, 'utf8')
      .digest();
    if (bases.size > 16) bases.clear();
    bases.set(seed, base);
  }
  return base;
}

/** Block `index` of the pattern for `seed`: the base block with `index` XOR'ed into its first 8 bytes. */
export function patternBlock(seed: string, index: number): Buffer {
  const base = baseBlock(seed);
  const block = Buffer.allocUnsafe(BLOCK_SIZE);
  base.copy(block);
  block.writeBigUInt64LE(base.readBigUInt64LE(0) ^ BigInt(index), 0);
  return block;
}

/** Reads the first `size` bytes of the pattern for `seed`, front to back, in pieces of any size. */
export class PatternReader {
  #remaining: number;
  #index = 0;
  #block: Buffer = Buffer.alloc(0);
  #offset = 0;

  constructor(
    size: number,
    readonly seed: string,
  ) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad pattern size ${size}`);
    this.#remaining = size;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#remaining;
  }

  /**
   * The next `size` bytes (fewer at the end; empty once all were read). The result may be a view of a
   * block: it stays valid, as blocks are never reused or modified.
   */
  read(size: number): Buffer {
    const total = Math.min(size, this.#remaining);
    const pieces: Buffer[] = [];
    let wanted = total;
    while (wanted > 0) {
      if (this.#offset === this.#block.length) {
        this.#block = patternBlock(this.seed, this.#index++);
        this.#offset = 0;
      }
      const take = Math.min(wanted, this.#block.length - this.#offset);
      pieces.push(this.#block.subarray(this.#offset, this.#offset + take));
      this.#offset += take;
      wanted -= take;
    }
    this.#remaining -= total;
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, total);
  }
}

/** The whole pattern of `size` bytes in chunks of `chunkSize` (the last one shorter). */
export function* patternChunks(size: number, seed: string, chunkSize = BLOCK_SIZE): Generator<Buffer> {
  const reader = new PatternReader(size, seed);
  while (reader.remaining > 0) yield reader.read(chunkSize);
}

/** The lowercase hex SHA-256 of the first `size` bytes of the pattern for `seed`. */
export function patternSha256(size: number, seed: string): string {
  const hash = createHash('sha256');
  for (const chunk of patternChunks(size, seed)) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * Endless random fragment sizes for `seed`, log-uniform between 1 byte and 1 MiB, so that tiny, medium
 * and large frames all occur. Deterministic per seed (its own generator: sfc32 seeded from SHA-256 of
 * "fragments:" + seed); the Python peer draws its sizes differently, which does not matter: only the
 * bytes are compared.
 */
export function* fragmentSizes(seed: string): Generator<number> {
  const key = createHash('sha256').update(`fragments:${seed}`, 'utf8').digest();
  let a = key.readUInt32LE(0);
  let b = key.readUInt32LE(4);
  let c = key.readUInt32LE(8);
  let d = key.readUInt32LE(12);
  for (;;) {
    // sfc32
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    const unit = (t >>> 0) / 4294967296;
    yield Math.max(1, Math.min(BLOCK_SIZE, Math.floor(2 ** (unit * 20))));
  }
}

/** The pattern of `size` bytes cut at `fragmentSizes(seed)`: what the peers send as one message. */
export function* patternFragments(size: number, seed: string): Generator<Buffer> {
  const reader = new PatternReader(size, seed);
  for (const fragmentSize of fragmentSizes(seed)) {
    if (reader.remaining === 0) return;
    yield reader.read(fragmentSize);
  }
}
