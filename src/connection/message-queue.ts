// The receiving side of a message socket. Received messages are handed out in order, either as an
// IncomingMessage stream (next()) or, for a consumer that wants each message whole, as the list of its
// sections once it is complete (nextWhole()), without any stream machinery. Messages that arrive before anyone asks wait here; what
// they hold is bounded by the high-water mark, past which the socket is not read. Advancing past a
// streamed message that was not read to its end discards its rest (as gorilla/websocket's NextReader).

import type { Buffer } from 'node:buffer';

import { connectionLost, type WebSocketError } from '../errors.js';
import { messageTypeOf, type DataOpcode, type SocketMessageType } from '../protocol/opcodes.js';
import type { InboundSink, ReadResumer } from './inbound-sink.js';
import { IncomingMessage, type MessageReader } from './incoming-message.js';

export const MESSAGE_HIGH_WATER_MARK = 1024 * 1024;

/** What a waiting message costs beyond its bytes, so that a flood of empty messages is bounded too. */
const MESSAGE_OVERHEAD = 1024;

/** A message taken whole: its payload's sections in order, or why it could not be received completely. */
export interface WholeMessage {
  readonly messageType: SocketMessageType;
  readonly sections: readonly Buffer[];
  readonly failure: WebSocketError | undefined;
}

type WholeTaker = (message: WholeMessage) => void;

/** One received message, from its first frame until it is complete and taken. */
class ReceivedMessage {
  /** Sections not yet handed to anyone. */
  sections: Buffer[] = [];
  /** What it counts against the high-water mark while it waits untaken. */
  charge = MESSAGE_OVERHEAD;
  complete = false;
  failure: WebSocketError | undefined;
  /** Taken as a stream: later sections go there. */
  stream: IncomingMessage | undefined;
  /** Taken whole before it was complete: called when it is. */
  wholeTaker: WholeTaker | undefined;

  constructor(readonly messageType: SocketMessageType) {}

  get isTaken(): boolean {
    return this.stream !== undefined || this.wholeTaker !== undefined;
  }

  toWhole(): WholeMessage {
    const { messageType, sections, failure } = this;
    this.sections = [];
    return { messageType, sections, failure };
  }
}

interface Taker {
  resolve: (message: ReceivedMessage | null) => void;
  reject: (error: Error) => void;
}

export class IncomingMessageQueue implements InboundSink, MessageReader {
  private resumer: ReadResumer | undefined;
  /** The message whose frames are arriving, if one is. */
  private receiving: ReceivedMessage | undefined;
  /** Messages started but not yet taken, oldest first. */
  private readonly waiting: ReceivedMessage[] = [];
  /** The last message handed out as a stream. */
  private handedOut: IncomingMessage | undefined;
  private readonly takers: Taker[] = [];
  private ended = false;
  private failure: WebSocketError | undefined;
  /** Bytes (and per-message overhead) held by messages nobody has taken yet. */
  private waitingBytes = 0;

  constructor(private readonly highWaterMark = MESSAGE_HIGH_WATER_MARK) {}

  attach(resumer: ReadResumer): void {
    this.resumer = resumer;
  }

  /** The next message as a stream of its sections; null once the peer closed cleanly. */
  async next(): Promise<IncomingMessage | null> {
    // The previous message is done with: whatever of it is still to come is dropped.
    if (this.handedOut !== undefined && !this.handedOut.readableEnded) {
      this.handedOut.destroy();
      this.wantMore();
    }
    this.handedOut = undefined;
    const message = this.waiting.shift() ?? (await this.waitForMessage());
    return message === null ? null : this.takeAsStream(message);
  }

  /**
   * The next message, whole, once it is complete; null once the peer closed cleanly. Rejects when the
   * connection failed with no message in progress.
   */
  async nextWhole(): Promise<WholeMessage | null> {
    const message = this.waiting.shift() ?? (await this.waitForMessage());
    return message === null ? null : this.takeWhole(message);
  }

  wantMore(): void {
    if (this.waitingBytes < this.highWaterMark) this.resumer?.resumeReading();
  }

  messageStart(opcode: DataOpcode): void {
    const message = new ReceivedMessage(messageTypeOf(opcode));
    this.receiving = message;
    const taker = this.takers.shift();
    if (taker === undefined) {
      this.waiting.push(message);
      this.waitingBytes += message.charge;
    } else {
      message.charge = 0;
      taker.resolve(message);
    }
  }

  messageData(section: Buffer): boolean {
    const message = this.receiving!;
    const { stream } = message;
    if (stream !== undefined) {
      // A message its reader destroyed (a `break` out of `for await`) takes no more: the rest is dropped.
      return stream.destroyed || stream.push(section);
    }
    message.sections.push(section);
    if (message.isTaken) return true;
    message.charge += section.length;
    this.waitingBytes += section.length;
    return this.waitingBytes < this.highWaterMark;
  }

  messageEnd(): boolean {
    const message = this.receiving!;
    this.receiving = undefined;
    message.complete = true;
    if (message.stream !== undefined) {
      if (!message.stream.destroyed) message.stream.push(null);
    } else if (message.wholeTaker !== undefined) {
      message.wholeTaker(message.toWhole());
    }
    return this.waitingBytes < this.highWaterMark;
  }

  finish(error: WebSocketError | undefined): void {
    const interrupted = this.receiving;
    this.receiving = undefined;
    if (interrupted !== undefined) {
      interrupted.failure = error ?? connectionLost('the connection closed in the middle of a message');
      if (interrupted.stream !== undefined && !interrupted.stream.destroyed) {
        interrupted.stream.destroy(interrupted.failure);
      }
      interrupted.wholeTaker?.(interrupted.toWhole());
    }
    this.ended = true;
    this.failure = error;
    for (const taker of this.takers.splice(0)) {
      if (error === undefined) taker.resolve(null);
      else taker.reject(error);
    }
  }

  private waitForMessage(): Promise<ReceivedMessage | null> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.takers.push({ resolve, reject });
    });
  }

  private takeAsStream(message: ReceivedMessage): IncomingMessage {
    this.release(message);
    const stream = new IncomingMessage(message.messageType, this, this.highWaterMark);
    // A message the application abandons must not raise an unhandled 'error'.
    stream.on('error', ignore);
    for (const section of message.sections) stream.push(section);
    message.sections = [];
    if (message.failure !== undefined) stream.destroy(message.failure);
    else if (message.complete) stream.push(null);
    else message.stream = stream;
    this.handedOut = stream;
    return stream;
  }

  private takeWhole(message: ReceivedMessage): WholeMessage | Promise<WholeMessage> {
    if (message.complete || message.failure !== undefined) return this.takeComplete(message);
    this.release(message);
    return new Promise((resolve) => {
      message.wholeTaker = resolve;
    });
  }

  private takeComplete(message: ReceivedMessage): WholeMessage {
    this.release(message);
    return message.toWhole();
  }

  /** The message is taken: it no longer counts against the high-water mark. */
  private release(message: ReceivedMessage): void {
    this.waitingBytes -= message.charge;
    message.charge = 0;
    this.wantMore();
  }
}

function ignore(): void {
  // See takeAsStream.
}
