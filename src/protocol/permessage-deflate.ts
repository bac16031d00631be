// The negotiation of permessage-deflate (RFC 7692 §5–§7): the client's offer, the server's choice among
// the offers it received (declining the ones it cannot take, never failing the handshake for them), the
// client's check of the server's answer against its offer, and the compression each side then applies.
// Pure: header values in, parameters out.

import { formatExtensionHeader, parseExtensionHeader, type ExtensionElement } from './extension-header.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/**
 * Compression settings of a client (control.perMessageDeflate) or a server (the listener's option). The
 * four negotiated ones follow RFC 7692 §7.1: on a client they are asked of the server, on a server they
 * are imposed on every connection that accepts compression. `threshold` and `memLevel` stay local.
 */
export interface PerMessageDeflateOptions {
  /** The server resets its compression context after each message (its peer's inflater may too). */
  serverNoContextTakeover?: boolean;
  /** The client resets its compression context after each message. */
  clientNoContextTakeover?: boolean;
  /** Largest LZ77 window of the server's compressor, in bits (8–15; 15 when not limited). */
  serverMaxWindowBits?: number;
  /** Largest LZ77 window of the client's compressor, in bits (8–15). */
  clientMaxWindowBits?: number;
  /** A message whose size is known and below this many bytes goes uncompressed. Default 1024. */
  threshold?: number;
  /** zlib's memLevel for our compressor (1–9): memory against speed and ratio. Default 8. */
  memLevel?: number;
}

/** The configuration both sides agreed on (windows of 15 bits where none was limited). */
export interface DeflateParameters {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number;
  readonly clientMaxWindowBits: number;
}

/** What one side of a connection does once permessage-deflate was negotiated. */
export interface DeflateSettings {
  readonly parameters: DeflateParameters;
  readonly threshold: number;
  readonly memLevel: number;
}

/** The outcome of a negotiation: the extensions header value, and compression if it was agreed. */
export interface ExtensionsAgreement {
  /** The Sec-WebSocket-Extensions value of the server's answer ('' when none). */
  readonly extensions: string;
  readonly deflate: DeflateSettings | undefined;
}

export const DEFAULT_DEFLATE_THRESHOLD = 1024;
export const DEFAULT_MEM_LEVEL = 8;
const MAX_WINDOW_BITS = 15;
/** A window-bits value as RFC 7692 §7.1.2 writes it: 8 to 15, decimal, no leading zero. */
const WINDOW_BITS_VALUE = /^(?:[89]|1[0-5])$/;

/** The server's answer or the client's offer breaks RFC 7692: the reason, for the error or the log. */
export class DeflateNegotiationError extends Error {
  override readonly name = 'DeflateNegotiationError';
}

/** Why these options cannot be used, or undefined when they can (checked when they are set). */
export function deflateOptionsProblem(value: unknown): string | undefined {
  if (typeof value === 'boolean') return undefined;
  if (typeof value !== 'object' || value === null)
    return 'perMessageDeflate must be true, false or an object';
  const options = value as Record<string, unknown>;
  const known = new Set([
    'serverNoContextTakeover',
    'clientNoContextTakeover',
    'serverMaxWindowBits',
    'clientMaxWindowBits',
    'threshold',
    'memLevel',
  ]);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) return `perMessageDeflate has no option '${key}'`;
  }
  for (const key of ['serverNoContextTakeover', 'clientNoContextTakeover']) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      return `perMessageDeflate.${key} must be a boolean`;
    }
  }
  for (const key of ['serverMaxWindowBits', 'clientMaxWindowBits']) {
    if (options[key] !== undefined && !isIntegerIn(options[key], 8, MAX_WINDOW_BITS)) {
      return `perMessageDeflate.${key} must be a whole number from 8 to 15`;
    }
  }
  if (options.threshold !== undefined && !isIntegerIn(options.threshold, 0, Number.MAX_SAFE_INTEGER)) {
    return 'perMessageDeflate.threshold must be a whole number ≥ 0';
  }
  if (options.memLevel !== undefined && !isIntegerIn(options.memLevel, 1, 9)) {
    return 'perMessageDeflate.memLevel must be a whole number from 1 to 9';
  }
  return undefined;
}

