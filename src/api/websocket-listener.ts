// WebSocketListener: accepts WebSocket connections on a port of its own (bindServiceNameAsync), on a
// path of an application's HTTP server (attach), or from a framework (handleUpgrade), and hands each
// one out in the 'connectionReceived' event: a ServerStreamWebSocket, a ServerMessageWebSocket ('message'
// mode) or a ServerWebSocketStream ('webstream' mode).

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
import { refusalProblem, type UpgradeRefusal } from '../protocol/error-response.js';
import {
  deflateOptionsOf,
  deflateOptionsProblem,
  type PerMessageDeflateOptions,
} from '../protocol/permessage-deflate.js';
import { acceptUpgrade, refuseUpgrade, rejectUpgrade } from '../server/accept-upgrade.js';
import {
  createUpgradeServer,
  dropConnections,
  routeUpgrades,
  type AnyHttpServer,
} from '../server/http-binding.js';
import { DEFAULT_CLOSE_TIMEOUT, DEFAULT_KEEP_ALIVE_TIMEOUT } from './control.js';
import { admit, OpenSockets, release } from './open-sockets.js';
import { ServerMessageWebSocket } from './server-message-websocket.js';
import { ServerStreamWebSocket } from './server-stream-websocket.js';
import { ServerWebSocketStream } from './server-websocket-stream.js';
import { WebStreamSocket } from './web-stream-socket.js';
import type { WebSocketBase } from './websocket-base.js';

const SHUTTING_DOWN = 'the server is shutting down';

/** The modes whose sockets are of the WinRT family. */
export type ListenerMode = 'stream' | 'message';
/** Every mode: also 'webstream', whose connections are ServerWebSocketStreams. */
export type WebSocketListenerMode = ListenerMode | 'webstream';

/** The socket a listener of this mode hands out. */
export type ServerSocketOf<Mode extends WebSocketListenerMode> = Mode extends 'message'
  ? ServerMessageWebSocket
  : Mode extends 'webstream'
    ? ServerWebSocketStream
    : ServerStreamWebSocket;

