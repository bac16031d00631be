// The readable side of a WebSocketStream: the received messages as a ReadableStream, one chunk per
// message — text as a string, binary as a Uint8Array of its own — or, with messageStreams, one
// { type, readable } per message whose sections stream in bounded memory. It pulls: a message is taken
// from the connection's queue only when the reader asks for one, so a reader that stops reading stops
// the socket (past the queue's high-water mark, TCP itself).

import { Buffer } from 'node:buffer';
import { ReadableStream, type ReadableStreamDefaultController } from 'node:stream/web';

import type { WebSocketIncomingMessage } from '../connection/incoming-message.js';
import type { IncomingMessageQueue, WholeMessage } from '../connection/message-queue.js';
import { WebErrorStatus, WebSocketError } from '../errors.js';
import { SocketMessageType } from '../protocol/opcodes.js';

/** A message as a stream of its bytes (messageStreams): received, or handed to the writable. */
export interface WebSocketMessageStream<Chunk = Uint8Array> {
  type: 'text' | 'binary';
  readable: ReadableStream<Chunk>;
}

/** What the readable of a WebSocketStream yields. */
export type ReceivedChunk<MessageStreams extends boolean> = MessageStreams extends true
  ? WebSocketMessageStream
  : string | Uint8Array;

/** What the readable needs from its WebSocketStream. */
export interface ReadableEnds {
  /** Settles once the connection is over: undefined after a clean close, else its error. */
  readonly ending: Promise<Error | undefined>;
  /** The error a receive failure is reported with. */
  readError(failure: unknown): Promise<Error>;
  /** readable.cancel(reason): closes the WebSocket, with the code of a WebSocketStreamError reason. */
  closeUsing(reason: unknown): void;
}

export interface MessageReadable<Chunk> {
  readonly stream: ReadableStream<Chunk>;
  /** Errors the stream at once (an unclean close), unless it is already closed or errored. */
  fail(error: Error): void;
}

/** The readable of received messages, whole or (messageStreams) as streams. */
export function messageReadable<MessageStreams extends boolean>(
  queue: IncomingMessageQueue,
  ends: ReadableEnds,
  messageStreams: MessageStreams,
): MessageReadable<ReceivedChunk<MessageStreams>> {
  type Chunk = ReceivedChunk<MessageStreams>;
  const take = (): Promise<Chunk | null> =>
    (messageStreams ? takeStream(queue, ends) : takeWhole(queue)) as Promise<Chunk | null>;
  let controller!: ReadableStreamDefaultController<Chunk>;
  let settled = false;
  const settle = (end: () => void): void => {
    if (settled) return;
    settled = true;
    end();
  };
  const stream = new ReadableStream<Chunk>(
    {
      start: (control) => {
        controller = control;
      },
      pull: async () => {
        let chunk: Chunk | null;
        try {
          chunk = await take();
        } catch (failure) {
          // After a local close() receiving stops: the stream ends as the closing handshake does.
          const error = isCancellation(failure) ? await ends.ending : await ends.readError(failure);
          settle(() => {
            if (error === undefined) controller.close();
            else controller.error(error);
          });
          return;
        }
        if (chunk === null)
          settle(() => {
            controller.close();
          });
        else if (!settled) controller.enqueue(chunk);
      },
      cancel: (reason: unknown) => {
        settled = true;
        ends.closeUsing(reason);
      },
    },
    // Nothing is taken ahead of the reader: what waits, waits in the connection's bounded queue.
    { highWaterMark: 0 },
  );
  return {
    stream,
    fail: (error) => {
      settle(() => {
        controller.error(error);
      });
    },
  };
}

/** The next message whole: a string or a Uint8Array owning exactly its bytes; null after the peer's close. */
async function takeWhole(queue: IncomingMessageQueue): Promise<string | Uint8Array | null> {
  const message = await queue.nextWhole();
  if (message === null) return null;
  if (message.failure !== undefined) throw message.failure;
  return message.messageType === SocketMessageType.Utf8 ? textOf(message) : bytesOf(message.sections);
}

function textOf(message: WholeMessage): string {
  // Validated as UTF-8 as it arrived.
  const { sections } = message;
  return (sections.length === 1 ? sections[0]! : Buffer.concat(sections)).toString('utf8');
}

/** One copy into a buffer of the message's own: its `.buffer` holds nothing else, as in browsers. */
function bytesOf(sections: readonly Buffer[]): Uint8Array {
  let size = 0;
  for (const section of sections) size += section.length;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const section of sections) {
    bytes.set(section, offset);
    offset += section.length;
  }
  return bytes;
}

/** The next message as a stream of its sections; null after the peer's close. */
async function takeStream(
  queue: IncomingMessageQueue,
  ends: ReadableEnds,
): Promise<WebSocketMessageStream | null> {
  const message = await queue.next();
  if (message === null) return null;
  return {
    type: message.messageType === SocketMessageType.Utf8 ? 'text' : 'binary',
    readable: sectionReadable(message, ends),
  };
}

/** One message's sections, each copied into a Uint8Array of its own, one per read. */
function sectionReadable(message: WebSocketIncomingMessage, ends: ReadableEnds): ReadableStream<Uint8Array> {
  const sections = message[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      pull: async (controller) => {
        try {
          const next = await sections.next();
          if (next.done === true) controller.close();
          else controller.enqueue(new Uint8Array(next.value));
        } catch (failure) {
          controller.error(await sectionFailure(failure, ends));
        }
      },
      cancel: async () => {
        // The rest of the message is dropped as it arrives.
        await sections.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

async function sectionFailure(failure: unknown, ends: ReadableEnds): Promise<Error> {
  if ((failure as NodeJS.ErrnoException | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new DOMException(
      'the message was skipped: the next message was read before its end',
      'AbortError',
    );
  }
  return ends.readError(failure);
}

/** Receiving was cancelled by a local close(). */
function isCancellation(failure: unknown): boolean {
  return failure instanceof WebSocketError && failure.status === WebErrorStatus.OperationCanceled;
}
