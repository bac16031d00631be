// The HTTP error answers a server gives instead of a 101: the library's own (400, 404, 426, 503…) and an
// application's refusal of an upgrade request (any 4xx or 5xx, its headers, a short body), checked
// before a byte is written so that no refusal can split or stretch the response.

import { Buffer } from 'node:buffer';
import { STATUS_CODES } from 'node:http';

import { isToken } from './handshake.js';

/** An application's answer to an upgrade request it refuses (the listener's verifyRequest hook). */
export interface UpgradeRefusal {
  /** The HTTP status, 400 to 599. */
  status: number;
  /**
   * Headers to add (Retry-After, WWW-Authenticate, Content-Type…); they replace the server's own of the
   * same name. Content-Length, Transfer-Encoding and Connection are the server's.
   */
  headers?: Readonly<Record<string, string>> | undefined;
  /**
   * A short body (at most MAX_REFUSAL_BODY bytes): text is sent as UTF-8 text/plain, bytes as
   * application/octet-stream, unless a Content-Type header says otherwise. Default: the status's name.
   */
  body?: string | Uint8Array | undefined;
}

/** The largest refusal body: an explanation, not a download. */
export const MAX_REFUSAL_BODY = 16 * 1024;

/** Headers whose values frame the response: only the server sets them. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection']);

/** What node:http allows in a header value: tab, visible ASCII, space and obs-text (no CR, LF, NUL…). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Why `value` cannot be sent as a refusal, or undefined when it can. */
export function refusalProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null)
    return `a refusal is { status, headers?, body? }, not ${String(value)}`;
  const { status, headers, body } = value as Record<string, unknown>;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) {
    return `a refusal's status must be an integer from 400 to 599, not ${String(status)}`;
  }
  if (headers !== undefined) {
    if (typeof headers !== 'object' || headers === null) return "a refusal's headers must be an object";
    for (const [name, headerValue] of Object.entries(headers)) {
      if (!isToken(name)) return `'${name}' is not a valid header name`;
      if (FRAMING_HEADERS.has(name.toLowerCase())) return `'${name}' is set by the server`;
      if (typeof headerValue !== 'string' || !HEADER_VALUE.test(headerValue)) {
        return `the value of '${name}' must be a string without control characters or characters past U+00FF`;
      }
    }
  }
  if (body !== undefined) {
    if (typeof body !== 'string' && !(body instanceof Uint8Array))
      return "a refusal's body must be a string or bytes";
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    if (length > MAX_REFUSAL_BODY)
      return `a refusal's body is ${length} bytes, more than ${MAX_REFUSAL_BODY}`;
  }
  return undefined;
}

/**
 * A complete HTTP error answer that closes the connection: the status line, our headers (Connection:
 * close, Content-Type, Content-Length; a 426 names the version we speak) with `headers` replacing ours
 * of the same name, and the body. `refusal` must have passed refusalProblem (or come from the library).
 */
export function buildErrorResponse(refusal: UpgradeRefusal): Buffer {
  const { status } = refusal;
  const text = refusal.body === undefined || typeof refusal.body === 'string';
  const body =
    refusal.body === undefined
      ? Buffer.from(`${STATUS_CODES[status] ?? 'Error'}\n`)
      : typeof refusal.body === 'string'
        ? Buffer.from(refusal.body)
        : Buffer.from(refusal.body.buffer, refusal.body.byteOffset, refusal.body.length);
  // By lower-case name, so that a given header replaces ours whatever its case.
  const fields = new Map<string, string>();
  const set = (name: string, value: string): void => {
    fields.set(name.toLowerCase(), `${name}: ${value}`);
  };
  set('Connection', 'close');
  set('Content-Type', text ? 'text/plain; charset=utf-8' : 'application/octet-stream');
  if (status === 426) {
    set('Sec-WebSocket-Version', '13');
    set('Upgrade', 'websocket');
  }
  for (const [name, value] of Object.entries(refusal.headers ?? {})) set(name, value);
  set('Content-Length', String(body.length));
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`, ...fields.values()].join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), body]);
}
