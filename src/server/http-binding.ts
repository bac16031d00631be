// The HTTP server a listener owns (bindServiceNameAsync) or shares (attach): its limits against slow
// and oversized handshakes, and the routing of upgrade requests by path.

import type { Buffer } from 'node:buffer';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

import { DEFAULT_OUTBOUND_BUFFER_SIZE } from '../connection/frame-output.js';
import { invalidArgument } from '../errors.js';
import { rejectUpgrade } from './accept-upgrade.js';
import { trackTlsHandshakes } from './tls-handshake.js';

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
    if (error.code === 'HPE_HEADER_OVERFLOW') rejectUpgrade(socket, 431, 'request header fields too large');
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

const routers = new WeakMap<AnyHttpServer, Map<string, UpgradeHandler>>();

/**
 * Routes upgrade requests for `path` on a server the application owns. Requests for a path nobody
 * attached get 404, unless the application listens for upgrades itself.
 */
export function routeUpgrades(server: AnyHttpServer, path: string, handler: UpgradeHandler): () => void {
  let routes = routers.get(server);
  if (routes === undefined) {
    const table = new Map<string, UpgradeHandler>();
    routes = table;
    routers.set(server, table);
    const dispatch: UpgradeHandler = (request, socket, head) => {
      const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
      const route = table.get(pathname);
      if (route !== undefined) route(request, socket, head);
      else if (server.listenerCount('upgrade') === 1)
        rejectUpgrade(socket, 404, `no WebSocket endpoint at ${pathname}`);
    };
    server.on('upgrade', dispatch);
  }
  if (routes.has(path)) throw invalidArgument(`a listener is already attached at ${path}`);
  routes.set(path, handler);
  const table = routes;
  return () => {
    table.delete(path);
  };
}
