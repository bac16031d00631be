// The close frame's payload (RFC 6455 §5.5.1, §7.4), its one home: the named codes, which may be sent or
// received, encoding and decoding, and the reason's 123-byte limit.

import { Buffer } from 'node:buffer';

import { ProtocolError } from './protocol-error.js';
import { isValidUtf8, utf8ByteLength } from './utf8.js';

export const CloseCode = {
  NormalClosure: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: reported when a close frame carried no code. Never sent. */
  NoStatusReceived: 1005,
  /** Reserved: reported when the connection closed without a close frame. Never sent. */
  AbnormalClosure: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reserved: TLS handshake failure. Never sent. */
  TlsHandshake: 1015,
} as const;
export type CloseCode = number;

/** A close frame's content: 1005 (NoStatusReceived) stands for a close frame without a code. */
export interface CloseFrame {
  code: number;
  reason: string;
}

/** A close reason fits a control frame when it takes at most 123 UTF-8 bytes (§5.5). */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * May this code appear in a close frame received from a peer? (§7.4.1 and §7.4.2, plus the codes
 * registered with IANA since: 1012–1014.) 1004, 1005, 1006 and 1015 are reserved and never on the wire.
 */
export function isValidReceivedCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  if (code < 1000 || code > 1014) return false;
  return code !== 1004 && code !== 1005 && code !== 1006;
}

/**
 * May an endpoint send this code? Exactly the codes it may receive (§7.4.1, §7.4.2, IANA 1012–1014):
 * 1000–1003, 1007–1014 and 3000–4999.
 */
export function isSendableCloseCode(code: number): boolean {
  return Number.isInteger(code) && isValidReceivedCloseCode(code);
}

/** close() keeps WinRT's rule: 1000, or a code of the application's own (3000–4999). */
function isApplicationCloseCode(code: number): boolean {
  return code === 1000 || (code >= 3000 && code <= 4999);
}

const SENDABLE_CODES = 'close() takes 1000 or 3000–4999, goAway() also 1001–1003 and 1007–1014';

/**
 * Why close(code, reason) may not send this code and reason, or undefined when it may. close() takes
 * 1000 or 3000–4999 (WinRT's rule, the API contract); the other codes an endpoint may send (1001–1003,
 * 1007–1014: going away, policy violation, message too big, …) go through goAway(), and the error says so.
 */
export function closeArgumentProblem(code: number, reason: string): string | undefined {
  if (!Number.isInteger(code) || !isApplicationCloseCode(code)) {
    return isSendableCloseCode(code)
      ? `close code ${code} is not taken by close(), which takes 1000 or 3000–4999: send it with goAway(${code}, reason)`
      : neverSent(code);
  }
  return reasonProblem(reason);
}

/** Why goAway(code, reason) may not send this code and reason: it takes every code an endpoint may send. */
export function goAwayArgumentProblem(code: number, reason: string): string | undefined {
  return isSendableCloseCode(code) ? reasonProblem(reason) : neverSent(code);
}

function neverSent(code: number): string {
  const reserved = [1004, 1005, 1006, 1015].includes(code) ? ' (reserved by RFC 6455 §7.4.1)' : '';
  return `close code ${String(code)} may not be sent${reserved}: ${SENDABLE_CODES}`;
}

function reasonProblem(reason: string): string | undefined {
  if (typeof reason !== 'string') return `close reason must be a string, not ${typeof reason}`;
  const bytes = utf8ByteLength(reason);
  if (bytes > MAX_CLOSE_REASON_BYTES) {
    return `close reason is ${bytes} UTF-8 bytes; at most ${MAX_CLOSE_REASON_BYTES} fit in a close frame`;
  }
  return undefined;
}

/** The body of a close frame: the code in network order, then the reason (§5.5.1). */
export function encodeClosePayload(code: number | undefined, reason = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const payload = Buffer.allocUnsafe(2 + utf8ByteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return payload;
}

/** Cuts a reason to what fits in a close frame (123 UTF-8 bytes), at a character boundary. */
export function truncateReason(reason: string): string {
  const characters = Array.from(reason);
  while (utf8ByteLength(characters.join('')) > MAX_CLOSE_REASON_BYTES) characters.pop();
  return characters.join('');
}

/** Validates a received close payload (§5.5.1, §7.4). */
export function decodeClosePayload(payload: Buffer): { code: number; reason: string } {
  if (payload.length === 0) return { code: CloseCode.NoStatusReceived, reason: '' };
  if (payload.length === 1)
    throw new ProtocolError(CloseCode.ProtocolError, 'close frame with a one-byte payload');
  const code = payload.readUInt16BE(0);
  if (!isValidReceivedCloseCode(code))
    throw new ProtocolError(CloseCode.ProtocolError, `invalid close code ${code}`);
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes))
    throw new ProtocolError(CloseCode.InvalidPayload, 'close reason is not valid UTF-8');
  return { code, reason: reasonBytes.toString('utf8') };
}
