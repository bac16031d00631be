// The input side of a byte-stream socket, made on first use: an idle connection holds no Readable. Until
// the InputStream is asked for (or the first data makes it), how reading ended is all that waits here.

import type { Buffer } from 'node:buffer';

import type { IncomingSink, ReadControl } from '../connection/incoming-sink.js';
import type { WebSocketError } from '../errors.js';
import { InputStream } from './input-stream.js';

/** The connection's sink for a byte-stream socket: the InputStream, made when asked for or at the first data. */
export class DeferredInput implements IncomingSink {
  private made: InputStream | undefined;
  private control: ReadControl | undefined;
  /** Reading ended before the stream was made: how. */
  private end: { error: WebSocketError | undefined } | undefined;

  get stream(): InputStream {
    if (this.made === undefined) {
      const stream = new InputStream();
      // Failures reach readers through their calls and 'closed'; never as an unhandled 'error'.
      stream.on('error', ignore);
      if (this.control !== undefined) stream.attach(this.control);
      if (this.end !== undefined) stream.finish(this.end.error);
      this.made = stream;
    }
    return this.made;
  }

  attach(control: ReadControl): void {
    this.control = control;
    this.made?.attach(control);
  }

  messageStart(): void {
    // Message boundaries are not part of a byte stream.
  }

  messageData(section: Buffer): boolean {
    return this.stream.messageData(section);
  }

  messageEnd(): boolean {
    // As above: the byte stream's own watermarks govern.
    return true;
  }

  finish(error: WebSocketError | undefined): void {
    if (this.made !== undefined) this.made.finish(error);
    else this.end ??= { error };
  }
}

function ignore(): void {
  // See DeferredInput.stream.
}
