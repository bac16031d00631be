// What every socket of the family shares, client or server, stream or message: information, close(),
// the 'closeReceived' and 'closed' events, async disposal, the binding of an open connection to an
// incoming sink, and the outputStream, made on first use (an idle connection does without it).

/* eslint-disable @typescript-eslint/no-unsafe-declaration-merging -- the interface types the class's events, as @types/node does for its own emitters */

import { EventEmitter } from 'node:events';

import type { ServerCertificateReport } from '../client/certificate-check.js';
import type { IncomingSink } from '../connection/incoming-sink.js';
import { WebSocketConnection, type CloseInfo, type ConnectionOptions } from '../connection/connection.js';
import type { UpgradedSocket as Upgraded } from '../connection/upgraded-socket.js';
import { closedError, invalidArgument, operationCanceled, type WebSocketError } from '../errors.js';
import {
  closeArgumentProblem,
  CloseCode,
  goAwayArgumentProblem,
  type CloseFrame,
} from '../protocol/close.js';
import { WebSocketCloseReceivedEventArgs } from './close-received-event-args.js';
import { WebSocketInformation } from './information.js';
import type { OutputStream } from './output-stream.js';

/** WebSocketClosedEventArgs: the close code and reason (1006 and '' when no close frame came). */
export type WebSocketClosedEventArgs = CloseInfo;

/** An upgraded socket as the sockets bind it: with the judgement of a wss: server's certificate (clients). */
export interface UpgradedSocket extends Upgraded {
  certificate?: ServerCertificateReport | undefined;
}

export type CloseReceivedHandler = (args: WebSocketCloseReceivedEventArgs) => void;

/** The events every socket has (interface merging types them on the class). */
export interface WebSocketBase {
  on(event: 'closed', listener: (args: WebSocketClosedEventArgs) => void): this;
  on(event: 'closeReceived', listener: CloseReceivedHandler): this;
  once(event: 'closed', listener: (args: WebSocketClosedEventArgs) => void): this;
  once(event: 'closeReceived', listener: CloseReceivedHandler): this;
  off(event: 'closed', listener: (args: WebSocketClosedEventArgs) => void): this;
  off(event: 'closeReceived', listener: CloseReceivedHandler): this;
  emit(event: 'closed', args: WebSocketClosedEventArgs): boolean;
  emit(event: 'closeReceived', args: WebSocketCloseReceivedEventArgs): boolean;
}

// It takes its connection's events (ConnectionEvents, checked where it is passed): those members are left
// out of the published types, so the class does not declare `implements`.
export abstract class WebSocketBase extends EventEmitter {
  readonly information = new WebSocketInformation();

  /** @internal */
  protected connection: WebSocketConnection | undefined;
  private closedInfo: CloseInfo | undefined;
  private closeRequested: CloseInfo | undefined;
  /** Why the socket's life ended before a connection, if it did (see endUnconnected). */
  private unconnectedFailure: WebSocketError | undefined;
  /** The output stream of a stream or message socket, made on first use (see madeOutput). */
  private output: OutputStream | undefined;
  /**
   * @internal Told once when the socket has closed, before 'closed' is emitted: a listener forgetting its
   * connection (one function for all of them: an idle connection costs no closure or listener of its own).
   */
  whenGone: ((socket: WebSocketBase) => void) | undefined;

  /** Closes the socket (idempotent): code 1000 or 3000–4999, reason at most 123 UTF-8 bytes. Without
   * arguments an empty close frame is sent. The other codes an endpoint may send go through goAway().
   * Writes made to outputStream before close() are sent first (within the close timeout); later ones
   * are refused. 'closed' fires when the closing handshake ends. */
  close(code?: number, reason = ''): void {
    if (code !== undefined) {
      const problem = closeArgumentProblem(code, reason);
      if (problem !== undefined) throw invalidArgument(problem);
    } else if (reason !== '') {
      throw invalidArgument('a close reason needs a close code');
    }
    this.requestClose(code, reason);
  }

  /**
   * Closes with any code RFC 6455 lets an endpoint send (a Node addition): besides close()'s 1000 and
   * 3000–4999, the codes that say why — 1001 Going Away (the default: a server shutting down, Ctrl-C),
   * 1002 Protocol Error, 1003 Unsupported Data, 1007 Invalid Payload, 1008 Policy Violation, 1009 Message
   * Too Big, 1010 Mandatory Extension, 1011 Internal Error, 1012 Service Restart, 1013 Try Again Later,
   * 1014 Bad Gateway. Never 1004, 1005, 1006 or 1015 (reserved). Like close(), idempotent.
   */
  goAway(code: number = CloseCode.GoingAway, reason = ''): void {
    const problem = goAwayArgumentProblem(code, reason);
    if (problem !== undefined) throw invalidArgument(problem);
    this.requestClose(code, reason);
  }

