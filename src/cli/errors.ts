// Exit codes and the one line a failure prints: every error the CLI reports becomes a CliError with the
// exit code of its class (usage, connect, TLS, protocol, local I/O) and a message that says what to do.

import { HResult, WebErrorStatus, WebSocketError, webErrorStatusName } from '../index.js';

/** The exit codes of sws, as `sws --help` and the README document them. */
export const ExitCode = {
  Ok: 0,
  /** A bug or an error that fits no other class. */
  Failure: 1,
  Usage: 2,
  /** DNS, refused, timeout, or an HTTP status instead of the upgrade. */
  Connect: 3,
  /** The server's certificate (or the TLS handshake) was not accepted. */
  Tls: 4,
  /** The peer broke RFC 6455, closed with an unexpected code, or the transfer was truncated. */
  Protocol: 5,
  /** Local files, stdin/stdout, listening ports. */
  Io: 6,
  /** Ctrl-C (SIGINT): 128 + 2. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function usageError(message: string): CliError {
  return new CliError(ExitCode.Usage, `${message} (see sws --help)`);
}

/** A failure of connectAsync, explained for the URL the user gave. */
export function connectFailure(error: unknown, url: URL): CliError {
  if (error instanceof CliError) return error;
  const status = WebSocketError.getStatus(error);
  const name = webErrorStatusName(status);
  const message = error instanceof Error ? error.message : String(error);
  const secure = url.protocol === 'wss:';
  const where = `${url.hostname}:${url.port === '' ? (secure ? '443' : '80') : url.port}`;
  if (error instanceof WebSocketError && error.hresult === HResult.E_INVALIDARG) {
    return usageError(`invalid argument: ${message}`);
  }
  if (error instanceof WebSocketError && error.hresult === HResult.WININET_E_CLIENT_AUTH_CERT_NEEDED) {
    return new CliError(
      ExitCode.Tls,
      `${where} asks for a client certificate (Unauthorized, mutual TLS): pass --cert FILE --key FILE`,
      { cause: error },
    );
  }
  if (tlsCode(error) !== undefined) {
    return new CliError(
      ExitCode.Tls,
      `TLS handshake with ${where} failed (${name}, ${tlsCode(error)}): is it a wss: server? (ws: for plain WebSocket)`,
      { cause: error },
    );
  }
  const http = status >= 300 || status === WebErrorStatus.UnexpectedStatusCode;
  switch (status) {
    case WebErrorStatus.CannotConnect:
      return connect(`cannot connect (CannotConnect): is a server listening on ${where}?`);
    case WebErrorStatus.HostNameNotResolved:
      return connect(`cannot resolve ${url.hostname} (HostNameNotResolved): check the host name`);
    case WebErrorStatus.Timeout:
      return connect(`connect timed out (Timeout): is ${where} reachable? (--connect-timeout SECONDS)`);
    case WebErrorStatus.ServerUnreachable:
      return connect(`cannot reach ${where} (ServerUnreachable): check the network or --proxy`);
    case WebErrorStatus.OperationCanceled:
      return new CliError(ExitCode.Interrupted, `connect canceled (OperationCanceled)`, { cause: error });
    case WebErrorStatus.Unauthorized:
      return connect(`the server wants credentials (Unauthorized, HTTP 401): pass --user user:pass`);
    case WebErrorStatus.ProxyAuthenticationRequired:
      return connect(
        `the proxy wants credentials (ProxyAuthenticationRequired, HTTP 407): pass --proxy-user user:pass`,
      );
    case WebErrorStatus.NotFound:
      return connect(`no such WebSocket endpoint (NotFound, HTTP 404): check the path ${url.pathname}`);
    case WebErrorStatus.CertificateCommonNameIsIncorrect:
      return tls(
        `${message} (${name}): connect by the name in the certificate, or --insecure-ignore InvalidName`,
      );
    case WebErrorStatus.CertificateExpired:
      return tls(`${message} (${name}): renew the certificate, or --insecure-ignore Expired`);
    case WebErrorStatus.CertificateIsInvalid:
    case WebErrorStatus.CertificateContainsErrors:
    case WebErrorStatus.CertificateRevoked:
      return tls(
        `${message} (${name}): pass --ca FILE with the issuing CA, or --insecure-ignore ${ignorableIn(message)} if you trust this server`,
      );
    case WebErrorStatus.ErrorHttpInvalidServerResponse:
      return new CliError(
        ExitCode.Protocol,
        `${where} did not answer as a WebSocket server (ErrorHttpInvalidServerResponse): ${message}`,
        { cause: error },
      );
    default:
      if (http) {
        return connect(
          `the server refused the upgrade (${name}, HTTP ${httpCode(error, status)}): ${message}`,
        );
      }
      return connect(`cannot connect to ${where} (${name}): ${message}`);
  }

  function connect(text: string): CliError {
    return new CliError(ExitCode.Connect, text, { cause: error });
  }
  function tls(text: string): CliError {
    return new CliError(ExitCode.Tls, text, { cause: error });
  }
}

/**
 * A failure once connected: the peer broke the protocol or the connection was lost (the transfer is
 * incomplete), a local file failed, or the user interrupted.
 */
export function transferFailure(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (!(error instanceof WebSocketError)) return ioFailure(error, 'local I/O failed');
  const name = webErrorStatusName(error.status);
  if (error.status === WebErrorStatus.OperationCanceled) {
    return new CliError(ExitCode.Interrupted, `canceled (OperationCanceled)`, { cause: error });
  }
  if (error.closeCode !== undefined && error.reason !== undefined) {
    // The peer's close frame ended the transfer.
    return unexpectedClose(error.closeCode, error.reason);
  }
  if (error.closeCode !== undefined) {
    return new CliError(
      ExitCode.Protocol,
      `the peer broke the WebSocket protocol (${name}, closed with ${error.closeCode}): ${error.message}`,
      { cause: error },
    );
  }
  return new CliError(
    ExitCode.Protocol,
    `the connection was lost before the transfer completed (${name}): ${error.message}; what arrived is incomplete`,
    { cause: error },
  );
}

/** The peer ended with a close code other than the expected ones. */
export function unexpectedClose(code: number, reason: string, what = 'the transfer is incomplete'): CliError {
  const said = reason === '' ? '' : ` "${reason}"`;
  const lost =
    code === 1006 ? ' without a closing handshake' : ` with ${code} (${closeCodeName(code)})${said}`;
  return new CliError(ExitCode.Protocol, `the peer closed the connection${lost}: ${what}`);
}

/** A local file, stdin or stdout failed. */
export function ioFailure(error: unknown, what: string): CliError {
  if (error instanceof CliError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'error';
  const hints: Readonly<Record<string, string>> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    ENOSPC: 'no space left on the device',
    EADDRINUSE: 'another program uses that port',
    EADDRNOTAVAIL: 'that address is not on this machine',
    EPIPE: 'the reader went away',
  };
  const hint = hints[code] ?? (error instanceof Error ? error.message : String(error));
  return new CliError(ExitCode.Io, `${what} (${code}): ${hint}`, { cause: error });
}

const CLOSE_CODE_NAMES: Readonly<Record<number, string>> = {
  1000: 'normal',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no code',
  1006: 'abnormal',
  1007: 'invalid data',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'missing extension',
  1011: 'server error',
};

export function closeCodeName(code: number): string {
  return CLOSE_CODE_NAMES[code] ?? (code >= 4000 ? 'application' : 'other');
}

/** The ChainValidationResult names a certificate message lists that --insecure-ignore accepts. */
function ignorableIn(message: string): string {
  const names = ['Untrusted', 'Expired', 'InvalidName', 'IncompleteChain'].filter((n) => message.includes(n));
  return names.length === 0 ? 'Untrusted' : names.join(',');
}

/** An OpenSSL/TLS error code somewhere in the cause chain (a handshake that failed before any certificate check). */
function tlsCode(error: unknown): string | undefined {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; depth++) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code?.startsWith('ERR_SSL_') === true || code?.startsWith('ERR_TLS_') === true) return code;
    cause = cause.cause;
  }
  return undefined;
}

function httpCode(error: unknown, status: WebErrorStatus): number {
  if (status >= 300) return status;
  const hresult = error instanceof WebSocketError ? error.hresult : 0;
  return (hresult & 0xffff0000) >>> 0 === 0x80190000 ? hresult & 0xffff : 0;
}
