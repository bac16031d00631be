// Masking (§5.3) against a byte-by-byte reference, at every memory alignment and key phase, on every path
// (bytes, words, WebAssembly SIMD through its scratch page in several pieces); mask keys.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { applyMask, maskInto, nextMaskKey } from '../../src/protocol/index.js';
import { simdMasker } from '../../src/protocol/mask-simd.js';

/** The definition: octet i of the masked data is octet i of the original XOR key[(keyOffset + i) mod 4]. */
function referenceMask(data: Uint8Array, key: Uint8Array, keyOffset: number): Uint8Array {
  return data.map((byte, index) => byte ^ key[(keyOffset + index) % 4]!);
}

/** data placed at byteOffset inside a larger buffer, so that the view starts at any alignment. */
function placed(data: Uint8Array, byteOffset: number): Uint8Array {
  const backing = new Uint8Array(byteOffset + data.length + 3).fill(0x99);
  backing.set(data, byteOffset);
  return backing.subarray(byteOffset, byteOffset + data.length);
}

const key = fc.uint8Array({ minLength: 4, maxLength: 4 });
const data = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ minLength: 100, maxLength: 2000 }),
  // Past the SIMD path's 16 KiB pieces, ending anywhere within its 64-byte stride.
  fc.uint8Array({ minLength: 16_000, maxLength: 50_000 }),
);

