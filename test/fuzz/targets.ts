// What the fuzzer feeds and what it checks. Each target pairs a fast-check arbitrary (structure-aware:
// mostly almost-valid input, then lies, mutations and plain garbage) with a check that throws a plain
// Error when the code under test misbehaves: an exception other than ProtocolError/HandshakeError, a
// result that breaks the contract, different outcomes for the same bytes cut differently, or (checked
// by the engine) too much time for one input.

import { Buffer, isUtf8 } from 'node:buffer';

import fc from 'fast-check';

import { authorizationFor, parseChallenges } from '../../src/client/http-auth.js';
import {
  computeAccept,
  decodeClosePayload,
  FrameParser,
  HandshakeError,
  isToken,
  isValidReceivedCloseCode,
  ProtocolError,
  Utf8Validator,
  validateClientRequest,
  validateServerResponse,
  type DataOpcode,
  type FrameHeader,
  type FrameParserHandler,
  type FrameParserOptions,
  type ParsedHeaders,
} from '../../src/protocol/index.js';

export interface FuzzTarget<T> {
  readonly name: string;
  /** Inputs of this target per parser input in a default run. */
  readonly share: number;
  readonly arbitrary: fc.Arbitrary<T>;
  /** Throws an Error when the code under test misbehaved on `input`. */
  check(input: T): void;
  /** The time one input may take, in ms (generous: a quadratic blow-up is far beyond it). */
  budgetMs(input: T): number;
}

function fail(message: string): never {
  throw new Error(message);
}

// ---------------------------------------------------------------------------------------------------
// Frame parser

interface FrameSpec {
  fin: boolean;
  rsv: number;
  opcode: number;
  /** Masked as the role requires (a server reads masked frames), or the opposite. */
  maskRight: boolean;
  key: Uint8Array;
  payload: Uint8Array;
  lengthForm: 'minimal' | '16' | '64';
  /** Declared length = payload length + lie (clamped at 0); a `bigLie` replaces it. */
  lie: number;
  bigLie: bigint | null;
}

export interface ParserInput {
  options: FrameParserOptions;
  frames: FrameSpec[];
  garbageBefore: Uint8Array;
  garbageAfter: Uint8Array;
  /** [position, bit] pairs flipped after encoding. */
  flips: [number, number][];
  /** Cut the encoded input at this fraction (1 = keep all). */
  keep: number;
  /** Chunk boundaries, as fractions of the length. */
  splits: number[];
}

const CLOSE_CODES = [
  1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1011, 1012, 1014, 1015, 1016, 2999, 3000, 4999, 5000, 0,
  999, 65535,
];

const textBytes = fc
  .string({ unit: 'binary', maxLength: 40 })
  .map((text) => new Uint8Array(Buffer.from(text, 'utf8')));

/** Bytes that look like what a frame of some kind would carry, with their edges. */
const payloadArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 4, arbitrary: textBytes },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constantFrom(...CLOSE_CODES), fc.integer({ min: 0, max: 65535 })),
        fc.oneof(textBytes, fc.uint8Array({ maxLength: 20 })),
      )
      .map(([code, reason]) => {
        const payload = Buffer.alloc(2 + reason.length);
        payload.writeUInt16BE(code, 0);
        payload.set(reason, 2);
        return new Uint8Array(payload);
      }),
  },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 300 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(125, 126, 127, 65535, 65536, 70001), fc.integer({ min: 0, max: 255 }))
      .map(([length, fill]) => new Uint8Array(length).fill(fill)),
  },
);

const frameArb: fc.Arbitrary<FrameSpec> = fc.record({
  fin: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  rsv: fc.oneof(
    { weight: 10, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }) },
  ),
  opcode: fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(0x0, 0x1, 0x2, 0x8, 0x9, 0xa) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) },
  ),
  maskRight: fc.oneof(
    { weight: 15, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  key: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  payload: payloadArb,
  lengthForm: fc.oneof(
    { weight: 10, arbitrary: fc.constant<'minimal'>('minimal') },
    { weight: 1, arbitrary: fc.constantFrom<'16' | '64'>('16', '64') },
  ),
  lie: fc.oneof(
    { weight: 20, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: -8, max: 8 }) },
  ),
  bigLie: fc.oneof(
    { weight: 40, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
    { weight: 1, arbitrary: fc.constantFrom(1n << 63n, (1n << 53n) + 1n, 1n << 32n, 0xffff_ffffn) },
  ),
});

