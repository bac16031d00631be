// The receiving half of permessage-deflate (RFC 7692 §7.2.2): the sections of a compressed message are
// inflated as they arrive and the output is handed on section by section, with backpressure: when the
// application has enough, zlib's output is paused (zlib stops once its small buffer is full) and the
// connection reads nothing more until it flows again, so a message of any inflated size, a decompression
// bomb included, costs a bounded amount of memory. The inflated size is counted against the message limit
// and text is checked as UTF-8 as it comes out. One section is inflated at a time, in a slot of the
// process-wide zlib limiter that is given back while the output waits for the application. The zlib
// stream is made when the first compressed message arrives, and dropped after each message when the peer
// does not take its context over.

import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';

import { CloseCode } from '../protocol/close.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { Utf8Validator } from '../protocol/utf8.js';
import { zlibLimiter, type ZlibLimiter } from './zlib-limiter.js';

/** RFC 7692 §7.2.2: appended to every compressed message before it is inflated. */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export interface InflaterHandler {
  /** A section of the inflated message. False: the application has enough for now (output pauses). */
  data(section: Buffer): boolean;
  /** The whole message was inflated and handed on. */
  messageEnd(): void;
  /** Not valid deflate data (1007), not valid UTF-8 (1007), or over the size limit (1009). */
  fail(violation: ProtocolError): void;
  /** Every section given so far was inflated: the connection may read on. */
  idle(): void;
}

export interface InflaterOptions {
  /** The peer's LZ77 window, in bits (8–15). */
  windowBits: number;
  /** The peer resets its context after each message: so does the inflater (and frees its memory). */
  noContextTakeover: boolean;
  /** Largest inflated message, in bytes. */
  maxMessageSize: number;
}

type Operation = { kind: 'data'; input: Buffer } | { kind: 'end' };

export class MessageInflater {
  private stream: zlib.InflateRaw | undefined;
  /** Bytes given to the current zlib stream; zlib's bytesWritten falls behind once its stream ended. */
  private streamFed = 0;
  /** The deflate stream ended (a block with BFINAL): what follows in this message is ignored. */
  private streamEnded = false;
  private readonly queue: Operation[] = [];
  /** An operation was handed to zlib and has not completed. */
  private busy = false;
  /** The slot of the limiter held by the running operation. */
  private holdingSlot = false;
  /** The application has enough: no operation starts, zlib's output waits. */
  private outputPaused = false;
  /** The message's last operation completed; the end is reported once its output has been handed on. */
  private endPending = false;
  private closed = false;
  private utf8: Utf8Validator | undefined;
  private inflatedBytes = 0;
  /** Compressed bytes of this message given to zlib (an empty compressed message gives none). */
  private fedBytes = 0;

  constructor(
    private readonly handler: InflaterHandler,
    private readonly options: InflaterOptions,
    private readonly limiter: ZlibLimiter = zlibLimiter,
  ) {}

  /** A compressed message begins; a text message is checked as UTF-8 once inflated. */
  startMessage(isText: boolean): void {
    this.utf8 = isText ? new Utf8Validator() : undefined;
    this.inflatedBytes = 0;
    this.fedBytes = 0;
  }

  /** A section of the message's compressed payload (a view of received bytes). */
  write(section: Buffer): void {
    if (section.length === 0) return;
    this.queue.push({ kind: 'data', input: section });
    this.pump();
  }

  /** The message's payload is complete: the trailer goes in, and messageEnd() follows its output. */
  end(): void {
    this.queue.push({ kind: 'end' });
    this.pump();
  }

  pauseOutput(): void {
    if (this.outputPaused) return;
    this.outputPaused = true;
    this.stream?.pause();
    // What zlib still does for the running operation stops at its small buffer; the slot is not held
    // for as long as the application keeps the output waiting.
    this.releaseSlot();
  }

  resumeOutput(): void {
    if (!this.outputPaused || this.closed) return;
    this.outputPaused = false;
    this.stream?.resume();
    this.pump();
  }

