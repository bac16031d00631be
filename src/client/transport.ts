// The byte pipe under a client WebSocket: TCP to the URL's host and port, with TLS for wss:.

import type { Buffer } from 'node:buffer';
import net from 'node:net';
import tls from 'node:tls';

import { connectHost, connectPort } from './websocket-url.js';

/** control.clientCertificate: a certificate and key in PEM, or a PKCS#12 bundle. */
export type ClientCertificate =
  | { cert: string | Buffer; key: string | Buffer; passphrase?: string }
  | { pfx: string | Buffer; passphrase?: string };

export interface TransportOptions {
  url: URL;
  noDelay: boolean;
  /** Trust anchors beyond the system's, in PEM (control.ca). */
  ca?: readonly (string | Buffer)[];
  clientCertificate?: ClientCertificate | null;
  /** Bytes buffered before writes wait (control.outboundBufferSizeInBytes); Node's default if absent. */
  writableHighWaterMark?: number;
}

/** Opens the TCP (and for wss: the TLS) connection; rejects with the socket's error or on abort. */
export function openTransport(options: TransportOptions, signal: AbortSignal): Promise<net.Socket> {
  const host = connectHost(options.url);
  const port = connectPort(options.url);
  const secure = options.url.protocol === 'wss:';
  const highWaterMark =
    options.writableHighWaterMark === undefined
      ? {}
      : { writableHighWaterMark: options.writableHighWaterMark };
  const socket = secure
    ? tls.connect({
        host,
        port,
        servername: net.isIP(host) === 0 ? host : undefined,
        ALPNProtocols: ['http/1.1'],
        // Not a blanket acceptance: connect.ts judges the certificate itself (every error, not OpenSSL's
        // one) before a byte of the handshake is sent, and fails unless each error was declared ignorable.
        rejectUnauthorized: false,
        ...(options.ca !== undefined && options.ca.length > 0
          ? { ca: [...tls.rootCertificates, ...options.ca] }
          : {}),
        ...(options.clientCertificate ?? {}),
        ...highWaterMark,
      })
    : net.connect({ host, port, ...highWaterMark });
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      socket.off(secure ? 'secureConnect' : 'connect', onConnect);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onConnect = (): void => {
      cleanup();
      socket.setNoDelay(options.noDelay);
      resolve(socket);
    };
    const onError = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onAbort = (): void => {
      onError(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    socket.once(secure ? 'secureConnect' : 'connect', onConnect);
    socket.once('error', onError);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
