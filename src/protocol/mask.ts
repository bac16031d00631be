// RFC 6455 §5.3 masking: XOR with a 4-byte key, a 32-bit word at a time on the aligned middle.

const keyScratch = new Uint8Array(4);
const keyWordView = new Uint32Array(keyScratch.buffer);

/**
 * XORs data in place with the masking key, as if the first byte of data were payload byte number
 * keyOffset (so a payload that arrives in sections unmasks section by section).
 */
export function applyMask(data: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  const length = data.length;
  let index = 0;
  // Bytes before the first 4-byte boundary of the underlying memory.
  while (index < length && ((data.byteOffset + index) & 3) !== 0) {
    data[index]! ^= key[(keyOffset + index) & 3]!;
    index++;
  }
  const words = (length - index) >>> 2;
  if (words > 0) {
    // The key as it lines up with this word, in memory order, so endianness does not matter.
    const phase = keyOffset + index;
    keyScratch[0] = key[phase & 3]!;
    keyScratch[1] = key[(phase + 1) & 3]!;
    keyScratch[2] = key[(phase + 2) & 3]!;
    keyScratch[3] = key[(phase + 3) & 3]!;
    const keyWord = keyWordView[0]!;
    const view = new Uint32Array(data.buffer, data.byteOffset + index, words);
    for (let word = 0; word < words; word++) view[word] = view[word]! ^ keyWord;
    index += words * 4;
  }
  for (; index < length; index++) data[index]! ^= key[(keyOffset + index) & 3]!;
}

/** Writes source XOR key into target (same length), leaving source untouched. */
export function maskInto(source: Uint8Array, target: Uint8Array, key: Uint8Array): void {
  target.set(source);
  applyMask(target, key, 0);
}
