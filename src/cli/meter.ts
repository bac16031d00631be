// What a transfer measures as bytes pass: the count, the sha256 and the time since it started.

import type { Buffer } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class Meter {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private readonly started = performance.now();
  private digestValue: string | undefined;

  add(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
  }

  /** The sha256 of everything added (hex); adding stops counting once it is taken. */
  get sha256(): string {
    this.digestValue ??= this.hash.digest('hex');
    return this.digestValue;
  }

  get seconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** Bytes per second since the start. */
  get rate(): number {
    const seconds = this.seconds;
    return seconds > 0 ? this.bytes / seconds : 0;
  }

  /** A pass-through stage for pipeline() that measures what flows through it (no copies). */
  tap(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) => {
        this.add(chunk);
        callback(null, chunk);
      },
    });
  }
}
