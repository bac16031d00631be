// connectAsync's work: URL → TCP/TLS → HTTP upgrade, bounded by the connect timeout and an AbortSignal.

import type net from 'node:net';
import tls from 'node:tls';

import type { UpgradedSocket } from '../connection/upgraded-socket.js';
import { HResult, operationCanceled, toWebSocketError, WebErrorStatus, WebSocketError } from '../errors.js';
import { buildClientRequestHeaders, generateKey, HandshakeError } from '../protocol/handshake.js';
import { deflateOffer, type PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
import {
  certificateFailure,
  checkServerCertificate,
  trustAnchors,
  type ServerCertificateReport,
} from './certificate-check.js';
import type { ChainValidationResult } from './chain-validation-result.js';
import { clientCertificateRequired } from './client-certificate-required.js';
import { authorizationFor, parseChallenges, type PasswordCredential } from './http-auth.js';
import { openTransport, type TransportOptions } from './transport.js';
import { connectHost } from './websocket-url.js';
import { requestUpgrade } from './upgrade.js';

export interface ClientConnectOptions extends TransportOptions {
  /** Answers a 401 on the upgrade with Basic or Digest (control.serverCredential). */
  serverCredential?: PasswordCredential | null;
  /** wss: certificate errors the application accepts (Untrusted, Expired, InvalidName, IncompleteChain). */
  ignorableCertificateErrors?: readonly ChainValidationResult[];
  /** Runs after the default certificate validation passed, before the upgrade; throws to refuse. */
  customValidation?: ((report: ServerCertificateReport) => Promise<void>) | undefined;
  protocols: readonly string[];
  /** Offer permessage-deflate with these options; undefined: no compression. */
  perMessageDeflate?: PerMessageDeflateOptions | undefined;
  headers: readonly (readonly [string, string])[];
  /** Milliseconds for the whole connect: DNS, TCP, TLS and the handshake. */
  connectTimeout: number;
  signal?: AbortSignal | undefined;
}

export interface ClientConnection extends UpgradedSocket {
  socket: net.Socket;
  /** The server certificate's judgement, for wss: connections. */
  certificate: ServerCertificateReport | undefined;
}

/** Opens a WebSocket connection; every failure is a WebSocketError. */
export async function connectWebSocket(options: ClientConnectOptions): Promise<ClientConnection> {
  const deadline = new ConnectDeadline(options.connectTimeout, options.signal);
  try {
    let authorization: string | undefined;
    for (let attempt = 0; ; attempt++) {
      const socket = await openTransport(options, deadline.signal);
      const certificate =
        socket instanceof tls.TLSSocket ? await validateServer(socket, options, deadline.signal) : undefined;
      const key = generateKey();
      const deflate = options.perMessageDeflate;
      const headers = buildClientRequestHeaders({
        url: options.url,
        key,
        protocols: options.protocols,
        extensions: deflate === undefined ? undefined : deflateOffer(deflate),
        extraHeaders: options.headers,
      });
      if (authorization !== undefined) headers.Authorization = authorization;
      try {
        const upgraded = await requestUpgrade(
          socket,
          { url: options.url, headers, key, protocols: options.protocols, deflate },
          deadline.signal,
        );
        return {
          socket: upgraded.socket,
          head: upgraded.head,
          protocol: upgraded.protocol,
          extensions: upgraded.extensions,
          deflate: upgraded.deflate,
          certificate,
        };
      } catch (error) {
        // A 401 is answered once, on a new connection, with the credential for this very URL.
        authorization = attempt === 0 ? answerChallenge(error, options) : undefined;
        if (authorization === undefined) throw error;
      }
    }
  } catch (error) {
    throw deadline.explain(clientCertificateRequired(error) ?? error);
  } finally {
    deadline.dispose();
  }
}

/** The Authorization that answers a 401's challenge, if there is a credential and a scheme we speak. */
function answerChallenge(error: unknown, options: ClientConnectOptions): string | undefined {
  const credential = options.serverCredential;
  if (!(error instanceof HandshakeError) || error.statusCode !== 401 || credential == null) return undefined;
  const path = `${options.url.pathname}${options.url.search}`;
  return authorizationFor(parseChallenges(error.headers['www-authenticate']), credential, 'GET', path);
}

/** Judges the server certificate, then lets the application's custom validation have its say. */
async function validateServer(
  socket: tls.TLSSocket,
  options: ClientConnectOptions,
  signal: AbortSignal,
): Promise<ServerCertificateReport> {
  try {
    const report = checkServerCertificate(socket, connectHost(options.url), trustAnchors(options.ca ?? []));
    const failure = certificateFailure(report, options.ignorableCertificateErrors ?? []);
    if (failure !== undefined) throw failure;
    if (options.customValidation !== undefined) await abortable(options.customValidation(report), signal);
    return report;
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** Settles like `promise`, or rejects with the signal's reason once it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort);
    });
  });
}

/** One AbortSignal for the caller's signal and the connect timeout, and which of them fired. */
class ConnectDeadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private timedOut = false;
  private readonly onCallerAbort = (): void => {
    this.controller.abort(operationCanceled('connectAsync was aborted', this.caller?.reason));
  };

  constructor(
    private readonly timeout: number,
    private readonly caller: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(timeoutError(timeout));
    }, timeout);
    if (caller?.aborted === true) this.onCallerAbort();
    else caller?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  explain(error: unknown): WebSocketError {
    if (this.timedOut) return timeoutError(this.timeout, error);
    if (this.caller?.aborted === true) return operationCanceled('connectAsync was aborted', error);
    return toWebSocketError(error);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onCallerAbort);
  }
}

function timeoutError(timeout: number, cause?: unknown): WebSocketError {
  return new WebSocketError(
    WebErrorStatus.Timeout,
    `the connection was not established within ${timeout} ms`,
    {
      hresult: HResult.WININET_E_TIMEOUT,
      cause,
    },
  );
}
