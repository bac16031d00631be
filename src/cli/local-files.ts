// The local end of a transfer: a file or stdin to read, a file or stdout to write. A file being written
// lives under a hidden temporary name next to its destination and takes the real name only when the
// transfer is complete, so a truncated transfer never leaves a file that looks whole.

import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { lstat, open, readlink, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';

import { ioFailure } from './errors.js';

/** Bytes per read from a file, hence per WebSocket message. */
export const READ_CHUNK_BYTES = 256 * 1024;

export interface LocalInput {
  stream: Readable;
  /** The size of a regular file; undefined for stdin, pipes and devices. */
  size: number | undefined;
  /** The file's name (no directory); undefined for stdin. */
  name: string | undefined;
}

/** Opens a file ('-': stdin) for reading; errors are I/O errors (exit 6) naming the file. */
export async function openInput(file: string): Promise<LocalInput> {
  if (file === '-') return { stream: process.stdin, size: undefined, name: undefined };
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'r');
    const stats = await handle.stat();
    if (stats.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    const stream = handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
    return { stream, size: stats.isFile() ? stats.size : undefined, name: path.basename(file) };
  } catch (error) {
    await handle?.close();
    throw ioFailure(error, `cannot read ${file}`);
  }
}

export interface ServedFile {
  handle: FileHandle;
  size: number;
}

/**
 * Opens a regular file in the served directory `root` (a real path) for a download. Symbolic links are
 * followed only while they stay inside `root`: a link that leads out of it is refused (EACCES), as is a
 * file swapped for another one while this is checked.
 */
export async function openServed(file: string, root: string): Promise<ServedFile> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'r');
    const opened = await handle.stat();
    if (!opened.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    const real = await realpath(file);
    const inside = path.relative(root, real);
    const named = await stat(real);
    if (
      inside === '..' ||
      inside.startsWith(`..${path.sep}`) ||
      path.isAbsolute(inside) ||
      named.dev !== opened.dev ||
      named.ino !== opened.ino
    ) {
      throw Object.assign(new Error('a symbolic link out of the served directory'), { code: 'EACCES' });
    }
    return { handle, size: opened.size };
  } catch (error) {
    await handle?.close();
    throw ioFailure(error, `cannot read ${file}`);
  }
}

export interface LocalOutput {
  stream: Writable;
  /** Gives the file its real name (after a complete transfer). */
  commit(): Promise<void>;
  /** Removes what was written (after a failed transfer). */
  discard(): Promise<void>;
}

/**
 * Opens a file ('-': stdout) for writing: a regular file (or a new one) under a temporary name until
 * commit(); anything else that exists (a device such as /dev/null, a FIFO) directly, as it is.
 */
export async function openOutput(file: string): Promise<LocalOutput> {
  if (file === '-') {
    return { stream: toStdout(), commit: () => Promise.resolve(), discard: () => Promise.resolve() };
  }
  let target = file;
  try {
    // Through symbolic links to the file itself, so that a link stays a link.
    target = await realpath(file);
    if (!(await stat(target)).isFile()) return await openInPlace(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioFailure(error, `cannot write ${file}`);
    // A dangling link: write what it points to, as a shell's > would.
    const link = await lstat(file).catch(() => undefined);
    if (link?.isSymbolicLink() === true) target = path.resolve(path.dirname(file), await readlink(file));
  }
  return openReplacing(target, file);
}

/**
 * Opens a file that an upload to `sws serve` replaces: never through a symbolic link or into a device,
 * whatever the directory holds; the name must be free or a regular file.
 */
export async function openUpload(file: string): Promise<LocalOutput> {
  try {
    const existing = await lstat(file);
    if (!existing.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EEXIST' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioFailure(error, `cannot write ${file}`);
  }
  return openReplacing(file, file);
}

/** A hidden temporary file next to `target` that replaces it on commit(). */
async function openReplacing(target: string, file: string): Promise<LocalOutput> {
  const partial = path.join(path.dirname(target), partialName(path.basename(target)));
  let handle: FileHandle;
  try {
    handle = await open(partial, 'wx');
  } catch (error) {
    throw ioFailure(error, `cannot write ${file}`);
  }
  const stream = handle.createWriteStream();
  return {
    stream,
    commit: async () => {
      try {
        await rename(partial, target);
      } catch (error) {
        await rm(partial, { force: true });
        throw ioFailure(error, `cannot write ${file}`);
      }
    },
    discard: async () => {
      stream.destroy();
      await rm(partial, { force: true });
    },
  };
}

/** The longest file name (in bytes) that common file systems take (NAME_MAX). */
const MAX_NAME_BYTES = 255;

/**
 * `.NAME.<random>.sws-partial`, with NAME cut short (at a character boundary) where the whole would pass
 * MAX_NAME_BYTES: a name that fits the file system always has a temporary name that fits too.
 */
function partialName(name: string): string {
  const suffix = `.${randomBytes(4).toString('hex')}.sws-partial`;
  let room = MAX_NAME_BYTES - 1 - suffix.length;
  let kept = '';
  for (const character of name) {
    room -= Buffer.byteLength(character);
    if (room < 0) break;
    kept += character;
  }
  return `.${kept}${suffix}`;
}

/** A device or FIFO: written as it is; there is nothing to rename or remove. */
async function openInPlace(target: string): Promise<LocalOutput> {
  const handle = await open(target, 'w');
  const stream = handle.createWriteStream();
  return {
    stream,
    commit: () => Promise.resolve(),
    discard: () => {
      stream.destroy();
      return Promise.resolve();
    },
  };
}

/** stdout as the end of a pipeline: written with backpressure, never ended (so more may follow). */
export function toStdout(): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      process.stdout.write(chunk, callback);
    },
  });
}
