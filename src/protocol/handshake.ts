// The opening handshake (RFC 6455 §4): the client's request headers and the check of the server's
// The opening handshake (RFC 6455 §4): the client's request headers and the check of the server's
// answer (its extensions through permessage-deflate.ts); the server's check of a request (and the 400,
// 405 or 426 it deserves) and its 101. Works on parsed headers and returns strings: the HTTP transport
// belongs to the layers above; error answers are written by error-response.ts.

import { createHash, randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { STATUS_CODES } from 'node:http';

import {
  acceptDeflateAnswer,
  DeflateNegotiationError,
  type DeflateSettings,
  type PerMessageDeflateOptions,
} from './permessage-deflate.js';

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Headers as node:http parses them: lower-case names. */
export type ParsedHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** A handshake that does not follow RFC 6455, with the HTTP status the server answered, if any. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  constructor(
    message: string,
    /** The HTTP status of a response that was not 101; undefined when the 101 itself was wrong. */
    readonly statusCode?: number,
    /** That response's headers (a 401's or 407's challenge is among them). */
    readonly headers: ParsedHeaders = {},
  ) {
    super(message);
  }
}

export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

export function computeAccept(key: string): string {
  return createHash('sha1')
    .update(key + ACCEPT_GUID)
    .digest('base64');
}

/** RFC 7230 token characters, the syntax of subprotocol names and header names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/** Header values may not contain CR, LF or NUL (they would split the request). */
export function isHeaderValue(value: string): boolean {
  return !/[\r\n\0]/.test(value);
}

/** Headers the handshake owns; setRequestHeader may not set them. */
const RESERVED_REQUEST_HEADERS = new Set(['host', 'upgrade', 'connection', 'content-length']);

/** Why an application may not add this request header, or undefined when it may. */
export function requestHeaderProblem(name: string, value: string): string | undefined {
  if (!isToken(name)) return `'${name}' is not a valid header name`;
  if (!isHeaderValue(value)) return `the value of '${name}' contains CR, LF or NUL`;
  const lower = name.toLowerCase();
  if (RESERVED_REQUEST_HEADERS.has(lower) || lower.startsWith('sec-websocket-')) {
    return `'${name}' is set by the handshake itself${
      lower === 'sec-websocket-protocol' ? ': use control.supportedProtocols' : ''
    }`;
  }
  return undefined;
}

/** Why this list of subprotocols cannot be offered, or undefined when it can. */
export function subprotocolsProblem(protocols: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) return `subprotocol '${protocol}' is not a valid token`;
    if (seen.has(protocol)) return `subprotocol '${protocol}' is listed twice`;
    seen.add(protocol);
  }
  return undefined;
}

export interface ClientRequestOptions {
  /** The ws: or wss: URL; its host (with the port unless it is the scheme's default) becomes Host. */
  url: URL;
  key: string;
  protocols: readonly string[];
  /** The Sec-WebSocket-Extensions offer, if any (deflateOffer). */
  extensions?: string | undefined;
  /** Application headers, already checked with requestHeaderProblem. */
  extraHeaders: readonly (readonly [string, string])[];
}

/** The request headers of the client's opening handshake (§4.1), application headers included. */
export function buildClientRequestHeaders(options: ClientRequestOptions): Record<string, string> {
  const headers: Record<string, string> = {
    Host: options.url.host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': options.key,
    'Sec-WebSocket-Version': '13',
  };
  // Comma without a space, as `ws` sends it: websockify splits the list on ',' and does not trim.
  if (options.protocols.length > 0) headers['Sec-WebSocket-Protocol'] = options.protocols.join(',');
  if (options.extensions !== undefined) headers['Sec-WebSocket-Extensions'] = options.extensions;
  for (const [name, value] of options.extraHeaders) {
    const existing = Object.keys(headers).find((known) => known.toLowerCase() === name.toLowerCase());
    if (existing === undefined) headers[name] = value;
    else headers[existing] = `${headers[existing]!}, ${value}`;
  }
  return headers;
}

export interface ServerHandshakeResult {
  /** The subprotocol the server chose, or null when it chose none. */
  protocol: string | null;
  /** The extensions the server accepted, as it wrote them ('' when none). */
  extensions: string;
  /** permessage-deflate, when the server accepted our offer. */
  deflate: DeflateSettings | undefined;
}

/**
 * Checks the server's answer to our request (§4.1, the client's duties): status 101, the Upgrade and
 * Connection tokens, the accept hash, a subprotocol only from those offered, no extension not offered
 * (permessage-deflate checked against our offer, RFC 7692 §5.1).
 */
