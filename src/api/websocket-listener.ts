// WebSocketListener: accepts WebSocket connections on a port of its own (bindServiceNameAsync), on a
// path of an application's HTTP server (attach), or from a framework (handleUpgrade), and hands each
// one out as a ServerStreamWebSocket in the 'connectionReceived' event.

/* eslint-disable @typescript-eslint/no-unsafe-declaration-merging -- the interface types the class's events, as @types/node does for its own emitters */

import type { Buffer } from 'node:buffer';
import { EventEmitter, once } from 'node:events';
import type http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import { finished, type Duplex } from 'node:stream';

import { illegalMethodCall, invalidArgument, toWebSocketError } from '../errors.js';
import { CloseCode } from '../protocol/close.js';
import { subprotocolsProblem } from '../protocol/handshake.js';
import { acceptUpgrade, rejectUpgrade } from '../server/accept-upgrade.js';
import {
  createUpgradeServer,
  dropConnections,
  routeUpgrades,
  type AnyHttpServer,
} from '../server/http-binding.js';
import { DEFAULT_CLOSE_TIMEOUT, DEFAULT_KEEP_ALIVE_TIMEOUT } from './control.js';
import { ServerMessageWebSocket } from './server-message-websocket.js';
import { ServerStreamWebSocket } from './server-stream-websocket.js';
import type { WebSocketBase } from './websocket-base.js';

const SHUTTING_DOWN = 'the server is shutting down';

export type ListenerMode = 'stream' | 'message';

/** The socket a listener of this mode hands out. */
export type ServerSocketOf<Mode extends ListenerMode> = Mode extends 'message'
  ? ServerMessageWebSocket
  : ServerStreamWebSocket;

export interface WebSocketListenerOptions<Mode extends ListenerMode = 'stream'> {
  /** 'stream' (default): each connection is a ServerStreamWebSocket; 'message': a ServerMessageWebSocket. */
  mode?: Mode;
  /** Subprotocols this server speaks; the first one the client offers (in its order) is chosen. */
  supportedProtocols?: string[];
  /** Milliseconds a client has to send its handshake request (bindServiceNameAsync). Default 10 000. */
  handshakeTimeout?: number;
  /** Largest handshake request head, in bytes (bindServiceNameAsync). Default 16 384. */
  maxHeaderSize?: number;
  /**
   * Largest message a connection accepts, in bytes; 1009 beyond it. Default: 16 MiB for messages taken
   * whole (message mode, FullMessage), unlimited where messages stream.
   */
  maxMessageSize?: number;
  /** Milliseconds to wait for a peer's close frame before dropping the connection. Default 10 000. */
  closeTimeout?: number;
  /**
   * Keep-alive: a connection quiet this many ms is pinged, and dropped (ConnectionAborted, 1006) if nothing
   * arrives within keepAliveTimeout after that. Default 30 000; 0 turns it off.
   */
  keepAliveInterval?: number;
  /** Default 30 000 ms. */
  keepAliveTimeout?: number;
  /**
   * Serve wss: from bindServiceNameAsync: the https.createServer options (key, cert, ca, requestCert…).
   * A client certificate is then on `request.socket` in connectionReceived.
   */
  tls?: https.ServerOptions;
  /**
   * Decides whether an upgrade request may proceed (it sees the headers, e.g. Authorization). False
   * answers 401 with `authenticationChallenge`; a thrown error answers 500.
   */
  authenticate?: (request: http.IncomingMessage) => boolean | Promise<boolean>;
  /** The WWW-Authenticate challenge of that 401. Default: `Basic realm="WebSocket", charset="UTF-8"`. */
  authenticationChallenge?: string;
}

export interface ConnectionReceivedEventArgs<Mode extends ListenerMode = 'stream'> {
  socket: ServerSocketOf<Mode>;
  /** The HTTP upgrade request: path, headers, the client's address. */
  request: http.IncomingMessage;
}

export interface WebSocketListenerInformation {
  /** The port bound by bindServiceNameAsync; null before. */
  readonly localPort: number | null;
}

export interface WebSocketListener<Mode extends ListenerMode = 'stream'> {
  on(event: 'connectionReceived', listener: (args: ConnectionReceivedEventArgs<Mode>) => void): this;
  once(event: 'connectionReceived', listener: (args: ConnectionReceivedEventArgs<Mode>) => void): this;
  off(event: 'connectionReceived', listener: (args: ConnectionReceivedEventArgs<Mode>) => void): this;
  emit(event: 'connectionReceived', args: ConnectionReceivedEventArgs<Mode>): boolean;
}

export class WebSocketListener<Mode extends ListenerMode = 'stream'> extends EventEmitter {
  private readonly mode: ListenerMode;
  private readonly supportedProtocols: readonly string[];
  private readonly options: Required<
    Omit<
      WebSocketListenerOptions,
      'supportedProtocols' | 'mode' | 'tls' | 'authenticate' | 'authenticationChallenge'
    >
  >;
  private readonly tlsOptions: https.ServerOptions | undefined;
  private readonly authenticate: WebSocketListenerOptions['authenticate'];
  private readonly challenge: string;
  private server: AnyHttpServer | undefined;
  private localPort: number | null = null;
  private readonly detachers: (() => void)[] = [];
  /** The connections handed out and not yet closed. */
  private readonly open = new Set<WebSocketBase>();
  /** Upgrade requests whose authenticate hook has not answered yet. */
  private readonly authenticating = new Set<Duplex>();
  private closing = false;

