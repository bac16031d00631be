// One received data message as a Node Readable (gorilla/websocket's NextReader): its sections arrive as
// frames do, bounded by the stream's high-water mark; it ends at the final frame and fails if the
// connection fails before that.

import { Readable } from 'node:stream';

import type { SocketMessageType } from '../protocol/opcodes.js';

/** What a message asks of its queue: more input once the reader has room. */
export interface MessageReader {
  wantMore(message: IncomingMessage): void;
}

export class IncomingMessage extends Readable {
  constructor(
    /** Binary or Utf8 (text, validated as UTF-8 as it arrives). */
    readonly messageType: SocketMessageType,
    private readonly reader: MessageReader,
    highWaterMark: number,
  ) {
    super({ highWaterMark });
  }

  override _read(): void {
    this.reader.wantMore(this);
  }
}
