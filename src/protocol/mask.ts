// RFC 6455 §5.3 masking: XOR with a 4-byte key. Small payloads go byte by byte with the key in locals;
// middling ones a 32-bit word at a time, eight words per turn, on the 4-byte-aligned middle; large ones
// through WebAssembly SIMD where the runtime has it.

import { simdMasker } from './mask-simd.js';

/** Below this many bytes a word view costs more than it saves. */
const SMALL_PAYLOAD = 128;
/** From this many bytes on, SIMD wins despite the copies through its scratch memory. */
const SIMD_PAYLOAD = 1024;

const keyScratch = new Uint8Array(4);
const keyWordView = new Uint32Array(keyScratch.buffer);

/**
 * XORs data in place with the masking key, as if the first byte of data were payload byte number
 * keyOffset (so a payload that arrives in sections unmasks section by section).
 */
export function applyMask(data: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  const length = data.length;
  if (length >= SIMD_PAYLOAD && simdMasker !== undefined) {
    simdMasker.mask(data, data, key, keyOffset);
    return;
  }
  if (length < SMALL_PAYLOAD) {
    maskBytes(data, 0, length, key, keyOffset);
    return;
  }
  // Bytes before the first 4-byte boundary of the underlying memory.
  const head = (4 - (data.byteOffset & 3)) & 3;
  maskBytes(data, 0, head, key, keyOffset);
  const words = (length - head) >>> 2;
  // The key as it lines up with the first word, in memory order, so endianness does not matter.
  const phase = keyOffset + head;
  keyScratch[0] = key[phase & 3]!;
  keyScratch[1] = key[(phase + 1) & 3]!;
  keyScratch[2] = key[(phase + 2) & 3]!;
  keyScratch[3] = key[(phase + 3) & 3]!;
  const keyWord = keyWordView[0]!;
  const view = new Uint32Array(data.buffer, data.byteOffset + head, words);
  const unrolledEnd = words & ~7;
  let word = 0;
  for (; word < unrolledEnd; word += 8) {
    view[word] = view[word]! ^ keyWord;
    view[word + 1] = view[word + 1]! ^ keyWord;
    view[word + 2] = view[word + 2]! ^ keyWord;
    view[word + 3] = view[word + 3]! ^ keyWord;
    view[word + 4] = view[word + 4]! ^ keyWord;
    view[word + 5] = view[word + 5]! ^ keyWord;
    view[word + 6] = view[word + 6]! ^ keyWord;
    view[word + 7] = view[word + 7]! ^ keyWord;
  }
  for (; word < words; word++) view[word] = view[word]! ^ keyWord;
  const tail = head + words * 4;
  maskBytes(data, tail, length, key, keyOffset + tail);
}

/** XORs data[from..to) with the key, data[from] being payload byte number keyOffset. */
function maskBytes(data: Uint8Array, from: number, to: number, key: Uint8Array, keyOffset: number): void {
  const key0 = key[keyOffset & 3]!;
  const key1 = key[(keyOffset + 1) & 3]!;
  const key2 = key[(keyOffset + 2) & 3]!;
  const key3 = key[(keyOffset + 3) & 3]!;
  let index = from;
  for (; index + 3 < to; index += 4) {
    data[index]! ^= key0;
    data[index + 1]! ^= key1;
    data[index + 2]! ^= key2;
    data[index + 3]! ^= key3;
  }
  if (index < to) data[index++]! ^= key0;
  if (index < to) data[index++]! ^= key1;
  if (index < to) data[index]! ^= key2;
}

/** Copy-and-mask works on pieces this size, so the XOR pass finds the piece still in cache. */
const MASK_INTO_PIECE = 16 * 1024;

/** Writes source XOR key into target (same length), leaving source untouched. */
export function maskInto(source: Uint8Array, target: Uint8Array, key: Uint8Array): void {
  if (source.length >= SIMD_PAYLOAD && simdMasker !== undefined) {
    simdMasker.mask(source, target, key, 0);
    return;
  }
  if (source.length <= MASK_INTO_PIECE) {
    target.set(source);
    applyMask(target, key, 0);
    return;
  }
  for (let offset = 0; offset < source.length; offset += MASK_INTO_PIECE) {
    const end = Math.min(offset + MASK_INTO_PIECE, source.length);
    target.set(source.subarray(offset, end), offset);
    applyMask(target.subarray(offset, end), key, offset);
  }
}
