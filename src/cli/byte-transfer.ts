// Moving a byte stream over a stream WebSocket, the way send, recv, serve and demo all do it: the source
// goes out as binary messages with backpressure, the sender closes with 1000 and the digest, and the
// receiver takes the bytes until the peer's close frame, checks code, size and digest, stores the file,
// and only then answers that close: 1000, or 4500 when it did not take the file.

import { Buffer } from 'node:buffer';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
  InputStreamOptions,
  WebErrorStatus,
  WebSocketError,
  type InputStream,
  type ServerStreamWebSocket,
  type Deferral,
  type StreamWebSocket,
  type WebSocketClosedEventArgs,
  type WebSocketCloseReceivedEventArgs,
} from '../index.js';
import { CliError, ExitCode, ioFailure, transferFailure, unexpectedClose } from './errors.js';
import {
  closeReason,
  decodeHeader,
  digestMismatch,
  FileCloseCode,
  formatDigest,
  isCleanClose,
  MAX_HEADER_BYTES,
  parseDigest,
  type Digest,
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
    // Not ended: end() would close with a bare 1000, and the close below carries the digest.
    await pipeline(source, meter.tap(), socket.outputStream, { end: false });
  } catch (error) {
    if (!(error instanceof WebSocketError)) {
      socket.close(FileCloseCode.StorageFailed, 'the sender could not read its input');
      throw ioFailure(error, `cannot read ${sourceName}`);
    }
    // The peer closed or the connection was lost: the close code says more than the failed write.
    const peerClosed = error.reason !== undefined;
    if (error.status !== WebErrorStatus.OperationCanceled && (error.closeCode === undefined || peerClosed)) {
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
 * that size and digest match what the sender announced (in its close reason, and in `header`), and runs
 * `keep` (storing the file). A sender that goes past the size in `header` is stopped there: what it
 * sends beyond is never written. The answer to the peer's close waits for all that: 1000 when the
 * transfer was taken, else 4500 with the reason, so the sender learns whether its file was stored.
 */
export async function receiveAndCheck(
  socket: ByteSocket,
  sink: Writable,
  meter: Meter,
  options: { header?: FileHeader; sinkName?: string; keep?: () => Promise<void> } = {},
): Promise<WebSocketClosedEventArgs> {
  let peerClose: WebSocketClosedEventArgs | undefined;
  let answer: Deferral | undefined;
  const onCloseReceived = (args: WebSocketCloseReceivedEventArgs): void => {
    peerClose = { code: args.code, reason: args.reason };
    answer = args.getDeferral();
  };
  socket.once('closeReceived', onCloseReceived);
  try {
    try {
      const limit = options.header === undefined ? [] : [announcedSize(options.header.size)];
      await pipeline([socket.inputStream, ...limit, meter.tap(), sink]);
    } catch (error) {
      throw error instanceof WebSocketError || error instanceof CliError
        ? transferFailure(error)
        : ioFailure(error, `cannot write ${options.sinkName ?? 'the output'}`);
    }
    // The input ends cleanly only at the peer's close frame.
    checkTransfer(
      peerClose ?? (await socket.whenClosed()),
      { sha256: meter.sha256, size: meter.bytes },
      options.header,
    );
    await options.keep?.();
  } catch (error) {
    if (answer !== undefined) {
      const message = error instanceof Error ? error.message : String(error);
      socket.close(FileCloseCode.StorageFailed, closeReason(`not stored: ${message}`));
    }
    throw error;
  } finally {
    socket.off('closeReceived', onCloseReceived);
    answer?.complete();
  }
  // The answer is on its way: the transfer is done once the closing handshake is.
  const closed = await socket.whenClosed();
  return peerClose ?? closed;
}

/** Throws unless the close was clean and size and digest match. */
function checkTransfer(
  closed: WebSocketClosedEventArgs,
  received: Digest,
  header: FileHeader | undefined,
): void {
  if (!isCleanClose(closed.code)) throw unexpectedClose(closed.code, closed.reason);
  const mismatch =
    digestMismatch(parseDigest(closed.reason), received) ??
    (header !== undefined && header.size !== received.size
      ? `${received.size} bytes arrived but the file has ${header.size}`
      : undefined);
  if (mismatch !== undefined) throw new CliError(ExitCode.Protocol, `the transfer is corrupt: ${mismatch}`);
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