void describe('WebAssembly SIMD masking', () => {
  void it('is available on this runtime, so large payloads take the fast path', () => {
    assert.notEqual(simdMasker, undefined);
  });

  void it('falls back to plain JavaScript where WebAssembly is off (node --jitless), with the same bytes', () => {
    const maskModule = new URL('../../src/protocol/mask.js', import.meta.url).href;
    const script = `
      const { applyMask, maskInto } = await import(${JSON.stringify(maskModule)});
      const { simdMasker } = await import(${JSON.stringify(new URL('../../src/protocol/mask-simd.js', import.meta.url).href)});
      const data = Uint8Array.from({ length: 40_003 }, (_, i) => (i * 31 + 7) & 0xff);
      const key = Uint8Array.of(0x12, 0x34, 0x56, 0x78);
      const inPlace = data.slice(1).subarray(0);
      applyMask(inPlace, key, 3);
      const copied = new Uint8Array(data.length);
      maskInto(data, copied, key);
      process.stdout.write(JSON.stringify({ simd: simdMasker !== undefined, inPlace: [...inPlace], copied: [...copied] }));
    `;
    const run = spawnSync(process.execPath, ['--jitless', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { simd: boolean; inPlace: number[]; copied: number[] };
    assert.equal(result.simd, false);
    const data = Uint8Array.from({ length: 40_003 }, (_, index) => (index * 31 + 7) & 0xff);
    const maskKey = Uint8Array.of(0x12, 0x34, 0x56, 0x78);
    assert.deepEqual(result.inPlace, [...referenceMask(data.subarray(1), maskKey, 3)]);
    assert.deepEqual(result.copied, [...referenceMask(data, maskKey, 0)]);
  });
});

void describe('applyMask', () => {
  void it('matches the byte-by-byte reference for every alignment, length and key offset', () => {
    fc.assert(
      fc.property(
        data,
        key,
        fc.integer({ min: 0, max: 7 }),
        fc.oneof(fc.integer({ min: 0, max: 7 }), fc.nat(), fc.constant(2 ** 40 + 3)),
        (bytes, maskKey, byteOffset, keyOffset) => {
          const view = placed(bytes, byteOffset);
          const backing = new Uint8Array(view.buffer);
          applyMask(view, maskKey, keyOffset);
          assert.deepEqual(view, referenceMask(bytes, maskKey, keyOffset));
          // Nothing outside the view was touched.
          assert.ok(backing.subarray(0, byteOffset).every((byte) => byte === 0x99));
          assert.ok(backing.subarray(byteOffset + bytes.length).every((byte) => byte === 0x99));
        },
      ),
      { seed: 5, numRuns: 400 },
    );
  });

  void it('covers each byteOffset mod 4 and keyOffset mod 4 exhaustively for short data', () => {
    const maskKey = Uint8Array.of(0x01, 0x20, 0x44, 0x8f);
    for (let length = 0; length <= 19; length++) {
      const bytes = Uint8Array.from({ length }, (_, index) => (index * 37 + 11) & 0xff);
      for (let byteOffset = 0; byteOffset < 4; byteOffset++) {
        for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
          const view = placed(bytes, byteOffset);
          applyMask(view, maskKey, keyOffset);
          assert.deepEqual(
            view,
            referenceMask(bytes, maskKey, keyOffset),
            `${length}/${byteOffset}/${keyOffset}`,
          );
        }
      }
    }
  });

  void it('restores the data when applied twice', () => {
    fc.assert(
      fc.property(
        data,
        key,
        fc.integer({ min: 0, max: 7 }),
        fc.nat(),
        (bytes, maskKey, byteOffset, keyOffset) => {
          const view = placed(bytes, byteOffset);
          applyMask(view, maskKey, keyOffset);
          applyMask(view, maskKey, keyOffset);
          assert.deepEqual(view, bytes);
        },
      ),
      { seed: 6, numRuns: 200 },
    );
  });

  void it('unmasks a payload section by section with the running offset as keyOffset', () => {
    fc.assert(
      fc.property(data, key, fc.array(fc.nat(), { maxLength: 6 }), (bytes, maskKey, rawCuts) => {
        const cuts = rawCuts.map((cut) => cut % (bytes.length + 1)).sort((a, b) => a - b);
        const copy = Uint8Array.from(bytes);
        let start = 0;
        for (const cut of [...cuts, copy.length]) {
          applyMask(copy.subarray(start, cut), maskKey, start);
          start = cut;
        }
        assert.deepEqual(copy, referenceMask(bytes, maskKey, 0));
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  void it('works with a key that is itself an unaligned view', () => {
    const keys = Uint8Array.of(0, 0xa1, 0xb2, 0xc3, 0xd4, 0);
    const bytes = new Uint8Array(64).fill(0x0f);
    const view = placed(bytes, 1);
    applyMask(view, keys.subarray(1, 5), 0);
    assert.deepEqual(view, referenceMask(bytes, Uint8Array.of(0xa1, 0xb2, 0xc3, 0xd4), 0));
  });
});

void describe('maskInto', () => {
  void it('writes the masked bytes into the target and leaves the source intact', () => {
    fc.assert(
      fc.property(
        data,
        key,
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        (bytes, maskKey, sourceOffset, targetOffset) => {
          const source = placed(bytes, sourceOffset);
          const target = placed(new Uint8Array(bytes.length), targetOffset);
          maskInto(source, target, maskKey);
          assert.deepEqual(source, bytes);
          assert.deepEqual(target, referenceMask(bytes, maskKey, 0));
        },
      ),
      { seed: 8, numRuns: 200 },
    );
  });
});

void describe('nextMaskKey', () => {
  void it('returns 4-byte keys that differ from one another', () => {
    const seen = new Set<string>();
    for (let index = 0; index < 1000; index++) {
      const maskKey = nextMaskKey();
      assert.equal(maskKey.length, 4);
      seen.add(Buffer.from(maskKey).toString('hex'));
    }
    // 1000 random 32-bit keys: a repeat is possible but more than a few would mean they are not random.
    assert.ok(seen.size >= 995, `${seen.size} distinct keys`);
  });

  void it('returns keys that later draws never change, across pool refills', () => {
    const drawn = Array.from({ length: 5000 }, () => {
      const maskKey = nextMaskKey();
      return { maskKey, copy: Uint8Array.from(maskKey) };
    });
    for (let index = 0; index < 3000; index++) nextMaskKey();
    drawn.forEach(({ maskKey, copy }, index) => {
      assert.deepEqual(maskKey, copy, `key ${index}`);
    });
  });
});
