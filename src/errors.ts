// WebSocketError and WebErrorStatus: the one place where every failure gets a WinRT status and HRESULT.

import { HandshakeError } from './protocol/handshake.js';
import { ProtocolError } from './protocol/protocol-error.js';

/** Windows.Web.WebErrorStatus, every member at its WinRT value (HTTP statuses equal their code). */
export const WebErrorStatus = {
  Unknown: 0,
  CertificateCommonNameIsIncorrect: 1,
  CertificateExpired: 2,
  CertificateContainsErrors: 3,
  CertificateRevoked: 4,
  CertificateIsInvalid: 5,
  ServerUnreachable: 6,
  Timeout: 7,
  ErrorHttpInvalidServerResponse: 8,
  ConnectionAborted: 9,
  ConnectionReset: 10,
  Disconnected: 11,
  HttpToHttpsOnRedirection: 12,
  HttpsToHttpOnRedirection: 13,
  CannotConnect: 14,
  HostNameNotResolved: 15,
  OperationCanceled: 16,
  RedirectFailed: 17,
  UnexpectedStatusCode: 18,
  UnexpectedRedirection: 19,
  UnexpectedClientError: 20,
  UnexpectedServerError: 21,
  InsufficientRangeSupport: 22,
  MissingContentLengthSupport: 23,
  MultipleChoices: 300,
  MovedPermanently: 301,
  Found: 302,
  SeeOther: 303,
  NotModified: 304,
  UseProxy: 305,
  TemporaryRedirect: 307,
  BadRequest: 400,
  Unauthorized: 401,
  PaymentRequired: 402,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  ProxyAuthenticationRequired: 407,
  RequestTimeout: 408,
  Conflict: 409,
  Gone: 410,
  LengthRequired: 411,
  PreconditionFailed: 412,
  RequestEntityTooLarge: 413,
  RequestUriTooLong: 414,
  UnsupportedMediaType: 415,
  RequestedRangeNotSatisfiable: 416,
  ExpectationFailed: 417,
  InternalServerError: 500,
  NotImplemented: 501,
  BadGateway: 502,
  ServiceUnavailable: 503,
  GatewayTimeout: 504,
  HttpVersionNotSupported: 505,
} as const;
export type WebErrorStatus = (typeof WebErrorStatus)[keyof typeof WebErrorStatus];

const STATUS_NAMES = new Map<number, string>(
  Object.entries(WebErrorStatus).map(([name, status]) => [status, name]),
);

/**
 * The name of a WebErrorStatus member, for logs: `webErrorStatusName(9)` is 'ConnectionAborted'. A number
 * that is no member comes back as its digits.
 */
export function webErrorStatusName(status: number): string {
  return STATUS_NAMES.get(status) ?? String(status);
}

/** The HRESULTs we report (unsigned 32-bit values, as winerror.h writes them). */
export const HResult = {
  E_INVALIDARG: 0x80070057,
  E_ILLEGAL_METHOD_CALL: 0x8000000e,
  E_FAIL: 0x80004005,
  E_ABORT: 0x80004004,
  RO_E_CLOSED: 0x80000013,
  ERROR_OPERATION_ABORTED: 0x800703e3,
  WININET_E_TIMEOUT: 0x80072ee2,
  WININET_E_NAME_NOT_RESOLVED: 0x80072ee7,
  WININET_E_CANNOT_CONNECT: 0x80072efd,
  WININET_E_CONNECTION_ABORTED: 0x80072efe,
  WININET_E_CONNECTION_RESET: 0x80072eff,
  WININET_E_INVALID_SERVER_RESPONSE: 0x80072f78,
  WININET_E_SEC_CERT_CN_INVALID: 0x80072f06,
  WININET_E_SEC_CERT_DATE_INVALID: 0x80072f05,
  WININET_E_SEC_CERT_REVOKED: 0x80072f8a,
  WININET_E_SEC_CERT_ERRORS: 0x80072f17,
  WININET_E_SEC_INVALID_CERT: 0x80072f89,
  INET_E_SECURITY_PROBLEM: 0x800c000e,
  /** The server asked for a client certificate (mutual TLS) and got none it accepts. */
  WININET_E_CLIENT_AUTH_CERT_NEEDED: 0x80072f0c,
  /** An HTTP status with no HTTP_E_STATUS_* constant of its own. */
  HTTP_E_STATUS_UNEXPECTED: 0x80190001,
} as const;

