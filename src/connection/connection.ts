// One open WebSocket over one duplex socket, the I/O driver of a WebSocketSession: the only code that
// reads or writes the socket. It feeds the session received bytes, hands received sections to an
// IncomingSink with backpressure down to TCP, writes the session's frames (frame-output.ts), lets one
// outgoing message at a time own the wire, and runs the timers: keep-alive, unsolicited pongs, the
// grace for answering the peer's close, and the close timeout. With permessage-deflate it inflates and
// deflates messages section by section (message-inflater.ts, message-deflater.ts): the session reads no
// further while too much waits to be inflated, or while the end of a compressed message has not been
// handed on, so messages stay in order and the inflated output is under the same backpressure as any
// other.

import { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';

import {
  closedError,
  connectionLost,
  operationCanceled,
  peerClosed,
  toWebSocketError,
  WebErrorStatus,
  WebSocketError,
} from '../errors.js';
import { CloseCode, truncateReason, type CloseFrame } from '../protocol/close.js';
import { Opcode, type DataOpcode } from '../protocol/opcodes.js';
import type { DeflateSettings } from '../protocol/permessage-deflate.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { WebSocketSession, type SessionHandler } from '../protocol/session.js';
import { BandwidthMeter } from './bandwidth-meter.js';
import { FrameOutput, MASKED_FRAME_LIMIT } from './frame-output.js';
import type { IncomingSink, ReadControl } from './incoming-sink.js';
import { startKeepAliveTicks, stopKeepAliveTicks, type KeepAliveSubscriber } from './keep-alive-clock.js';
import { MessageDeflater } from './message-deflater.js';
import { MessageInflater } from './message-inflater.js';
import { OutgoingMessage, type FrameSender } from './outgoing-message.js';
import { PeerLiveness } from './peer-liveness.js';
import { SectionBatcher } from './section-batcher.js';

export interface ConnectionOptions {
  role: 'client' | 'server';
  /** Largest message accepted, in bytes (closes with 1009 beyond it). Default: unlimited. */
  maxMessageSize?: number;
  /**
   * How long to wait for the peer's side of the closing handshake, and at most for the application's
   * answer to the peer's close, in ms. Default 10 000.
   */
  closeTimeout?: number;
  /** Interval of unsolicited pongs (a one-way heartbeat), in ms; 0 turns them off. */
  unsolicitedPongInterval?: number;
  /**
   * Keep-alive: after this many ms in which the peer neither sent anything nor took any of our data, a
   * ping is sent; 0 (the default) sends none. While our own reading is paused by backpressure the peer
   * counts as alive.
   */
  keepAliveInterval?: number;
  /** How long after that ping left input must arrive before the connection is declared dead (ms). */
  keepAliveTimeout?: number;
  /** permessage-deflate as the handshake agreed it; undefined: no compression. */
  perMessageDeflate?: DeflateSettings | undefined;
}

export type CloseInfo = CloseFrame;

export interface ConnectionEvents {
  /**
   * The peer's close frame arrived. The answer waits, at most for the close timeout, until every hold
   * taken (`hold()`, which returns its release) is released and no outgoing message owns the wire; a
   * close() before that is the answer.
   */
  peerCloseReceived(frame: CloseFrame, hold: () => () => void): void;
  /** Once, when the socket is gone: the peer's close code, ours after a failure, or 1006. */
  connectionClosed(info: CloseInfo): void;
}

const DEFAULT_CLOSE_TIMEOUT = 10_000;
const DEFAULT_KEEP_ALIVE_TIMEOUT = 30_000;
const EMPTY = Buffer.alloc(0);
const RESOLVED = Promise.resolve();

/** The connection a socket drives: its listeners are shared by all sockets, not closures of each. */
const CONNECTION = Symbol('connection');
type DrivenSocket = Duplex & { [CONNECTION]?: WebSocketConnection };

export class WebSocketConnection implements SessionHandler, FrameSender, ReadControl, KeepAliveSubscriber {
  /** Made when first asked for (information.bandwidthStatistics, or the first byte moved). */
  private meterMade: BandwidthMeter | undefined;
  private readonly session: WebSocketSession<Promise<void> | undefined>;
  /** The frame writer, made at the first frame: an idle connection does without it. */
  private frames: FrameOutput | undefined;
  /** Made at the first payload: an idle connection does without it. */
  private sections: SectionBatcher | undefined;

  private readonly socket: Duplex;
  private readonly sink: IncomingSink;
  private readonly events: ConnectionEvents;
  private readonly closeTimeout: number;
  /** Compressed messages received are inflated here, sent ones deflated here (permessage-deflate). */
  private readonly inflater: MessageInflater | undefined;
  private readonly deflater: MessageDeflater | undefined;
  /** Messages whose size is known and smaller than this go uncompressed. */
  private readonly compressionThreshold: number;
  /** The message being received is compressed. */
  private inflating = false;
  /** The session reads no further until the inflater takes input again. */
  private inputHeld = false;
  /** The message being sent is compressed (decided at its first frame). */
  private sendingCompressed = false;

  /** Received data still goes to the sink. */
  private inboundOpen = true;
  /** The sink was told that no more messages come. */
  private sinkFinished = false;
  private readingPaused = false;
  private failure: WebSocketError | undefined;
  private socketError: Error | undefined;
  private finished = false;
  private closeTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  /** Keep-alive's judgement of the peer, with its interval and timeout (made when keep-alive is on). */
  private liveness: PeerLiveness | undefined;
  /** Input arrived since the last keep-alive tick. */
  private inputHeard = false;
  /** The ping that a keep-alive tick is sending: told when the frame has left. */
  private pingWritten: (() => void) | undefined;
  /** A ping that arrived while the socket was full: answered (only the latest) once it drains. */
  private pendingPong: Buffer | undefined;
  /** Holds on the answer to the peer's close (deferrals of the application). */
  private answerHolds = 0;
  /** outputStream.end(): our close (1000) goes once no message owns the wire. */
  private outputEnded = false;
  /** Callers of endOutput(), told when our close frame has gone out (or that it never will). */
  private endWaiters: { resolve: () => void; reject: (error: Error) => void }[] | undefined;
  /** A message was cut short after the peer's close: no more data may follow it. */
  private outgoingBroken = false;
  /** The peer's close came before ours: it is why nothing more can be sent. */
  private closedByPeer = false;

  private wireOwner: OutgoingMessage | undefined;
  /** Messages waiting for the wire, made when the first one waits. */
  private wireQueue:
    | {
        message: OutgoingMessage;
        grant: () => void;
        refuse: (error: Error) => void;
      }[]
    | undefined;

  constructor(
    socket: Duplex,
    head: Buffer,
    sink: IncomingSink,
    events: ConnectionEvents,
    options: ConnectionOptions,
  ) {
    this.socket = socket;
    this.sink = sink;
    this.events = events;
    this.closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    const deflate = options.perMessageDeflate;
    this.session = new WebSocketSession(
      {
        role: options.role,
        perMessageDeflate: deflate !== undefined,
        ...(options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize }),
      },
      this,
      this,
    );
    this.compressionThreshold = deflate?.threshold ?? Infinity;
    if (deflate !== undefined) {
      const { parameters } = deflate;
      const server = options.role === 'server';
      this.inflater = new MessageInflater(
        {
          data: (section) => this.deliverInflated(section),
          messageEnd: () => {
            this.endMessage();
          },
          fail: (violation) => {
            this.onViolation(violation);
          },
          drained: () => {
            this.releaseInput();
          },
        },
        {
          windowBits: server ? parameters.clientMaxWindowBits : parameters.serverMaxWindowBits,
          noContextTakeover: server ? parameters.clientNoContextTakeover : parameters.serverNoContextTakeover,
          maxMessageSize: options.maxMessageSize ?? Infinity,
        },
      );
      this.deflater = new MessageDeflater({
        windowBits: server ? parameters.serverMaxWindowBits : parameters.clientMaxWindowBits,
        memLevel: deflate.memLevel,
        noContextTakeover: server ? parameters.serverNoContextTakeover : parameters.clientNoContextTakeover,
      });
    }
    sink.attach(this);

    (socket as DrivenSocket)[CONNECTION] = this;
    /* eslint-disable @typescript-eslint/unbound-method -- the listeners take the socket as `this` */
    socket.on('data', WebSocketConnection.onSocketData);
    socket.on('drain', WebSocketConnection.onSocketDrain);
    socket.on('error', WebSocketConnection.onSocketError);
    socket.on('end', WebSocketConnection.onSocketEnd);
    socket.on('close', WebSocketConnection.onSocketClose);
    /* eslint-enable @typescript-eslint/unbound-method */
    this.startTimers(options);
    if (socket.destroyed) {
      // Reset before it reached us (a framework's async work came first): 'close' has been emitted already.
      process.nextTick(() => {
        this.onSocketClosed();
      });
    } else if (head.length > 0) {
      this.receive(head);
    }
  }

  get meter(): BandwidthMeter {
    return (this.meterMade ??= new BandwidthMeter());
  }

  private get output(): FrameOutput {
    return (this.frames ??= new FrameOutput(this.socket, this.session.role === 'client', this.meter));
  }

  private static of(socket: Duplex): WebSocketConnection {
    return (socket as DrivenSocket)[CONNECTION]!;
  }

  // The socket's listeners: one function each for all connections (found through the socket).
  private static readonly onSocketData = function (this: Duplex, chunk: Buffer): void {
    WebSocketConnection.of(this).receive(chunk);
  };

  private static readonly onSocketDrain = function (this: Duplex): void {
    WebSocketConnection.of(this).onDrain();
  };

  private static readonly onSocketError = function (this: Duplex, error: Error): void {
    // Any socket error ends the connection (1006). Node does not destroy a TLS socket
    // after a bad record or a renegotiation attack (ERR_TLS_SESSION_ATTACK); left open, it hangs.
    WebSocketConnection.of(this).socketError ??= error;
    this.destroy();
  };

  private static readonly onSocketEnd = function (this: Duplex): void {
    WebSocketConnection.of(this).onPeerEnd();
  };

  private static readonly onSocketClose = function (this: Duplex): void {
    WebSocketConnection.of(this).onSocketClosed();
  };

  private startTimers(options: ConnectionOptions): void {
    const pongInterval = options.unsolicitedPongInterval ?? 0;
    if (pongInterval > 0) {
      this.pongTimer = setInterval(() => {
        if (!this.output.needsDrain) this.session.pong(EMPTY);
      }, pongInterval);
      this.pongTimer.unref();
    }
    const interval = options.keepAliveInterval ?? 0;
    if (interval > 0) {
      const timeout = options.keepAliveTimeout ?? DEFAULT_KEEP_ALIVE_TIMEOUT;
      this.liveness = new PeerLiveness(interval, timeout, wholeMs());
      startKeepAliveTicks(interval, this);
    }
  }

  /**
   * Each keep-alive interval: pings a quiet peer; drops one that neither answered nor took our data in
   * time (half-open).
   */
  keepAliveTick(): void {
    const liveness = this.liveness;
    if (liveness === undefined || this.session.closeSent !== undefined) return;
    const now = wholeMs();
    const action = liveness.tick(now, {
      heard: this.inputHeard,
      readingPaused: this.readingPaused || this.inputHeld,
      passedOn: this.frames?.passedOn ?? 0,
      buffered: this.frames?.buffered ?? 0,
      congested: this.frames?.needsDrain ?? false,
    });
    this.inputHeard = false;
    if (action === 'dead') {
      this.destroy(
        connectionLost(
          `the peer neither answered a ping within ${liveness.timeout} ms nor took any of our data`,
        ),
      );
    } else if (action === 'ping') {
      this.pingWritten = () => {
        liveness.pingLeft(now, wholeMs());
      };
      this.session.ping(EMPTY);
      this.pingWritten = undefined;
    }
  }

  /** True until a close frame was sent or the connection failed: data may still be sent. */
  get isWritable(): boolean {
    return this.session.canSend && !this.finished && !this.outgoingBroken;
  }

  /** The peer's close frame has arrived. */
  get isCloseReceived(): boolean {
    return this.session.closeReceived !== undefined;
  }

  // ---- receiving -------------------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    this.inputHeard = true;
    this.meter.received(chunk.length);
    this.session.receive(chunk);
    this.sections?.flush();
  }

  resumeReading(): void {
    if (!this.readingPaused) return;
    this.readingPaused = false;
    this.inflater?.resumeOutput();
    this.updateSocketFlow();
  }

  private pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.socket.pause();
  }

  /** The inflater has enough: the session reads no further (no later frame) until it drains. */
  private holdInput(): void {
    if (this.inputHeld) return;
    this.inputHeld = true;
    this.session.pauseInput();
    this.socket.pause();
  }

  /** The inflater takes input again: the session reads on from where it stopped. */
  private releaseInput(): void {
    if (!this.inputHeld) return;
    this.inputHeld = false;
    this.session.resumeInput();
    this.sections?.flush();
    this.updateSocketFlow();
  }

  /** The socket is read unless the application has enough or the inflater is busy. */
  private updateSocketFlow(): void {
    if (this.readingPaused || this.inputHeld) this.socket.pause();
    else this.socket.resume();
  }

  onMessageStart(opcode: DataOpcode, compressed: boolean): void {
    this.inflating = compressed;
    if (!this.inboundOpen) return;
    this.sink.messageStart(opcode);
    if (compressed) this.inflater!.startMessage(opcode === Opcode.Text);
  }

  onMessageData(section: Buffer): void {
    if (!this.inboundOpen) return;
    if (this.inflating) {
      if (!this.inflater!.write(section)) this.holdInput();
      return;
    }
    this.sections ??= new SectionBatcher((gathered) => {
      this.deliver(gathered);
    });
    this.sections.add(section);
  }

  private deliver(section: Buffer): void {
    if (this.inboundOpen && !this.sink.messageData(section)) this.pauseReading();
  }

  /** An inflated section; false: the application has enough for now. */
  private deliverInflated(section: Buffer): boolean {
    // After a failure the inflater is about to be closed: it need not go on meanwhile.
    if (!this.inboundOpen) return false;
    if (this.sink.messageData(section)) return true;
    this.pauseReading();
    return false;
  }

  onMessageEnd(): void {
    if (this.inflating) {
      this.inflating = false;
      if (!this.inboundOpen) return;
      // The end is reported once the inflater has handed on the whole message.
      this.holdInput();
      this.inflater!.end();
      return;
    }
    this.sections?.flush();
    this.endMessage();
  }

  private endMessage(): void {
    if (this.inboundOpen && !this.sink.messageEnd()) this.pauseReading();
  }

  onCloseReceived(frame: CloseFrame, midMessage: boolean): void {
    this.sections?.flush();
    this.finishInbound(
      midMessage ? peerClosed('a message was cut short', frame, WebErrorStatus.ConnectionAborted) : undefined,
    );
    if (this.session.closeSent !== undefined) {
      // The peer answered our close: the handshake is complete.
      this.endTransportIfDue();
      return;
    }
    this.closedByPeer = true;
    this.events.peerCloseReceived(frame, () => this.holdCloseAnswer());
    // Bounds how long the application may take to answer.
    this.armCloseTimer();
    // Messages that arrived with the close frame reach the application asynchronously: give it a turn
    // of the event loop to start answering them (§5.5.1 lets an endpoint finish its message first).
    setImmediate(() => {
      this.sendWaitingClose();
    });
  }

  /** Holds the answer to the peer's close until the returned function is called (a deferral). */
  holdCloseAnswer(): () => void {
    this.answerHolds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.answerHolds--;
      this.sendWaitingClose();
    };
  }

  /**
   * Sends a close that waits for the wire to be free (no message owning it): the echo of the peer's
   * close once no deferral holds it, or else our own 1000 after outputStream.end().
   */
  private sendWaitingClose(): void {
    if (this.finished || this.failure !== undefined || this.session.closeSent !== undefined) return;
    if (this.wireOwner !== undefined) return;
    if (this.session.isAnswerDue) {
      if (this.answerHolds > 0) return;
      this.session.answerClose();
      this.afterCloseSent(this.writeRefusal());
    } else if (this.outputEnded) {
      // Nothing is cancelled: what was written before is on its way, ahead of the close frame, and
      // reading goes on until the peer's close.
      this.session.close(CloseCode.NormalClosure);
      this.settleEndWaiters(undefined);
      this.endTransportIfDue();
      this.armCloseTimer();
    }
  }

  /** A limit of the sink was passed: fail as for a violation by the peer. */
  refuse(code: number, reason: string): void {
    this.onViolation(new ProtocolError(code, reason));
  }

  onViolation(violation: ProtocolError): void {
    if (this.failure !== undefined || this.finished) return;
    const error = toWebSocketError(violation);
    this.failure = error;
    this.inboundOpen = false;
    // What arrived before the violation gets one turn to be answered; then the close frame goes.
    setImmediate(() => {
      this.session.fail(violation.closeCode, violation.message);
      this.finishInbound(error);
      this.cancelOutbound(error);
      this.endTransportIfDue();
      this.armCloseTimer();
    });
  }

  private onPeerEnd(): void {
    // The peer's FIN: before its close frame the connection is lost; after it, TCP ends once our close
    // frame is out too.
    this.session.receiveEnd();
    if (this.session.closeReceived === undefined && this.session.failure === undefined) this.socket.destroy();
    else this.endTransportIfDue();
  }

  // ---- sending -----------------------------------------------------------------------------------------

  /** The session's frames go to the socket; a pong for a ping waits while the socket is full. */
  writeFrame(opcode: Opcode, fin: boolean, payload: Buffer, rsv1: boolean): Promise<void> | undefined {
    if (this.finished) return undefined;
    if (opcode === Opcode.Pong && this.output.needsDrain) {
      this.pendingPong = Buffer.from(payload);
      return undefined;
    }
    return this.output.write(
      opcode,
      fin,
      payload,
      rsv1,
      opcode === Opcode.Ping ? this.pingWritten : undefined,
    );
  }

  /** Starts an outgoing message; its fragments go out after the messages opened before it. */
  openMessage(type: DataOpcode): OutgoingMessage {
    return new OutgoingMessage(this, type);
  }

  /** Sends a whole message; resolves when the caller owns the payload again and the socket can take more. */
  sendMessage(type: DataOpcode, payload: Buffer): Promise<void> {
    if (this.outputEnded) return Promise.reject(this.writeRefusal());
    // Fast path: nothing else owns the wire and the message is one uncompressed frame, so write it right
    // away. (A compressed one takes the wire while it is being deflated.)
    if (
      this.wireOwner === undefined &&
      !this.wireQueue?.length &&
      payload.length <= MASKED_FRAME_LIMIT &&
      payload.length < this.compressionThreshold
    ) {
      return this.writeData(type, payload, true);
    }
    return this.openMessage(type).write(payload, true);
  }

  acquireWire(message: OutgoingMessage): Promise<void> {
    if (!this.isWritable || this.outputEnded) return Promise.reject(this.writeRefusal());
    if (this.wireOwner === undefined) {
      this.wireOwner = message;
      return RESOLVED;
    }
    return new Promise((grant, refuse) => {
      (this.wireQueue ??= []).push({ message, grant, refuse });
    });
  }

  releaseWire(message: OutgoingMessage): void {
    if (this.wireOwner !== message) {
      const index = this.wireQueue?.findIndex((waiting) => waiting.message === message) ?? -1;
      if (index >= 0) this.wireQueue?.splice(index, 1);
      return;
    }
    const next = this.wireQueue?.shift();
    this.wireOwner = next?.message;
    next?.grant();
    if (this.wireOwner === undefined) this.sendWaitingClose();
  }

  /**
   * A message cut short. Before the peer's close that fails the connection (1011) rather than let the
   * peer take a part for the whole; after it, nothing more is sent but the answer to that close.
   */
  abandonMessage(message: OutgoingMessage, reason: string): void {
    if (this.session.closeReceived === undefined) {
      this.close(CloseCode.InternalError, truncateReason(reason));
    } else if (this.wireOwner === message && this.session.isSendingMessage) {
      this.outgoingBroken = true;
    }
    this.releaseWire(message);
  }

  writeFrames(message: OutgoingMessage, payload: Buffer, fin: boolean): Promise<void> {
    if (this.wireOwner !== message) return Promise.reject(this.writeRefusal());
    if (!this.session.isSendingMessage) {
      // A message whose whole size is known (one final write) is compressed from the threshold on; one
      // written in pieces always is.
      this.sendingCompressed =
        this.deflater !== undefined && !(fin && payload.length < this.compressionThreshold);
    }
    if (this.sendingCompressed) return this.writeCompressed(message, payload, fin);
    if (payload.length <= MASKED_FRAME_LIMIT) return this.writeData(message.type, payload, fin);
    return this.writeInPieces(message, payload, fin);
  }

  /**
   * Deflates the payload in pieces of MASKED_FRAME_LIMIT, each sent as the frames of its compressed
   * bytes before the next piece is deflated: memory stays bounded however large the write.
   */
  private async writeCompressed(message: OutgoingMessage, payload: Buffer, fin: boolean): Promise<void> {
    let offset = 0;
    do {
      const end = Math.min(offset + MASKED_FRAME_LIMIT, payload.length);
      const last = end === payload.length;
      let compressed: Buffer;
      try {
        compressed = await this.deflater!.deflate(payload.subarray(offset, end), last && fin);
      } catch (error) {
        throw this.isWritable ? toWebSocketError(error) : this.writeRefusal();
      }
      let at = 0;
      do {
        if (this.wireOwner !== message) throw this.writeRefusal();
        const frameEnd = Math.min(at + MASKED_FRAME_LIMIT, compressed.length);
        await this.writeData(
          message.type,
          compressed.subarray(at, frameEnd),
          last && fin && frameEnd === compressed.length,
          true,
        );
        at = frameEnd;
      } while (at < compressed.length);
      offset = end;
    } while (offset < payload.length);
  }

  /** A large payload goes out as frames of MASKED_FRAME_LIMIT, waiting for the socket between them. */
  private async writeInPieces(message: OutgoingMessage, payload: Buffer, fin: boolean): Promise<void> {
    for (let offset = 0; offset < payload.length; offset += MASKED_FRAME_LIMIT) {
      if (this.wireOwner !== message) throw this.writeRefusal();
      const end = Math.min(offset + MASKED_FRAME_LIMIT, payload.length);
      await this.writeData(message.type, payload.subarray(offset, end), end === payload.length && fin);
    }
  }

  /** One data frame; settles when the caller owns the payload again and the socket can take more. */
  private writeData(type: DataOpcode, payload: Buffer, fin: boolean, compressed = false): Promise<void> {
    if (!this.isWritable) return Promise.reject(this.writeRefusal());
    const taken = this.session.send(type, fin, payload, compressed);
    if (taken === undefined) return this.output.whenDrained();
    return taken.then(
      () => this.output.whenDrained(),
      (error: unknown) => Promise.reject(error instanceof WebSocketError ? error : this.writeRefusal()),
    );
  }

  private onDrain(): void {
    this.frames?.drained();
    if (this.pendingPong !== undefined) {
      const payload = this.pendingPong;
      this.pendingPong = undefined;
      this.session.pong(payload);
    }
  }

  /** Why data can no longer be sent: the failure, the peer's close (its code and reason), or ours. */
  writeRefusal(): WebSocketError {
    if (this.failure !== undefined) return this.failure;
    const received = this.session.closeReceived;
    if (this.closedByPeer && received !== undefined) return peerClosed('cannot send', received);
    if (this.outputEnded)
      return closedError('the output was ended (outputStream.end()): nothing more is sent');
    return closedError('the WebSocket is closed');
  }

  /** Rejects every message waiting for the wire and every write waiting for drain. */
  private cancelOutbound(error: WebSocketError): void {
    for (const waiting of this.wireQueue?.splice(0) ?? []) waiting.refuse(error);
    this.wireOwner = undefined;
    this.deflater?.close();
    this.frames?.failWaiters(error);
    this.settleEndWaiters(
      this.session.closeSent === undefined || this.failure !== undefined ? error : undefined,
    );
  }

  /**
   * The application has nothing more to send (outputStream.end()): once the messages begun before it
   * are out, our close (1000) starts the closing handshake, and reading goes on until the peer's close
   * (a half-close). Resolves when our close frame has been handed to the socket; rejects when the
   * connection fails or is lost first.
   */
  endOutput(): Promise<void> {
    if (this.failure !== undefined || this.finished || this.session.closeSent !== undefined) {
      return this.failure === undefined && this.session.closeSent !== undefined
        ? RESOLVED
        : Promise.reject(this.writeRefusal());
    }
    this.outputEnded = true;
    const ended = new Promise<void>((resolve, reject) => {
      (this.endWaiters ??= []).push({ resolve, reject });
    });
    this.sendWaitingClose();
    return ended;
  }

  private settleEndWaiters(error: WebSocketError | undefined): void {
    const waiters = this.endWaiters ?? [];
    this.endWaiters = undefined;
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  // ---- closing -------------------------------------------------------------------------------------------

  /**
   * Sends our close frame (idempotent): starts the closing handshake, or answers the peer's close with
   * this code. Pending reads and writes end with OperationCanceled; the peer's answer is awaited up to
   * the close timeout.
   */
  close(code: number | undefined, reason: string): void {
    if (this.finished || this.failure !== undefined) return;
    // After outputStream.end() our close frame is out already: this stops the reading that went on.
    this.session.close(code, reason);
    const canceled = operationCanceled('the WebSocket was closed locally');
    this.finishInbound(canceled);
    this.afterCloseSent(canceled);
  }

  /**
   * close(code, reason) once `written` settles (the application's writes made before it are out), at the
   * latest after the close timeout: a peer that takes none of our data does not hold the close forever.
   * After the peer's close frame nothing more can be sent, so the answer goes at once.
   */
  closeAfter(written: Promise<void>, code: number | undefined, reason: string): void {
    if (this.session.closeReceived !== undefined) {
      this.close(code, reason);
      return;
    }
    const timer = setTimeout(() => {
      this.close(code, reason);
    }, this.closeTimeout);
    timer.unref();
    void written.then(() => {
      clearTimeout(timer);
      this.close(code, reason);
    });
  }

  /** Drops the connection at once, without a closing handshake. */
  destroy(error?: WebSocketError): void {
    if (error !== undefined) this.failure ??= error;
    this.socket.destroy();
  }

  private afterCloseSent(cancel: WebSocketError): void {
    this.cancelOutbound(cancel);
    this.endTransportIfDue();
    this.armCloseTimer();
  }

  private finishInbound(error: WebSocketError | undefined): void {
    if (this.sinkFinished) return;
    this.sinkFinished = true;
    this.inboundOpen = false;
    this.sink.finish(error);
    this.inflater?.close();
    // Keep reading: the peer's close frame (or its FIN) must still be seen. A section the inflater held
    // is dropped; the session reads on (in its own turn: this may run while it is parsing).
    if (this.inputHeld) {
      process.nextTick(() => {
        this.releaseInput();
      });
    }
    this.resumeReading();
  }

  /** §7.1.1: the server ends TCP once the handshake is done; the client waits for the server. */
  private endTransportIfDue(): void {
    if (this.session.shouldEndTransport) this.socket.end();
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== undefined || this.finished) return;
    this.closeTimer = setTimeout(() => {
      this.onCloseTimeout();
    }, this.closeTimeout);
    this.closeTimer.unref();
  }

  /**
   * The close timeout ran out: an answer to the peer's close still held by the application goes now, and
   * the socket gets one more close timeout to end; otherwise the peer did not answer ours: drop it.
   */
  private onCloseTimeout(): void {
    this.closeTimer = undefined;
    if (this.session.isAnswerDue) {
      this.session.answerClose();
      this.afterCloseSent(this.writeRefusal());
      this.socket.end();
      return;
    }
    this.socket.destroy();
  }

  private onSocketClosed(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.closeTimer);
    clearInterval(this.pongTimer);
    if (this.liveness !== undefined) stopKeepAliveTicks(this.liveness.interval, this);
    const lost = connectionLost('the connection was lost without a closing handshake', this.socketError);
    this.finishInbound(this.failure ?? lost);
    // After a close frame arrived, writes still pending end for the reason any write would now.
    this.cancelOutbound(
      this.session.closeReceived === undefined ? (this.failure ?? lost) : this.writeRefusal(),
    );
    this.events.connectionClosed(this.closeInfo());
  }

  /** The peer's close frame; after a failure, the code and reason we sent; else 1006. */
  private closeInfo(): CloseInfo {
    const received = this.session.closeReceived;
    if (received !== undefined) return received;
    const sent = this.session.closeSent;
    if (this.failure?.closeCode !== undefined) {
      return { code: this.failure.closeCode, reason: sent?.reason ?? '' };
    }
    return { code: CloseCode.AbnormalClosure, reason: '' };
  }
}

/** The time in whole milliseconds: a small integer, which V8 keeps without a heap number. */
function wholeMs(): number {
  return Math.trunc(performance.now());
}
