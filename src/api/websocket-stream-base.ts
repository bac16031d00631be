// What WebSocketStream (client) and ServerWebSocketStream share: the explainer's `opened` and `closed`
// promises, close(), and the one place that decides how the streams end. A clean close resolves
// `closed`, ends the readable once every message received before it has been read, and errors the
// writable with an InvalidStateError; an unclean one — no closing handshake, a protocol violation, a
// message cut short — rejects `closed` and errors both streams with one WebSocketStreamError.

import type { ReadableStream, WritableStream } from 'node:stream/web';

import { connectionLost, HResult, WebErrorStatus, WebSocketError } from '../errors.js';
import type { WebSocketInformation } from './information.js';
import type { WebStreamSocket } from './web-stream-socket.js';
import type { WebSocketClosedEventArgs } from './websocket-base.js';
import {
  closedStreamError,
  closeInfoOfReason,
  validateCloseInfo,
  WebSocketStreamError,
  type WebSocketCloseInfo,
} from './websocket-stream-error.js';
import {
  messageReadable,
  type MessageReadable,
  type ReadableEnds,
  type ReceivedChunk,
} from './websocket-stream-readable.js';
import {
  messageWritable,
  type MessageWritable,
  type WebSocketStreamWrite,
  type WritableEnds,
} from './websocket-stream-writable.js';

/** What `opened` resolves with. */
export interface WebSocketOpenInfo<Chunk> {
  /** The received messages (see WebSocketStream). */
  readable: ReadableStream<Chunk>;
  /** Each chunk written is sent as one message. */
  writable: WritableStream<WebSocketStreamWrite>;
  /** The subprotocol the server chose; '' when none. */
  protocol: string;
  /** The negotiated extensions (Sec-WebSocket-Extensions); '' when none. */
  extensions: string;
}

/** What `closed` resolves with after a clean close: the peer's close code (1005: none) and reason. */
export interface WebSocketClosedInfo {
  closeCode: number;
  reason: string;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A WebSocketStream whose `closed` nobody awaits must not crash the process when it rejects.
  promise.catch(ignore);
  return { promise, resolve, reject };
}

export abstract class WebSocketStreamBase<MessageStreams extends boolean> {
  private readonly openedState = deferred<WebSocketOpenInfo<ReceivedChunk<MessageStreams>>>();
  private readonly closedState = deferred<WebSocketClosedInfo>();
  /** Settles with the 'closed' outcome: undefined when clean, else the error. */
  private readonly endingState = deferred<Error | undefined>();
  private streams: { readable: MessageReadable<unknown>; writable: MessageWritable } | undefined;
  /** 'closed' came before the streams were made (and after a successful connect). */
  private closedEarly: WebSocketClosedEventArgs | undefined;
  private openFailed = false;
  /** The connection's failure, once known: every stream and promise reports this one error. */
  private failure: WebSocketStreamError | undefined;
  private readonly ends: ReadableEnds & WritableEnds = {
    ending: this.endingState.promise,
    readError: (failure) => this.readError(failure),
    writeError: (failure) => this.writeError(failure),
    closeWith: (code, reason) => {
      this.closeWith(code, reason);
    },
    closeUsing: (reason) => {
      const { closeCode, reason: text } = closeInfoOfReason(reason);
      this.closeWith(closeCode, text);
    },
  };

  protected constructor(
    /** @internal The socket underneath (a listener closing its connections). */
    readonly webSocket: WebStreamSocket,
    private readonly messageStreams: MessageStreams,
  ) {
    webSocket.once('closed', (info) => {
      this.onClosed(info);
    });
  }

  /**
   * Resolves once the WebSocket is open: { readable, writable, protocol, extensions }. Rejects with a
   * WebSocketStreamError (closeCode 1006, `status` saying why: CannotConnect, NotFound, a certificate
   * status…) when it could not open, or with the signal's reason when aborted.
   */
  get opened(): Promise<WebSocketOpenInfo<ReceivedChunk<MessageStreams>>> {
    return this.openedState.promise;
  }

  /**
   * Resolves with { closeCode, reason } after a clean close; rejects with a WebSocketStreamError when the
   * connection ended any other way (never opened, lost, a protocol violation, a message cut short).
   */
  get closed(): Promise<WebSocketClosedInfo> {
    return this.closedState.promise;
  }

  /** The connection's addresses, certificate and byte counts (a Node addition; see WebSocketInformation). */
  get information(): WebSocketInformation {
    return this.webSocket.information;
  }