export function validateServerResponse(
  statusCode: number,
  headers: ParsedHeaders,
  request: { key: string; protocols: readonly string[]; deflate?: PerMessageDeflateOptions | undefined },
): ServerHandshakeResult {
  if (statusCode !== 101) {
    const statusText = STATUS_CODES[statusCode];
    const status = statusText === undefined ? String(statusCode) : `${statusCode} ${statusText}`;
    throw new HandshakeError(`the server answered ${status} instead of 101`, statusCode);
  }
  if (!hasToken(headers.upgrade, 'websocket')) {
    throw new HandshakeError("the 101 lacks 'Upgrade: websocket'");
  }
  if (!hasToken(headers.connection, 'upgrade')) {
    throw new HandshakeError("the 101 lacks 'Connection: Upgrade'");
  }
  const accept = single(headers['sec-websocket-accept']);
  if (accept !== computeAccept(request.key)) {
    throw new HandshakeError('the Sec-WebSocket-Accept of the 101 does not match our key');
  }
  const { extensions, deflate } = acceptedExtensions(
    single(headers['sec-websocket-extensions']),
    request.deflate,
  );
  const protocol = single(headers['sec-websocket-protocol']);
  if (protocol === undefined || protocol === '') return { protocol: null, extensions, deflate };
  if (!request.protocols.includes(protocol)) {
    throw new HandshakeError(`the server chose subprotocol '${protocol}', which was not offered`);
  }
  return { protocol, extensions, deflate };
}

/** The server's Sec-WebSocket-Extensions, checked against what we offered (nothing, or permessage-deflate). */
function acceptedExtensions(
  answer: string | undefined,
  offered: PerMessageDeflateOptions | undefined,
): { extensions: string; deflate: DeflateSettings | undefined } {
  if (offered === undefined) {
    if (answer !== undefined && answer.trim() !== '') {
      throw new HandshakeError(`the server accepted an extension that was not offered: ${answer}`);
    }
    return { extensions: '', deflate: undefined };
  }
  try {
    return acceptDeflateAnswer(answer, offered);
  } catch (error) {
    if (!(error instanceof DeflateNegotiationError)) throw error;
    throw new HandshakeError(`permessage-deflate: ${error.message}`);
  }
}

export interface UpgradeRequest {
  method?: string | undefined;
  httpVersion: string;
  headers: ParsedHeaders;
}

export type ClientRequestCheck =
  { ok: true; key: string; protocols: string[] } | { ok: false; status: 400 | 405 | 426; reason: string };

/** Checks a client's opening handshake (§4.2.1). A failure names the HTTP status to answer with. */
export function validateClientRequest(request: UpgradeRequest): ClientRequestCheck {
  const fail = (status: 400 | 405 | 426, reason: string): ClientRequestCheck => ({
    ok: false,
    status,
    reason,
  });
  if (request.method !== 'GET') return fail(405, 'the opening handshake must be a GET request');
  const [major = 0, minor = 0] = request.httpVersion.split('.').map(Number);
  if (major < 1 || (major === 1 && minor < 1)) return fail(400, 'the opening handshake needs HTTP/1.1');
  if ((single(request.headers.host) ?? '').trim() === '') return fail(400, "missing 'Host'");
  if (!hasToken(request.headers.upgrade, 'websocket')) return fail(426, "missing 'Upgrade: websocket'");
  if (!hasToken(request.headers.connection, 'upgrade')) return fail(400, "missing 'Connection: Upgrade'");
  if (single(request.headers['sec-websocket-version']) !== '13') {
    return fail(426, 'unsupported Sec-WebSocket-Version: this server speaks version 13');
  }
  const key = single(request.headers['sec-websocket-key']);
  if (key === undefined || !isValidKey(key)) return fail(400, 'Sec-WebSocket-Key must be 16 bytes in base64');
  const protocols = tokenList(request.headers['sec-websocket-protocol']);
  if (protocols.some((protocol) => !isToken(protocol))) return fail(400, 'invalid Sec-WebSocket-Protocol');
  return { ok: true, key, protocols };
}

/** The first of the client's subprotocols (in its order of preference) that the server supports. */
export function selectSubprotocol(offered: readonly string[], supported: readonly string[]): string | null {
  return offered.find((protocol) => supported.includes(protocol)) ?? null;
}

/** The server's 101 answer (§4.2.2) as the bytes to write on the socket; `extensions` '' for none. */
export function buildServerResponse(key: string, protocol: string | null, extensions = ''): string {
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${computeAccept(key)}`,
  ];
  if (protocol !== null) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  if (extensions !== '') lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

function isValidKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(key) && Buffer.from(key, 'base64').length === 16;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function tokenList(value: string | string[] | undefined): string[] {
  const joined = single(value);
  if (joined === undefined) return [];
  return joined
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

function hasToken(value: string | string[] | undefined, token: string): boolean {
  return tokenList(value).some((part) => part.toLowerCase() === token);
}
