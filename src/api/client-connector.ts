// The client half shared by StreamWebSocket and MessageWebSocket: request headers, the one connect
// of a socket's life, and cancelling it when the socket is closed first.

import type { EventEmitter } from 'node:events';

import type { ServerCertificateReport } from '../client/certificate-check.js';
import type { ClientConnection } from '../client/connect.js';
import type { ConnectionOptions } from '../connection/connection.js';
import { connectWebSocket } from '../client/connect.js';
import { proxyFor } from '../client/proxy.js';
import { parseWebSocketUrl } from '../client/websocket-url.js';
import { illegalMethodCall, invalidArgument, operationCanceled } from '../errors.js';
import { requestHeaderProblem, subprotocolsProblem } from '../protocol/handshake.js';
import { deflateOptionsOf } from '../protocol/permessage-deflate.js';
import type { WebSocketControl } from './control.js';
import { WebSocketServerCustomValidationRequestedEventArgs } from './server-custom-validation.js';

/** A serverCustomValidationRequested handler: call args.reject() to refuse, or return a promise to decide later. */
export type ServerCustomValidationHandler = (
  args: WebSocketServerCustomValidationRequestedEventArgs,
) => void | Promise<void>;

export interface ConnectAsyncOptions {
  /** Aborting it cancels the connect with status OperationCanceled. */
  signal?: AbortSignal;
}

type Phase = 'idle' | 'connecting' | 'connected' | 'closed';

export class ClientConnector {
  private readonly requestHeaders: [string, string][] = [];
  private phase: Phase = 'idle';
  private readonly cancellation = new AbortController();

  /** `failed` is told when a connect fails once it has begun: that ends the socket's life. */
  constructor(private readonly failed: (error: unknown) => void) {}

  /** Adds a header to the upgrade request (before connectAsync only). */
  setRequestHeader(name: string, value: string): void {
    if (this.phase !== 'idle') throw illegalMethodCall('setRequestHeader must be called before connectAsync');
    const problem = requestHeaderProblem(name, value);
    if (problem !== undefined) throw invalidArgument(problem);
    this.requestHeaders.push([name, value]);
  }

  /**
   * Validates the URI and the settings (before any I/O: such an error leaves the socket as it was) and
   * connects. A socket connects once: a connect that fails once begun (refused, an HTTP status, TLS,
   * aborted) closes the socket, as in WinRT's samples, which create a new socket to try again.
   */
  async connect(
    uri: string | URL,
    control: WebSocketControl,
    transport: { noDelay: boolean },
    options: ConnectAsyncOptions,
    events: EventEmitter,
  ): Promise<ClientConnection> {
    if (this.phase === 'closed') {
      throw illegalMethodCall(
        'the WebSocket is closed (a failed connectAsync closes it too): create a new one',
      );
    }
    if (this.phase !== 'idle') throw illegalMethodCall('connectAsync was already called on this WebSocket');
    const url = parseWebSocketUrl(uri);
    let proxy: URL | undefined;
    try {
      proxy = proxyFor(url, control.proxy);
    } catch (cause) {
      throw invalidArgument(
        `the proxy (control.proxy or the environment) is not usable: ${String(cause)}`,
        cause,
      );
    }
    const protocols = [...control.supportedProtocols];
    const problem = subprotocolsProblem(protocols);
    if (problem !== undefined) throw invalidArgument(problem);
    this.phase = 'connecting';
    control.lock();
    const signal =
      options.signal === undefined
        ? this.cancellation.signal
        : AbortSignal.any([this.cancellation.signal, options.signal]);
    try {
      const connection = await connectWebSocket({
        url,
        noDelay: transport.noDelay,
        protocols,
        perMessageDeflate: deflateOptionsOf(control.perMessageDeflate),
        headers: this.requestHeaders,
        connectTimeout: control.connectTimeout,
        signal,
        proxy,
        proxyCredential: control.proxyCredential,
        serverCredential: control.serverCredential,
        ca: [...control.ca],
        clientCertificate: control.clientCertificate,
        ignorableCertificateErrors: [...control.ignorableServerCertificateErrors],
        customValidation: customValidation(events),
        ...(control.outboundBufferSizeInBytes > 0
          ? { writableHighWaterMark: control.outboundBufferSizeInBytes }
          : {}),
      });
      if (this.cancellation.signal.aborted) {
        connection.socket.destroy();
        throw operationCanceled('the WebSocket was closed while connecting');
      }
      this.phase = 'connected';
      return connection;
    } catch (error) {
      // Unless close() came first (it has ended the socket already), the failure ends it.
      if (this.phase === 'connecting') {
        this.phase = 'closed';
        this.failed(error);
      }
      throw error;
    }
  }

  /** The connection settings a client socket takes from its control. */
  static connectionOptions(control: WebSocketControl): ConnectionOptions {
    return {
      role: 'client',
      maxMessageSize: control.maxMessageSize,
      closeTimeout: control.closeTimeout,
      unsolicitedPongInterval: control.actualUnsolicitedPongInterval,
      keepAliveInterval: control.keepAliveInterval,
      keepAliveTimeout: control.keepAliveTimeout,
    };
  }

  /** close() before or during connect: a pending connect fails with OperationCanceled. */
  cancel(): void {
    if (this.phase === 'connected') return;
    this.phase = 'closed';
    this.cancellation.abort();
  }
}

/**
 * Raises serverCustomValidationRequested on the socket, if anyone listens, and waits for every handler
 * (their promises and deferrals); any reject() refuses the server.
 */
function customValidation(
  events: EventEmitter,
): ((report: ServerCertificateReport) => Promise<void>) | undefined {
  if (events.listenerCount('serverCustomValidationRequested') === 0) return undefined;
  return async (report) => {
    const args = new WebSocketServerCustomValidationRequestedEventArgs(report);
    const results = events.listeners('serverCustomValidationRequested').map((handler) => {
      return (handler as (args: WebSocketServerCustomValidationRequestedEventArgs) => unknown).call(
        events,
        args,
      );
    });
    await args.decide(results);
  };
}
