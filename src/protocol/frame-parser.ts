// Incremental RFC 6455 frame parser: bytes in, message events out. Payload sections are views of the
// received chunks, unmasked in place; nothing is ever joined. Every §5 rule is enforced as it arrives,
// and a violation is thrown as a ProtocolError carrying the close code to send. A handler may suspend
// parsing (while it works on what it was given): the input keeps its place until resume().

import { Buffer } from 'node:buffer';

import { CloseCode, decodeClosePayload } from './close.js';
import { applyMask } from './mask.js';
import { isControlOpcode, isKnownOpcode, Opcode, type DataOpcode } from './opcodes.js';
import { ProtocolError } from './protocol-error.js';
import { Utf8Validator } from './utf8.js';

export interface FrameHeader {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  payloadLength: number;
}

/** What the parser reports. Sections handed to onMessageData are views that stay valid. */
export interface FrameParserHandler {
  /** Every frame's header, once it is validated (optional: for tools and tests). */
  onFrameHeader?(header: FrameHeader): void;
  onMessageStart(opcode: DataOpcode, compressed: boolean): void;
  onMessageData(section: Buffer): void;
  /** Called after the last section of each frame; `final` is true at the end of the message. */
  onFrameEnd?(final: boolean): void;
  onMessageEnd(): void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /** A valid close frame: code 1005 (NoStatusReceived) when it carried none. Parsing stops after it. */
  onClose(code: number, reason: string): void;
}

export interface FrameParserOptions {
  /** A server reads masked frames from clients; a client reads unmasked frames from servers (§5.1). */
  role: 'client' | 'server';
  /**
   * Largest message accepted, in bytes (1009 beyond it). Default: unlimited. A compressed message is
   * not counted here: its size is what it inflates to, which the layer that inflates it counts.
   */
  maxMessageSize?: number;
  /** RSV1 is allowed on the first frame of a data message (permessage-deflate negotiated). */
  allowRsv1?: boolean;
  /** Validate text messages as UTF-8 (1007). Default true; off only when an upper layer validates. */
  validateUtf8?: boolean;
}

const enum State {
  Header,
  Payload,
  Closed,
  Failed,
}

const MAX_HEADER_LENGTH = 14;
const MAX_CONTROL_PAYLOAD = 125;

export class FrameParser {
  private readonly handler: FrameParserHandler;
  private readonly expectMasked: boolean;
  private readonly maxMessageSize: number;
  private readonly allowRsv1: boolean;
  private readonly validateUtf8: boolean;

  private state = State.Header;
  private failure: ProtocolError | undefined;
  /** A handler asked to wait: input is kept, in order, until resume(). */
  private suspended = false;
  /** Input that waits while suspended (made when first needed). */
  private backlog: Buffer[] | undefined;

  // A header that arrived split over chunks is gathered here (made when first needed, as is maskKey:
  // an idle connection should cost little).
  private headerBytes: Buffer | undefined;
  private headerHave = 0;

  // The frame being read.
  private opcode = 0;
  private fin = false;
  private maskKey: Buffer | undefined;
  private masked = false;
  private payloadLength = 0;
  private payloadRemaining = 0;
  private payloadRead = 0;
  // A control frame's payload split over chunks (at most 125 bytes) is gathered here.
  private controlPayload: Buffer | undefined;

  // The data message being read.
  private messageOpen = false;
  private messageCompressed = false;
  private messageNeedsUtf8Check = false;
  private messageLength = 0;
  /** Made at the first text message checked: a connection that sends none does without it. */
  private utf8: Utf8Validator | undefined;

  constructor(handler: FrameParserHandler, options: FrameParserOptions) {
    this.handler = handler;
    this.expectMasked = options.role === 'server';
    this.maxMessageSize = options.maxMessageSize ?? Infinity;
    this.allowRsv1 = options.allowRsv1 ?? false;
    this.validateUtf8 = options.validateUtf8 ?? true;
  }

  /** True once a close frame was read: the rest of the input is not parsed (§5.5.1). */
  get isClosed(): boolean {
    return this.state === State.Closed;
  }

  /** True while a data message has started and not yet ended. */
  get isInMessage(): boolean {
    return this.messageOpen;
  }

  /**
   * Parses the next chunk of input. Throws a ProtocolError on the first violation; from then on every
   * call throws the same error. The chunk's payload bytes are unmasked in place.
   */
  push(chunk: Buffer): void {
    if (this.state === State.Failed) throw this.failure!;
    if (this.suspended || this.backlog?.length) {
      (this.backlog ??= []).push(chunk);
      return;
    }
    this.parseGuarded(chunk);
  }

