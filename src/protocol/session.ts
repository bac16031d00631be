// The state of one WebSocket connection, sans I/O (RFC 6455 §5–§7): bytes in, message events and frames
// out. It answers pings, sequences the fragments of outgoing messages, runs the closing handshake (who
// sent which close frame, what is echoed, when the TCP connection may end, §7.1.1) and fails the
// connection with the right code on a violation. With permessage-deflate negotiated (RFC 7692) it
// accepts RSV1 on the first frame of a message and marks the first frame of a compressed message it
// sends; the compression itself is the driver's. No sockets, timers or streams: the driver in
// connection/ feeds it bytes and writes the frames it hands out.

import type { Buffer } from 'node:buffer';

import { CloseCode, encodeClosePayload, truncateReason, type CloseFrame } from './close.js';
import { FrameParser, type FrameParserHandler } from './frame-parser.js';
import { FragmentSequence } from './frame-writer.js';
import { Opcode, type DataOpcode } from './opcodes.js';
import { ProtocolError } from './protocol-error.js';

/** What the session reports to its driver. */
export interface SessionHandler {
  /** `compressed`: RSV1 was set (permessage-deflate); the payload is to be inflated. */
  onMessageStart(opcode: DataOpcode, compressed: boolean): void;
  /** A section of the current message: a view of the received chunk, unmasked in place. */
  onMessageData(section: Buffer): void;
  onMessageEnd(): void;
  /**
   * The peer's close frame arrived; nothing more is read. `midMessage`: it cut a message short. The
   * application may still answer it (answerClose); the driver decides when.
   */
  onCloseReceived(frame: CloseFrame, midMessage: boolean): void;
  /**
   * The peer broke the protocol; nothing more is read. The driver fails the connection with fail() when
   * it chooses (after letting the application answer what arrived before the violation).
   */
  onViolation(violation: ProtocolError): void;
}

/**
 * Hands a frame to the driver to write, in order. The driver's return value is passed back to the caller
 * of the method that produced the frame (a write path uses it to learn when the payload was taken).
 * `rsv1` marks the first frame of a compressed message.
 */
export interface FrameWriter<Taken> {
  writeFrame(opcode: Opcode, fin: boolean, payload: Buffer, rsv1: boolean): Taken;
}

export interface SessionOptions {
  role: 'client' | 'server';
  /**
   * Largest message accepted, in bytes (1009 beyond it). Default: unlimited. Compressed messages are
   * counted by the driver, as they inflate.
   */
  maxMessageSize?: number;
  /** permessage-deflate was negotiated: RSV1 marks compressed messages both ways. */
  perMessageDeflate?: boolean;
}

/** A data frame cannot be sent in this state (a close frame was sent, or no message is open). */
export class SessionStateError extends Error {
  override readonly name = 'SessionStateError';
}

export class WebSocketSession<Taken = void> implements FrameParserHandler {
  readonly role: 'client' | 'server';
  private readonly parser: FrameParser;
  private sent: CloseFrame | undefined;
  private received: CloseFrame | undefined;
  private violation: ProtocolError | undefined;
  private outgoing: FragmentSequence | undefined;
  private readonly compression: boolean;
  private peerEnded = false;
  /** fail() was called: by a violation of the peer, or by the driver for a limit of its own. */
  private failed = false;

