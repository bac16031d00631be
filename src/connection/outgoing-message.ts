// One outgoing data message, written as one or more frames; the connection lets one message at a time
// own the wire, so the fragments of a message are never interleaved with another message's.

import type { Buffer } from 'node:buffer';

import type { DataOpcode } from '../protocol/opcodes.js';

/** What an outgoing message needs from its connection. */
export interface FrameSender {
  /** Resolves when this message may write (the messages opened before it are finished). */
  acquireWire(message: OutgoingMessage): Promise<void>;
  releaseWire(message: OutgoingMessage): void;
  /**
   * Writes the payload as the message's next frame(s); resolves once the caller owns the payload again
   * and the socket can take more.
   */
  writeFrames(message: OutgoingMessage, payload: Buffer, fin: boolean): Promise<void>;
  /** The message can never be finished: the connection decides what the peer is told. */
  abandonMessage(message: OutgoingMessage, reason: string): void;
}

export class OutgoingMessage {
  /** The last fragment handed over: each fragment waits for the one before it. */
  private tail: Promise<void> | undefined;
  private ended = false;

  constructor(
    private readonly sender: FrameSender,
    readonly type: DataOpcode,
  ) {}

  get isFinished(): boolean {
    return this.ended;
  }

  /** A fragment was handed over: the peer has seen (or will see) the start of this message. */
  get isStarted(): boolean {
    return this.tail !== undefined;
  }

  /**
   * Sends the next fragment; fin ends the message. Calls may overlap: fragments go out in call order.
   * A failed fragment fails every later one of the same message.
   */
  write(payload: Buffer, fin: boolean): Promise<void> {
    if (this.ended) return Promise.reject(new Error('the message was already finished'));
    if (fin) this.ended = true;
    const previous = this.tail ?? this.sender.acquireWire(this);
    const written = previous.then(() => this.sender.writeFrames(this, payload, fin));
    this.tail = written;
    if (fin) {
      const release = (): void => {
        this.sender.releaseWire(this);
      };
      void written.then(release, release);
    }
    return written;
  }

  /** Gives up the message before its end (its writer failed or was destroyed). */
  abandon(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.sender.abandonMessage(this, reason);
  }
}
