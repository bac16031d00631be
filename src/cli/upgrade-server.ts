// The HTTP(S) server in front of `sws serve` and `sws bridge`: it routes each upgrade request (after an
// optional Basic credential check) to the command, which refuses it with an HTTP status of its own
// (400, 404, 502…) or hands it to a WebSocketListener. Plain HTTP requests get 426.

import { Buffer } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import { parseBasicAuthorization, type PasswordCredential } from '../index.js';
import { ioFailure, usageError } from './errors.js';

export type UpgradeRoute = (request: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface FrontOptions {
  /** PEM certificate and key: serve wss: instead of ws:. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** Basic credentials every upgrade request must carry. */
  auth?: PasswordCredential | undefined;
  route: UpgradeRoute;
}

export type FrontServer = http.Server | https.Server;

/** Milliseconds a client has for its whole upgrade request. */
const REQUEST_TIMEOUT_MS = 10_000;

export function createFront(options: FrontOptions): FrontServer {
  const settings = { headersTimeout: REQUEST_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS };
  const server =
    options.tls === undefined
      ? http.createServer(settings)
      : https.createServer({ ...options.tls, ...settings });
  server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
    request.resume();
    response.writeHead(426, { Upgrade: 'websocket', Connection: 'close', 'Content-Type': 'text/plain' });
    response.end(
      'sws: this is a WebSocket server; connect with a WebSocket client (sws recv, sws connect)\n',
    );
  });
  server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    if (options.auth !== undefined && !authorized(request, options.auth)) {
      refuse(socket, 401, 'credentials required', {
        'WWW-Authenticate': 'Basic realm="sws", charset="UTF-8"',
      });
      return;
    }
    options.route(request, socket, head);
  });
  server.on('clientError', (_error: Error, socket: Duplex) => {
    refuse(socket, 400, 'malformed HTTP request');
  });
  return server;
}

/** Starts listening; returns the bound port. A failure is a local I/O error (exit 6). */
export async function listen(server: FrontServer, host: string, port: number): Promise<number> {
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (error) {
    throw ioFailure(error, `cannot listen on ${host}:${port}`);
  }
  return (server.address() as AddressInfo).port;
}

/** Answers an upgrade request with an HTTP error and closes the connection. */
export function refuse(
  socket: Duplex,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** --tls-cert and --tls-key, read (both or neither). */
export async function readTls(
  certFile: string | undefined,
  keyFile: string | undefined,
): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined)
    throw usageError('--tls-cert and --tls-key go together');
  const read = async (file: string, option: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (error) {
      throw ioFailure(error, `cannot read ${option} ${file}`);
    }
  };
  return { cert: await read(certFile, '--tls-cert'), key: await read(keyFile, '--tls-key') };
}

/** Closes the server and every connection it still has. */
export async function closeFront(server: FrontServer): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  server.closeAllConnections();
  await closed;
}

function authorized(request: http.IncomingMessage, expected: PasswordCredential): boolean {
  const given = parseBasicAuthorization(request.headers.authorization);
  if (given === undefined) return false;
  return same(given.username, expected.username) && same(given.password, expected.password);
}

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
