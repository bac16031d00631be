// The receiving end of a connection: what the API layer plugs in to take messages as they arrive.

import type { Buffer } from 'node:buffer';

import type { WebSocketError } from '../errors.js';
import type { DataOpcode } from '../protocol/opcodes.js';

/** What a sink may ask of its connection. */
export interface ReadControl {
  /** More input is wanted after the sink said it had enough. */
  resumeReading(): void;
  /** A limit of the sink was passed: fail the connection with this code (1009). */
  refuse(code: number, reason: string): void;
}

/**
 * Takes received data messages in order. The connection stops reading the socket when messageData or
 * messageEnd returns false, until the sink calls resumeReading(): that is the backpressure from the
 * application down to TCP.
 */
export interface IncomingSink {
  attach(control: ReadControl): void;
  messageStart(type: DataOpcode): void;
  /** A section of the current message (a view of received bytes). False: stop reading for now. */
  messageData(section: Buffer): boolean;
  /** The current message is complete. False: stop reading for now (too much is waiting). */
  messageEnd(): boolean;
  /**
   * No more messages. `error` is undefined after the peer's close frame (a clean end), else it is why
   * reading failed: a protocol violation, a lost connection, or cancellation by a local close.
   */
  finish(error: WebSocketError | undefined): void;
}