/** The options of a `perMessageDeflate` setting (a copy): undefined when it is off. */
export function deflateOptionsOf(
  value: boolean | Readonly<PerMessageDeflateOptions>,
): PerMessageDeflateOptions | undefined {
  if (value === false) return undefined;
  return value === true ? {} : { ...value };
}

// ---- client ------------------------------------------------------------------------------------------

/**
 * The client's offer (§7.1): what it asks of the server, and `client_max_window_bits` always, with its
 * own limit or without a value, telling the server it may limit the client's window.
 */
export function deflateOffer(options: PerMessageDeflateOptions): string {
  const params: { name: string; value: string | undefined }[] = [];
  if (options.serverNoContextTakeover === true)
    params.push({ name: 'server_no_context_takeover', value: undefined });
  if (options.clientNoContextTakeover === true)
    params.push({ name: 'client_no_context_takeover', value: undefined });
  if (options.serverMaxWindowBits !== undefined) {
    params.push({ name: 'server_max_window_bits', value: String(options.serverMaxWindowBits) });
  }
  params.push({
    name: 'client_max_window_bits',
    value: options.clientMaxWindowBits === undefined ? undefined : String(options.clientMaxWindowBits),
  });
  return formatExtensionHeader([{ name: PERMESSAGE_DEFLATE, params }]);
}

/**
 * Checks the server's Sec-WebSocket-Extensions answer against our offer (§5.1, §7.1): one
 * permessage-deflate element at most, nothing we did not offer, valid parameters, each one within what
 * was offered. Throws DeflateNegotiationError; without an answer compression is simply off.
 */
export function acceptDeflateAnswer(
  answer: string | readonly string[] | undefined,
  options: PerMessageDeflateOptions,
): ExtensionsAgreement {
  let elements: ExtensionElement[];
  try {
    elements = parseExtensionHeader(answer);
  } catch (error) {
    throw new DeflateNegotiationError((error as Error).message);
  }
  if (elements.length === 0) return { extensions: '', deflate: undefined };
  const [element] = elements;
  if (elements.length > 1 || element!.name !== PERMESSAGE_DEFLATE) {
    const names = elements.map((each) => each.name).join(', ');
    throw new DeflateNegotiationError(
      `the server accepted extensions that were not offered as such: ${names}`,
    );
  }
  const answered = readParameters(element!, 'answer');
  if (typeof answered === 'string')
    throw new DeflateNegotiationError(`the server's permessage-deflate: ${answered}`);
  if (options.serverNoContextTakeover === true && !answered.serverNoContextTakeover) {
    throw new DeflateNegotiationError(
      'the server did not agree to server_no_context_takeover, which was asked',
    );
  }
  if (options.serverMaxWindowBits !== undefined) {
    if (answered.serverMaxWindowBits === undefined) {
      throw new DeflateNegotiationError('the server did not answer server_max_window_bits, which was asked');
    }
    if (answered.serverMaxWindowBits > options.serverMaxWindowBits) {
      throw new DeflateNegotiationError(
        `the server answered server_max_window_bits=${answered.serverMaxWindowBits}, over the ${options.serverMaxWindowBits} asked`,
      );
    }
  }
  const clientBits = answered.clientMaxWindowBits;
  if (clientBits !== undefined && clientBits !== true && options.clientMaxWindowBits !== undefined) {
    if (clientBits > options.clientMaxWindowBits) {
      throw new DeflateNegotiationError(
        `the server answered client_max_window_bits=${clientBits}, over the ${options.clientMaxWindowBits} offered`,
      );
    }
  }
  return {
    extensions: formatExtensionHeader(elements),
    deflate: {
      parameters: {
        serverNoContextTakeover: answered.serverNoContextTakeover,
        clientNoContextTakeover: answered.clientNoContextTakeover || options.clientNoContextTakeover === true,
        serverMaxWindowBits: answered.serverMaxWindowBits ?? MAX_WINDOW_BITS,
        clientMaxWindowBits:
          (typeof clientBits === 'number' ? clientBits : undefined) ??
          options.clientMaxWindowBits ??
          MAX_WINDOW_BITS,
      },
      threshold: options.threshold ?? DEFAULT_DEFLATE_THRESHOLD,
      memLevel: options.memLevel ?? DEFAULT_MEM_LEVEL,
    },
  };
}

// ---- server ------------------------------------------------------------------------------------------