  /** Stops parsing: later input is ignored (the connection is going away). */
  stop(): void {
    if (this.state !== State.Failed) this.state = State.Closed;
    this.backlog = undefined;
  }

  /**
   * Called from a handler: parsing stops after the current step (the section being handed over, and the
   * end of its frame), and the rest of the input waits until resume().
   */
  suspend(): void {
    this.suspended = true;
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  /** Parses the input that waited; throws like push(). */
  resume(): void {
    this.suspended = false;
    while (!this.isSuspended && this.backlog?.length) {
      if (this.state === State.Failed) throw this.failure!;
      this.parseGuarded(this.backlog.shift()!);
    }
  }

  private parseGuarded(chunk: Buffer): void {
    try {
      this.parse(chunk);
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.state = State.Failed;
        this.failure = error;
        this.backlog = undefined;
      }
      throw error;
    }
  }

  private parse(chunk: Buffer): void {
    const length = chunk.length;
    let position = 0;
    while (position < length || (this.state === State.Payload && this.payloadRemaining === 0)) {
      if (this.suspended) {
        if (position < length) (this.backlog ??= []).unshift(chunk.subarray(position));
        return;
      }
      if (this.state === State.Header) {
        position = this.readHeader(chunk, position);
      } else if (this.state === State.Payload) {
        position = this.readPayload(chunk, position);
      } else {
        return;
      }
    }
  }

  /** Consumes header bytes; moves to Payload once a whole header is read. */
  private readHeader(chunk: Buffer, position: number): number {
    if (this.headerHave === 0 && chunk.length - position >= 2) {
      const needed = headerLength(chunk[position + 1]!);
      if (chunk.length - position >= needed) {
        this.decodeHeader(chunk, position);
        return position + needed;
      }
    }
    // A header split over chunks: gather it, checking the first two bytes as soon as they are here.
    const gathered = (this.headerBytes ??= Buffer.allocUnsafe(MAX_HEADER_LENGTH));
    let index = position;
    while (index < chunk.length) {
      gathered[this.headerHave++] = chunk[index++]!;
      if (this.headerHave < 2) continue;
      if (this.headerHave === 2) this.checkFirstTwoBytes(gathered[0]!, gathered[1]!);
      if (this.headerHave === headerLength(gathered[1]!)) {
        this.headerHave = 0;
        this.decodeHeader(gathered, 0);
        break;
      }
    }
    return index;
  }

  /** The rules that the first two bytes alone decide, checked before waiting for the rest (§5.2). */
  private checkFirstTwoBytes(byte0: number, byte1: number): void {
    const opcode = byte0 & 0x0f;
    const fin = (byte0 & 0x80) !== 0;
    if ((byte0 & 0x30) !== 0) throw protocolError('RSV2 or RSV3 set without a negotiated extension');
    if (!isKnownOpcode(opcode)) throw protocolError(`reserved opcode 0x${opcode.toString(16)}`);
    const rsv1 = (byte0 & 0x40) !== 0;
    if (isControlOpcode(opcode)) {
      if (rsv1) throw protocolError('RSV1 set on a control frame');
      if (!fin) throw protocolError('fragmented control frame');
      if ((byte1 & 0x7f) > MAX_CONTROL_PAYLOAD) throw protocolError('control frame payload over 125 bytes');
    } else if (opcode === Opcode.Continuation) {
      if (!this.messageOpen) throw protocolError('continuation frame with no message open');
      if (rsv1) throw protocolError('RSV1 set on a continuation frame');
    } else {
      if (this.messageOpen) throw protocolError('new data frame inside a fragmented message');
      if (rsv1 && !this.allowRsv1) throw protocolError('RSV1 set without a negotiated extension');
    }
    const masked = (byte1 & 0x80) !== 0;
    if (masked !== this.expectMasked) {
      throw protocolError(this.expectMasked ? 'unmasked frame from a client' : 'masked frame from a server');
    }
  }

