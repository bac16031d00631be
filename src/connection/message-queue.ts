// The receiving side of a message socket: each data message becomes an IncomingMessage, handed out in
// order by next(). Messages that arrive before anyone asks wait here; what they hold is bounded by the
// high-water mark, past which the socket is not read. Advancing past a message that was not read to
// its end discards its rest (as gorilla/websocket's NextReader does).

import type { Buffer } from 'node:buffer';

import { connectionLost, type WebSocketError } from '../errors.js';
import { messageTypeOf, type DataOpcode } from '../protocol/opcodes.js';
import type { InboundSink, ReadResumer } from './inbound-sink.js';
import { IncomingMessage, type MessageReader } from './incoming-message.js';

export const MESSAGE_HIGH_WATER_MARK = 1024 * 1024;

/** What a waiting message costs beyond its bytes, so that a flood of empty messages is bounded too. */
const MESSAGE_OVERHEAD = 1024;

export class IncomingMessageQueue implements InboundSink, MessageReader {
  private resumer: ReadResumer | undefined;
  /** The message whose frames are arriving, if one is. */
  private receiving: IncomingMessage | undefined;
  /** Messages started but not yet handed out, oldest first. */
  private readonly waiting: IncomingMessage[] = [];
  private handedOut: IncomingMessage | undefined;
  private readonly takers: {
    resolve: (message: IncomingMessage | null) => void;
    reject: (error: Error) => void;
  }[] = [];
  private ended = false;
  private failure: WebSocketError | undefined;
  /** Bytes (and per-message overhead) held by messages nobody has taken yet. */
  private waitingBytes = 0;
  private readonly charged = new WeakMap<IncomingMessage, number>();

  constructor(private readonly highWaterMark = MESSAGE_HIGH_WATER_MARK) {}

  attach(resumer: ReadResumer): void {
    this.resumer = resumer;
  }

  /** The next message; null once the peer closed cleanly. Rejects when the connection failed. */
  next(): Promise<IncomingMessage | null> {
    // The previous message is done with: whatever of it is still to come is dropped.
    if (this.handedOut !== undefined && !this.handedOut.readableEnded) {
      this.handedOut.destroy();
      this.wantMore();
    }
    this.handedOut = undefined;
    const message = this.waiting.shift();
    if (message !== undefined) return Promise.resolve(this.handOut(message));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.takers.push({ resolve, reject });
    });
  }

  wantMore(): void {
    if (this.waitingBytes < this.highWaterMark) this.resumer?.resumeReading();
  }

  messageStart(opcode: DataOpcode): void {
    const message = new IncomingMessage(messageTypeOf(opcode), this, this.highWaterMark);
    // A message the application abandons must not raise an unhandled 'error'.
    message.on('error', ignore);
    this.receiving = message;
    const taker = this.takers.shift();
    if (taker === undefined) {
      this.waiting.push(message);
      this.charge(message, MESSAGE_OVERHEAD);
    } else {
      taker.resolve(this.handOut(message));
    }
  }

  messageData(section: Buffer): boolean {
    const message = this.receiving!;
    // A message its reader destroyed (a `break` out of `for await`) takes no more: the rest is dropped.
    if (message.destroyed) return true;
    if (this.charged.has(message)) this.charge(message, section.length);
    return message.push(section) && this.waitingBytes < this.highWaterMark;
  }

  messageEnd(): boolean {
    const message = this.receiving!;
    this.receiving = undefined;
    if (!message.destroyed) message.push(null);
    return this.waitingBytes < this.highWaterMark;
  }

  finish(error: WebSocketError | undefined): void {
    const interrupted = this.receiving;
    this.receiving = undefined;
    if (interrupted !== undefined && !interrupted.destroyed) {
      interrupted.destroy(error ?? connectionLost('the connection closed in the middle of a message'));
    }
    this.ended = true;
    this.failure = error;
    for (const taker of this.takers.splice(0)) {
      if (error === undefined) taker.resolve(null);
      else taker.reject(error);
    }
  }

  private handOut(message: IncomingMessage): IncomingMessage {
    this.handedOut = message;
    this.waitingBytes -= this.charged.get(message) ?? 0;
    this.charged.delete(message);
    this.wantMore();
    return message;
  }

  /** Counts what a waiting message holds against the high-water mark. */
  private charge(message: IncomingMessage, bytes: number): void {
    this.charged.set(message, (this.charged.get(message) ?? 0) + bytes);
    this.waitingBytes += bytes;
  }
}

function ignore(): void {
  // See messageStart.
}