/** A fragmented data message: a first frame, continuations, the last with FIN; pings in between. */
const messageArb: fc.Arbitrary<FrameSpec[]> = fc
  .tuple(
    fc.constantFrom(0x1, 0x2),
    fc.array(fc.tuple(payloadArb, fc.option(fc.constantFrom(0x9, 0xa), { freq: 4 })), {
      minLength: 1,
      maxLength: 4,
    }),
    fc.uint8Array({ minLength: 4, maxLength: 4 }),
  )
  .map(([opcode, parts, key]) =>
    parts.flatMap(([payload, control], index): FrameSpec[] => {
      const frame: FrameSpec = {
        fin: index === parts.length - 1,
        rsv: 0,
        opcode: index === 0 ? opcode : 0x0,
        maskRight: true,
        key,
        payload,
        lengthForm: 'minimal',
        lie: 0,
        bigLie: null,
      };
      if (control === null || index === parts.length - 1) return [frame];
      return [frame, { ...frame, fin: true, opcode: control, payload: payload.subarray(0, 16) }];
    }),
  );

const parserOptionsArb: fc.Arbitrary<FrameParserOptions> = fc
  .record({
    role: fc.constantFrom<'client' | 'server'>('client', 'server'),
    maxMessageSize: fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 0, max: 100_000 }),
    ),
    allowRsv1: fc.boolean(),
    validateUtf8: fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.boolean() },
    ),
  })
  .map((options) => {
    const result: FrameParserOptions = { role: options.role, allowRsv1: options.allowRsv1 };
    if (options.maxMessageSize !== undefined) result.maxMessageSize = options.maxMessageSize;
    if (options.validateUtf8 !== undefined) result.validateUtf8 = options.validateUtf8;
    return result;
  });

