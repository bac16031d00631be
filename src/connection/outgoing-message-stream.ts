// One outgoing message as a Node Writable (gorilla/websocket's NextWriter): each chunk goes out as a
// fragment with backpressure from the socket, end() sends the final frame. A writer destroyed before
// its end cannot finish the message honestly, so the connection is failed rather than truncated.

import { Buffer } from 'node:buffer';
import { Writable } from 'node:stream';

import { invalidArgument, toWebSocketError } from '../errors.js';
import { Utf8Validator } from '../protocol/utf8.js';
import type { OutgoingMessage } from './outgoing-message.js';

const EMPTY = Buffer.alloc(0);

export class OutgoingMessageStream extends Writable {
  private readonly utf8: Utf8Validator | undefined;

  constructor(
    private readonly message: OutgoingMessage,
    /** Text messages are checked as UTF-8 before a byte of them is sent. */
    isText: boolean,
  ) {
    super({ highWaterMark: 0 });
    this.utf8 = isText ? new Utf8Validator() : undefined;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.utf8 !== undefined && !this.utf8.write(chunk)) {
      callback(invalidArgument('a text message must be valid UTF-8'));
      return;
    }
    settle(this.message.write(chunk, false), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.utf8 !== undefined && !this.utf8.end()) {
      callback(invalidArgument('a text message must not end inside a UTF-8 sequence'));
      return;
    }
    settle(this.message.write(EMPTY, true), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.message.abandon(
      error === null ? 'an outgoing message was abandoned' : `an outgoing message failed: ${error.message}`,
    );
    callback(error);
  }
}

/** Completes a stream callback with the outcome of a frame write. */
function settle(written: Promise<void>, callback: (error?: Error | null) => void): void {
  written.then(
    () => {
      callback();
    },
    (error: unknown) => {
      callback(toWebSocketError(error));
    },
  );
}