  private requestClose(code: number | undefined, reason: string): void {
    if (this.closeRequested !== undefined) return;
    this.closeRequested = { code: code ?? CloseCode.NoStatusReceived, reason };
    this.onCloseRequested();
    if (this.connection === undefined) {
      this.endUnconnected(operationCanceled('the WebSocket was closed before it connected'));
      return;
    }
    // The writes made before close() go out ahead of the close frame, as ws's send() before close() do.
    const written = this.whenOutputWritten();
    if (written === undefined) this.connection.close(code, reason);
    else this.connection.closeAfter(written, code, reason);
  }

  /** Closes and waits for the closing handshake to end. */
  async [Symbol.asyncDispose](): Promise<void> {
    const closed = this.whenClosed();
    this.close();
    await closed;
  }

  /** Resolves with the close code and reason once the connection is over. */
  whenClosed(): Promise<WebSocketClosedEventArgs> {
    if (this.closedInfo !== undefined) return Promise.resolve(this.closedInfo);
    return new Promise((resolve) => {
      this.once('closed', resolve);
    });
  }

  /** @internal Why a flush cannot succeed: the socket was closed (RO_E_CLOSED), by the peer or by us. */
  protected flushRefusal(): WebSocketError | undefined {
    if (this.connection?.isWritable === false) return this.connection.writeRefusal();
    return this.closeRequested !== undefined ? closedError('the WebSocket is closed') : undefined;
  }

  /** @internal */
  protected get isCloseRequested(): boolean {
    return this.closeRequested !== undefined;
  }

  /** @internal Starts using an upgraded socket (the client after connectAsync, the server at once). */
  protected abstract open(opened: UpgradedSocket, options: ConnectionOptions): void;

  /** @internal Binds an upgraded socket to this WebSocket; data flows to the sink from now on. */
  protected bindConnection(
    opened: UpgradedSocket,
    sink: IncomingSink,
    options: ConnectionOptions,
  ): WebSocketConnection {
    const connection = new WebSocketConnection(opened.socket, opened.head, sink, this, {
      ...options,
      perMessageDeflate: opened.deflate,
    });
    this.connection = connection;
    if (this.output !== undefined) this.bindOutput(this.output, connection);
    this.information.connected(
      opened.socket.localAddress,
      opened.protocol,
      opened.extensions ?? '',
      connection,
      opened.certificate,
    );
    if (this.closeRequested !== undefined) {
      connection.close(
        this.closeRequested.code === 1005 ? undefined : this.closeRequested.code,
        this.closeRequested.reason,
      );
    }
    return connection;
  }

  private reportClosed(info: CloseInfo): void {
    if (this.closedInfo !== undefined) return;
    this.closedInfo = info;
    this.whenGone?.(this);
    this.emit('closed', info);
  }

  /**
   * The socket's life ended before it was connected (closed first, or its connect failed): pending
   * reads and writes end with `error`, and 'closed' reports 1006, once, as at every end.
   * @internal
   */
  protected endUnconnected(error: WebSocketError): void {
    if (this.unconnectedFailure !== undefined) return;
    this.unconnectedFailure = error;
    this.output?.destroy(error);
    this.failStreams(error);
    process.nextTick(() => {
      this.reportClosed({ code: CloseCode.AbnormalClosure, reason: '' });
    });
  }

  /** @internal Ends the streams of a socket that never connected (the output stream is ended already). */
  protected abstract failStreams(error: WebSocketError): void;

  /**
   * @internal The socket's output stream, made by `make` (a function shared by all sockets of a kind) when
   * first asked for: an idle connection has no Writable. Bound to the connection once there is one.
   */
  protected madeOutput<Stream extends OutputStream>(make: () => Stream): Stream {
    if (this.output === undefined) {
      const stream = make();
      // Failures reach writers through their calls and 'closed'; never as an unhandled 'error'.
      stream.on('error', ignore);
      this.output = stream;
      if (this.connection !== undefined) this.bindOutput(stream, this.connection);
      else if (this.unconnectedFailure !== undefined) stream.destroy(this.unconnectedFailure);
    }
    return this.output as Stream;
  }

  /** @internal Connects the output stream to the open connection: says what a write becomes. */
  protected bindOutput(_stream: OutputStream, _connection: WebSocketConnection): void {
    // Sockets without an output stream have nothing to bind.
  }

  /** @internal Undefined when nothing written to the output stream waits; else settles once it is out. */
  protected whenOutputWritten(): Promise<void> | undefined {
    return this.output?.whenWritten();
  }

  /** @internal The connection's event: the peer's close frame arrived. */
  peerCloseReceived(frame: CloseFrame, hold: () => () => void): void {
    this.emit('closeReceived', new WebSocketCloseReceivedEventArgs(frame, hold));
  }

  /** @internal The connection's event: it is over. */
  connectionClosed(info: CloseInfo): void {
    this.reportClosed(info);
  }

  /** @internal Hook for sockets that must also cancel work of their own (a pending connect). */
  protected onCloseRequested(): void {
    // Nothing by default.
  }
}

function ignore(): void {
  // See madeOutput.
}