  constructor(
    options: SessionOptions,
    private readonly handler: SessionHandler,
    private readonly output: FrameWriter<Taken>,
  ) {
    this.role = options.role;
    this.compression = options.perMessageDeflate ?? false;
    this.parser = new FrameParser(this, {
      role: options.role,
      allowRsv1: this.compression,
      ...(options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize }),
    });
  }

  /** The close frame we sent, once we sent one. */
  get closeSent(): CloseFrame | undefined {
    return this.sent;
  }

  /** The peer's close frame, once it arrived. */
  get closeReceived(): CloseFrame | undefined {
    return this.received;
  }

  /** The peer's violation that failed the connection, if one did. */
  get failure(): ProtocolError | undefined {
    return this.violation;
  }

  /** Data frames may still be sent: no close frame went out. */
  get canSend(): boolean {
    return this.sent === undefined;
  }

  /** An outgoing message has started and not yet ended. */
  get isSendingMessage(): boolean {
    return this.outgoing !== undefined;
  }

  /** The peer's close frame arrived and ours has not been sent: an answer is due. */
  get isAnswerDue(): boolean {
    return this.received !== undefined && this.sent === undefined;
  }

  /**
   * May the transport be closed now (§7.1.1)? The server closes TCP once both close frames are
   * exchanged, or after failing the connection; the client waits for the server to do it, unless the
   * server's TCP has ended already.
   */
  get shouldEndTransport(): boolean {
    if (this.sent === undefined) return false;
    if (this.failed || this.violation !== undefined) return true;
    if (this.received === undefined) return false;
    return this.role === 'server' || this.peerEnded;
  }

  // ---- receiving -------------------------------------------------------------------------------------

  /** Parses received bytes; payload is unmasked in place. A violation fails the connection. */
  receive(chunk: Buffer): void {
    if (this.received !== undefined || this.violation !== undefined) return;
    try {
      this.parser.push(chunk);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.failWith(error);
    }
  }

  /** The peer ended its side of TCP. Before its close frame that is a lost connection (the driver's call). */
  receiveEnd(): void {
    this.peerEnded = true;
  }

  /**
   * Called from a handler: nothing more of the input is read (no later frame, control frames included)
   * until resumeInput(); what arrives meanwhile waits in order. The driver inflating a section uses it.
   */
  pauseInput(): void {
    this.parser.suspend();
  }

  /** Reads on where pauseInput() stopped. A violation found there fails the connection as usual. */
  resumeInput(): void {
    try {
      this.parser.resume();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.failWith(error);
    }
  }

  onMessageStart(opcode: DataOpcode, compressed: boolean): void {
    this.handler.onMessageStart(opcode, compressed);
  }

  onMessageData(section: Buffer): void {
    this.handler.onMessageData(section);
  }

  onMessageEnd(): void {
    this.handler.onMessageEnd();
  }

  onPing(payload: Buffer): void {
    // §5.5.2: answered with the same payload, unless our close frame has gone out.
    if (this.sent === undefined) this.output.writeFrame(Opcode.Pong, true, payload, false);
  }

  onPong(): void {
    // An unsolicited pong is a heartbeat (§5.5.3); an answer to our ping needs no action here.
  }

  onClose(code: number, reason: string): void {
    this.received = { code, reason };
    this.handler.onCloseReceived(this.received, this.parser.isInMessage);
  }

  // ---- sending ---------------------------------------------------------------------------------------

  /**
   * Sends a frame of a data message: the first frame of a message carries `opcode`, the next ones are
   * continuations, `fin` ends the message. `compressed` (read at the first frame, permessage-deflate
   * only) sets RSV1 on that frame: the payload of every frame of the message is then compressed data.
   * Throws SessionStateError after our close frame, or for compression that was not negotiated.
   */
  send(opcode: DataOpcode, fin: boolean, payload: Buffer, compressed = false): Taken {
    if (this.sent !== undefined)
      throw new SessionStateError('a close frame was sent: no more data may follow');
    const first = this.outgoing === undefined;
    if (first && compressed && !this.compression) {
      throw new SessionStateError('permessage-deflate was not negotiated: a message cannot be compressed');
    }
    const sequence = (this.outgoing ??= new FragmentSequence(opcode));
    const wireOpcode = sequence.next(fin);
    if (fin) this.outgoing = undefined;
    return this.output.writeFrame(wireOpcode, fin, payload, first && compressed);
  }

  ping(payload: Buffer): void {
    if (this.sent === undefined) this.output.writeFrame(Opcode.Ping, true, payload, false);
  }

  /** An unsolicited pong: a one-way heartbeat (§5.5.3). */
  pong(payload: Buffer): void {
    if (this.sent === undefined) this.output.writeFrame(Opcode.Pong, true, payload, false);
  }

  /**
   * Sends our close frame (once): starts the closing handshake, or answers the peer's. Without a code
   * the frame is empty. The caller has checked the code and the reason's length.
   */
  close(code?: number, reason = ''): void {
    if (this.sent !== undefined) return;
    this.sent = { code: code ?? CloseCode.NoStatusReceived, reason: code === undefined ? '' : reason };
    this.outgoing = undefined;
    this.output.writeFrame(Opcode.Close, true, encodeClosePayload(code, this.sent.reason), false);
  }

  /** Echoes the peer's close code (§5.5.1); a close frame without a code is answered without one. */
  answerClose(): void {
    const code = this.received?.code;
    this.close(code === undefined || code === CloseCode.NoStatusReceived ? undefined : code);
  }

  /** Fails the connection (§7.1.7): our close frame carries the code and a reason cut to fit. */
  fail(code: number, reason: string): void {
    // The parser stops, so the peer's close frame will never be read: the transport must not wait for it.
    this.failed = true;
    this.parser.stop();
    this.close(code, truncateReason(reason));
  }

  private failWith(violation: ProtocolError): void {
    this.violation = violation;
    this.parser.stop();
    this.handler.onViolation(violation);
  }
}
