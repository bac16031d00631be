// The byte pipe under a client WebSocket: TCP to the URL's host and port, or a CONNECT tunnel through a
// forward proxy, with TLS on top for wss:.

import type { Buffer } from 'node:buffer';
import net from 'node:net';
import tls from 'node:tls';

import type { PasswordCredential } from './http-auth.js';
import { openTunnel } from './proxy.js';
import { connectHost, connectPort } from './websocket-url.js';

/** control.clientCertificate: a certificate and key in PEM, or a PKCS#12 bundle. */
export type ClientCertificate =
  | { cert: string | Buffer; key: string | Buffer; passphrase?: string }
  | { pfx: string | Buffer; passphrase?: string };

export interface TransportOptions {
  url: URL;
  noDelay: boolean;
  /** The forward proxy to tunnel through, if any (already resolved from control.proxy and the environment). */
  proxy?: URL | undefined;
  proxyCredential?: PasswordCredential | null;
  /** Trust anchors beyond the system's, in PEM (control.ca). */
  ca?: readonly (string | Buffer)[];
  clientCertificate?: ClientCertificate | null;
  /** Bytes buffered before writes wait (control.outboundBufferSizeInBytes); Node's default if absent. */
  writableHighWaterMark?: number;
}

/** Opens the TCP connection or proxy tunnel, then TLS for wss:; rejects with the error or on abort. */
export async function openTransport(options: TransportOptions, signal: AbortSignal): Promise<net.Socket> {
  const highWaterMark =
    options.writableHighWaterMark === undefined
      ? {}
      : { writableHighWaterMark: options.writableHighWaterMark };
  const tcp =
    options.proxy === undefined
      ? await whenReady(
          net.connect({ host: connectHost(options.url), port: connectPort(options.url), ...highWaterMark }),
          'connect',
          signal,
        )
      : await openTunnel({
          proxy: options.proxy,
          target: options.url,
          credential: options.proxyCredential ?? null,
          signal,
        });
  tcp.setNoDelay(options.noDelay);
  if (options.url.protocol !== 'wss:') return tcp;
  const host = connectHost(options.url);
  let secure: tls.TLSSocket;
  try {
    secure = tls.connect({
      socket: tcp,
      servername: net.isIP(host) === 0 ? host : undefined,
      ALPNProtocols: ['http/1.1'],
      // Not a blanket acceptance: connect.ts judges the certificate itself (every error, not OpenSSL's
      // one) before a byte of the handshake is sent, and fails unless each error was declared ignorable.
      rejectUnauthorized: false,
      // The name is checked there too; Node's own check would run against 'localhost' for an IP address.
      checkServerIdentity: () => undefined,
      ...(options.ca !== undefined && options.ca.length > 0
        ? { ca: [...tls.rootCertificates, ...options.ca] }
        : {}),
      ...(options.clientCertificate ?? {}),
      ...highWaterMark,
    });
  } catch (error) {
    // Bad certificate material (a wrong passphrase, an unreadable key) throws at once.
    tcp.destroy();
    throw error;
  }
  return whenReady(secure, 'secureConnect', signal);
}

/** Resolves with the socket once it emits `ready`; destroys it on error or abort. */
function whenReady<T extends net.Socket>(
  socket: T,
  ready: 'connect' | 'secureConnect',
  signal: AbortSignal,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      socket.off(ready, onReady);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onReady = (): void => {
      cleanup();
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
    socket.once(ready, onReady);
    socket.once('error', onError);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
