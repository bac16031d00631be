// What every socket of the family shares, client or server, stream or message: information, close(),
// the 'closeReceived' and 'closed' events, async disposal, the binding of an open connection to an
// incoming sink, and the outputStream, made on first use (an idle connection does without it).

/* eslint-disable @typescript-eslint/no-unsafe-declaration-merging -- the interface types the class's events, as @types/node does for its own emitters */

import { EventEmitter } from 'node:events';

import type { ServerCertificateReport } from '../client/certificate-check.js';
import type { IncomingSink } from '../connection/incoming-sink.js';
import {
  WebSocketConnection,
  type CloseInfo,
  type ConnectionEvents,
  type ConnectionOptions,
} from '../connection/connection.js';
import type { UpgradedSocket as Upgraded } from '../connection/upgraded-socket.js';
import { closedError, invalidArgument, type WebSocketError } from '../errors.js';
import { closeArgumentProblem, type CloseFrame } from '../protocol/close.js';
import { WebSocketCloseReceivedEventArgs } from './close-received-event-args.js';
import { WebSocketInformation } from './information.js';
import { OutputStream } from './output-stream.js';

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

export abstract class WebSocketBase extends EventEmitter {
  readonly information = new WebSocketInformation();

  protected connection: WebSocketConnection | undefined;
  private closedInfo: CloseInfo | undefined;
  private closeRequested: CloseInfo | undefined;
  private output: OutputStream | undefined;
  /** The set this socket leaves when it is closed (see trackUntilClosed). */
  private tracker: Set<WebSocketBase> | undefined;
  /** Why the output stream is over before it was made (a close before connecting), if it is. */
  protected outputCanceled: WebSocketError | undefined;

  /** Each write is sent as one whole message; a write completes once the socket can take more. */
  get outputStream(): OutputStream {
    if (this.output === undefined) {
      const output = new OutputStream();
      // Failures reach writers through their calls and 'closed'; never as an unhandled 'error'.
      output.on('error', ignore);
      this.output = output;
      if (this.connection !== undefined) this.bindOutput(output, this.connection);
      else if (this.outputCanceled !== undefined) output.destroy(this.outputCanceled);
    }
    return this.output;
  }

  /** The output stream, if it was made. */
  protected get madeOutputStream(): OutputStream | undefined {
    return this.output;
  }

  /** Connects the output stream to the open connection: says what a write becomes. */
  protected abstract bindOutput(output: OutputStream, connection: WebSocketConnection): void;

  /** Closes the socket (idempotent): code 1000 or 3000–4999, reason at most 123 UTF-8 bytes. Without
   * arguments an empty close frame is sent. 'closed' fires when the closing handshake ends. */
  close(code?: number, reason = ''): void {
    if (code !== undefined) {
      const problem = closeArgumentProblem(code, reason);
      if (problem !== undefined) throw invalidArgument(problem);
    } else if (reason !== '') {
      throw invalidArgument('a close reason needs a close code');
    }
    if (this.closeRequested !== undefined) return;
    this.closeRequested = { code: code ?? 1005, reason };
    this.onCloseRequested();
    if (this.connection !== undefined) this.connection.close(code, reason);
    // A socket that never connected is done at once: no close frame was exchanged (1006).
    else
      process.nextTick(() => {
        this.reportClosed({ code: 1006, reason: '' });
      });
  }

  /**
   * Closes with one of the codes close() reserves for endpoints themselves (a Node addition): 1001 Going
   * Away (a server shutting down, a user pressing Ctrl-C), 1011 Internal Error, 1012 Service Restart or
   * 1013 Try Again Later. Like close(), idempotent.
   */
  goAway(code: 1001 | 1011 | 1012 | 1013 = 1001, reason = ''): void {
    const problem = closeArgumentProblem(1000, reason);
    if (![1001, 1011, 1012, 1013].includes(code) || problem !== undefined) {
      throw invalidArgument(problem ?? `goAway takes 1001, 1011, 1012 or 1013, not ${String(code)}`);
    }
    this.closeRequested ??= { code, reason };
    this.connection?.close(code, reason);
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

  /** Why a flush cannot succeed: the socket was closed (RO_E_CLOSED). */
  protected flushRefusal(): WebSocketError | undefined {
    const closed = this.closeRequested !== undefined || this.connection?.isWritable === false;
    return closed ? closedError('the WebSocket is closed') : undefined;
  }

  protected get isCloseRequested(): boolean {
    return this.closeRequested !== undefined;
  }

  /** Starts using an upgraded socket (the client after connectAsync, the server at once). */
  protected abstract open(opened: UpgradedSocket, options: ConnectionOptions): void;

  /** Binds an upgraded socket to this WebSocket; data flows to the sink from now on. */
  protected bindConnection(
    opened: UpgradedSocket,
    sink: IncomingSink,
    options: ConnectionOptions,
  ): WebSocketConnection {
    const connection = new WebSocketConnection(
      opened.socket,
      opened.head,
      sink,
      new WebSocketBase.EventsOf(this),
      options,
    );
    this.connection = connection;
    if (this.output !== undefined) this.bindOutput(this.output, connection);
    this.information.connected(opened.socket.localAddress, opened.protocol, connection, opened.certificate);
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
    this.tracker?.delete(this);
    this.emit('closed', info);
  }

  /** @internal Keeps this socket in `open` until it is closed (a listener's open connections). */
  trackUntilClosed(open: Set<WebSocketBase>): void {
    if (this.closedInfo !== undefined) return;
    open.add(this);
    this.tracker = open;
  }

  /** The connection's events, raised on a socket (one small object: no closures per connection). */
  private static readonly EventsOf = class implements ConnectionEvents {
    constructor(private readonly socket: WebSocketBase) {}

    closeReceived(frame: CloseFrame, hold: () => () => void): void {
      this.socket.emit('closeReceived', new WebSocketCloseReceivedEventArgs(frame, hold));
    }

    closed(info: CloseInfo): void {
      this.socket.reportClosed(info);
    }
  };

  /** Hook for sockets that must also cancel work of their own (a pending connect). */
  protected onCloseRequested(): void {
    // Nothing by default.
  }
}

function ignore(): void {
  // See outputStream.
}