const parserInputArb: fc.Arbitrary<ParserInput> = fc.record({
  options: parserOptionsArb,
  frames: fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: frameArb.map((frame) => [frame]) },
        { weight: 1, arbitrary: messageArb },
      ),
      {
        maxLength: 6,
      },
    )
    .map((groups) => groups.flat()),
  garbageBefore: fc.oneof(
    { weight: 12, arbitrary: fc.constant(new Uint8Array(0)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  ),
  garbageAfter: fc.oneof(
    { weight: 6, arbitrary: fc.constant(new Uint8Array(0)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  ),
  flips: fc.oneof(
    { weight: 6, arbitrary: fc.constant<[number, number][]>([]) },
    {
      weight: 1,
      arbitrary: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 3 }),
    },
  ),
  keep: fc.oneof(
    { weight: 6, arbitrary: fc.constant(1) },
    { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
  ),
  splits: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
});

/** Encodes the frames as the role's peer would send them (right or wrong), then mutates them. */
export function encodeParserInput(input: ParserInput): Buffer {
  const parts: Buffer[] = [Buffer.from(input.garbageBefore)];
  const serverReads = input.options.role === 'server';
  for (const frame of input.frames) {
    const masked = frame.maskRight === serverReads;
    const declared = frame.bigLie ?? BigInt(Math.max(0, frame.payload.length + frame.lie));
    const form =
      frame.lengthForm === '64' || declared > 0xffffn
        ? 64
        : frame.lengthForm === '16' || declared > 125n
          ? 16
          : 7;
    const header = Buffer.alloc(2 + (form === 16 ? 2 : form === 64 ? 8 : 0) + (masked ? 4 : 0));
    header[0] = (frame.fin ? 0x80 : 0) | ((frame.rsv & 7) << 4) | (frame.opcode & 0x0f);
    header[1] = (masked ? 0x80 : 0) | (form === 7 ? Number(declared) : form === 16 ? 126 : 127);
    if (form === 16) header.writeUInt16BE(Number(declared & 0xffffn), 2);
    if (form === 64) header.writeBigUInt64BE(declared, 2);
    const payload = Buffer.from(frame.payload);
    if (masked) {
      header.set(frame.key, header.length - 4);
      for (let index = 0; index < payload.length; index++) payload[index]! ^= frame.key[index % 4]!;
    }
    parts.push(header, payload);
  }
  parts.push(Buffer.from(input.garbageAfter));
  const bytes = Buffer.concat(parts);
  for (const [position, bit] of input.flips) {
    if (bytes.length > 0) bytes[position % bytes.length]! ^= 1 << bit;
  }
  return bytes.subarray(0, Math.round(bytes.length * input.keep));
}

type ParserEvent =
  | { kind: 'start'; opcode: number; compressed: boolean }
  | { kind: 'data'; bytes: Buffer }
  | { kind: 'end' }
  | { kind: 'ping' | 'pong'; payload: string }
  | { kind: 'close'; code: number; reason: string };

/** Records the parser's events and checks, as they come, that they follow the grammar of §5. */
class CheckingHandler implements FrameParserHandler {
  readonly events: ParserEvent[] = [];
  delivered = 0;
  private inMessage = false;
  private text = false;
  private compressed = false;
  private messageBytes = 0;
  private messageSections: Buffer[] = [];
  private closed = false;

  constructor(private readonly options: FrameParserOptions) {}

  onFrameHeader(header: FrameHeader): void {
    if (this.closed) fail('a frame header after the close frame');
    if (header.opcode >= 0x8 && header.payloadLength > 125)
      fail(`a control frame of ${header.payloadLength} bytes`);
    if (header.masked !== (this.options.role === 'server')) fail('a frame masked the wrong way passed');
  }

  onMessageStart(opcode: DataOpcode, compressed: boolean): void {
    if (this.closed || this.inMessage) fail('a message started inside a message or after the close');
    const code: number = opcode;
    if (code !== 0x1 && code !== 0x2) fail(`a message of opcode ${code}`);
    if (compressed && this.options.allowRsv1 !== true) fail('RSV1 passed without allowRsv1');
    this.inMessage = true;
    this.text = opcode === 0x1;
    this.compressed = compressed;
    this.messageBytes = 0;
    this.messageSections = [];
    this.events.push({ kind: 'start', opcode, compressed });
  }

  onMessageData(section: Buffer): void {
    if (!this.inMessage) fail('data outside a message');
    if (section.length === 0) fail('an empty section');
    this.messageBytes += section.length;
    this.delivered += section.length;
    // A compressed message's limit counts inflated bytes: the inflater checks it, not the parser.
    if (!this.compressed && this.messageBytes > (this.options.maxMessageSize ?? Infinity))
      fail('a message over maxMessageSize was delivered');
    // Sections are views that must stay valid: keep them, check them at the end of the message.
    this.messageSections.push(section);
    const last = this.events.at(-1);
    if (last?.kind === 'data') last.bytes = Buffer.concat([last.bytes, section]);
    else this.events.push({ kind: 'data', bytes: Buffer.from(section) });
  }

  onMessageEnd(): void {
    if (!this.inMessage) fail('a message end outside a message');
    this.inMessage = false;
    const whole = Buffer.concat(this.messageSections);
    if (this.text && !this.compressed && this.options.validateUtf8 !== false && !isUtf8(whole)) {
      fail('a text message that is not UTF-8 was delivered complete');
    }
    this.events.push({ kind: 'end' });
  }

  onPing(payload: Buffer): void {
    this.control('ping', payload);
  }

  onPong(payload: Buffer): void {
    this.control('pong', payload);
  }

  onClose(code: number, reason: string): void {
    if (this.closed) fail('two close frames');
    if (code !== 1005 && !isValidReceivedCloseCode(code)) fail(`close code ${code} passed`);
    if (Buffer.byteLength(reason) > 123) fail('a close reason over 123 bytes');
    this.closed = true;
    this.events.push({ kind: 'close', code, reason });
  }

  private control(kind: 'ping' | 'pong', payload: Buffer): void {
    if (this.closed) fail(`a ${kind} after the close`);
    if (payload.length > 125) fail(`a ${kind} of ${payload.length} bytes`);
    this.events.push({ kind, payload: payload.toString('hex') });
  }
}

interface ParseOutcome {
  events: ParserEvent[];
  closeCode: number | undefined;
}

/** Parses `bytes` (a fresh copy: payloads are unmasked in place) cut at `cuts`. */
function parseOnce(options: FrameParserOptions, bytes: Buffer, cuts: readonly number[]): ParseOutcome {
  const copy = Buffer.from(bytes);
  const handler = new CheckingHandler(options);
  const parser = new FrameParser(handler, options);
  let failure: ProtocolError | undefined;
  let start = 0;
  for (const end of [...cuts, copy.length]) {
    try {
      parser.push(copy.subarray(start, end));
    } catch (error) {
      if (!(error instanceof ProtocolError)) {
        fail(
          `the parser threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
        );
      }
      if (![1002, 1007, 1009].includes(error.closeCode))
        fail(`a ProtocolError with close code ${error.closeCode}`);
      failure = error;
      break;
    }
    start = end;
  }
  if (failure !== undefined) {
    // A failed parser stays failed, with the same error.
    let again: unknown;
    try {
      parser.push(Buffer.from([0x82, 0x80, 0, 0, 0, 0]));
    } catch (error) {
      again = error;
    }
    if (again !== failure) fail('a failed parser did not throw its error again');
  } else if (parser.isClosed) {
    // After the close frame the rest is ignored.
    const count = handler.events.length;
    parser.push(Buffer.from([0x89, 0x80, 0, 0, 0, 0, 0x89, 0x00]));
    if (handler.events.length !== count) fail('input after the close frame was parsed');
  }
  if (handler.delivered > bytes.length) fail('more payload delivered than bytes received');
  return { events: handler.events, closeCode: failure?.closeCode };
}

function withoutData(events: readonly ParserEvent[]): string {
  return JSON.stringify(events.filter((event) => event.kind !== 'data'));
}

function dataOf(events: readonly ParserEvent[]): Buffer {
  return Buffer.concat(events.flatMap((event) => (event.kind === 'data' ? [event.bytes] : [])));
}

export const frameParserTarget: FuzzTarget<ParserInput> = {
  name: 'frame-parser',
  share: 1,
  arbitrary: parserInputArb,
  check(input) {
    const bytes = encodeParserInput(input);
    const cuts = [...new Set(input.splits.map((fraction) => Math.floor(fraction * bytes.length)))].sort(
      (a, b) => a - b,
    );
    const whole = parseOnce(input.options, bytes, []);
    const cut = parseOnce(input.options, bytes, cuts);
    // The same bytes cut differently: the same frames, the same verdict.
    if (whole.closeCode !== cut.closeCode) {
      fail(
        `close code ${String(whole.closeCode)} in one chunk, ${String(cut.closeCode)} in ${cuts.length + 1}`,
      );
    }
    if (withoutData(whole.events) !== withoutData(cut.events))
      fail('different events when the input is cut differently');
    const wholeData = dataOf(whole.events);
    const cutData = dataOf(cut.events);
    // A chunk may deliver the valid start of a text frame that fails later in the same frame; the data
    // of one run is then a prefix of the other's. Without a failure it must be the same.
    const [shorter, longer] =
      wholeData.length <= cutData.length ? [wholeData, cutData] : [cutData, wholeData];
    if (
      whole.closeCode === undefined
        ? !wholeData.equals(cutData)
        : !longer.subarray(0, shorter.length).equals(shorter)
    ) {
      fail('different payload when the input is cut differently');
    }
  },
  budgetMs: (input) => 50 + input.frames.reduce((sum, frame) => sum + frame.payload.length, 0) / 10_000,
};

// ---------------------------------------------------------------------------------------------------
// The opening handshake

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

const headerText = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'websocket',
      'WebSocket',
      'Upgrade',
      'upgrade',
      'keep-alive, Upgrade',
      'keep-alive,,upgrade ,',
      '13',
      '8',
      '13, 8',
      '',
      ' ',
      KEY,
      'dGhlIHNhbXBsZSBub25jZQ',
      'dGhlIHNhbXBsZSBub25jZQ=',
      'AAAAAAAAAAAAAAAAAAAAAA==',
      '////////////////////////',
      'chat, superchat',
      'chat,,chat',
      'a b',
      'x=y',
      '__proto__',
      'constructor',
      computeAccept(KEY),
      'permessage-deflate',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.base64String({ maxLength: 28 }) },
);

const headerValue: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  { weight: 6, arbitrary: headerText },
  { weight: 1, arbitrary: fc.array(headerText, { maxLength: 3 }) },
  { weight: 2, arbitrary: fc.constant(undefined) },
);

const headersArb: fc.Arbitrary<ParsedHeaders> = fc
  .tuple(
    fc.record(
      {
        upgrade: headerValue,
        connection: headerValue,
        'sec-websocket-version': headerValue,
        'sec-websocket-key': headerValue,
        'sec-websocket-protocol': headerValue,
        'sec-websocket-accept': headerValue,
        'sec-websocket-extensions': headerValue,
      },
      { requiredKeys: [] },
    ),
    fc.dictionary(
      fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'toString')),
      headerValue,
      {
        maxKeys: 3,
      },
    ),
  )
  .map(([known, extra]) => ({ ...extra, ...known }));

export interface ClientRequestInput {
  method: string | undefined;
  httpVersion: string;
  headers: ParsedHeaders;
}

export const clientRequestTarget: FuzzTarget<ClientRequestInput> = {
  name: 'handshake-request',
  share: 0.1,
  arbitrary: fc.record({
    method: fc.oneof(
      fc.constantFrom('GET', 'GET', 'POST', 'get', 'HEAD', undefined),
      fc.string({ maxLength: 8 }),
    ),
    httpVersion: fc.oneof(
      fc.constantFrom('1.1', '1.1', '1.0', '2.0', '0.9', '1', '', '1.1.1', 'a.b', '10.0'),
      fc.string({ maxLength: 6 }),
    ),
    headers: headersArb,
  }),
  check(input) {
    let result: ReturnType<typeof validateClientRequest>;
    try {
      result = validateClientRequest(input);
    } catch (error) {
      fail(`validateClientRequest threw ${String(error)}`);
    }
    if (result.ok) {
      if (input.method !== 'GET') fail(`accepted method ${String(input.method)}`);
      if (!/^[A-Za-z0-9+/]{22}==$/.test(result.key) || Buffer.from(result.key, 'base64').length !== 16) {
        fail(`accepted key ${result.key}`);
      }
      if (!result.protocols.every(isToken)) fail(`accepted subprotocols ${JSON.stringify(result.protocols)}`);
      const version = input.headers['sec-websocket-version'];
      if ((Array.isArray(version) ? version.join(', ') : version) !== '13')
        fail('accepted a version other than 13');
    } else if (![400, 405, 426].includes(result.status) || result.reason === '') {
      fail(`answered ${result.status} '${result.reason}'`);
    }
  },
  budgetMs: () => 20,
};

export interface ServerResponseInput {
  statusCode: number;
  headers: ParsedHeaders;
  key: string;
  protocols: string[];
  rightAccept: boolean;
}

export const serverResponseTarget: FuzzTarget<ServerResponseInput> = {
  name: 'handshake-response',
  share: 0.1,
  arbitrary: fc.record({
    statusCode: fc.oneof(
      { weight: 6, arbitrary: fc.constant(101) },
      { weight: 2, arbitrary: fc.integer({ min: 100, max: 599 }) },
      { weight: 1, arbitrary: fc.integer() },
    ),
    headers: headersArb,
    key: fc.oneof(
      fc.constant(KEY),
      fc.base64String({ minLength: 24, maxLength: 24 }),
      fc.string({ maxLength: 30 }),
    ),
    protocols: fc.array(fc.constantFrom('chat', 'superchat', 'a', 'x=y', ''), { maxLength: 3 }),
    rightAccept: fc.boolean(),
  }),
  check(input) {
    const headers: ParsedHeaders = input.rightAccept
      ? { ...input.headers, 'sec-websocket-accept': computeAccept(input.key) }
      : input.headers;
    let protocol: string | null;
    try {
      protocol = validateServerResponse(input.statusCode, headers, input).protocol;
    } catch (error) {
      if (!(error instanceof HandshakeError)) fail(`validateServerResponse threw ${String(error)}`);
      if ((error.statusCode === undefined) !== (input.statusCode === 101))
        fail('a HandshakeError with the wrong status');
      return;
    }
    if (input.statusCode !== 101) fail(`accepted status ${input.statusCode}`);
    if (headers['sec-websocket-accept'] !== computeAccept(input.key))
      fail('accepted a wrong Sec-WebSocket-Accept');
    if (protocol !== null && !input.protocols.includes(protocol))
      fail(`accepted subprotocol '${protocol}', never offered`);
  },
  budgetMs: () => 20,
};

// ---------------------------------------------------------------------------------------------------
// HTTP authentication challenges (WWW-Authenticate / Proxy-Authenticate from a server or proxy)

const challengePiece = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'Basic',
      'Digest',
      'Bearer',
      'realm',
      'nonce',
      'qop',
      'algorithm',
      'opaque',
      'MD5',
      'SHA-256',
      'sha-256',
      'auth',
      'auth,auth-int',
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      '=',
      ',',
      ', ',
      ' ',
      '\t',
      '"',
      '\\',
      '""',
      '"a,b"',
      '"\\""',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
);

const pieceSoup = fc.array(challengePiece, { maxLength: 30 }).map((pieces) => pieces.join(''));

const authWord = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('realm', 'nonce', 'qop', 'algorithm', 'opaque', 'charset', 'stale', 'domain'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,8}$/) },
);

const authValue = fc.oneof(
  { weight: 3, arbitrary: authWord },
  {
    weight: 2,
    arbitrary: fc.constantFrom('MD5', 'SHA-256', 'sha-256', 'MD5-sess', 'auth', 'auth-int', 'true', ''),
  },
  {
    weight: 2,
    arbitrary: fc.string({ maxLength: 10 }).map((text) => `"${text.replace(/(["\\])/g, '\\$1')}"`),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);

/** `Scheme name=value, name="value"`, possibly several challenges in one header. */
const structuredChallenge = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('Basic', 'Digest', 'digest', 'Bearer', 'Negotiate'), authWord),
      fc.array(fc.tuple(authWord, authValue), { maxLength: 5 }),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((challenges) =>
    challenges
      .map(([scheme, params]) => `${scheme} ${params.map(([name, value]) => `${name}=${value}`).join(', ')}`)
      .join(', '),
  );

const challengeText = fc.oneof(structuredChallenge, pieceSoup);

/** A long run of one character (a header up to the 16 KiB an HTTP client accepts), then anything. */
const longChallenge = fc
  .tuple(
    fc.integer({ min: 1000, max: 16_000 }),
    fc.constantFrom(' ', '\t', 'a', '"', ',', '=', ' a', 'a='),
    challengePiece,
  )
  .map(([count, unit, tail]) => unit.repeat(Math.ceil(count / unit.length)) + tail + '\u0000');

export const challengesTarget: FuzzTarget<string | string[]> = {
  name: 'http-auth-challenges',
  share: 0.05,
  arbitrary: fc.oneof(
    { weight: 8, arbitrary: challengeText },
    { weight: 2, arbitrary: fc.array(challengeText, { maxLength: 3 }) },
    { weight: 1, arbitrary: longChallenge },
  ),
  check(input) {
    const challenges = parseChallenges(input);
    if (!Array.isArray(challenges)) fail('not an array');
    for (const challenge of challenges) {
      if (!isToken(challenge.scheme) || challenge.scheme !== challenge.scheme.toLowerCase()) {
        fail(`scheme ${JSON.stringify(challenge.scheme)}`);
      }
      for (const value of Object.values(challenge.params)) {
        if (typeof value !== 'string') fail('a parameter that is not a string');
      }
    }
  },
  // Linear parsing of 16 KiB takes well under a millisecond; a quadratic one takes a hundred.
  budgetMs: (input) => 10 + (Array.isArray(input) ? input.join('').length : input.length) / 1000,
};

/** The answer to a 401/407: whatever the challenge said, an Authorization value or none, no exception. */
export const authorizationTarget: FuzzTarget<string | string[]> = {
  name: 'http-auth-authorization',
  share: 0.05,
  arbitrary: fc.oneof(
    { weight: 4, arbitrary: challengeText },
    { weight: 1, arbitrary: fc.array(challengeText, { maxLength: 3 }) },
  ),
  check(input) {
    let answer: string | undefined;
    try {
      answer = authorizationFor(
        parseChallenges(input),
        { username: 'user', password: 'pass' },
        'GET',
        '/path?q',
      );
    } catch (error) {
      fail(
        `authorizationFor threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      );
    }
    if (answer !== undefined && !/^(Basic|Digest) /.test(answer)) fail(`answered ${answer}`);
  },
  budgetMs: () => 20,
};

// ---------------------------------------------------------------------------------------------------
// Streaming UTF-8 and close payloads

export interface Utf8Input {
  bytes: Uint8Array;
  splits: number[];
}

const utf8Bytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 3, arbitrary: textBytes },
  {
    weight: 4,
    arbitrary: fc
      .array(
        fc.oneof(
          textBytes,
          fc.uint8Array({ maxLength: 3 }),
          fc.constantFrom(
            ...[
              [0xe2, 0x82],
              [0xf0, 0x9f, 0x98],
              [0xed, 0xa0, 0x80],
              [0xc0, 0xaf],
              [0xf4, 0x90, 0x80, 0x80],
              [0xef, 0xbf, 0xbf],
            ].map((bytes) => new Uint8Array(bytes)),
          ),
        ),
        {
          maxLength: 6,
        },
      )
      .map((parts) => new Uint8Array(Buffer.concat(parts))),
  },
);

const fatal = new TextDecoder('utf-8', { fatal: true });

function decodes(bytes: Uint8Array): boolean {
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

export const utf8Target: FuzzTarget<Utf8Input> = {
  name: 'utf8-validator',
  share: 0.25,
  arbitrary: fc.record({ bytes: utf8Bytes, splits: fc.array(fc.nat(), { maxLength: 6 }) }),
  check(input) {
    const { bytes } = input;
    const cuts = [...new Set(input.splits.map((value) => value % (bytes.length + 1)))].sort((a, b) => a - b);
    const validator = new Utf8Validator();
    let valid = true;
    let start = 0;
    for (const end of [...cuts, bytes.length]) {
      const before = validator.clone();
      if (!validator.write(bytes.subarray(start, end))) {
        valid = false;
        // A rejected section leaves the validator as it was.
        for (const probe of [[0x80], [0x41], [0xbf, 0x80]]) {
          const left = validator.clone().write(new Uint8Array(probe));
          const right = before.clone().write(new Uint8Array(probe));
          if (left !== right) fail('a rejected write changed the state');
        }
        break;
      }
      start = end;
    }
    if (valid) valid = validator.end();
    const expected = isUtf8(bytes);
    if (valid !== expected) fail(`streamed ${String(valid)}, whole-buffer isUtf8 ${String(expected)}`);
    if (expected !== decodes(bytes)) fail('isUtf8 and TextDecoder disagree');
  },
  budgetMs: () => 20,
};

export const closePayloadTarget: FuzzTarget<Uint8Array> = {
  name: 'close-payload',
  share: 0.05,
  arbitrary: fc.oneof(fc.uint8Array({ maxLength: 130 }), payloadArb),
  check(input) {
    let decoded: { code: number; reason: string };
    try {
      decoded = decodeClosePayload(Buffer.from(input));
    } catch (error) {
      if (!(error instanceof ProtocolError)) fail(`decodeClosePayload threw ${String(error)}`);
      return;
    }
    if (decoded.code !== 1005 && !isValidReceivedCloseCode(decoded.code)) fail(`code ${decoded.code}`);
    if (input.length >= 2 && !Buffer.from(decoded.reason).equals(Buffer.from(input.subarray(2))))
      fail('the reason changed');
  },
  budgetMs: () => 20,
};