export interface WebSocketListenerOptions<Mode extends WebSocketListenerMode = 'stream'> {
  /**
   * 'stream' (default): each connection is a ServerStreamWebSocket; 'message': a ServerMessageWebSocket;
   * 'webstream': a ServerWebSocketStream (the WHATWG WebSocketStream shape).
   */
  mode?: Mode;
  /** 'webstream' mode: each received message is a stream of its bytes (see WebSocketStreamOptions). */
  messageStreams?: boolean;
  /** Subprotocols this server speaks; the first one the client offers (in its order) is chosen. */
  supportedProtocols?: string[];
  /**
   * Milliseconds a client has to send its handshake request (bindServiceNameAsync); with attach, how long
   * the application's own 'upgrade' handlers have to answer a path no listener serves. Default 10 000.
   */
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
  /**
   * Decides, for each upgrade request, whether to accept it (as `ws`'s verifyClient and Python
   * websockets' process_request): return nothing (or true) to accept, or a refusal — any 4xx or 5xx
   * status, headers and a short body — to answer with it; false answers 403. It may be async. A hook
   * that throws or rejects, or returns a refusal that cannot be sent as it is, answers 500. It runs
   * after `authenticate`, for bindServiceNameAsync, attach and handleUpgrade alike.
   */
  verifyRequest?: (request: http.IncomingMessage) => UpgradeVerdict | Promise<UpgradeVerdict>;
  /**
   * permessage-deflate (RFC 7692): true accepts a client's offer with the defaults, an object with these
   * settings (the window and context-takeover ones are imposed on the clients that offer compression).
   * Default off: it costs CPU and, with context takeover, memory per connection (see the README).
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

/** What verifyRequest decides: undefined or true accepts; a refusal or false (403) refuses. */
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- a hook that returns nothing accepts
export type UpgradeVerdict = UpgradeRefusal | boolean | undefined | void;

export interface ConnectionReceivedEventArgs<Mode extends WebSocketListenerMode = 'stream'> {
  socket: ServerSocketOf<Mode>;
  /** The HTTP upgrade request: path, headers, the client's address. */
  request: http.IncomingMessage;
}

export interface WebSocketListenerInformation {
  /** The port bound by bindServiceNameAsync; null before. */
  readonly localPort: number | null;
}

export interface WebSocketListener<Mode extends WebSocketListenerMode = 'stream'> {
  on(event: 'connectionReceived', listener: (args: ConnectionReceivedEventArgs<Mode>) => void): this;
  once(event: 'connectionReceived', listener: (args: ConnectionReceivedEventArgs<Mode>) => void): this;
  off(event: 'connectionReceived', listener: (args: ConnectionReceivedEventArgs<Mode>) => void): this;
  emit(event: 'connectionReceived', args: ConnectionReceivedEventArgs<Mode>): boolean;
}

export class WebSocketListener<Mode extends WebSocketListenerMode = 'stream'> extends EventEmitter {
  private readonly mode: WebSocketListenerMode;
  private readonly messageStreams: boolean;
  private readonly supportedProtocols: readonly string[];
  private readonly options: Required<
    Omit<
      WebSocketListenerOptions,
      | 'supportedProtocols'
      | 'mode'
      | 'messageStreams'
      | 'tls'
      | 'authenticate'
      | 'authenticationChallenge'
      | 'verifyRequest'
      | 'perMessageDeflate'
    >
  >;
  private readonly perMessageDeflate: PerMessageDeflateOptions | undefined;
  private readonly tlsOptions: https.ServerOptions | undefined;
  private readonly authenticate: WebSocketListenerOptions['authenticate'];
  private readonly challenge: string;
  private readonly verifyRequest: WebSocketListenerOptions['verifyRequest'];
  private server: AnyHttpServer | undefined;
  private localPort: number | null = null;
  private readonly detachers: (() => void)[] = [];
  /** The sockets handed out, as applications see them (listener.clients); closeAsync closes them. */
  private readonly open = new OpenSockets<ServerSocketOf<Mode>>();
  /** Forgets a closed socket of the stream and message modes: one function for all of them. */
  private readonly forget = (webSocket: WebSocketBase): void => {
    release(this.open, webSocket as ServerSocketOf<Mode>);
  };
  /** Upgrade requests whose authenticate or verifyRequest hook has not answered yet. */
  private readonly verifying = new Set<Duplex>();
  private closing = false;

  constructor(options: WebSocketListenerOptions<Mode> = {}) {
    super();
    const mode: string = options.mode ?? 'stream';
    if (mode !== 'stream' && mode !== 'message' && mode !== 'webstream') {
      throw invalidArgument(`unknown listener mode '${mode}'`);
    }
    this.mode = mode;
    this.messageStreams = options.messageStreams ?? false;
    this.supportedProtocols = [...(options.supportedProtocols ?? [])];
    const problem = subprotocolsProblem(this.supportedProtocols);
    if (problem !== undefined) throw invalidArgument(problem);
    const deflateProblem = deflateOptionsProblem(options.perMessageDeflate ?? false);
    if (deflateProblem !== undefined) throw invalidArgument(deflateProblem);
    this.perMessageDeflate = deflateOptionsOf(options.perMessageDeflate ?? false);
    this.tlsOptions = options.tls;
    this.authenticate = options.authenticate;
    this.challenge = options.authenticationChallenge ?? 'Basic realm="WebSocket", charset="UTF-8"';
    const challengeProblem = refusalProblem(this.authenticationRefusal);
    if (challengeProblem !== undefined) throw invalidArgument(`authenticationChallenge: ${challengeProblem}`);
    this.verifyRequest = options.verifyRequest;
    this.options = {
      handshakeTimeout: options.handshakeTimeout ?? 10_000,
      maxHeaderSize: options.maxHeaderSize ?? 16_384,
      maxMessageSize: options.maxMessageSize ?? Infinity,
      closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
      keepAliveInterval: options.keepAliveInterval ?? 30_000,
      keepAliveTimeout: options.keepAliveTimeout ?? DEFAULT_KEEP_ALIVE_TIMEOUT,
    };
  }

