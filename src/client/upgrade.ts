// The client's opening handshake over an open socket: the GET with Upgrade, and the answer checked.

import type { Buffer } from 'node:buffer';
import http from 'node:http';
import type net from 'node:net';

import { HandshakeError, validateServerResponse, type ParsedHeaders } from '../protocol/handshake.js';
import type { DeflateSettings, PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';

export interface UpgradeRequestOptions {
  url: URL;
  /** The request headers, from buildClientRequestHeaders. */
  headers: Record<string, string>;
  key: string;
  protocols: readonly string[];
  /** The permessage-deflate offer made in the headers, to check the answer against. */
  deflate?: PerMessageDeflateOptions | undefined;
}

export interface UpgradeResult {
  socket: net.Socket;
  /** Bytes that arrived after the 101 response: the first frames. */
  head: Buffer;
  protocol: string | null;
  extensions: string;
  deflate: DeflateSettings | undefined;
  headers: ParsedHeaders;
}

/** Sends the upgrade request on `socket` and resolves once a valid 101 came back. */
export function requestUpgrade(
  socket: net.Socket,
  options: UpgradeRequestOptions,
  signal: AbortSignal,
): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const request = http.request({
      createConnection: () => socket,
      method: 'GET',
      path: `${options.url.pathname}${options.url.search}`,
      headers: options.headers,
      signal,
    });
    request.once('upgrade', (response: http.IncomingMessage, upgraded: net.Socket, head: Buffer) => {
      try {
        const { protocol, extensions, deflate } = validateServerResponse(
          response.statusCode ?? 0,
          response.headers,
          options,
        );
        resolve({ socket: upgraded, head, protocol, extensions, deflate, headers: response.headers });
      } catch (error) {
        upgraded.destroy();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    request.once('response', (response: http.IncomingMessage) => {
      const status = response.statusCode ?? 0;
      response.resume();
      socket.destroy();
      // Node treats a 101 without the Upgrade and Connection tokens as a plain response.
      reject(
        status === 101
          ? new HandshakeError("the 101 lacks 'Upgrade: websocket' or 'Connection: Upgrade'")
          : new HandshakeError(
              `the server answered ${status} ${response.statusMessage ?? ''}`.trimEnd(),
              status,
              response.headers,
            ),
      );
    });
    request.once('error', (error: Error) => {
      socket.destroy();
      reject(error);
    });
    request.end();
  });
}
