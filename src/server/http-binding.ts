// The HTTP server a listener owns (bindServiceNameAsync) or shares (attach): its limits against slow
// and oversized handshakes, and the routing of upgrade requests by path.

import type { Buffer } from 'node:buffer';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

import { DEFAULT_OUTBOUND_BUFFER_SIZE } from '../connection/frame-output.js';
import { invalidArgument } from '../errors.js';
import { rejectUpgrade } from './accept-upgrade.js';
import { inTlsHandshake, trackTlsHandshakes } from './tls-handshake.js';

export type UpgradeHandler = (request: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
export type AnyHttpServer = http.Server | https.Server;

export interface HttpLimits {
  /** Milliseconds a client has to send its whole handshake request. */
  handshakeTimeout: number;
  /** Largest request head, in bytes (431 beyond it). */
  maxHeaderSize: number;
}

/**
 * An HTTP (or, with TLS options, HTTPS) server whose only job is WebSocket upgrades: plain requests get
 * 426 Upgrade Required.
 */
export function createUpgradeServer(
  limits: HttpLimits,
  onUpgrade: UpgradeHandler,
  tlsOptions?: https.ServerOptions,
): AnyHttpServer {
  const serverOptions = {
    // The accepted sockets' buffer before writes wait (as control.outboundBufferSizeInBytes for clients).
    highWaterMark: DEFAULT_OUTBOUND_BUFFER_SIZE,
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.handshakeTimeout,
    requestTimeout: limits.handshakeTimeout,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.handshakeTimeout / 4))),
  };
  const server =
    tlsOptions === undefined
      ? http.createServer(serverOptions)
      : createHttpsServer(limits, tlsOptions, serverOptions);
  // Every TCP connection, including those still in their TLS handshake (which node:http does not track).
  const sockets = new Set<Duplex>();
  // One function for all sockets ('close' comes once): an idle connection costs no closure of its own.
  const forget = function (this: Duplex): void {
    sockets.delete(this);
  };
  server.on('connection', (socket: Duplex) => {
    sockets.add(socket);
    socket.on('close', forget);
  });
  openSockets.set(server, sockets);
  server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
    request.resume();
    response.writeHead(426, { Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', Connection: 'close' });
    response.end('This is a WebSocket endpoint: send a WebSocket upgrade request.\n');
  });
  server.on('upgrade', onUpgrade);
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // An answer cannot reach a socket still in its TLS handshake: end() would wait for a handshake that a
    // stalled or hostile client never finishes.
    if (inTlsHandshake(socket)) socket.destroy();
    else if (error.code === 'HPE_HEADER_OVERFLOW')
      rejectUpgrade(socket, 431, 'request header fields too large');
    else rejectUpgrade(socket, 400, 'malformed HTTP request');
  });
  return server;
}

/** The https server: a handshake that times out or fails reaches 'clientError' and is destroyed there. */
function createHttpsServer(
  limits: HttpLimits,
  tlsOptions: https.ServerOptions,
  serverOptions: https.ServerOptions,
): https.Server {
  const server = https.createServer({
    handshakeTimeout: limits.handshakeTimeout,
    ...tlsOptions,
    ...serverOptions,
  });
  trackTlsHandshakes(server);
  return server;
}

const openSockets = new WeakMap<AnyHttpServer, Set<Duplex>>();

/** Destroys every connection a server made by createUpgradeServer still holds (at the end of a shutdown). */
export function dropConnections(server: AnyHttpServer): void {
  for (const socket of openSockets.get(server) ?? []) socket.destroy();
}

interface Router {
  routes: Map<string, UpgradeHandler>;
  /** How long the application's own 'upgrade' handlers have to answer a path nobody attached. */
  unansweredTimeout: number;
}

const routers = new WeakMap<AnyHttpServer, Router>();

/**
 * Routes upgrade requests for `path` on a server the application owns. A request for a path nobody
 * attached gets 404 — at once if the application has no 'upgrade' handler of its own; else those
 * handlers may take it, and if none of them has written to it or closed it within `unansweredTimeout`
 * (the smallest any attached listener gave), it gets 404 then: never a hang.
 */
export function routeUpgrades(
  server: AnyHttpServer,
  path: string,
  handler: UpgradeHandler,
  unansweredTimeout: number,
): () => void {
  let router = routers.get(server);
  if (router === undefined) {
    const table: Router = { routes: new Map(), unansweredTimeout };
    router = table;
    routers.set(server, table);
    const dispatch: UpgradeHandler = (request, socket, head) => {
      const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
      const route = table.routes.get(pathname);
      const notFound = `no WebSocket endpoint at ${pathname}`;
      if (route !== undefined) route(request, socket, head);
      else if (server.listenerCount('upgrade') === 1) rejectUpgrade(socket, 404, notFound);
      else notFoundUnlessAnswered(socket, table.unansweredTimeout, notFound);
    };
    server.on('upgrade', dispatch);
  }
  if (router.routes.has(path)) throw invalidArgument(`a listener is already attached at ${path}`);
  router.routes.set(path, handler);
  router.unansweredTimeout = Math.min(router.unansweredTimeout, unansweredTimeout);
  const routes = router.routes;
  return () => {
    routes.delete(path);
  };
}

/** Answers 404 after `ms` unless something else wrote to the socket or closed it meanwhile. */
function notFoundUnlessAnswered(socket: Duplex, ms: number, reason: string): void {
  const timer = setTimeout(() => {
    socket.off('close', cancel);
    // bytesWritten counts what is still queued too: any answer begun by a handler is left alone.
    const untouched = (socket as Partial<Socket>).bytesWritten === 0 && socket.writable;
    if (untouched) rejectUpgrade(socket, 404, reason);
  }, ms);
  timer.unref();
  const cancel = (): void => {
    clearTimeout(timer);
  };
  socket.once('close', cancel);
}
