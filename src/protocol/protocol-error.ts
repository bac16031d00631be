// A violation of RFC 6455 by the peer, carrying the close code the connection must be failed with.

import type { CloseCode } from './close.js';

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';

  /** The close code to send when failing the connection (§7.4.1): 1002, 1007 or 1009. */
  readonly closeCode: CloseCode;

  constructor(closeCode: CloseCode, message: string) {
    super(message);
    this.closeCode = closeCode;
  }
}