  constructor(options: WebSocketListenerOptions<Mode> = {}) {
    super();
    const mode: string = options.mode ?? 'stream';
    if (mode !== 'stream' && mode !== 'message') throw invalidArgument(`unknown listener mode '${mode}'`);
    this.mode = mode;
    this.supportedProtocols = [...(options.supportedProtocols ?? [])];
    const problem = subprotocolsProblem(this.supportedProtocols);
    if (problem !== undefined) throw invalidArgument(problem);
    this.tlsOptions = options.tls;
    this.authenticate = options.authenticate;
    this.challenge = options.authenticationChallenge ?? 'Basic realm="WebSocket", charset="UTF-8"';
    this.options = {
      handshakeTimeout: options.handshakeTimeout ?? 10_000,
      maxHeaderSize: options.maxHeaderSize ?? 16_384,
      maxMessageSize: options.maxMessageSize ?? Infinity,
      closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
      keepAliveInterval: options.keepAliveInterval ?? 30_000,
      keepAliveTimeout: options.keepAliveTimeout ?? DEFAULT_KEEP_ALIVE_TIMEOUT,
    };
  }

  /** The bound port (WinRT StreamSocketListener.Information). */
  get information(): WebSocketListenerInformation {
    return { localPort: this.localPort };
  }

  /** Starts listening on a port (0: any free port; see information.localPort) and host. */
  async bindServiceNameAsync(port: number | string = 0, host?: string): Promise<void> {
    if (this.server !== undefined) throw illegalMethodCall('the listener is already bound');
    if (this.closing) throw illegalMethodCall('the listener was closed');
    const server = createUpgradeServer(
      this.options,
      (request, socket, head) => {
        this.handleUpgrade(request, socket, head);
      },
      this.tlsOptions,
    );
    this.server = server;
    server.listen(Number(port), host);
    try {
      await once(server, 'listening');
    } catch (error) {
      this.server = undefined;
      throw toWebSocketError(error);
    }
    this.localPort = (server.address() as AddressInfo).port;
  }

  /** Serves WebSocket upgrades for `path` on an application's HTTP or HTTPS server. */
  attach(server: AnyHttpServer, path = '/'): void {
    if (this.closing) throw illegalMethodCall('the listener was closed');
    this.detachers.push(
      routeUpgrades(server, path, (request, socket, head) => {
        this.handleUpgrade(request, socket, head);
      }),
    );
  }

  /** Completes an upgrade that an HTTP framework received ('upgrade' event arguments). */
  handleUpgrade(request: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignore);
    if (this.closing) {
      rejectUpgrade(socket, 503, SHUTTING_DOWN);
      return;
    }
    if (this.listenerCount('connectionReceived') === 0) {
      rejectUpgrade(socket, 503, 'no application is accepting WebSocket connections');
      return;
    }
    if (this.authenticate === undefined) {
      this.accept(request, socket, head);
      return;
    }
    const authenticate = this.authenticate;
    this.authenticating.add(socket);
    socket.once('close', () => this.authenticating.delete(socket));
    // In a promise's executor, a hook that throws synchronously is a rejection like an async one.
    new Promise<boolean>((resolve) => {
      resolve(authenticate(request));
    }).then(
      (allowed) => {
        // Not pending any more: closeAsync answered 503 meanwhile.
        if (!this.authenticating.delete(socket) || !socket.writable) return;
        if (allowed) this.accept(request, socket, head);
        else rejectUpgrade(socket, 401, 'authentication required', { 'WWW-Authenticate': this.challenge });
      },
      () => {
        if (this.authenticating.delete(socket)) rejectUpgrade(socket, 500, 'the authentication check failed');
      },
    );
  }

  private accept(request: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const accepted = acceptUpgrade(request, socket, head, this.supportedProtocols);
    if (accepted === undefined) return;
    const connectionOptions = {
      role: 'server',
      maxMessageSize: this.options.maxMessageSize,
      closeTimeout: this.options.closeTimeout,
      keepAliveInterval: this.options.keepAliveInterval,
      keepAliveTimeout: this.options.keepAliveTimeout,
    } as const;
    const webSocket =
      this.mode === 'message'
        ? new ServerMessageWebSocket(accepted, connectionOptions)
        : new ServerStreamWebSocket(accepted, connectionOptions);
    // The connection listens for the socket's errors now.
    socket.off('error', ignore);
    webSocket.trackUntilClosed(this.open);
    this.emit('connectionReceived', { socket: webSocket as ServerSocketOf<Mode>, request });
  }

  /**
   * Stops accepting, answers 503 to upgrades still waiting for the authenticate hook, closes every open
   * connection with 1001 (going away) and waits for those answers and the closing handshakes (each
   * bounded by the close timeout).
   */
  async closeAsync(): Promise<void> {
    this.closing = true;
    const refused = [...this.authenticating].map(refuseShuttingDown);
    this.authenticating.clear();
    for (const detach of this.detachers.splice(0)) detach();
    const server = this.server;
    const stopped =
      server === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            server.close(() => {
              resolve();
            });
          });
    const closing = [...this.open].map((socket) => socket.whenClosed());
    for (const socket of this.open) socket.goAway(CloseCode.GoingAway, 'server shutting down');
    await Promise.all([...refused, ...closing]);
    if (server !== undefined) dropConnections(server);
    await stopped;
  }
}

/** Answers 503 to a pending upgrade; resolves once the answer is written (or the socket is gone). */
function refuseShuttingDown(socket: Duplex): Promise<void> {
  rejectUpgrade(socket, 503, SHUTTING_DOWN);
  return new Promise((resolve) => {
    finished(socket, { readable: false }, () => {
      resolve();
    });
  });
}

function ignore(): void {
  // Socket errors during and after the handshake are reported through the WebSocket, not thrown.
}
