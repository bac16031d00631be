// One outgoing data message, written as one or more frames; the connection lets one message at a time
// own the wire, so the fragments of a message are never interleaved with another message's.

import type { Buffer } from 'node:buffer';

import { FragmentSequence } from '../protocol/frame-writer.js';
import type { DataOpcode } from '../protocol/opcodes.js';

/** What an outbound message needs from its connection. */
export interface FrameSender {
  /** Resolves when this message may write (the messages opened before it are finished). */
  acquireWire(message: OutboundMessage): Promise<void>;
  releaseWire(message: OutboundMessage): void;
  /** Writes the payload as frames of this opcode sequence; resolves once the socket can take more. */
  writeFrames(fragments: FragmentSequence, payload: Buffer, fin: boolean): Promise<void>;
}

export class OutboundMessage {
  private readonly fragments: FragmentSequence;
  /** The last fragment handed over: each fragment waits for the one before it. */
  private tail: Promise<void> | undefined;
  private ended = false;

  constructor(
    private readonly sender: FrameSender,
    readonly type: DataOpcode,
  ) {
    this.fragments = new FragmentSequence(type);
  }

  get isFinished(): boolean {
    return this.ended;
  }

  /**
   * Sends the next fragment; fin ends the message. Calls may overlap: fragments go out in call order.
   * A failed fragment fails every later one of the same message.
   */
  write(payload: Buffer, fin: boolean): Promise<void> {
    if (this.ended) return Promise.reject(new Error('the message was already finished'));
    if (fin) this.ended = true;
    const previous = this.tail ?? this.sender.acquireWire(this);
    const written = previous.then(() => this.sender.writeFrames(this.fragments, payload, fin));
    this.tail = written;
    if (fin) {
      const release = (): void => {
        this.sender.releaseWire(this);
      };
      void written.then(release, release);
    }
    return written;
  }

  /** Gives up the wire without finishing the message (the connection is closing, or a writer failed). */
  abandon(): void {
    if (this.ended) return;
    this.ended = true;
    this.sender.releaseWire(this);
  }
}
