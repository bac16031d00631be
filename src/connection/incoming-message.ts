// One received data message as a Node Readable (gorilla/websocket's NextReader): its sections arrive as
// frames do and are handed on as they came, bounded by the section queue's watermarks; it ends at the
// final frame and fails if the connection fails before that. Named apart from http.IncomingMessage, which
// the same API hands out (the upgrade request).

import { SectionReadable } from './section-readable.js';
import type { SocketMessageType } from '../protocol/opcodes.js';

export class WebSocketIncomingMessage extends SectionReadable {
  constructor(
    /** Binary or Utf8 (text, validated as UTF-8 as it arrives). */
    readonly messageType: SocketMessageType,
    highWaterMark: number,
    /** Called when the message's reader has room again after the socket was stopped for it. */
    onLow: () => void,
  ) {
    super(highWaterMark, onLow);
  }
}
