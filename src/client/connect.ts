// connectAsync's work: URL → TCP/TLS → HTTP upgrade, bounded by the connect timeout and an AbortSignal.

import type { Buffer } from 'node:buffer';
import type net from 'node:net';

import { HResult, operationCanceled, toWebSocketError, WebErrorStatus, WebSocketError } from '../errors.js';
import { buildClientRequestHeaders, generateKey } from '../protocol/handshake.js';
import { openTransport, type TransportOptions } from './transport.js';
import { requestUpgrade } from './upgrade.js';

export interface ClientConnectOptions extends TransportOptions {
  protocols: readonly string[];
  headers: readonly (readonly [string, string])[];
  /** Milliseconds for the whole connect: DNS, TCP, TLS and the handshake. */
  connectTimeout: number;
  signal?: AbortSignal | undefined;
}

export interface ClientConnection {
  socket: net.Socket;
  head: Buffer;
  protocol: string | null;
}

/** Opens a WebSocket connection; every failure is a WebSocketError. */
export async function connectWebSocket(options: ClientConnectOptions): Promise<ClientConnection> {
  const deadline = new ConnectDeadline(options.connectTimeout, options.signal);
  try {
    const socket = await openTransport(options, deadline.signal);
    const key = generateKey();
    const headers = buildClientRequestHeaders({
      url: options.url,
      key,
      protocols: options.protocols,
      extraHeaders: options.headers,
    });
    const {
      head,
      protocol,
      socket: upgraded,
    } = await requestUpgrade(
      socket,
      { url: options.url, headers, key, protocols: options.protocols },
      deadline.signal,
    );
    return { socket: upgraded, head, protocol };
  } catch (error) {
    throw deadline.explain(error);
  } finally {
    deadline.dispose();
  }
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
