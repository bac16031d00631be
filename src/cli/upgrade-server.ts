// The HTTP(S) server in front of `sws serve` and `sws bridge`: it routes each upgrade request (after an
// optional Basic credential check) to the command, which refuses it with an HTTP status of its own
// (400, 404, 502…) or hands it to a WebSocketListener. Plain HTTP requests get 426.

import { Buffer } from 'node:buffer';
import { createPrivateKey, timingSafeEqual, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

import { parseBasicAuthorization, type PasswordCredential } from '../index.js';
import { buildErrorResponse } from '../protocol/error-response.js';
import { inTlsHandshake, trackTlsHandshakes } from '../server/tls-handshake.js';
import { parseSeconds } from './args.js';
import { ioFailure, usageError } from './errors.js';

export type UpgradeRoute = (request: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface FrontOptions {
  /** PEM certificate and key: serve wss: instead of ws:. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** Basic credentials every upgrade request must carry. */
  auth?: PasswordCredential | undefined;
  route: UpgradeRoute;
  /** Milliseconds a client has for its TLS handshake and then for its whole upgrade request. */
  handshakeTimeout: number;
}

export type FrontServer = http.Server | https.Server;

/** The --handshake-timeout option of the commands that serve (and its default). */
export const HANDSHAKE_TIMEOUT_OPTION = { 'handshake-timeout': { type: 'string' } } as const;
export const HANDSHAKE_TIMEOUT_USAGE =
  '  --handshake-timeout S    drop a client that has not finished its TLS handshake and upgrade request\n' +
  '                           within S seconds (default 10)';

/** The --handshake-timeout value in milliseconds. */
export function handshakeTimeout(text: string | undefined): number {
  return text === undefined ? 10_000 : parseSeconds(text, '--handshake-timeout');
}

export function createFront(options: FrontOptions): FrontServer {
  const settings = { headersTimeout: options.handshakeTimeout, requestTimeout: options.handshakeTimeout };
  let server: FrontServer;
  if (options.tls === undefined) {
    server = http.createServer(settings);
  } else {
    const secure = https.createServer({
      ...options.tls,
      ...settings,
      handshakeTimeout: options.handshakeTimeout,
    });
    // A handshake that times out or fails reaches 'clientError': refuse() destroys such a socket.
    trackTlsHandshakes(secure);
    server = secure;
  }
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
  if (!socket.writable || inTlsHandshake(socket)) {
    socket.destroy();
    return;
  }
  socket.end(buildErrorResponse({ status, headers, body: `${message}\n` }));
}

/** --tls-cert and --tls-key, read (both or neither) and checked: a certificate, a key, and a pair. */
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
  const pair = { cert: await read(certFile, '--tls-cert'), key: await read(keyFile, '--tls-key') };
  const swapped = (text: Buffer, other: string): string =>
    text.includes(`-----BEGIN ${other}`) ? ' (swapped with the other option?)' : '';
  try {
    new X509Certificate(pair.cert);
  } catch {
    throw usageError(`--tls-cert ${certFile} holds no PEM certificate${swapped(pair.cert, 'PRIVATE KEY')}`);
  }
  try {
    createPrivateKey(pair.key);
  } catch {
    throw usageError(
      `--tls-key ${keyFile} holds no unencrypted PEM private key${swapped(pair.key, 'CERTIFICATE')}`,
    );
  }
  try {
    tls.createSecureContext(pair);
  } catch (error) {
    throw usageError(
      `--tls-key ${keyFile} does not go with --tls-cert ${certFile} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  return pair;
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