  /** The connection is over (or takes no more data): zlib's memory goes now, and nothing is reported. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.releaseSlot();
    this.dropStream();
  }

  /** Frees zlib's memory; the next compressed message starts a new stream. */
  private dropStream(): void {
    this.stream?.close();
    this.stream = undefined;
    this.streamFed = 0;
    this.streamEnded = false;
  }

  private pump(): void {
    if (this.busy || this.outputPaused || this.closed || this.endPending) return;
    const operation = this.queue.shift();
    if (operation === undefined) return;
    this.busy = true;
    if (operation.kind === 'end' && this.fedBytes === 0) {
      // An empty compressed message: the trailer alone is no complete deflate block (RFC 7692 §7.2.3.6
      // compresses an empty message to 0x00), so it is not fed, lest it leave the context half-read.
      process.nextTick(() => {
        this.completed(operation);
      });
      return;
    }
    if (this.streamEnded) {
      // After a final block the deflate stream is over: the rest of the message means nothing.
      process.nextTick(() => {
        this.completed(operation);
      });
      return;
    }
    this.limiter.acquire(() => {
      if (this.closed || this.outputPaused) {
        // Closed, or the application has enough since the operation queued for its slot: it waits.
        this.limiter.release();
        this.busy = false;
        this.queue.unshift(operation);
        return;
      }
      this.holdingSlot = true;
      const input = operation.kind === 'data' ? operation.input : TRAILER;
      const stream = this.inflaterStream();
      this.fedBytes += input.length;
      this.streamFed += input.length;
      stream.write(input, () => {
        this.releaseSlot();
        if (this.closed) return;
        // zlib stops taking input at the end of a final block; the rest is not part of the stream.
        if (stream.bytesWritten < this.streamFed) this.streamEnded = true;
        this.completed(operation);
      });
    });
  }

  private completed(operation: Operation): void {
    this.busy = false;
    if (operation.kind === 'end') {
      this.endPending = true;
      this.finishIfDelivered();
      return;
    }
    this.next();
  }

  /** The next operation, or the news that there is none. */
  private next(): void {
    if (this.closed) return;
    if (this.queue.length > 0) this.pump();
    else this.handler.idle();
  }

  /** The end of the message is reported once zlib holds no more of its output. */
  private finishIfDelivered(): void {
    if (this.closed || !this.endPending || (this.stream?.readableLength ?? 0) > 0) return;
    this.endPending = false;
    if (this.utf8 !== undefined && !this.utf8.end()) {
      this.violation(CloseCode.InvalidPayload, 'text message ends inside a UTF-8 sequence');
      return;
    }
    if (this.options.noContextTakeover || this.streamEnded) this.dropStream();
    this.handler.messageEnd();
    this.next();
  }

  private inflaterStream(): zlib.InflateRaw {
    if (this.stream !== undefined) return this.stream;
    const stream = zlib.createInflateRaw({ windowBits: this.options.windowBits });
    stream.on('data', (section: Buffer) => {
      this.output(section);
    });
    stream.on('error', (error: Error) => {
      this.violation(
        CloseCode.InvalidPayload,
        `the compressed data is not valid deflate data: ${error.message}`,
      );
    });
    if (this.outputPaused) stream.pause();
    this.stream = stream;
    return stream;
  }

  private output(section: Buffer): void {
    if (this.closed) return;
    this.inflatedBytes += section.length;
    if (this.inflatedBytes > this.options.maxMessageSize) {
      this.violation(
        CloseCode.MessageTooBig,
        `a message inflating past the limit of ${this.options.maxMessageSize} bytes`,
      );
      return;
    }
    if (this.utf8 !== undefined && !this.utf8.write(section)) {
      this.violation(CloseCode.InvalidPayload, 'text message is not valid UTF-8');
      return;
    }
    if (!this.handler.data(section)) this.pauseOutput();
    this.finishIfDelivered();
  }

  private violation(code: CloseCode, reason: string): void {
    if (this.closed) return;
    this.close();
    this.handler.fail(new ProtocolError(code, reason));
  }

  private releaseSlot(): void {
    if (!this.holdingSlot) return;
    this.holdingSlot = false;
    this.limiter.release();
  }
}
