// The output stream of the message sockets: each write is one message, of the type the write chooses or
// else of control.messageType as it is when the write is made (a later change of it, or a message of
// another type sent meanwhile, leaves the writes already made as they were).

import type { SocketMessageType } from '../protocol/opcodes.js';
import { OutputStream } from './output-stream.js';

export interface MessageWriteOptions {
  /** This message's type; default control.messageType, read when the write is made. */
  messageType?: SocketMessageType | undefined;
}

export class MessageOutputStream extends OutputStream {
  /**
   * Sends data as one message (WinRT IOutputStream.WriteAsync) of `options.messageType`, else of
   * control.messageType; resolves to the number of bytes written. A text message must be valid UTF-8.
   */
  override writeAsync(data: Uint8Array, options: MessageWriteOptions = {}): Promise<number> {
    return this.writeMessage(data, options.messageType);
  }
}