  private decodeHeader(source: Buffer, offset: number): void {
    const byte0 = source[offset]!;
    const byte1 = source[offset + 1]!;
    this.checkFirstTwoBytes(byte0, byte1);
    let payloadLength = byte1 & 0x7f;
    let position = offset + 2;
    if (payloadLength === 126) {
      payloadLength = source.readUInt16BE(position);
      position += 2;
    } else if (payloadLength === 127) {
      const high = source.readUInt32BE(position);
      if (high >= 0x8000_0000) throw protocolError('64-bit payload length with the most significant bit set');
      if (high > 0x1f_ffff) throw tooBig('a frame longer than 2^53 bytes');
      payloadLength = high * 0x1_0000_0000 + source.readUInt32BE(position + 4);
      position += 8;
    }
    this.masked = (byte1 & 0x80) !== 0;
    if (this.masked) {
      // Byte by byte: Buffer.copy's argument handling costs more than four bytes (once per frame).
      const key = (this.maskKey ??= Buffer.allocUnsafe(4));
      key[0] = source[position]!;
      key[1] = source[position + 1]!;
      key[2] = source[position + 2]!;
      key[3] = source[position + 3]!;
    }
    this.opcode = byte0 & 0x0f;
    this.fin = (byte0 & 0x80) !== 0;
    this.payloadLength = payloadLength;
    this.payloadRemaining = payloadLength;
    this.payloadRead = 0;
    this.state = State.Payload;
    const rsv1 = (byte0 & 0x40) !== 0;

    this.handler.onFrameHeader?.({
      fin: this.fin,
      rsv1,
      opcode: this.opcode,
      masked: this.masked,
      payloadLength,
    });

    if (isControlOpcode(this.opcode)) {
      this.controlPayload = undefined;
    } else {
      if (this.opcode !== Opcode.Continuation) this.messageCompressed = rsv1;
      if (!this.messageCompressed && this.messageLength + payloadLength > this.maxMessageSize) {
        throw tooBig(`a message over the limit of ${this.maxMessageSize} bytes`);
      }
      this.messageLength += payloadLength;
      if (this.opcode !== Opcode.Continuation) {
        this.messageOpen = true;
        // A compressed message is validated by the layer that inflates it.
        this.messageNeedsUtf8Check = this.opcode === Opcode.Text && this.validateUtf8 && !rsv1;
        this.handler.onMessageStart(this.opcode as DataOpcode, rsv1);
      }
    }
  }

  private readPayload(chunk: Buffer, position: number): number {
    const take = Math.min(this.payloadRemaining, chunk.length - position);
    if (take > 0) {
      const section = chunk.subarray(position, position + take);
      if (this.masked) applyMask(section, this.maskKey!, this.payloadRead);
      if (isControlOpcode(this.opcode)) {
        this.gatherControlPayload(section);
      } else {
        if (this.messageNeedsUtf8Check && !(this.utf8 ??= new Utf8Validator()).write(section)) {
          throw invalidUtf8('text message is not valid UTF-8');
        }
        this.handler.onMessageData(section);
        // The handler may have stopped the parser.
        if (this.state !== State.Payload) return chunk.length;
      }
      this.payloadRead += take;
      this.payloadRemaining -= take;
    }
    if (this.payloadRemaining === 0) this.endFrame();
    return position + take;
  }

  /** A control payload in one section is passed on as a view; a split one is copied together. */
  private gatherControlPayload(section: Buffer): void {
    if (section.length === this.payloadLength) {
      this.controlPayload = section;
      return;
    }
    this.controlPayload ??= Buffer.allocUnsafe(this.payloadLength);
    section.copy(this.controlPayload, this.payloadRead);
  }

  private endFrame(): void {
    this.state = State.Header;
    if (isControlOpcode(this.opcode)) {
      const payload = this.controlPayload ?? Buffer.alloc(0);
      this.controlPayload = undefined;
      this.dispatchControl(payload);
      return;
    }
    this.handler.onFrameEnd?.(this.fin);
    if (!this.fin) return;
    if (this.messageNeedsUtf8Check && !(this.utf8 ??= new Utf8Validator()).end()) {
      throw invalidUtf8('text message ends inside a UTF-8 sequence');
    }
    this.messageOpen = false;
    this.messageLength = 0;
    this.handler.onMessageEnd();
  }

  private dispatchControl(payload: Buffer): void {
    switch (this.opcode) {
      case Opcode.Ping:
        this.handler.onPing(payload);
        return;
      case Opcode.Pong:
        this.handler.onPong(payload);
        return;
      default: {
        const { code, reason } = decodeClosePayload(payload);
        this.state = State.Closed;
        this.handler.onClose(code, reason);
      }
    }
  }
}

/** Length of a header whose second byte is byte1: 2, plus the extended length, plus the key. */
function headerLength(byte1: number): number {
  const lengthField = byte1 & 0x7f;
  const extended = lengthField === 126 ? 2 : lengthField === 127 ? 8 : 0;
  return 2 + extended + ((byte1 & 0x80) !== 0 ? 4 : 0);
}

function protocolError(message: string): ProtocolError {
  return new ProtocolError(CloseCode.ProtocolError, message);
}

function invalidUtf8(message: string): ProtocolError {
  return new ProtocolError(CloseCode.InvalidPayload, message);
}

function tooBig(message: string): ProtocolError {
  return new ProtocolError(CloseCode.MessageTooBig, message);
}
