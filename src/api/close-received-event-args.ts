// WebSocketCloseReceivedEventArgs (a Node addition): the peer's close frame has arrived. The answer to it
// waits until the application has looked at what it received: a handler that must check something first
// takes a deferral, and may answer with its own code through close() or goAway() before completing it.

import type { CloseFrame } from '../protocol/close.js';
import { createDeferral, type Deferral } from './deferral.js';

export class WebSocketCloseReceivedEventArgs {
  /** The peer's close code (1005 when its close frame carried none). */
  readonly code: number;
  readonly reason: string;

  /** Raised by the sockets; `hold` holds the answer until the returned function is called. */
  constructor(
    frame: CloseFrame,
    private readonly hold: () => () => void,
  ) {
    this.code = frame.code;
    this.reason = frame.reason;
  }

  /**
   * Holds the answer to the peer's close until complete() is called (bounded by the close timeout, after
   * which the peer's code is echoed). Without a close() in between, the answer echoes the peer's code.
   */
  getDeferral(): Deferral {
    return createDeferral(this.hold());
  }
}
