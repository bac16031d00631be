// WebSocketStreamError: the explainer's `WebSocketError` (a DOMException named 'WebSocketError' with
// closeCode and reason), exported under another name because this library's WebSocketError is the WinRT
// one. It also carries that WinRT side: the WebErrorStatus, the HRESULT and, as `cause`, the
// WebSocketError that describes the failure. Also the one home of the explainer's close() argument rules.

import { HResult, WebErrorStatus, type WebSocketError } from '../errors.js';
import { MAX_CLOSE_REASON_BYTES } from '../protocol/close.js';
import { utf8ByteLength } from '../protocol/utf8.js';

/** The explainer's WebSocketCloseInfo: what close() takes and what `closed` resolves with. */
export interface WebSocketCloseInfo {
  /** 1000 or 3000–4999; without it (and without a reason) the close frame carries no code. */
  closeCode?: number;
  /** At most 123 UTF-8 bytes. A reason without a closeCode is sent with 1000. */
  reason?: string;
}

/** A close code and reason that passed the explainer's rules: code null sends a close frame without one. */
export interface ValidCloseInfo {
  closeCode: number | null;
  reason: string;
}

/**
 * Checks a WebSocketCloseInfo as the explainer's close() does: TypeError for what is not a dictionary or
 * a code outside 0–65535, InvalidAccessError for a code other than 1000 or 3000–4999, SyntaxError for a
 * reason over 123 UTF-8 bytes. A reason without a code gets 1000.
 */
export function validateCloseInfo(info: unknown): ValidCloseInfo {
  if (info === undefined || info === null) return { closeCode: null, reason: '' };
  if (typeof info !== 'object' && typeof info !== 'function') {
    throw new TypeError('the close info must be an object like { closeCode, reason }');
  }
  const { closeCode: rawCode, reason: rawReason } = info as { closeCode?: unknown; reason?: unknown };
  let closeCode: number | null = null;
  if (rawCode !== undefined) {
    const code = Number(rawCode);
    if (!Number.isFinite(code) || Math.trunc(code) < 0 || Math.trunc(code) > 0xffff) {
      throw new TypeError(`closeCode ${String(code)} is not an unsigned short`);
    }
    closeCode = Math.trunc(code);
    if (closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999)) {
      throw new DOMException(
        `close code ${closeCode} is not allowed: use 1000 or 3000–4999`,
        'InvalidAccessError',
      );
    }
  }
  const reason = rawReason === undefined ? '' : stringOf(rawReason);
  const bytes = utf8ByteLength(reason);
  if (bytes > MAX_CLOSE_REASON_BYTES) {
    throw new DOMException(
      `the close reason is ${bytes} UTF-8 bytes; at most ${MAX_CLOSE_REASON_BYTES} fit in a close frame`,
      'SyntaxError',
    );
  }
  if (reason !== '') closeCode ??= 1000;
  return { closeCode, reason };
}

/** WebIDL's string conversion: anything but a Symbol. */
export function stringOf(value: unknown): string {
  if (typeof value === 'symbol') throw new TypeError('a Symbol cannot be converted to a string');
  return String(value);
}

/**
 * The explainer's WebSocketError (Chromium's `WebSocketError`): a DOMException named 'WebSocketError'
 * with `closeCode` and `reason`. It rejects `opened` and `closed` and errors the streams when the
 * connection fails or closes uncleanly; passed to `writable.abort()` or `readable.cancel()` it closes the
 * WebSocket with its code and reason. Beyond the explainer: `status` and `hresult` (WinRT, as on this
 * library's WebSocketError) and `cause`, the WebSocketError that says what went wrong.
 */
export class WebSocketStreamError extends DOMException {
  /** The close code (1006 when the connection closed without a closing handshake), or null. */
  readonly closeCode: number | null;
  readonly reason: string;
  /** The WinRT status of the failure (Unknown for an error made by the application). */
  readonly status: WebErrorStatus;
  readonly hresult: number;

  /** As the explainer's constructor: `init` is checked like close()'s argument. */
  constructor(message = '', init: WebSocketCloseInfo = {}) {
    const { closeCode, reason } = validateCloseInfo(init);
    super(message, 'WebSocketError');
    this.closeCode = closeCode;
    this.reason = reason;
    this.status = WebErrorStatus.Unknown;
    this.hresult = HResult.E_FAIL;
  }

  /** @internal The failure of a connection, as the streams and the promises report it. */
  static of(failure: WebSocketError, closeCode: number | null, reason = ''): WebSocketStreamError {
    const error = new WebSocketStreamError(failure.message);
    Object.defineProperties(error, {
      closeCode: { value: closeCode },
      reason: { value: reason },
      status: { value: failure.status },
      hresult: { value: failure.hresult },
      cause: { value: failure, writable: true, configurable: true },
    });
    return error;
  }
}

// As Chromium's: Object.prototype.toString says [object WebSocketError].
Object.defineProperty(WebSocketStreamError.prototype, Symbol.toStringTag, { value: 'WebSocketError' });

/**
 * The close code and reason a WebSocketStreamError given to abort() or cancel() asks for. Anything else,
 * or one whose code may not be sent (the 1006 of a failure), closes without a code, as the explainer says.
 */
export function closeInfoOfReason(reason: unknown): ValidCloseInfo {
  if (!(reason instanceof WebSocketStreamError)) return { closeCode: null, reason: '' };
  try {
    return validateCloseInfo({ closeCode: reason.closeCode ?? undefined, reason: reason.reason });
  } catch {
    return { closeCode: null, reason: '' };
  }
}

/** A write refused because the WebSocket is closing or closed (the explainer's InvalidStateError). */
export function closedStreamError(cause: unknown): DOMException {
  return new DOMException('the WebSocketStream is closed: nothing more can be written', {
    name: 'InvalidStateError',
    cause,
  });
}