/**
 * The server's choice (§5, §7.1): the first permessage-deflate offer, in the client's order of
 * preference, that is valid and that these options can take. An invalid offer (unknown, duplicate or
 * out-of-range parameter) is declined, as is a header that cannot be parsed: the connection then goes
 * on without compression. `client_max_window_bits` set here bounds the inflater's memory, so an offer
 * that does not let the server limit the client's window is declined too.
 */
export function answerDeflateOffers(
  header: string | readonly string[] | undefined,
  options: PerMessageDeflateOptions,
): ExtensionsAgreement {
  let elements: ExtensionElement[];
  try {
    elements = parseExtensionHeader(header);
  } catch {
    return { extensions: '', deflate: undefined };
  }
  for (const element of elements) {
    if (element.name !== PERMESSAGE_DEFLATE) continue;
    const offer = readParameters(element, 'offer');
    if (typeof offer === 'string') continue;
    if (options.clientMaxWindowBits !== undefined && offer.clientMaxWindowBits === undefined) continue;
    const serverNoContextTakeover = offer.serverNoContextTakeover || options.serverNoContextTakeover === true;
    const clientNoContextTakeover = offer.clientNoContextTakeover || options.clientNoContextTakeover === true;
    const serverBits = Math.min(
      offer.serverMaxWindowBits ?? MAX_WINDOW_BITS,
      options.serverMaxWindowBits ?? MAX_WINDOW_BITS,
    );
    const offeredClientBits =
      typeof offer.clientMaxWindowBits === 'number' ? offer.clientMaxWindowBits : MAX_WINDOW_BITS;
    const clientBits = Math.min(offeredClientBits, options.clientMaxWindowBits ?? MAX_WINDOW_BITS);
    const params: { name: string; value: string | undefined }[] = [];
    if (serverNoContextTakeover) params.push({ name: 'server_no_context_takeover', value: undefined });
    if (clientNoContextTakeover) params.push({ name: 'client_no_context_takeover', value: undefined });
    // Accepting a window limit the client asked for means answering it (§7.1.2.1).
    if (offer.serverMaxWindowBits !== undefined || serverBits < MAX_WINDOW_BITS) {
      params.push({ name: 'server_max_window_bits', value: String(serverBits) });
    }
    if (options.clientMaxWindowBits !== undefined) {
      params.push({ name: 'client_max_window_bits', value: String(clientBits) });
    }
    return {
      extensions: formatExtensionHeader([{ name: PERMESSAGE_DEFLATE, params }]),
      deflate: {
        parameters: {
          serverNoContextTakeover,
          clientNoContextTakeover,
          serverMaxWindowBits: serverBits,
          clientMaxWindowBits: clientBits,
        },
        threshold: options.threshold ?? DEFAULT_DEFLATE_THRESHOLD,
        memLevel: options.memLevel ?? DEFAULT_MEM_LEVEL,
      },
    };
  }
  return { extensions: '', deflate: undefined };
}

// ---- parameters --------------------------------------------------------------------------------------

interface ReadParameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: offered without a value (only an offer may do that). */
  clientMaxWindowBits: number | true | undefined;
}

/**
 * The parameters of one element, checked as §7.1 defines them for an offer or an answer; a string says
 * what is wrong (an unknown, duplicate or malformed parameter).
 */
function readParameters(element: ExtensionElement, kind: 'offer' | 'answer'): ReadParameters | string {
  const read: ReadParameters = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const { name, value } of element.params) {
    if (seen.has(name)) return `${name} is given twice`;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== undefined) return `${name} takes no value`;
        if (name === 'server_no_context_takeover') read.serverNoContextTakeover = true;
        else read.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        if (value === undefined || !WINDOW_BITS_VALUE.test(value)) return windowBitsProblem(name, value);
        read.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value === undefined && kind === 'offer') {
          read.clientMaxWindowBits = true;
        } else if (value === undefined || !WINDOW_BITS_VALUE.test(value)) {
          return windowBitsProblem(name, value);
        } else {
          read.clientMaxWindowBits = Number(value);
        }
        break;
      default:
        return `unknown parameter ${name}`;
    }
  }
  return read;
}

function windowBitsProblem(name: string, value: string | undefined): string {
  return value === undefined
    ? `${name} needs a value from 8 to 15`
    : `${name}=${JSON.stringify(value.slice(0, 24))} is not a whole number from 8 to 15`;
}

function isIntegerIn(value: unknown, low: number, high: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= low && value <= high;
}
