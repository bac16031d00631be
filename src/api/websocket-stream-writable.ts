// The writable side of a WebSocketStream: each chunk one message — a BufferSource binary, anything else
// text, as the explainer says — and, a Node addition, a ReadableStream (binary) or { type, readable } as
// one message streamed fragment by fragment in bounded memory. A write resolves once the connection has
// taken the data (the buffer is the caller's again) and the socket can take more: that is the
// backpressure the writer's `ready` passes on.

import { Buffer } from 'node:buffer';
import type { Writable } from 'node:stream';
import { ReadableStream, WritableStream, type WritableStreamDefaultController } from 'node:stream/web';
import { types } from 'node:util';

import { Opcode, type DataOpcode } from '../protocol/opcodes.js';
import type { WebStreamSocket } from './web-stream-socket.js';
import { stringOf } from './websocket-stream-error.js';
import type { WebSocketMessageStream } from './websocket-stream-readable.js';

/** The bytes of a binary message (the explainer's BufferSource). */
export type BufferSource = ArrayBuffer | ArrayBufferView;

/** What a WebSocketStream's writable takes: one chunk, one message. */
export type WebSocketStreamWrite =
  | string
  | BufferSource
  | ReadableStream<BufferSource | string>
  | WebSocketMessageStream<BufferSource | string>;

/** What the writable needs from its WebSocketStream. */
export interface WritableEnds {
  /** Settles once the connection is over: undefined after a clean close, else its error. */
  readonly ending: Promise<Error | undefined>;
  /** The error a failed send is reported with. */
  writeError(failure: unknown): Promise<Error>;
  /** writable.close(): a close frame without a code, as the explainer's close() without arguments. */
  closeWith(code: number | null, reason: string): void;
  /** writable.abort(reason): closes the WebSocket, with the code of a WebSocketStreamError reason. */
  closeUsing(reason: unknown): void;
}

export interface MessageWritable {
  readonly stream: WritableStream<WebSocketStreamWrite>;
  /** Errors the stream (the connection is over), unless it is closing or already closed. */
  fail(error: Error): void;
}

export function messageWritable(socket: WebStreamSocket, ends: WritableEnds): MessageWritable {
  let controller!: WritableStreamDefaultController;
  let closing = false;
  // Stops a message being streamed from its source once the connection is over.
  const over = new AbortController();
  const stream = new WritableStream<WebSocketStreamWrite>(
    {
      start: (control) => {
        controller = control;
      },
      write: async (chunk) => {
        try {
          await send(socket, chunk, over.signal);
        } catch (failure) {
          throw await ends.writeError(failure);
        }
      },
      close: async () => {
        closing = true;
        ends.closeWith(null, '');
        // As the explainer: the writer's close() settles when the closing handshake has ended.
        const error = await ends.ending;
        if (error !== undefined) throw error;
      },
      abort: (reason: unknown) => {
        ends.closeUsing(reason);
      },
    },
    { highWaterMark: 1 },
  );
  return {
    stream,
    fail: (error) => {
      over.abort(error);
      if (!closing) controller.error(error);
    },
  };
}

function send(socket: WebStreamSocket, chunk: unknown, over: AbortSignal): Promise<void> {
  if (isBufferSource(chunk)) return socket.sendWhole(Opcode.Binary, bytesOf(chunk));
  if (chunk instanceof ReadableStream) return sendStream(socket, Opcode.Binary, chunk, over);
  if (isMessageStream(chunk)) {
    return sendStream(socket, chunk.type === 'text' ? Opcode.Text : Opcode.Binary, chunk.readable, over);
  }
  // A string's UTF-8 is valid by construction: lone surrogates become U+FFFD, as a USVString's do.
  return socket.sendWhole(Opcode.Text, Buffer.from(stringOf(chunk), 'utf8'));
}

function isBufferSource(chunk: unknown): chunk is BufferSource {
  return ArrayBuffer.isView(chunk) || types.isAnyArrayBuffer(chunk);
}

function isMessageStream(chunk: unknown): chunk is WebSocketMessageStream<unknown> {
  if (typeof chunk !== 'object' || chunk === null) return false;
  const { type, readable } = chunk as Partial<WebSocketMessageStream<unknown>>;
  return (type === 'text' || type === 'binary') && readable instanceof ReadableStream;
}

/** A view of the chunk's bytes (no copy: the write resolves only once they are taken). */
function bytesOf(chunk: BufferSource): Buffer {
  return ArrayBuffer.isView(chunk)
    ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    : Buffer.from(chunk);
}

/**
 * Sends a ReadableStream as ONE message, chunk by chunk as fragments, each taken before the next is read.
 * A source that fails, or a chunk that is not valid in the message, abandons the message: the connection
 * is then failed (1011) rather than let the peer take a part for the whole. Once the connection is over
 * (`over`), a source still being read is cancelled.
 */
async function sendStream(
  socket: WebStreamSocket,
  opcode: DataOpcode,
  source: ReadableStream<unknown>,
  over: AbortSignal,
): Promise<void> {
  const reader = source.getReader();
  const message = socket.openMessage(opcode);
  message.on('error', ignore);
  const stop = (): void => {
    reader.cancel(over.reason).catch(ignore);
  };
  over.addEventListener('abort', stop);
  try {
    for (;;) {
      const next = await reader.read();
      over.throwIfAborted();
      if (next.done) break;
      await write(
        message,
        isBufferSource(next.value) ? bytesOf(next.value) : Buffer.from(stringOf(next.value), 'utf8'),
      );
    }
    await end(message);
  } catch (error) {
    message.destroy(error instanceof Error ? error : new Error(String(error)));
    reader.cancel(error).catch(ignore);
    throw error;
  } finally {
    over.removeEventListener('abort', stop);
    reader.releaseLock();
  }
}

function write(message: Writable, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    message.write(bytes, (error) => {
      if (error === null || error === undefined) resolve();
      else reject(error);
    });
  });
}

function end(message: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    message.once('error', reject);
    message.end(() => {
      message.off('error', reject);
      resolve();
    });
  });
}

function ignore(): void {
  // The failure reaches the writer through its write's promise.
}