/** HTTP_E_STATUS_*: 0x8019 in the high word, the HTTP status in the low one. */
const HTTP_STATUS_FACILITY = 0x80190000;

const STATUS_BY_HRESULT = new Map<number, WebErrorStatus>([
  [HResult.ERROR_OPERATION_ABORTED, WebErrorStatus.OperationCanceled],
  [HResult.E_ABORT, WebErrorStatus.OperationCanceled],
  [HResult.RO_E_CLOSED, WebErrorStatus.Disconnected],
  [HResult.WININET_E_TIMEOUT, WebErrorStatus.Timeout],
  [HResult.WININET_E_NAME_NOT_RESOLVED, WebErrorStatus.HostNameNotResolved],
  [HResult.WININET_E_CANNOT_CONNECT, WebErrorStatus.CannotConnect],
  [HResult.WININET_E_CONNECTION_ABORTED, WebErrorStatus.ConnectionAborted],
  [HResult.WININET_E_CONNECTION_RESET, WebErrorStatus.ConnectionReset],
  [HResult.WININET_E_INVALID_SERVER_RESPONSE, WebErrorStatus.ErrorHttpInvalidServerResponse],
  [HResult.WININET_E_SEC_CERT_CN_INVALID, WebErrorStatus.CertificateCommonNameIsIncorrect],
  [HResult.WININET_E_SEC_CERT_DATE_INVALID, WebErrorStatus.CertificateExpired],
  [HResult.WININET_E_SEC_CERT_REVOKED, WebErrorStatus.CertificateRevoked],
  [HResult.WININET_E_SEC_CERT_ERRORS, WebErrorStatus.CertificateContainsErrors],
  [HResult.WININET_E_SEC_INVALID_CERT, WebErrorStatus.CertificateIsInvalid],
  [HResult.INET_E_SECURITY_PROBLEM, WebErrorStatus.CertificateIsInvalid],
  [HResult.WININET_E_CLIENT_AUTH_CERT_NEEDED, WebErrorStatus.Unauthorized],
]);

const HTTP_STATUSES = new Set<number>(Object.values(WebErrorStatus).filter((value) => value >= 300));

function hresultOfStatus(status: WebErrorStatus): number {
  if (status >= 300) return HTTP_STATUS_FACILITY + status;
  if (status === WebErrorStatus.UnexpectedStatusCode) return HResult.HTTP_E_STATUS_UNEXPECTED;
  for (const [hresult, mapped] of STATUS_BY_HRESULT) if (mapped === status) return hresult;
  return HResult.E_FAIL;
}

export interface WebSocketErrorOptions {
  hresult?: number;
  cause?: unknown;
  /** The close code that ended the connection: ours after the peer's violation, or the peer's own. */
  closeCode?: number;
  /** The reason of the peer's close frame, when that ended the operation. */
  reason?: string;
}

/**
 * Every failure of this library: an Error with a WinRT status, an HRESULT and the original cause. Its
 * text names the status as Node's own errors name their code: `WebSocketError [ConnectionAborted]: …`,
 * both in String(error) and on the first line of its stack.
 */
export class WebSocketError extends Error {
  readonly status: WebErrorStatus;
  readonly hresult: number;
  /**
   * The close code that ended the operation: the one we failed the connection with after the peer broke
   * the protocol (1002, 1007, 1009, …), or the peer's, when its close frame ended a read or a write
   * (then `reason` holds its reason).
   */
  readonly closeCode: number | undefined;
  /** The reason of the peer's close frame, when that ended the operation ('' when it gave none). */
  readonly reason: string | undefined;

