// A socket's streams made on first use: an idle connection holds neither a Readable nor a Writable.
// Until the InputStream is asked for, the end of reading (or the first data, which makes it) waits in a
// small sink; until the output stream is, how to bind it (or why it is over) is all there is.

import type { Buffer } from 'node:buffer';

import type { IncomingSink, ReadControl } from '../connection/incoming-sink.js';
import type { WebSocketError } from '../errors.js';
import { InputStream } from './input-stream.js';
import type { OutputStream } from './output-stream.js';

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

/** An output stream made when asked for, then bound to the connection (or failed) as the socket is. */
export class DeferredOutput<Stream extends OutputStream> {
  private made: Stream | undefined;
  private binder: ((stream: Stream) => void) | undefined;
  /** Why the stream is over before it was made (a socket that never connected). */
  private failure: WebSocketError | undefined;

  constructor(private readonly create: () => Stream) {}

  get stream(): Stream {
    if (this.made === undefined) {
      const stream = this.create();
      // Failures reach writers through their calls and 'closed'; never as an unhandled 'error'.
      stream.on('error', ignore);
      this.made = stream;
      if (this.binder !== undefined) this.binder(stream);
      else if (this.failure !== undefined) stream.destroy(this.failure);
    }
    return this.made;
  }

  /** The stream, if it was made. */
  get madeStream(): Stream | undefined {
    return this.made;
  }

  /** The connection is open: `binder` connects the stream to it, now or when the stream is made. */
  bind(binder: (stream: Stream) => void): void {
    this.binder = binder;
    if (this.made !== undefined) binder(this.made);
  }

  /** The socket never connected: the stream fails with `error`, now or when it is made. */
  fail(error: WebSocketError): void {
    this.failure ??= error;
    this.made?.destroy(error);
  }
}

function ignore(): void {
  // See the streams' getters.
}
