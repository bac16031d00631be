// The receiving half of permessage-deflate (RFC 7692 §7.2.2): the sections of a compressed message are
// inflated as they arrive and the output is handed on section by section, with backpressure: when the
// application has enough, zlib's output is paused (zlib stops once its small buffer is full) and the
// connection reads nothing more until it flows again, so a message of any inflated size, a decompression
// bomb included, costs a bounded amount of memory. The inflated size is counted against the message limit
// and text is checked as UTF-8 as it comes out.
//
// Sections that arrive while zlib is busy are gathered and inflated together (with the trailer when the
// message ends), one zlib operation at a time, each in a slot of the process-wide zlib limiter that is
// given back while the output waits for the application. The zlib stream is made when the first
// compressed message arrives, and dropped after each message when the peer does not take its context
// over.

import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';

import { CloseCode } from '../protocol/close.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { Utf8Validator } from '../protocol/utf8.js';
import { zlibLimiter, type ZlibLimiter } from './zlib-limiter.js';

/** RFC 7692 §7.2.2: appended to every compressed message before it is inflated. */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** Compressed bytes that may wait for zlib before the connection stops reading. */
export const INFLATE_BATCH = 64 * 1024;
/**
 * Inflated bytes one operation produces before it lets other connections' operations go first, when
 * some wait: 64 KiB of deflate can inflate to 64 MiB, and a bomb must not keep a slot for that long.
 */
export const INFLATE_TURN = 1024 * 1024;

export interface InflaterHandler {
  /** A section of the inflated message. False: the application has enough for now (output pauses). */
  data(section: Buffer): boolean;
  /** The whole message was inflated and handed on. */
  messageEnd(): void;
  /** Not valid deflate data (1007), not valid UTF-8 (1007), or over the size limit (1009). */
  fail(violation: ProtocolError): void;
  /**
   * The inflater takes input again: what waited went to zlib, or the message's end was handed on.
   * Never called from within write() or end().
   */
  drained(): void;
}

export interface InflaterOptions {
  /** The peer's LZ77 window, in bits (8–15). */
  windowBits: number;
  /** The peer resets its context after each message: so does the inflater (and frees its memory). */
  noContextTakeover: boolean;
  /** Largest inflated message, in bytes. */
  maxMessageSize: number;
}

export class MessageInflater {
  private stream: zlib.InflateRaw | undefined;
  /** Bytes given to the current zlib stream; zlib's bytesWritten falls behind once its stream ended. */
  private streamFed = 0;
  /** The deflate stream ended (a block with BFINAL): what follows in this message is ignored. */
  private streamEnded = false;
  /** Compressed sections waiting for zlib, in order. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The message's payload is complete: the trailer goes in with the last sections. */
  private ending = false;
  /** From end() until the message's end was handed on: input stays held. */
  private finishing = false;
  /** A zlib operation is running. */
  private busy = false;
  /** The slot of the limiter held by the running operation. */
  private holdingSlot = false;
  /** The application has enough: no operation starts, zlib's output waits. */
  private outputPaused = false;
  /** The running operation gave its slot to others and waits for one again (zlib's output waits). */
  private yielding = false;
  /** Inflated bytes since the running operation took its slot. */
  private turnBytes = 0;
  /** The message's last operation completed; the end is reported once its output has been handed on. */
  private endPending = false;
  /** write() said no: drained() is owed once input is taken again. */
  private full = false;
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

  /**
   * A section of the message's compressed payload (a view of received bytes). False: enough waits for
   * zlib; the connection should read no further until drained().
   */
  write(section: Buffer): boolean {
    if (section.length > 0) {
      this.pending.push(section);
      this.pendingBytes += section.length;
      this.pump();
    }
    if (this.pendingBytes < INFLATE_BATCH) return true;
    this.full = true;
    return false;
  }

