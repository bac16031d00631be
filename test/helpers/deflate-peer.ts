// permessage-deflate as a hand-written peer does it, with node:zlib directly (not the library): messages
// compressed alone or with context takeover, the sync-flush marker stripped (RFC 7692 §7.2.1), and
// received payloads inflated with the marker put back (§7.2.2). Also a decompression bomb: a few KiB of
// deflate per GiB of zeros.

import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';

const MARKER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** One message compressed on its own (no context), as a peer without context takeover sends it. */
export function deflateAlone(data: Uint8Array, windowBits = 15): Buffer {
  const output = zlib.deflateRawSync(data, { windowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return output.subarray(0, output.length - 4);
}

/** A compressed payload inflated on its own (a fresh context), the marker appended. */
export function inflateAlone(payload: Uint8Array, windowBits = 15): Buffer {
  return zlib.inflateRawSync(Buffer.concat([payload, MARKER]), {
    windowBits,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
}

/** A peer's compressor with context takeover: each message may refer back to the ones before. */
export class ContextDeflater {
  private readonly stream: zlib.DeflateRaw;
  private pieces: Buffer[] = [];

  constructor(windowBits = 15) {
    this.stream = zlib.createDeflateRaw({ windowBits });
    this.stream.on('data', (piece: Buffer) => this.pieces.push(piece));
  }

  /** The compressed payload of the next message (marker stripped). */
  message(data: Uint8Array): Promise<Buffer> {
    return new Promise((resolve) => {
      this.stream.write(data);
      this.stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const output = Buffer.concat(this.pieces);
        this.pieces = [];
        resolve(output.subarray(0, output.length - 4));
      });
    });
  }

  close(): void {
    this.stream.close();
  }
}

/** A peer's decompressor with context takeover: payloads of consecutive messages, in order. */
export class ContextInflater {
  private readonly stream: zlib.InflateRaw;
  private pieces: Buffer[] = [];

  constructor(windowBits = 15) {
    this.stream = zlib.createInflateRaw({ windowBits });
    this.stream.on('data', (piece: Buffer) => this.pieces.push(piece));
  }

  message(payload: Uint8Array): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.write(payload);
      this.stream.write(MARKER, () => {
        this.stream.off('error', reject);
        const output = Buffer.concat(this.pieces);
        this.pieces = [];
        resolve(output);
      });
    });
  }

  close(): void {
    this.stream.close();
  }
}

/**
 * A decompression bomb: the compressed payload of one message that inflates to `mebibytes` MiB of
 * zeros. Each MiB is a separately compressed block sequence of about a kilobyte (ratio ~1000:1);
 * back-to-back they are one valid deflate stream (the last marker stripped, as for any message).
 */
export function deflateBomb(mebibytes: number): Buffer {
  const unit = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const stream = Buffer.concat(Array.from({ length: mebibytes }, () => unit));
  return stream.subarray(0, stream.length - 4);
}
