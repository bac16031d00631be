// The receiving side of a message socket. Received messages are handed out in order, either as a
// WebSocketIncomingMessage stream (next()) or, for a consumer that wants each message whole, as the list
// of its sections once it is complete (nextWhole()), without any stream machinery; a message taken whole is
// refused with 1009 past the whole-message limit. Messages that arrive before anyone asks wait here;
// what they hold is bounded by the high-water mark, past which the socket is not read. Advancing past a
// streamed message that was not read to its end discards its rest (as gorilla/websocket's NextReader).

import type { Buffer } from 'node:buffer';

import { connectionLost, type WebSocketError } from '../errors.js';
import { CloseCode } from '../protocol/close.js';
import { messageTypeOf, type DataOpcode, type SocketMessageType } from '../protocol/opcodes.js';
import type { IncomingSink, ReadControl } from './incoming-sink.js';
import { WebSocketIncomingMessage } from './incoming-message.js';
import { DEFAULT_HIGH_WATER_MARK } from './section-queue.js';

export const MESSAGE_HIGH_WATER_MARK = DEFAULT_HIGH_WATER_MARK;

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
  stream: WebSocketIncomingMessage | undefined;
  /** Taken whole before it was complete: called when it is. */
  wholeTaker: WholeTaker | undefined;
  /** Payload bytes received so far. */
  size = 0;

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

export class IncomingMessageQueue implements IncomingSink {
  private control: ReadControl | undefined;
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;
  /** Largest message taken whole (nextWhole); 1009 beyond it. */
  private wholeMessageLimit = Infinity;
  /** The message whose frames are arriving, if one is. */
  private receiving: ReceivedMessage | undefined;
  /** Messages started but not yet taken, oldest first. */
  private readonly waiting: ReceivedMessage[] = [];
  /** The last message handed out as a stream. */
  private handedOut: WebSocketIncomingMessage | undefined;
  private readonly takers: Taker[] = [];
  private ended = false;
  private failure: WebSocketError | undefined;
  /** Bytes (and per-message overhead) held by messages nobody has taken yet. */
  private waitingBytes = 0;

  /** What every message's stream calls when its reader has room again (one function for all of them). */
  private readonly resumeReading = (): void => {
    this.control?.resumeReading();
  };

  constructor(highWaterMark = MESSAGE_HIGH_WATER_MARK) {
    this.highWaterMark = highWaterMark;
    this.lowWaterMark = Math.floor(highWaterMark / 4);
  }

  /** Sets the largest message taken whole (set when the connection opens). */
  limitWholeMessages(bytes: number): void {
    this.wholeMessageLimit = bytes;
  }

  attach(control: ReadControl): void {
    this.control = control;
  }

  /** The next message as a stream of its sections; null once the peer closed cleanly. */
  async next(): Promise<WebSocketIncomingMessage | null> {
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

  /** The next message, whole, if it has arrived complete (or cut short); undefined otherwise. */
  takeCompleteWhole(): WholeMessage | undefined {
    const message = this.waiting[0];
    if (message === undefined || (!message.complete && message.failure === undefined)) return undefined;
    this.waiting.shift();
    return this.takeComplete(message);
  }

  /** Reading may go on once waiting messages hold less than the low watermark. */
  private wantMore(): void {
    if (this.waitingBytes < this.lowWaterMark) this.control?.resumeReading();
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
    message.size += section.length;
    const { stream } = message;
    // A message its reader destroyed (a `break` out of `for await`) takes no more: the rest is dropped.
    if (stream !== undefined) return stream.pushSection(section);
    if (message.wholeTaker !== undefined && message.size > this.wholeMessageLimit) {
      this.refuseTooBig(message);
      return true;
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
      message.stream.endSections();
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
      interrupted.stream?.endSections(interrupted.failure);
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

  private takeAsStream(message: ReceivedMessage): WebSocketIncomingMessage {
    this.release(message);
    const stream = new WebSocketIncomingMessage(message.messageType, this.highWaterMark, this.resumeReading);
    // A message the application abandons must not raise an unhandled 'error'.
    stream.on('error', ignore);
    for (const section of message.sections) stream.pushSection(section);
    message.sections = [];
    if (message.failure !== undefined) stream.endSections(message.failure);
    else if (message.complete) stream.endSections();
    else message.stream = stream;
    this.handedOut = stream;
    return stream;
  }

  private takeWhole(message: ReceivedMessage): WholeMessage | Promise<WholeMessage> {
    if (message.complete || message.failure !== undefined) return this.takeComplete(message);
    if (message.size > this.wholeMessageLimit) this.refuseTooBig(message);
    this.release(message);
    return new Promise((resolve) => {
      message.wholeTaker = resolve;
    });
  }

  private takeComplete(message: ReceivedMessage): WholeMessage {
    this.release(message);
    return message.toWhole();
  }

  /** A message taken whole grew past the limit: its sections go, and the connection fails with 1009. */
  private refuseTooBig(message: ReceivedMessage): void {
    message.sections = [];
    this.control?.refuse(
      CloseCode.MessageTooBig,
      `a message over the limit of ${this.wholeMessageLimit} bytes for whole messages`,
    );
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
