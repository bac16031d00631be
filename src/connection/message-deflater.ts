// The sending half of permessage-deflate (RFC 7692 §7.2.1): each section of an outgoing message is
// deflated and flushed with Z_SYNC_FLUSH as it is written, so a message of any size is compressed in
// bounded memory; the final section loses the 00 00 ff ff that ends a sync flush. A section's input is
// fully consumed before its promise settles, so the caller may reuse its buffer at once (the write
// contract). Sections run one at a time, each in a slot of the process-wide zlib limiter. The zlib
// stream is made for the first compressed message, and dropped after each message when we do not take
// our context over.

import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';

import { zlibLimiter, type ZlibLimiter } from './zlib-limiter.js';

export interface DeflaterOptions {
  /** Our LZ77 window, in bits (8–15; zlib compresses with 9 for 8, whose matches stay within 250 bytes). */
  windowBits: number;
  memLevel: number;
  /** We reset our context after each message (and free the compressor's memory). */
  noContextTakeover: boolean;
}

/** An empty stored block without its 00 00 ff ff: what an empty final section compresses to. */
const EMPTY_BLOCK_START = Buffer.of(0x00);

export class DeflaterClosedError extends Error {
  override readonly name = 'DeflaterClosedError';
}

export class MessageDeflater {
  private stream: zlib.DeflateRaw | undefined;
  private pieces: Buffer[] = [];
  /** The section being compressed settles here; sections queue behind each other. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private failure: Error | undefined;

  constructor(
    private readonly options: DeflaterOptions,
    private readonly limiter: ZlibLimiter = zlibLimiter,
  ) {}

  /**
   * Compresses the next section of a message; `final` ends the message. Resolves with the compressed
   * bytes, a buffer of our own, once zlib no longer needs `input`.
   */
  deflate(input: Buffer, final: boolean): Promise<Buffer> {
    const result = this.tail.then(() => this.run(input, final));
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Frees zlib's memory; a section still running fails with DeflaterClosedError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failure ??= new DeflaterClosedError('the connection is closed');
    this.stream?.close();
    this.stream = undefined;
  }

  private run(input: Buffer, final: boolean): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.limiter.acquire(() => {
        if (this.closed) {
          this.limiter.release();
          reject(this.failure!);
          return;
        }
        const stream = this.deflaterStream();
        this.pieces = [];
        // One zlib operation: the stream flushes (Z_SYNC_FLUSH) at the end of every write.
        stream.write(input, () => {
          this.limiter.release();
          if (this.failure !== undefined) {
            reject(this.failure);
            return;
          }
          const pieces = this.pieces;
          this.pieces = [];
          resolve(final ? withoutSyncMarker(pieces) : joined(pieces));
          if (final && this.options.noContextTakeover) {
            stream.close();
            this.stream = undefined;
          }
        });
      });
    });
  }

  private deflaterStream(): zlib.DeflateRaw {
    if (this.stream !== undefined) return this.stream;
    const stream = zlib.createDeflateRaw({
      windowBits: this.options.windowBits,
      memLevel: this.options.memLevel,
      flush: zlib.constants.Z_SYNC_FLUSH,
    });
    stream.on('data', (piece: Buffer) => {
      this.pieces.push(piece);
    });
    stream.on('error', (error: Error) => {
      this.failure ??= error;
    });
    this.stream = stream;
    return stream;
  }
}

/** The output of one section (the connection deflates at most MASKED_FRAME_LIMIT at a time), in one buffer. */
function joined(pieces: readonly Buffer[]): Buffer {
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}

/**
 * The final section: a sync flush ends in the 4 bytes 00 00 ff ff, which the receiver appends itself
 * (RFC 7692 §7.2.1). A flush that had nothing to do gives no output: after the previous section's
 * marker, the message still needs the first byte of an empty stored block.
 */
function withoutSyncMarker(pieces: readonly Buffer[]): Buffer {
  const output = joined(pieces);
  const length = output.length;
  const endsWithMarker =
    length >= 4 &&
    output[length - 4] === 0x00 &&
    output[length - 3] === 0x00 &&
    output[length - 2] === 0xff &&
    output[length - 1] === 0xff;
  const body = endsWithMarker ? output.subarray(0, length - 4) : output;
  return body.length === 0 ? EMPTY_BLOCK_START : body;
}