  constructor(status: WebErrorStatus, message: string, options: WebSocketErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.hresult = options.hresult ?? hresultOfStatus(status);
    this.closeCode = options.closeCode;
    this.reason = options.reason;
    // The stack's first line says `WebSocketError: …`: name the status there too.
    const stack = this.stack;
    if (stack?.startsWith(this.name) === true) this.stack = this.label + stack.slice(this.name.length);
  }

  override get name(): string {
    return 'WebSocketError';
  }

  /** For example `WebSocketError [ConnectionAborted]: the connection was lost`. */
  override toString(): string {
    return `${this.label}: ${this.message}`;
  }

  private get label(): string {
    return `WebSocketError [${webErrorStatusName(this.status)}]`;
  }

  /**
   * The WebErrorStatus of a caught error or of a bare HRESULT, as WinRT's WebSocketError.GetStatus.
   * Accepts signed or unsigned HRESULTs; anything unknown is Unknown.
   */
  static getStatus(errorOrHresult: unknown): WebErrorStatus {
    if (errorOrHresult instanceof WebSocketError) return errorOrHresult.status;
    // An error standing for one of ours (WebSocketStreamError) keeps it as its cause.
    if (errorOrHresult instanceof Error && errorOrHresult.cause instanceof WebSocketError) {
      return errorOrHresult.cause.status;
    }
    if (typeof errorOrHresult === 'number') return statusOfHresult(errorOrHresult >>> 0);
    if (errorOrHresult instanceof Error) return toWebSocketError(errorOrHresult).status;
    return WebErrorStatus.Unknown;
  }
}

function statusOfHresult(hresult: number): WebErrorStatus {
  if (hresult === HResult.HTTP_E_STATUS_UNEXPECTED) return WebErrorStatus.UnexpectedStatusCode;
  if ((hresult & 0xffff0000) >>> 0 === HTTP_STATUS_FACILITY) {
    const httpStatus = hresult & 0xffff;
    return HTTP_STATUSES.has(httpStatus)
      ? (httpStatus as WebErrorStatus)
      : WebErrorStatus.UnexpectedStatusCode;
  }
  return STATUS_BY_HRESULT.get(hresult) ?? WebErrorStatus.Unknown;
}

/** The status of a non-101 HTTP answer: its own member if WebErrorStatus has one. */
export function statusOfHttpCode(code: number): WebErrorStatus {
  return HTTP_STATUSES.has(code) ? (code as WebErrorStatus) : WebErrorStatus.UnexpectedStatusCode;
}

const STATUS_BY_NODE_CODE: Readonly<Record<string, WebErrorStatus>> = {
  ENOTFOUND: WebErrorStatus.HostNameNotResolved,
  EAI_AGAIN: WebErrorStatus.HostNameNotResolved,
  EAI_FAIL: WebErrorStatus.HostNameNotResolved,
  ECONNREFUSED: WebErrorStatus.CannotConnect,
  EHOSTUNREACH: WebErrorStatus.CannotConnect,
  ENETUNREACH: WebErrorStatus.CannotConnect,
  EADDRNOTAVAIL: WebErrorStatus.CannotConnect,
  ETIMEDOUT: WebErrorStatus.Timeout,
  ECONNRESET: WebErrorStatus.ConnectionReset,
  EPIPE: WebErrorStatus.ConnectionAborted,
  ECONNABORTED: WebErrorStatus.ConnectionAborted,
  ERR_STREAM_PREMATURE_CLOSE: WebErrorStatus.ConnectionAborted,
  ERR_SOCKET_CLOSED: WebErrorStatus.ConnectionAborted,
  ABORT_ERR: WebErrorStatus.OperationCanceled,
};

/**
 * Turns anything thrown or emitted below the API into a WebSocketError (an existing one is kept as is):
 * Node system errors by their code, handshake failures by HTTP status, protocol violations by close code.
 */