  /**
   * Closes the WebSocket (idempotent): closeCode 1000 or 3000–4999 (else an InvalidAccessError), reason
   * at most 123 UTF-8 bytes (else a SyntaxError); a reason alone is sent with 1000, no argument sends a
   * close frame without a code. During the opening handshake it abandons the connect.
   */
  close(closeInfo?: WebSocketCloseInfo): void {
    const { closeCode, reason } = validateCloseInfo(closeInfo);
    this.closeWith(closeCode, reason);
  }

  /** The connection is open: make the streams and resolve `opened`. */
  protected start(): void {
    const readable = messageReadable(this.webSocket.incoming, this.ends, this.messageStreams);
    const writable = messageWritable(this.webSocket, this.ends);
    this.streams = { readable, writable };
    this.openedState.resolve({
      readable: readable.stream,
      writable: writable.stream,
      protocol: this.webSocket.information.protocol ?? '',
      extensions: this.webSocket.information.extensions,
    });
    if (this.closedEarly !== undefined) this.onClosed(this.closedEarly);
  }

  /**
   * The connection could not be opened: `opened` and `closed` reject with the reason (an abort's), or,
   * as in the explainer, `opened` with a WebSocketStreamError without a close code and `closed` with one
   * of code 1006, both carrying the failure's status.
   */
  protected failToOpen(reason: { aborted: unknown } | WebSocketError): void {
    this.openFailed = true;
    if (reason instanceof WebSocketError) {
      this.openedState.reject(WebSocketStreamError.of(reason, null));
      this.closedState.reject(WebSocketStreamError.of(reason, 1006));
    } else {
      this.openedState.reject(reason.aborted);
      this.closedState.reject(reason.aborted);
    }
  }

  private closeWith(code: number | null, reason: string): void {
    // After the peer's close frame, the explainer's close() does nothing: the peer's code is echoed.
    if (this.webSocket.isCloseReceived) return;
    this.webSocket.close(code ?? undefined, reason);
  }

  private onClosed(info: WebSocketClosedEventArgs): void {
    if (this.openFailed) return;
    const streams = this.streams;
    if (streams === undefined) {
      this.closedEarly = info;
      return;
    }
    if (this.webSocket.closedCleanly) {
      streams.writable.fail(closedStreamError(undefined));
      this.closedState.resolve({ closeCode: info.code, reason: info.reason });
      this.endingState.resolve(undefined);
      return;
    }
    const error =
      this.failure ??
      this.recordFailure(
        connectionLost('the connection closed without a complete closing handshake'),
        info.code,
        info.reason,
      );
    streams.readable.fail(error);
    streams.writable.fail(error);
    this.closedState.reject(error);
    this.endingState.resolve(error);
  }

  private recordFailure(failure: WebSocketError, closeCode: number, reason = ''): WebSocketStreamError {
    this.failure ??= WebSocketStreamError.of(failure, closeCode, reason);
    return this.failure;
  }

  /**
   * The error a connection failure is reported with. A protocol failure's close code is known at once;
   * a lost connection, or a close frame that cut a message short, is reported as 'closed' reports it
   * (which comes at once for a lost connection, after the close frames for the other).
   */
  private async connectionError(failure: WebSocketError): Promise<Error> {
    if (this.failure !== undefined) return this.failure;
    if (failure.closeCode !== undefined) return this.recordFailure(failure, failure.closeCode);
    return (await this.endingState.promise) ?? this.recordFailure(failure, 1006);
  }

  /** A receive failure: a local close() cuts a message short; anything else is the connection's failure. */
  private async readError(failure: unknown): Promise<Error> {
    if (!(failure instanceof WebSocketError)) return asError(failure);
    if (failure.status === WebErrorStatus.OperationCanceled) {
      return this.failure ?? WebSocketStreamError.of(failure, null);
    }
    return this.connectionError(failure);
  }

  /**
   * A send failure: a chunk that cannot be sent (not valid UTF-8 in a text message, a source stream's
   * own error) as it is; a WebSocket closing or closed an InvalidStateError; else the connection's failure.
   */
  private async writeError(failure: unknown): Promise<Error> {
    if (!(failure instanceof WebSocketError) || failure.hresult === HResult.E_INVALIDARG)
      return asError(failure);
    if (
      failure.status === WebErrorStatus.OperationCanceled ||
      failure.status === WebErrorStatus.Disconnected
    ) {
      return this.failure ?? closedStreamError(failure);
    }
    return this.connectionError(failure);
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function ignore(): void {
  // See deferred().
}
