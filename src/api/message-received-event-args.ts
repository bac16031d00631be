// MessageWebSocketMessageReceivedEventArgs: one received message (or, in PartialMessage mode, one piece
// of it) with WinRT's getters. A message that could not be received whole makes every getter throw.

import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';

import { WebErrorStatus, WebSocketError } from '../errors.js';
import { isValidUtf8 } from '../protocol/utf8.js';
import type { SocketMessageType } from './enums.js';

export class MessageWebSocketMessageReceivedEventArgs {
  /** Created by the message sockets (or by an application's tests of its handlers). */
  constructor(
    /** The type of the received message (informative: the getters work for both). */
    readonly messageType: SocketMessageType,
    /** Always true in FullMessage mode; in PartialMessage mode true on the last piece only. */
    readonly isMessageComplete: boolean,
    private readonly data: Buffer | WebSocketError,
    /** The piece's text when a text message is delivered in pieces (code points split at piece edges
     * are carried to the next piece). */
    private readonly decodedText?: string,
  ) {}

  /** @internal Why the message could not be received, if it could not. */
  get failure(): WebSocketError | undefined {
    return this.data instanceof WebSocketError ? this.data : undefined;
  }

  /** The message's bytes. Throws a WebSocketError if the message could not be received. */
  getData(): Buffer {
    if (this.data instanceof WebSocketError) throw this.data;
    return this.data;
  }

  /** The message as text; throws a WebSocketError if it is not valid UTF-8 or was not received. */
  getText(): string {
    const data = this.getData();
    if (this.decodedText !== undefined) return this.decodedText;
    if (!isValidUtf8(data)) {
      throw new WebSocketError(WebErrorStatus.Unknown, 'the message is not valid UTF-8 text');
    }
    return data.toString('utf8');
  }

  /** The message's bytes as a readable stream. */
  getDataStream(): Readable {
    return Readable.from([this.getData()], { objectMode: false });
  }
}