export function toWebSocketError(cause: unknown): WebSocketError {
  if (cause instanceof WebSocketError) return cause;
  if (cause instanceof ProtocolError) {
    return new WebSocketError(
      WebErrorStatus.ConnectionAborted,
      `protocol error (${cause.closeCode}): ${cause.message}`,
      {
        hresult: HResult.WININET_E_CONNECTION_ABORTED,
        cause,
        closeCode: cause.closeCode,
      },
    );
  }
  if (cause instanceof HandshakeError) {
    if (cause.statusCode === undefined) return invalidServerResponse(cause.message, cause);
    // HTTP_E_STATUS_*: the status in the low word, so getStatus(hresult) finds it again.
    return new WebSocketError(statusOfHttpCode(cause.statusCode), cause.message, {
      cause,
      hresult: (HTTP_STATUS_FACILITY + cause.statusCode) >>> 0,
    });
  }
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    // llhttp's parse errors: the peer did not answer in HTTP.
    if (code?.startsWith('HPE_') === true) return invalidServerResponse(cause.message, cause);
    const status =
      (code === undefined ? undefined : STATUS_BY_NODE_CODE[code]) ??
      (cause.name === 'AbortError' ? WebErrorStatus.OperationCanceled : WebErrorStatus.Unknown);
    return new WebSocketError(status, cause.message, { cause });
  }
  return new WebSocketError(WebErrorStatus.Unknown, String(cause), { cause });
}

function invalidServerResponse(message: string, cause: unknown): WebSocketError {
  return new WebSocketError(WebErrorStatus.ErrorHttpInvalidServerResponse, message, {
    hresult: HResult.WININET_E_INVALID_SERVER_RESPONSE,
    cause,
  });
}

/** A bad argument, detected before any I/O (E_INVALIDARG). */
export function invalidArgument(message: string, cause?: unknown): WebSocketError {
  return new WebSocketError(WebErrorStatus.Unknown, message, { hresult: HResult.E_INVALIDARG, cause });
}

/** A call at the wrong time in the socket's life (E_ILLEGAL_METHOD_CALL). */
export function illegalMethodCall(message: string): WebSocketError {
  return new WebSocketError(WebErrorStatus.Unknown, message, { hresult: HResult.E_ILLEGAL_METHOD_CALL });
}

/** A pending operation ended by close() or an AbortSignal. */
export function operationCanceled(message: string, cause?: unknown): WebSocketError {
  return new WebSocketError(WebErrorStatus.OperationCanceled, message, {
    hresult: HResult.ERROR_OPERATION_ABORTED,
    cause,
  });
}

/** An operation on a socket that is already closed (RO_E_CLOSED). */
export function closedError(message: string): WebSocketError {
  return new WebSocketError(WebErrorStatus.Disconnected, message, { hresult: HResult.RO_E_CLOSED });
}

/**
 * A read or a write ended because the peer closed the WebSocket: the error carries the peer's code and
 * reason, and says them. `status` is Disconnected for a write refused after the close, ConnectionAborted
 * for a message the close cut short.
 */
export function peerClosed(
  what: string,
  frame: { code: number; reason: string },
  status: WebErrorStatus = WebErrorStatus.Disconnected,
): WebSocketError {
  // The reason is the peer's text: quoted as JSON, so that it cannot forge lines in a log.
  const said =
    frame.code === 1005
      ? 'without a close code'
      : `with ${frame.code}${frame.reason === '' ? '' : ` ${JSON.stringify(frame.reason)}`}`;
  return new WebSocketError(status, `${what}: the peer closed the WebSocket ${said}`, {
    closeCode: frame.code,
    reason: frame.reason,
  });
}

/** The connection ended without a closing handshake while a message was still arriving. */
export function connectionLost(message: string, cause?: unknown): WebSocketError {
  const reset = (cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET';
  return new WebSocketError(
    reset ? WebErrorStatus.ConnectionReset : WebErrorStatus.ConnectionAborted,
    message,
    {
      cause,
    },
  );
}
