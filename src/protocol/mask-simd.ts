// RFC 6455 §5.3 masking with WebAssembly SIMD: 64 bytes per loop turn, four 128-bit XORs. WebAssembly code
// can only touch its own memory, so data passes through a scratch page in pieces: copied in, XORed, copied
// out (every copy a memcpy). The module is 142 bytes, written out below beside its text form.
// Where WebAssembly is missing (node --jitless) or lacks SIMD, simdMasker is undefined.

/** Bytes copied through the scratch page per piece; the page (64 KiB) is the module's whole memory. */
const PIECE = 16 * 1024;
/** Bytes per loop turn in the module: the XORed length is rounded up to it (the page has room). */
const STRIDE = 64;

// (module
//   (memory (export "memory") 1 1)
//   (func (export "xor") (param $end i32) (param $key i32) (local $k v128) (local $at i32)
//     (local.set $k (i32x4.splat (local.get $key)))
//     (loop $turn
//       ;; four times, at offsets 0, 16, 32, 48:
//       (v128.store offset=0 (local.get $at) (v128.xor (v128.load offset=0 (local.get $at)) (local.get $k)))
//       (br_if $turn (i32.lt_u (local.tee $at (i32.add (local.get $at) (i32.const 64))) (local.get $end))))))
// prettier-ignore
const xorAt = (offset: number): number[] => [
  0x20, 0x03, // local.get $at (the store's address)
  0x20, 0x03, // local.get $at
  0xfd, 0x00, 0x04, offset, // v128.load align=16 offset
  0x20, 0x02, // local.get $k
  0xfd, 0x51, // v128.xor
  0xfd, 0x0b, 0x04, offset, // v128.store align=16 offset
];
// prettier-ignore
const body = [
  0x02, 0x01, 0x7b, 0x01, 0x7f, // locals: one v128 ($k), one i32 ($at)
  0x20, 0x01, 0xfd, 0x11, 0x21, 0x02, // $k = i32x4.splat($key)
  0x03, 0x40, // loop
  ...xorAt(0), ...xorAt(16), ...xorAt(32), ...xorAt(48),
  0x20, 0x03, 0x41, 0xc0, 0x00, 0x6a, 0x22, 0x03, // local.tee $at ($at + 64)
  0x20, 0x00, 0x49, 0x0d, 0x00, // br_if $turn ($at < $end)
  0x0b, 0x0b, // end loop, end func
];
const section = (id: number, content: number[]): number[] => [id, content.length, ...content];
const name = (text: string): number[] => [text.length, ...Array.from(text, (char) => char.charCodeAt(0))];
// prettier-ignore
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  ...section(1, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x00]), // types: (i32, i32) -> ()
  ...section(3, [0x01, 0x00]), // functions: one, of type 0
  ...section(5, [0x01, 0x01, 0x01, 0x01]), // memory: one, min 1 page, max 1 page
  ...section(7, [0x02, ...name('memory'), 0x02, 0x00, ...name('xor'), 0x00, 0x00]), // exports
  ...section(10, [0x01, body.length, ...body]), // code
]);

export interface SimdMasker {
  /**
   * Writes source XOR key into target (same length; may be the same memory), as if source byte 0 were
   * payload byte number keyOffset.
   */
  mask(source: Uint8Array, target: Uint8Array, key: Uint8Array, keyOffset: number): void;
}

/** The part of the WebAssembly JS API used here (@types/node does not declare it). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => {
    exports: { xor: (end: number, key: number) => void; memory: { buffer: ArrayBuffer } };
  };
}

function instantiate(api: WebAssemblyApi): SimdMasker | undefined {
  let xor: (end: number, key: number) => void;
  let scratch: Uint8Array;
  try {
    const { exports } = new api.Instance(new api.Module(MODULE));
    xor = exports.xor;
    // The memory never grows (its maximum is its size), so this view never detaches.
    scratch = new Uint8Array(exports.memory.buffer);
  } catch {
    // No SIMD in this runtime: the module does not validate.
    return undefined;
  }
  return {
    mask(source, target, key, keyOffset) {
      // The key as it lines up with scratch byte 0, as a little-endian word (WebAssembly's byte order).
      const keyWord =
        key[keyOffset & 3]! |
        (key[(keyOffset + 1) & 3]! << 8) |
        (key[(keyOffset + 2) & 3]! << 16) |
        (key[(keyOffset + 3) & 3]! << 24);
      // PIECE is a multiple of 4, so every piece starts at the same key phase.
      for (let offset = 0; offset < source.length; offset += PIECE) {
        const length = Math.min(PIECE, source.length - offset);
        scratch.set(source.subarray(offset, offset + length));
        xor((length + STRIDE - 1) & -STRIDE, keyWord);
        target.set(scratch.subarray(0, length), offset);
      }
    },
  };
}

const webAssembly = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;

export const simdMasker: SimdMasker | undefined =
  webAssembly === undefined ? undefined : instantiate(webAssembly);