  /**
   * The open connections, live and read-only (as `ws`'s `wss.clients`): a socket is in it from its
   * connectionReceived until its 'closed' event, so one that is closing may still be there.
   */
  get clients(): ReadonlySet<ServerSocketOf<Mode>> {
    return this.open;
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

  /**
   * Serves WebSocket upgrades for `path` on an application's HTTP or HTTPS server. Upgrades for paths no
   * listener is attached to get 404; if the application has 'upgrade' handlers of its own, they may take
   * those instead, and whatever they have neither answered nor closed within handshakeTimeout gets 404.
   */
  attach(server: AnyHttpServer, path = '/'): void {
    if (this.closing) throw illegalMethodCall('the listener was closed');
    this.detachers.push(
      routeUpgrades(
        server,
        path,
        (request, socket, head) => {
          this.handleUpgrade(request, socket, head);
        },
        this.options.handshakeTimeout,
      ),
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
    if (this.authenticate === undefined && this.verifyRequest === undefined) {
      this.accept(request, socket, head);
      return;
    }
    this.verifying.add(socket);
    socket.once('close', () => this.verifying.delete(socket));
    this.verdict(request).then(
      (refusal) => {
        // Not pending any more: closeAsync answered 503 meanwhile.
        if (!this.verifying.delete(socket) || !socket.writable) return;
        if (refusal === undefined) this.accept(request, socket, head);
        else refuseUpgrade(socket, refusal);
      },
      () => {
        if (this.verifying.delete(socket))
          rejectUpgrade(socket, 500, 'the upgrade request could not be checked');
      },
    );
  }

  /** The application's hooks on a request: undefined to accept it, or the refusal to answer. */
  private async verdict(request: http.IncomingMessage): Promise<UpgradeRefusal | undefined> {
    if (this.authenticate !== undefined && !(await this.authenticate(request)))
      return this.authenticationRefusal;
    if (this.verifyRequest === undefined) return undefined;
    const verdict = await this.verifyRequest(request);
    if (verdict === undefined || verdict === true) return undefined;
    if (verdict === false) return { status: 403 };
    const problem = refusalProblem(verdict);
    if (problem !== undefined) throw invalidArgument(`verifyRequest: ${problem}`);
    return verdict;
  }

  private get authenticationRefusal(): UpgradeRefusal {
    return {
      status: 401,
      headers: { 'WWW-Authenticate': this.challenge },
      body: 'authentication required\n',
    };
  }

  private accept(request: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const accepted = acceptUpgrade(request, socket, head, this.supportedProtocols, this.perMessageDeflate);
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
        : this.mode === 'webstream'
          ? WebStreamSocket.accepted(accepted, connectionOptions)
          : new ServerStreamWebSocket(accepted, connectionOptions);
    let handedOut: ServerSocketOf<Mode>;
    if (webSocket instanceof WebStreamSocket) {
      const stream = new ServerWebSocketStream(webSocket, this.messageStreams);
      handedOut = stream as ServerSocketOf<Mode>;
      webSocket.whenGone = () => {
        release(this.open, handedOut);
      };
    } else {
      handedOut = webSocket as ServerSocketOf<Mode>;
      webSocket.whenGone = this.forget;
    }
    // The connection listens for the socket's errors now.
    socket.off('error', ignore);
    admit(this.open, handedOut);
    this.emit('connectionReceived', { socket: handedOut, request });
  }

  /**
   * Stops accepting, answers 503 to upgrades still waiting for a hook (authenticate, verifyRequest),
   * closes every open connection with 1001 (going away) and waits for those answers and the closing
   * handshakes (each bounded by the close timeout).
   */
  async closeAsync(): Promise<void> {
    this.closing = true;
    const refused = [...this.verifying].map(refuseShuttingDown);
    this.verifying.clear();
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
    const sockets = [...(this.open as Set<HandedOut>)].map(underlying);
    const closing = sockets.map((socket) => socket.whenClosed());
    for (const socket of sockets) socket.goAway(CloseCode.GoingAway, 'server shutting down');
    await Promise.all([...refused, ...closing]);
    if (server !== undefined) dropConnections(server);
    await stopped;
  }
}

type HandedOut = ServerStreamWebSocket | ServerMessageWebSocket | ServerWebSocketStream;

/** The socket behind what the listener handed out. */
function underlying(handedOut: HandedOut): WebSocketBase {
  return handedOut instanceof ServerWebSocketStream ? handedOut.webSocket : handedOut;
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