  /**
   * The message's payload is complete: messageEnd() follows its output, then drained(). The connection
   * reads no further meanwhile.
   */
  end(): void {
    this.ending = true;
    this.finishing = true;
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
    if (!this.yielding) this.stream?.resume();
    this.pump();
  }

  /** The connection is over (or takes no more data): zlib's memory goes now, and nothing is reported. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.releaseSlot();
    this.dropStream();
  }

  /** Starts the next zlib operation with everything that waits, if it may start. */
  private pump(): void {
    if (this.busy || this.outputPaused || this.yielding || this.closed || this.endPending) return;
    if (this.pendingBytes === 0 && !this.ending) return;
    const final = this.ending;
    const sections = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.ending = false;
    this.busy = true;
    if (this.streamEnded || (final && this.fedBytes === 0 && sections.length === 0)) {
      // After a final block the deflate stream is over: the rest of the message means nothing. And an
      // empty compressed message is not fed at all: the trailer alone is no complete block (RFC 7692
      // §7.2.3.6 compresses an empty message to 0x00), and would leave the context half-read.
      process.nextTick(() => {
        this.completed(final);
      });
      return;
    }
    if (final) sections.push(TRAILER);
    // One zlib write of what waited: at most INFLATE_BATCH bytes plus the section that passed it (write()
    // asks the connection to stop reading there), never a whole message.
    const input = sections.length === 1 ? sections[0]! : Buffer.concat(sections);
    this.limiter.acquire(() => {
      if (this.closed || this.outputPaused) {
        // Closed, or the application has enough since the operation queued for its slot: it waits.
        this.limiter.release();
        this.busy = false;
        if (!this.closed) this.requeue(final ? sections.slice(0, -1) : sections, final);
        return;
      }
      this.holdingSlot = true;
      this.turnBytes = 0;
      const stream = this.inflaterStream();
      this.fedBytes += input.length;
      this.streamFed += input.length;
      stream.write(input, () => {
        this.releaseSlot();
        if (this.closed) return;
        // zlib stops taking input at the end of a final block; the rest is not part of the stream.
        if (stream.bytesWritten < this.streamFed) this.streamEnded = true;
        this.completed(final);
      });
    });
  }

  /** Puts an operation that could not start back in front of what arrived since. */
  private requeue(sections: Buffer[], final: boolean): void {
    this.pending = [...sections, ...this.pending];
    this.pendingBytes = this.pending.reduce((sum, section) => sum + section.length, 0);
    this.ending ||= final;
  }

  private completed(final: boolean): void {
    this.busy = false;
    if (final) {
      this.endPending = true;
      this.finishIfDelivered();
      return;
    }
    this.pump();
    this.signalDrained();
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
    this.finishing = false;
    this.handler.messageEnd();
    this.full = true;
    this.signalDrained();
  }

  private signalDrained(): void {
    if (this.closed || this.finishing || !this.full || this.pendingBytes >= INFLATE_BATCH) return;
    this.full = false;
    this.handler.drained();
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

  /** Frees zlib's memory; the next compressed message starts a new stream. */
  private dropStream(): void {
    this.stream?.close();
    this.stream = undefined;
    this.streamFed = 0;
    this.streamEnded = false;
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
    this.turnBytes += section.length;
    if (this.turnBytes >= INFLATE_TURN && this.holdingSlot && this.limiter.isWanted) this.yieldSlot();
    this.finishIfDelivered();
  }

  /** Lets the operations that wait for a slot go first; zlib's output waits until a slot is back. */
  private yieldSlot(): void {
    this.yielding = true;
    this.stream?.pause();
    this.releaseSlot();
    this.limiter.acquire(() => {
      this.yielding = false;
      if (this.closed || !this.busy) {
        // Closed, or the operation completed meanwhile (its rest fitted in zlib's buffer).
        this.limiter.release();
        this.pump();
        return;
      }
      this.holdingSlot = true;
      this.turnBytes = 0;
      if (!this.outputPaused) this.stream?.resume();
    });
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
