// The file protocol of `sws serve` with `sws send`/`sws recv` (subprotocol sws.file.v1), and the rules
// for file names. A transfer is the file's bytes as binary messages followed by a clean close whose
// reason carries the sha256 and size ("sha256=<hex> size=<n>"): the receiver knows the transfer is
// complete only from that close frame, and checks the digest when there is one. A download by a client
// that offers sws.file.v1 starts with one line of JSON ({"name":…,"size":…}\n) so that the client
// knows the size (for its progress bar and ETA) before the bytes.

import { Buffer } from 'node:buffer';

export const FILE_PROTOCOL = 'sws.file.v1';

/** Close codes of the file protocol (application range). */
export const FileCloseCode = {
  /** The server could not read or store the file. */
  StorageFailed: 4500,
} as const;

/** Close codes that end a transfer cleanly: 1000, and 1005 (a close frame without a code). */
export function isCleanClose(code: number): boolean {
  return code === 1000 || code === 1005;
}

/** A close reason cut to the 123 UTF-8 bytes a close frame can carry. */
export function closeReason(text: string): string {
  let reason = text;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

export interface Digest {
  sha256: string;
  size: number;
}

export function formatDigest(digest: Digest): string {
  return `sha256=${digest.sha256} size=${digest.size}`;
}

/** The digest in a close reason, or undefined when the reason is not one. */
export function parseDigest(reason: string): Digest | undefined {
  const match = /^sha256=([0-9a-f]{64}) size=(\d+)$/.exec(reason);
  if (match === null) return undefined;
  return { sha256: match[1]!, size: Number(match[2]) };
}

/** Why the digest a sender announced does not match what arrived, or undefined when it does. */
export function digestMismatch(announced: Digest | undefined, received: Digest): string | undefined {
  if (announced === undefined) return undefined;
  if (announced.size !== received.size) {
    return `${received.size} bytes arrived but the sender sent ${announced.size}`;
  }
  if (announced.sha256 !== received.sha256) {
    return `sha256 ${received.sha256} differs from the sender's ${announced.sha256}`;
  }
  return undefined;
}

export interface FileHeader {
  name: string;
  size: number;
}

export const MAX_HEADER_BYTES = 4096;

export function encodeHeader(header: FileHeader): Buffer {
  return Buffer.from(`${JSON.stringify(header)}\n`);
}

export function decodeHeader(line: Buffer): FileHeader | undefined {
  try {
    const value: unknown = JSON.parse(line.toString('utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const { name, size } = value as Record<string, unknown>;
    if (typeof name !== 'string' || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      return undefined;
    }
    return { name, size };
  } catch {
    return undefined;
  }
}

/**
 * A plain file name, safe to join to the served directory: not empty, no '/', '\\' or NUL, not '.' or
 * '..', no leading dot (uploads in progress are hidden dot files), at most 255 bytes.
 */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && !/[/\\\0]/.test(name) && !name.startsWith('.') && Buffer.byteLength(name) <= 255;
}
