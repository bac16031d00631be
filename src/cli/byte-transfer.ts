// Moving a byte stream over a stream WebSocket, the way send, recv, serve and demo all do it: the source
// goes out as binary messages with backpressure, the sender closes with 1000 and the digest, and the
// receiver takes the bytes until the peer's close frame and then checks code, size and digest.

import { Buffer } from 'node:buffer';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
  InputStreamOptions,
  WebErrorStatus,
  WebSocketError,
  type InputStream,
  type ServerStreamWebSocket,
  type StreamWebSocket,
  type WebSocketClosedEventArgs,
} from '../index.js';
import { CliError, ExitCode, ioFailure, transferFailure, unexpectedClose } from './errors.js';
import {
  decodeHeader,
  digestMismatch,
  FileCloseCode,
  formatDigest,
  isCleanClose,
  MAX_HEADER_BYTES,
  parseDigest,
  type FileHeader,
} from './file-protocol.js';
import type { Meter } from './meter.js';

export type ByteSocket = StreamWebSocket | ServerStreamWebSocket;

/**
 * Sends everything the source yields (each chunk one binary message), then closes with 1000 and the
 * digest and waits for the closing handshake. A failure of the source closes with 4500 instead, so that
 * the receiver does not take a part for the whole.
 */
export async function sendAndClose(
  socket: ByteSocket,
  source: Readable | Iterable<Buffer> | AsyncIterable<Buffer>,
  meter: Meter,
  sourceName = 'the input',
): Promise<WebSocketClosedEventArgs> {
  try {
    await pipeline(source, meter.tap(), socket.outputStream);
  } catch (error) {
    if (!(error instanceof WebSocketError)) {
      socket.close(FileCloseCode.StorageFailed, 'the sender could not read its input');
      throw ioFailure(error, `cannot read ${sourceName}`);
    }
    // The peer closed or the connection failed: its close code says more than the failed write.
    if (error.status !== WebErrorStatus.OperationCanceled && error.closeCode === undefined) {
      const closed = await socket.whenClosed();
      throw unexpectedClose(closed.code, closed.reason, 'the transfer is incomplete');
    }
    throw transferFailure(error);
  }
  const closed = socket.whenClosed();
  socket.close(1000, formatDigest({ sha256: meter.sha256, size: meter.bytes }));
  const answer = await closed;
  if (!isCleanClose(answer.code))
    throw unexpectedClose(answer.code, answer.reason, 'the receiver refused the transfer');
  return answer;
}

/**
 * Receives the stream into `sink` until the peer's close frame, then checks that the close was clean and
 * that size and digest match what the sender announced (in its close reason, and in `header`). A sender
 * that goes past the size in `header` is stopped there: what it sends beyond is never written.
 */
export async function receiveAndCheck(
  socket: ByteSocket,
  sink: Writable,
  meter: Meter,
  header?: FileHeader,
  sinkName = 'the output',
): Promise<WebSocketClosedEventArgs> {
  const limit = header === undefined ? [] : [announcedSize(header.size)];
  try {
    await pipeline([socket.inputStream, ...limit, meter.tap(), sink]);
  } catch (error) {
    throw error instanceof WebSocketError || error instanceof CliError
      ? transferFailure(error)
      : ioFailure(error, `cannot write ${sinkName}`);
  }
  const closed = await socket.whenClosed();
  if (!isCleanClose(closed.code)) throw unexpectedClose(closed.code, closed.reason);
  const received = { sha256: meter.sha256, size: meter.bytes };
  const mismatch =
    digestMismatch(parseDigest(closed.reason), received) ??
    (header !== undefined && header.size !== received.size
      ? `${received.size} bytes arrived but the file has ${header.size}`
      : undefined);
  if (mismatch !== undefined) throw new CliError(ExitCode.Protocol, `the transfer is corrupt: ${mismatch}`);
  return closed;
}

/** Passes on the first `size` bytes; a byte more fails the transfer (exit 5) before it is written. */
function announcedSize(size: number): Transform {
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (passed + chunk.length <= size) {
        passed += chunk.length;
        callback(null, chunk);
        return;
      }
      callback(new CliError(ExitCode.Protocol, `the server sent more than the ${size} bytes it announced`));
    },
  });
}

/** Reads the one-line JSON header of an sws.file.v1 download; the bytes after it stay in the stream. */
export async function readHeader(input: InputStream): Promise<FileHeader> {
  const scratch = Buffer.allocUnsafe(MAX_HEADER_BYTES);
  let line = Buffer.alloc(0);
  for (;;) {
    let got: Buffer;
    try {
      got = await input.readAsync(scratch, scratch.length, InputStreamOptions.Partial);
    } catch (error) {
      throw transferFailure(error);
    }
    if (got.length === 0) throw new CliError(ExitCode.Protocol, 'the server closed before the file header');
    line = Buffer.concat([line, got]);
    const end = line.indexOf(0x0a);
    if (end >= 0) {
      const rest = line.subarray(end + 1);
      if (rest.length > 0) input.unshift(Buffer.from(rest));
      const header = decodeHeader(line.subarray(0, end));
      if (header === undefined)
        throw new CliError(ExitCode.Protocol, 'the server sent a malformed file header');
      return header;
    }
    if (line.length > MAX_HEADER_BYTES) throw new CliError(ExitCode.Protocol, 'the file header is too long');
  }
}
