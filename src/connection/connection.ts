// One open WebSocket over one duplex socket: the only code that reads or writes it. Received frames go
// to an InboundSink with backpressure down to TCP; outgoing messages become frames with backpressure
// from the socket; pings are answered, unsolicited pongs sent; the closing handshake is carried out.

import { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';

import {
  closedError,
  connectionLost,
  operationCanceled,
  toWebSocketError,
  type WebSocketError,
} from '../errors.js';
import { CloseCode, encodeClosePayload, truncateReason } from '../protocol/close.js';
import { FrameParser, type FrameParserHandler } from '../protocol/frame-parser.js';
import { frameHeaderLength, writeFrameHeader, type FragmentSequence } from '../protocol/frame-writer.js';
import { maskInto } from '../protocol/mask.js';
import { nextMaskKey } from '../protocol/mask-keys.js';
import { Opcode, type DataOpcode } from '../protocol/opcodes.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { BandwidthMeter } from './bandwidth-meter.js';
import { FrameBufferPool } from './frame-buffer-pool.js';
import { onKeepAliveTick } from './keep-alive-clock.js';
import type { InboundSink, ReadResumer } from './inbound-sink.js';
import { SectionBatcher } from './section-batcher.js';
import { OutboundMessage, type FrameSender } from './outbound-message.js';

export interface ConnectionOptions {
  role: 'client' | 'server';
  /** Largest message accepted, in bytes (closes with 1009 beyond it). Default: unlimited. */
  maxMessageSize?: number;
  /** How long to wait for the peer's side of the closing handshake, in ms. Default 10 000. */
  closeTimeout?: number;
  /** Interval of unsolicited pongs (a one-way heartbeat), in ms; 0 turns them off. */
  unsolicitedPongInterval?: number;
  /**
   * Keep-alive: after this many ms without input a ping is sent; 0 (the default) sends none. While our
   * own reading is paused by backpressure the peer counts as alive.
   */
  keepAliveInterval?: number;
  /** How long after that ping input must arrive before the connection is declared dead (ms). */
  keepAliveTimeout?: number;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface ConnectionEvents {
  /** Once, when the socket is gone: the peer's close code, ours after a failure, or 1006. */
  closed(info: CloseInfo): void;
}

/**
 * What a socket buffers before writes wait, unless configured otherwise: Node's default (16 KiB) makes a
 * 64 KiB write wait for the kernel each time; a quarter megabyte lets writes queue up and go out together.
 */
export const DEFAULT_OUTBOUND_BUFFER_SIZE = 256 * 1024;
/** Payloads up to this size are copied behind their header and written as one buffer. */
const COALESCE_LIMIT = 16 * 1024;
/** A client masks into copies; a large write is sent as frames of at most this size. */
const MASKED_FRAME_LIMIT = 1024 * 1024;
/** Masked frames from this payload size on are built in pooled buffers (shared by all connections). */
const POOLED_FRAME_PAYLOAD = 64 * 1024;
const MAX_FRAME_HEADER = 14;
/** The key of the frame being written: used up (copied into the header, applied) before writeFrame returns. */
const frameMaskKey = new Uint8Array(4);
const maskedFrameBuffers = new FrameBufferPool(MASKED_FRAME_LIMIT + MAX_FRAME_HEADER, 8);
const DEFAULT_CLOSE_TIMEOUT = 10_000;
const DEFAULT_KEEP_ALIVE_TIMEOUT = 30_000;
const EMPTY = Buffer.alloc(0);
const RESOLVED = Promise.resolve();

export class WebSocketConnection implements FrameParserHandler, FrameSender, ReadResumer {
  readonly meter = new BandwidthMeter();
  private readonly sections = new SectionBatcher((section) => {
    this.deliver(section);
  });

  private readonly socket: Duplex;
  private readonly sink: InboundSink;
  private readonly events: ConnectionEvents;
  private readonly parser: FrameParser;
  private readonly masking: boolean;
  private readonly closeTimeout: number;

  private inboundOpen = true;
  private readingPaused = false;
  private closeSent = false;
  private closeReceived: CloseInfo | undefined;
  private failure: WebSocketError | undefined;
  private socketError: Error | undefined;
  private finished = false;
  private peerEnded = false;
  private closeTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  private stopKeepAlive: (() => void) | undefined;
  /** When input last arrived (or reading was paused by us), for the keep-alive. */
  private lastActivity = performance.now();
  /** A ping that arrived while the socket was full: answered (only the latest) once it drains. */
  private pendingPong: Buffer | undefined;

  private wireOwner: OutboundMessage | undefined;
  private readonly wireQueue: {
    message: OutboundMessage;
    grant: () => void;
    refuse: (error: Error) => void;
  }[] = [];
  private drainWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Frames written in one tick go out together: the socket is corked until the next tick. */
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  constructor(
    socket: Duplex,
    head: Buffer,
    sink: InboundSink,
    events: ConnectionEvents,
    options: ConnectionOptions,
  ) {
    this.socket = socket;
    this.sink = sink;
    this.events = events;
    this.masking = options.role === 'client';
    this.closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.parser = new FrameParser(this, {
      role: options.role,
      ...(options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize }),
    });
    sink.attach(this);

    socket.on('data', (chunk: Buffer) => {
      this.receive(chunk);
    });
    socket.on('drain', () => {
      this.onDrain();
    });
    socket.on('error', (error: Error) => {
      // issue 20 item 1: any socket error ends the connection (1006). Node does not destroy a TLS socket
      // after a bad record or a renegotiation attack (ERR_TLS_SESSION_ATTACK); left open, it hangs.
      this.socketError ??= error;
      this.socket.destroy();
    });
    socket.on('end', () => {
      // The peer's FIN: before its close frame the connection is lost; after it, TCP ends once our close
      // frame is out too.
      this.peerEnded = true;
      if (this.closeReceived === undefined) this.socket.destroy();
      else if (this.closeSent) this.socket.end();
    });
    socket.on('close', () => {
      this.onSocketClosed();
    });
    const pongInterval = options.unsolicitedPongInterval ?? 0;
    if (pongInterval > 0) {
      this.pongTimer = setInterval(() => {
        this.sendControl(Opcode.Pong, EMPTY);
      }, pongInterval);
      this.pongTimer.unref();
    }
    const keepAliveInterval = options.keepAliveInterval ?? 0;
    if (keepAliveInterval > 0) {
      const timeout = options.keepAliveTimeout ?? DEFAULT_KEEP_ALIVE_TIMEOUT;
      this.stopKeepAlive = onKeepAliveTick(keepAliveInterval, () => {
        this.checkAlive(keepAliveInterval, timeout);
      });
    }
    if (head.length > 0) this.receive(head);
  }

  /** Pings a quiet peer; drops one that stayed quiet past the timeout (a half-open connection). */
  private checkAlive(interval: number, timeout: number): void {
    const now = performance.now();
    if (this.closeSent) return;
    if (this.readingPaused) {
      // We are not reading, so no answer can be seen; the pings still go out, and a peer that has
      // vanished makes them fail in the end (the socket errors and the connection ends).
      this.lastActivity = now;
      this.sendControl(Opcode.Ping, EMPTY);
      return;
    }
    const quiet = now - this.lastActivity;
    if (quiet > interval + timeout) {
      this.destroy(connectionLost(`the peer did not answer a ping within ${timeout} ms`));
    } else if (quiet >= interval) {
      this.sendControl(Opcode.Ping, EMPTY);
    }
  }

  /** True until a close frame was sent or the connection failed: data may still be sent. */
  get isWritable(): boolean {
    return !this.closeSent && !this.finished;
  }

  // ---- receiving -------------------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    this.lastActivity = performance.now();
    this.meter.received(chunk.length);
    try {
      this.parser.push(chunk);
      this.sections.flush();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.failWith(error);
    }
  }

  resumeReading(): void {
    if (!this.readingPaused) return;
    this.readingPaused = false;
    this.socket.resume();
  }

  private pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.socket.pause();
  }

  onMessageStart(opcode: DataOpcode): void {
    if (this.inboundOpen) this.sink.messageStart(opcode);
  }

  onMessageData(section: Buffer): void {
    if (this.inboundOpen) this.sections.add(section);
  }

  private deliver(section: Buffer): void {
    if (this.inboundOpen && !this.sink.messageData(section)) this.pauseReading();
  }

  onMessageEnd(): void {
    this.sections.flush();
    if (this.inboundOpen && !this.sink.messageEnd()) this.pauseReading();
  }

  onPing(payload: Buffer): void {
    if (this.closeSent) return;
    if (this.socket.writableNeedDrain) this.pendingPong = Buffer.from(payload);
    else this.sendControl(Opcode.Pong, payload);
  }

  onPong(): void {
    // Unsolicited pongs are heartbeats; there is nothing to answer.
  }

  onClose(code: number, reason: string): void {
    this.closeReceived = { code, reason };
    this.finishInbound(
      this.parser.isInMessage
        ? connectionLost('the peer closed the connection in the middle of a message')
        : undefined,
    );
    // Messages that arrived together with the close frame reach the application asynchronously: give it
    // one turn of the event loop to answer them (an endpoint may finish its current message before its
    // close frame, RFC 6455 §5.5.1), then echo the peer's code and close.
    setImmediate(() => {
      // A close without a code is answered without one.
      if (this.isWritable) this.sendClose(code === CloseCode.NoStatusReceived ? undefined : code, '');
      this.cancelOutbound(closedError('the peer closed the WebSocket'));
      this.endSocketAfterHandshake();
    });
  }

  // ---- sending -----------------------------------------------------------------------------------------

  /** Starts an outgoing message; its fragments go out after the messages opened before it. */
  openMessage(type: DataOpcode): OutboundMessage {
    return new OutboundMessage(this, type);
  }

  /** Sends a whole message; resolves when the socket can take more. */
  sendMessage(type: DataOpcode, payload: Buffer): Promise<void> {
    // Fast path: nothing else owns the wire and the message is one frame, so write it right away.
    if (
      this.wireOwner === undefined &&
      this.isWritable &&
      (!this.masking || payload.length <= MASKED_FRAME_LIMIT)
    ) {
      this.writeFrame(type, true, payload);
      return this.whenDrained();
    }
    return this.openMessage(type).write(payload, true);
  }

  acquireWire(message: OutboundMessage): Promise<void> {
    if (!this.isWritable) return Promise.reject(this.writeRefusal());
    if (this.wireOwner === undefined) {
      this.wireOwner = message;
      return RESOLVED;
    }
    return new Promise((grant, refuse) => {
      this.wireQueue.push({ message, grant, refuse });
    });
  }

  releaseWire(message: OutboundMessage): void {
    if (this.wireOwner !== message) {
      const index = this.wireQueue.findIndex((waiting) => waiting.message === message);
      if (index >= 0) this.wireQueue.splice(index, 1);
      return;
    }
    const next = this.wireQueue.shift();
    this.wireOwner = next?.message;
    next?.grant();
  }

  writeFrames(fragments: FragmentSequence, payload: Buffer, fin: boolean): Promise<void> {
    if (!this.isWritable) return Promise.reject(this.writeRefusal());
    if (!this.masking || payload.length <= MASKED_FRAME_LIMIT) {
      this.writeFrame(fragments.next(fin), fin, payload);
      return this.whenDrained();
    }
    return this.writeMaskedInPieces(fragments, payload, fin);
  }

  /** A large client payload goes out as frames of MASKED_FRAME_LIMIT, waiting for drain between them. */
  private async writeMaskedInPieces(
    fragments: FragmentSequence,
    payload: Buffer,
    fin: boolean,
  ): Promise<void> {
    for (let offset = 0; offset < payload.length; offset += MASKED_FRAME_LIMIT) {
      if (!this.isWritable) throw this.writeRefusal();
      const end = Math.min(offset + MASKED_FRAME_LIMIT, payload.length);
      const last = end === payload.length && fin;
      this.writeFrame(fragments.next(last), last, payload.subarray(offset, end));
      await this.whenDrained();
    }
  }

  /** Writes one whole frame to the socket, masked when we are the client. */
  private writeFrame(opcode: Opcode, fin: boolean, payload: Buffer): void {
    const maskKey = this.masking ? nextMaskKey(frameMaskKey) : undefined;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    const headerLength = frameHeaderLength(payload.length, maskKey !== undefined);
    const frameLength = headerLength + payload.length;
    if (maskKey !== undefined && payload.length >= POOLED_FRAME_PAYLOAD) {
      const buffer = maskedFrameBuffers.take(frameLength);
      writeFrameHeader(buffer, 0, { fin, opcode, payloadLength: payload.length, maskKey });
      maskInto(payload, buffer.subarray(headerLength, frameLength), maskKey);
      this.socket.write(buffer.subarray(0, frameLength), () => {
        maskedFrameBuffers.give(buffer);
      });
    } else if (maskKey !== undefined || payload.length <= COALESCE_LIMIT) {
      const frame = Buffer.allocUnsafe(frameLength);
      writeFrameHeader(frame, 0, { fin, opcode, payloadLength: payload.length, maskKey });
      const body = frame.subarray(headerLength);
      if (maskKey === undefined) body.set(payload);
      else maskInto(payload, body, maskKey);
      this.socket.write(frame);
    } else {
      const header = Buffer.allocUnsafe(headerLength);
      writeFrameHeader(header, 0, { fin, opcode, payloadLength: payload.length });
      this.socket.write(header);
      this.socket.write(payload);
    }
    this.meter.sent(frameLength);
    if (this.socket.writableNeedDrain) this.meter.sendLimited();
  }

  private whenDrained(): Promise<void> {
    if (!this.socket.writableNeedDrain) return RESOLVED;
    return new Promise((resolve, reject) => {
      this.drainWaiters.push({ resolve, reject });
    });
  }

  private onDrain(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.resolve();
    if (this.pendingPong !== undefined && !this.closeSent) {
      const payload = this.pendingPong;
      this.pendingPong = undefined;
      this.sendControl(Opcode.Pong, payload);
    }
  }

  /** Ping and pong, written at once: control frames may sit between the fragments of a message. */
  sendControl(opcode: typeof Opcode.Ping | typeof Opcode.Pong, payload: Buffer): void {
    if (this.closeSent || this.finished) return;
    this.writeFrame(opcode, true, payload);
  }

  private sendClose(code: number | undefined, reason: string): void {
    this.closeSent = true;
    this.writeFrame(Opcode.Close, true, encodeClosePayload(code, reason));
  }

  private writeRefusal(): WebSocketError {
    return this.failure ?? closedError('the WebSocket is closed');
  }

  /** Rejects every message waiting for the wire and every write waiting for drain. */
  private cancelOutbound(error: WebSocketError): void {
    for (const waiting of this.wireQueue.splice(0)) waiting.refuse(error);
    this.wireOwner = undefined;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  // ---- closing -------------------------------------------------------------------------------------------

  /**
   * Starts the closing handshake (idempotent): sends the close frame, ends pending reads and writes with
   * OperationCanceled, and waits for the peer's close frame up to the close timeout.
   */
  close(code: number | undefined, reason: string): void {
    if (this.closeSent || this.finished) return;
    this.sendClose(code, reason);
    const canceled = operationCanceled('the WebSocket was closed locally');
    this.finishInbound(canceled);
    this.cancelOutbound(canceled);
    this.armCloseTimer();
  }

  /** Drops the connection at once, without a closing handshake. */
  destroy(error?: WebSocketError): void {
    if (error !== undefined) this.failure ??= error;
    this.socket.destroy();
  }

  /** A protocol violation by the peer: close with its code, fail reads and writes, drop the socket. */
  private failWith(violation: ProtocolError): void {
    const error = toWebSocketError(violation);
    this.failure = error;
    // Nothing more is read; what arrived before the violation still gets one turn to be answered.
    this.parser.stop();
    setImmediate(() => {
      if (this.isWritable) this.sendClose(violation.closeCode, truncateReason(violation.message));
      this.finishInbound(error);
      this.cancelOutbound(error);
      this.socket.end();
      this.armCloseTimer();
    });
  }

  private finishInbound(error: WebSocketError | undefined): void {
    if (!this.inboundOpen) return;
    this.inboundOpen = false;
    this.sink.finish(error);
    // Keep reading: the peer's close frame (or its FIN) must still be seen.
    this.resumeReading();
  }

  /** Both close frames are exchanged: the server closes TCP first (§7.1.1), the client waits for it. */
  private endSocketAfterHandshake(): void {
    if (!this.masking || this.peerEnded) this.socket.end();
    this.armCloseTimer();
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== undefined || this.finished) return;
    this.closeTimer = setTimeout(() => {
      this.socket.destroy();
    }, this.closeTimeout);
    this.closeTimer.unref();
  }

  private onSocketClosed(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.closeTimer);
    clearInterval(this.pongTimer);
    this.stopKeepAlive?.();
    const lost = connectionLost('the connection was lost without a closing handshake', this.socketError);
    this.finishInbound(this.failure ?? lost);
    this.cancelOutbound(this.failure ?? lost);
    const info: CloseInfo =
      this.closeReceived ??
      (this.failure?.closeCode !== undefined
        ? { code: this.failure.closeCode, reason: this.failure.message }
        : { code: CloseCode.AbnormalClosure, reason: '' });
    this.events.closed(info);
  }
}
