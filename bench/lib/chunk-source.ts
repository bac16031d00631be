// The sender's data as users hand it to a stream: a Readable that produces the same chunk again and
// again up to a total, for pipeline() and for await. In object mode (as Readable.from(generator) is), so
// that every consumer gets the chunks as made: a byte-mode Readable read by for await joins what it has
// buffered. An optional callback sees each chunk as it is produced (e.g. to hash what was sent).

import type { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';

export function chunkSource(chunk: Buffer, totalBytes: number, onChunk?: (piece: Buffer) => void): Readable {
  let produced = 0;
  return new Readable({
    objectMode: true,
    // One chunk buffered ahead, as a file stream whose highWaterMark is its read size.
    highWaterMark: 1,
    read() {
      if (produced >= totalBytes) {
        this.push(null);
        return;
      }
      const left = totalBytes - produced;
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      produced += piece.length;
      onChunk?.(piece);
      this.push(piece);
    },
  });
}
