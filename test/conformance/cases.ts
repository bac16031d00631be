// The conformance cases: RFC 6455 behaviour in the categories of the Autobahn|Testsuite (1 framing,
// 2 ping/pong, 3 reserved bits, 4 reserved opcodes, 5 fragmentation, 6 UTF-8, 7 close handling,
// 9 limits/performance, 10 misc), written from the RFC and the published Autobahn case descriptions;
// categories 12 and 13 (permessage-deflate, RFC 7692) are in compression-cases.ts.
//
// A case is data: the frames the scripted peer sends (and how they are cut into TCP writes, with what
// pauses) and what RFC 6455 expects back. The same table drives both sides: against our server the peer
// is a masked client, against our client it is an unmasking server. Cases that Autobahn generates from
// lists (UTF-8 sequences, close codes, sizes, chop sizes) are generated here from the same lists, plus a
// few generated extras (every fragment split of every UTF-8 sequence, masking, length encodings), which
// are marked `origin: 'extra'`.

import { Buffer } from 'node:buffer';

import { compressionCases, type Corpus, type DeflateNegotiation } from './compression-cases.js';

export type Side = 'server' | 'client';
export type Variant = 'message' | 'stream';

export const Op = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** One frame as the peer sends it. */
export interface FrameSpec {
  opcode: number;
  payload?: Buffer;
  /** Default true. */
  fin?: boolean;
  /** The three reserved bits as Autobahn numbers them: 4 = RSV1, 2 = RSV2, 1 = RSV3. */
  rsv?: number;
  /** Masked the wrong way for its direction: unmasked from a client, masked from a server. */
  wrongMask?: boolean;
  /** The form of the length field (default: the shortest one, as §5.2 requires of senders). */
  lengthForm?: 7 | 16 | 64;
  /** A length field that differs from the payload actually sent (64-bit form). */
  declaredLength?: bigint;
  /**
   * Marks the frame that violates the protocol, for the stream variant's check of what may have been
   * passed on before the failure: 'header' (nothing of this frame), 'payload' (a prefix of its payload:
   * invalid UTF-8 is found partway).
   */
  violation?: 'header' | 'payload';
}

/** How the bytes of a send step are cut into TCP writes. */
export type Split =
  /** One write. */
  | { kind: 'whole' }
  /** One write per frame. */
  | { kind: 'frames' }
  /** Writes of `size` bytes. */
  | { kind: 'chop'; size: number }
  /** Each byte of the first frame's header in a write of its own, then the rest in one write. */
  | { kind: 'header-octets' }
  /** Cuts after these payload bytes (payloadOffset bytes of frame `frame` go in the earlier write). */
  | { kind: 'at'; points: { frame: number; payloadOffset: number }[] };

export type Step =
  /** Sends frames, cut by `split`, pausing `pauseMs` between writes. */
  | { kind: 'send'; frames: FrameSpec[]; split?: Split; pauseMs?: number }
  | { kind: 'pause'; ms: number }
  /** Sends `count` messages one at a time, each after the echo of the one before (9.7, 9.8). */
  | { kind: 'roundTrips'; count: number; opcode: typeof Op.Text | typeof Op.Binary; size: number }
  /**
   * The same with compressed messages (12.x, 13.x): message i is compressedPayload(corpus, size, i),
   * deflated as negotiated and cut into frames of `fragmentSize` compressed octets (0: one frame).
   */
  | {
      kind: 'compressedRoundTrips';
      count: number;
      opcode: typeof Op.Text | typeof Op.Binary;
      size: number;
      corpus: Corpus;
      fragmentSize: number;
    };

/** Something the testee sends back before its close frame. */
export type Reply =
  | { kind: 'message'; opcode: typeof Op.Text | typeof Op.Binary; payload: Buffer }
  | { kind: 'pong'; payload: Buffer };

/** How the connection must end. */
export type Ending =
  /** After the expected replies the peer closes with 1000 and must get 1000 (or an empty close) back. */
  | { kind: 'normal' }
  /** The steps sent a close frame: the testee must answer it with one of these codes (null: no code). */
  | { kind: 'closeReply'; codes: (number | null)[] }
  /**
   * The testee must fail the connection with a close frame carrying one of `codes` (`nonStrictCodes`:
   * tolerated). With `failFastAfterWrite`, the close frame must arrive before the peer's write number
   * failFastAfterWrite + 1 (counted from 1 over the whole case): a later close is NON-STRICT.
   */
  | { kind: 'fail'; codes: number[]; nonStrictCodes?: number[]; failFastAfterWrite?: number };

export interface Expectation {
  /** The replies that make the case OK, in order (the message variant compares them exactly). */
  replies: Reply[];
  /** Reply lists that RFC 6455 tolerates but that are judged NON-STRICT (as Autobahn does). */
  nonStrict?: Reply[][];
  ending: Ending;
  /** Set for cases whose outcome the RFC leaves open: reported, never failing. */
  informational?: string;
}

export interface ConformanceCase {
  /** Autobahn's id ('6.3.1') or an extra's id in the same numbering ('6.7.3/frag@2', '10.2.1'). */
  id: string;
  /** The Autobahn category: '1' … '10'. */
  category: string;
  description: string;
  origin: 'autobahn' | 'extra';
  steps: Step[];
  expect: Expectation;
  /** Variants the case applies to (default both). */
  variants?: Variant[];
  /** Bound for the whole case in ms, beyond the default. */
  timeoutMs?: number;
  /** permessage-deflate is negotiated (categories 12 and 13): what the peer offers, or answers. */
  deflate?: DeflateNegotiation;
}

export const CATEGORY_NAMES: Record<string, string> = {
  '1': 'Framing',
  '2': 'Pings/Pongs',
  '3': 'Reserved Bits',
  '4': 'Opcodes',
  '5': 'Fragmentation',
  '6': 'UTF-8 Handling',
  '7': 'Close Handling',
  '9': 'Limits/Performance',
  '10': 'Misc',
  '12': 'Compression (payloads)',
  '13': 'Compression (parameters)',
};

/** The pause that separates the write holding an invalid byte from the next one (fail-fast cases). */
export const FAIL_FAST_PAUSE_MS = 300;

export type Profile = 'full' | 'quick';

// ---- building blocks -----------------------------------------------------------------------------------

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');
const hex = (digits: string): Buffer => Buffer.from(digits.replace(/\s+/g, ''), 'hex');

const text = (payload: Buffer | string, fin = true, extra: Partial<FrameSpec> = {}): FrameSpec => ({
  opcode: Op.Text,
  payload: typeof payload === 'string' ? utf8(payload) : payload,
  fin,
  ...extra,
});
const binary = (payload: Buffer, fin = true, extra: Partial<FrameSpec> = {}): FrameSpec => ({
  opcode: Op.Binary,
  payload,
  fin,
  ...extra,
});
const cont = (payload: Buffer | string, fin = true, extra: Partial<FrameSpec> = {}): FrameSpec => ({
  opcode: Op.Continuation,
  payload: typeof payload === 'string' ? utf8(payload) : payload,
  fin,
  ...extra,
});
const ping = (payload: Buffer | string = Buffer.alloc(0), extra: Partial<FrameSpec> = {}): FrameSpec => ({
  opcode: Op.Ping,
  payload: typeof payload === 'string' ? utf8(payload) : payload,
  ...extra,
});
const pong = (payload: Buffer | string = Buffer.alloc(0), extra: Partial<FrameSpec> = {}): FrameSpec => ({
  opcode: Op.Pong,
  payload: typeof payload === 'string' ? utf8(payload) : payload,
  ...extra,
});

/** A close frame: no payload when code is undefined. */
export function closePayload(code?: number, reason: Buffer | string = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const reasonBytes = typeof reason === 'string' ? utf8(reason) : reason;
  const payload = Buffer.alloc(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return payload;
}
const close = (code?: number, reason: Buffer | string = '', extra: Partial<FrameSpec> = {}): FrameSpec => ({
  opcode: Op.Close,
  payload: closePayload(code, reason),
  ...extra,
});

const send = (frames: FrameSpec[], split: Split = { kind: 'whole' }, pauseMs = 0): Step => ({
  kind: 'send',
  frames,
  split,
  pauseMs,
});

const textReply = (payload: Buffer | string): Reply => ({
  kind: 'message',
  opcode: Op.Text,
  payload: typeof payload === 'string' ? utf8(payload) : payload,
});
const binaryReply = (payload: Buffer): Reply => ({ kind: 'message', opcode: Op.Binary, payload });
const pongReply = (payload: Buffer | string = Buffer.alloc(0)): Reply => ({
  kind: 'pong',
  payload: typeof payload === 'string' ? utf8(payload) : payload,
});

const normal: Ending = { kind: 'normal' };
const failWith = (codes: number[], more: Partial<Extract<Ending, { kind: 'fail' }>> = {}): Ending => ({
  kind: 'fail',
  codes,
  ...more,
});
const PROTOCOL_ERROR = 1002;
const INVALID_PAYLOAD = 1007;

/**
 * Where a streaming UTF-8 decoder must reject these bytes: the index of the first byte that cannot
 * continue any valid sequence, 'end' when the bytes are only cut short, undefined when they are valid.
 * Computed with the platform's WHATWG decoder, fed one byte at a time, independently of the library.
 */
export function utf8FirstInvalid(bytes: Uint8Array): number | 'end' | undefined {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let index = 0; index < bytes.length; index++) {
    try {
      decoder.decode(bytes.subarray(index, index + 1), { stream: true });
    } catch {
      return index;
    }
  }
  try {
    decoder.decode();
  } catch {
    return 'end';
  }
  return undefined;
}

// ---- 1 Framing -------------------------------------------------------------------------------------------

const FRAME_LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

function framingCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const [group, kind] of [
    ['1.1', 'text'],
    ['1.2', 'binary'],
  ] as const) {
    const make = (length: number): Buffer =>
      kind === 'text' ? Buffer.alloc(length, '*') : Buffer.alloc(length, 0xfe);
    const frame = (payload: Buffer): FrameSpec => (kind === 'text' ? text(payload) : binary(payload));
    const reply = (payload: Buffer): Reply => (kind === 'text' ? textReply(payload) : binaryReply(payload));
    FRAME_LENGTHS.forEach((length, index) => {
      const payload = make(length);
      cases.push({
        id: `${group}.${index + 1}`,
        category: '1',
        description: `Send ${kind} message with payload of length ${length}`,
        origin: 'autobahn',
        steps: [send([frame(payload)])],
        expect: { replies: [reply(payload)], ending: normal },
        // A stream socket has no message boundaries: an empty message is invisible.
        ...(length === 0 ? { variants: ['message'] as Variant[] } : {}),
      });
    });
    const payload = make(65536);
    cases.push({
      id: `${group}.8`,
      category: '1',
      description: `Send ${kind} message with payload of length 65536, sent in chops of 997 octets`,
      origin: 'autobahn',
      steps: [send([frame(payload)], { kind: 'chop', size: 997 })],
      expect: { replies: [reply(payload)], ending: normal },
    });
  }
  // Extras: every header byte in a TCP write of its own, for each length form, both masking directions.
  [0, 1, 125, 126, 127, 65535, 65536].forEach((length, index) => {
    const payload = Buffer.alloc(length, 0x5a);
    cases.push({
      id: `1.3.${index + 1}`,
      category: '1',
      description: `Binary message of length ${length}, each header octet in its own TCP write`,
      origin: 'extra',
      steps: [send([binary(payload)], { kind: 'header-octets' }, 2)],
      expect: { replies: [binaryReply(payload)], ending: normal },
      ...(length === 0 ? { variants: ['message'] as Variant[] } : {}),
    });
  });
  // Extras: lengths in a longer form than needed. §5.2 asks senders for the minimal form; receivers may
  // accept or refuse (informational).
  (
    [
      [5, 16],
      [5, 64],
      [300, 64],
    ] as const
  ).forEach(([length, form], index) => {
    const payload = Buffer.alloc(length, 0x41);
    cases.push({
      id: `1.4.${index + 1}`,
      category: '1',
      description: `Binary message of length ${length} with a ${form}-bit length field (not minimal)`,
      origin: 'extra',
      steps: [send([binary(payload, true, { lengthForm: form })])],
      expect: {
        replies: [binaryReply(payload)],
        ending: normal,
        informational: 'RFC 6455 requires the minimal length form of senders, not of receivers',
      },
    });
  });
  cases.push({
    id: '1.5.1',
    category: '1',
    description: 'Frame with a 64-bit length whose most significant bit is set',
    origin: 'extra',
    steps: [
      send([
        binary(Buffer.alloc(16, 0x41), true, {
          lengthForm: 64,
          declaredLength: 0x8000_0000_0000_0010n,
          violation: 'header',
        }),
      ]),
    ],
    // 1009 (too big) is tolerated: some implementations test the length against 2^53 first.
    expect: { replies: [], ending: failWith([PROTOCOL_ERROR], { nonStrictCodes: [1009] }) },
  });
  return cases;
}

// ---- 2 Pings/Pongs ---------------------------------------------------------------------------------------

function pingCases(): ConformanceCase[] {
  const binaryPing = hex('00 ff fe fd fc fb 00 ff');
  const p125 = Buffer.alloc(125, 0xfe);
  const pings = Array.from({ length: 10 }, (_unused, index) => `payload-${index}`);
  const c = (
    id: string,
    description: string,
    steps: Step[],
    expect: Expectation,
    more: Partial<ConformanceCase> = {},
  ): ConformanceCase => ({ id, category: '2', description, origin: 'autobahn', steps, expect, ...more });
  return [
    c('2.1', 'Send ping without payload', [send([ping()])], { replies: [pongReply()], ending: normal }),
    c('2.2', 'Send ping with small text payload', [send([ping('Hello, world!')])], {
      replies: [pongReply('Hello, world!')],
      ending: normal,
    }),
    c('2.3', 'Send ping with small binary (non UTF-8) payload', [send([ping(binaryPing)])], {
      replies: [pongReply(binaryPing)],
      ending: normal,
    }),
    c('2.4', 'Send ping with binary payload of 125 octets', [send([ping(p125)])], {
      replies: [pongReply(p125)],
      ending: normal,
    }),
    c(
      '2.5',
      'Send ping with binary payload of 126 octets',
      [send([ping(Buffer.alloc(126, 0xfe), { violation: 'header' })])],
      { replies: [], ending: failWith([PROTOCOL_ERROR]) },
    ),
    c(
      '2.6',
      'Send ping with binary payload of 125 octets, sent in octet-wise chops',
      [send([ping(p125)], { kind: 'chop', size: 1 }, 1)],
      { replies: [pongReply(p125)], ending: normal },
    ),
    c('2.7', 'Send unsolicited pong without payload', [send([pong()])], { replies: [], ending: normal }),
    c('2.8', 'Send unsolicited pong with payload', [send([pong('unsolicited pong payload')])], {
      replies: [],
      ending: normal,
    }),
    c(
      '2.9',
      'Send unsolicited pong with payload, then ping with payload',
      [send([pong('unsolicited pong payload'), ping('ping payload')])],
      { replies: [pongReply('ping payload')], ending: normal },
    ),
    c('2.10', 'Send 10 pings with payload', [send(pings.map((payload) => ping(payload)))], {
      replies: pings.map((payload) => pongReply(payload)),
      ending: normal,
    }),
    c(
      '2.11',
      'Send 10 pings with payload, sent in octet-wise chops',
      [
        send(
          pings.map((payload) => ping(payload)),
          { kind: 'chop', size: 1 },
          1,
        ),
      ],
      { replies: pings.map((payload) => pongReply(payload)), ending: normal },
    ),
  ];
}

// ---- 3 Reserved bits ------------------------------------------------------------------------------------

function reservedBitCases(): ConformanceCase[] {
  const hello = 'Hello, world!';
  const bytes = Buffer.from(Array.from({ length: 256 }, (_unused, index) => index));
  const echoThenFail: Expectation = {
    replies: [textReply(hello)],
    nonStrict: [[]],
    ending: failWith([PROTOCOL_ERROR]),
  };
  const c = (id: string, description: string, steps: Step[], expect: Expectation): ConformanceCase => ({
    id,
    category: '3',
    description,
    origin: 'autobahn',
    steps,
    expect,
  });
  const three = (rsv: number): FrameSpec[] => [
    text(hello),
    text(hello, true, { rsv, violation: 'header' }),
    ping(hello),
  ];
  return [
    c(
      '3.1',
      'Send small text message with RSV = 1',
      [send([text(hello, true, { rsv: 1, violation: 'header' })])],
      {
        replies: [],
        ending: failWith([PROTOCOL_ERROR]),
      },
    ),
    c(
      '3.2',
      'Send small text message, then another with RSV = 2, then ping (one write)',
      [send(three(2))],
      echoThenFail,
    ),
    c(
      '3.3',
      'Send small text message, then another with RSV = 3, then ping, in frame-wise writes',
      [send(three(3), { kind: 'frames' }, 20)],
      echoThenFail,
    ),
    c(
      '3.4',
      'Send small text message, then another with RSV = 4, then ping, in octet-wise chops',
      [send(three(4), { kind: 'chop', size: 1 }, 1)],
      echoThenFail,
    ),
    c(
      '3.5',
      'Send small binary message with RSV = 5',
      [send([binary(bytes, true, { rsv: 5, violation: 'header' })])],
      {
        replies: [],
        ending: failWith([PROTOCOL_ERROR]),
      },
    ),
    c('3.6', 'Send ping with payload and RSV = 6', [send([ping(hello, { rsv: 6, violation: 'header' })])], {
      replies: [],
      ending: failWith([PROTOCOL_ERROR]),
    }),
    c('3.7', 'Send close with RSV = 7', [send([close(1000, '', { rsv: 7, violation: 'header' })])], {
      replies: [],
      ending: failWith([PROTOCOL_ERROR]),
    }),
  ];
}

// ---- 4 Opcodes ------------------------------------------------------------------------------------------

function opcodeCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const hello = 'Hello, world!';
  const payload = utf8('reserved opcode payload');
  for (const [group, opcodes, kind] of [
    ['4.1', [3, 4, 5, 6, 7], 'non-control'],
    ['4.2', [11, 12, 13, 14, 15], 'control'],
  ] as const) {
    opcodes.forEach((opcode, index) => {
      const number = index + 1;
      const id = `${group}.${number}`;
      const withPayload = number % 2 === 0 || number === 5;
      const bad: FrameSpec = {
        opcode,
        payload: withPayload ? payload : Buffer.alloc(0),
        violation: 'header',
      };
      const label = `reserved ${kind} opcode ${opcode}${withPayload ? ' with payload' : ''}`;
      if (number <= 2) {
        cases.push({
          id,
          category: '4',
          description: `Send frame with ${label}`,
          origin: 'autobahn',
          steps: [send([bad])],
          expect: { replies: [], ending: failWith([PROTOCOL_ERROR]) },
        });
      } else {
        cases.push({
          id,
          category: '4',
          description: `Send small text message, then frame with ${label}, then ping`,
          origin: 'autobahn',
          steps: [send([text(hello), bad, ping(hello)])],
          expect: { replies: [textReply(hello)], nonStrict: [[]], ending: failWith([PROTOCOL_ERROR]) },
        });
      }
    });
  }
  return cases;
}

// ---- 5 Fragmentation ------------------------------------------------------------------------------------

function fragmentationCases(): ConformanceCase[] {
  const c = (id: string, description: string, steps: Step[], expect: Expectation): ConformanceCase => ({
    id,
    category: '5',
    description,
    origin: 'autobahn',
    steps,
    expect,
  });
  const failNow: Expectation = { replies: [], ending: failWith([PROTOCOL_ERROR]) };
  const twoText = [text('fragment1', false), cont('fragment2')];
  const withPing = [text('fragment1', false), ping('ping payload'), cont('fragment2')];
  const orphan = (fin: boolean): FrameSpec[] => [
    cont('non-continuation payload', fin, { violation: 'header' }),
    text('Hello, world!'),
    ping('Hello, world!'),
  ];
  const five = (pausing: boolean): Step[] => [
    send(
      [text('fragment1', false), cont('fragment2', false), ping('pongme 1!')],
      { kind: 'frames' },
      pausing ? 10 : 0,
    ),
    { kind: 'pause', ms: 200 },
    send(
      [cont('fragment3', false), ping('pongme 2!'), cont('fragment4', false), cont('fragment5')],
      { kind: 'frames' },
      pausing ? 10 : 0,
    ),
  ];
  const fiveExpect: Expectation = {
    replies: [
      pongReply('pongme 1!'),
      pongReply('pongme 2!'),
      textReply('fragment1fragment2fragment3fragment4fragment5'),
    ],
    ending: normal,
  };
  const repeated = (firstFin: boolean): FrameSpec[] => [
    cont('fragment1', firstFin, { violation: 'header' }),
    text('fragment2', false),
    cont('fragment3'),
    cont('fragment1', firstFin),
    text('fragment2', false),
    cont('fragment3'),
  ];
  return [
    c(
      '5.1',
      'Send ping in 2 fragments',
      [send([ping('fragment1', { fin: false, violation: 'header' }), cont('fragment2')])],
      failNow,
    ),
    c(
      '5.2',
      'Send pong in 2 fragments',
      [send([pong('fragment1', { fin: false, violation: 'header' }), cont('fragment2')])],
      failNow,
    ),
    c('5.3', 'Send text message in 2 fragments', [send(twoText)], {
      replies: [textReply('fragment1fragment2')],
      ending: normal,
    }),
    c(
      '5.4',
      'Send text message in 2 fragments, in octet-wise chops',
      [send(twoText, { kind: 'chop', size: 1 }, 1)],
      {
        replies: [textReply('fragment1fragment2')],
        ending: normal,
      },
    ),
    c(
      '5.5',
      'Send text message in 2 fragments, with a pause between the frames',
      [send(twoText, { kind: 'frames' }, 100)],
      {
        replies: [textReply('fragment1fragment2')],
        ending: normal,
      },
    ),
    c('5.6', 'Send text message in 2 fragments with a ping between them', [send(withPing)], {
      replies: [pongReply('ping payload'), textReply('fragment1fragment2')],
      ending: normal,
    }),
    c(
      '5.7',
      'Send text message in 2 fragments with a ping between them, in octet-wise chops',
      [send(withPing, { kind: 'chop', size: 1 }, 1)],
      { replies: [pongReply('ping payload'), textReply('fragment1fragment2')], ending: normal },
    ),
    c(
      '5.8',
      'Send text message in 2 fragments with a ping between them, with pauses between the frames',
      [send(withPing, { kind: 'frames' }, 100)],
      { replies: [pongReply('ping payload'), textReply('fragment1fragment2')], ending: normal },
    ),
    c(
      '5.9',
      'Send continuation (FIN = true) with nothing to continue, then text message and ping',
      [send(orphan(true))],
      failNow,
    ),
    c(
      '5.10',
      'Send continuation (FIN = true) with nothing to continue, then text and ping, octet-wise chops',
      [send(orphan(true), { kind: 'chop', size: 1 }, 1)],
      failNow,
    ),
    c(
      '5.11',
      'Send continuation (FIN = true) with nothing to continue, then text and ping, frame-wise with pauses',
      [send(orphan(true), { kind: 'frames' }, 50)],
      failNow,
    ),
    c(
      '5.12',
      'Send continuation (FIN = false) with nothing to continue, then text message and ping',
      [send(orphan(false))],
      failNow,
    ),
    c(
      '5.13',
      'Send continuation (FIN = false) with nothing to continue, then text and ping, octet-wise chops',
      [send(orphan(false), { kind: 'chop', size: 1 }, 1)],
      failNow,
    ),
    c(
      '5.14',
      'Send continuation (FIN = false) with nothing to continue, then text and ping, frame-wise with pauses',
      [send(orphan(false), { kind: 'frames' }, 50)],
      failNow,
    ),
    c(
      '5.15',
      'Send text message in 2 fragments, then continuation (FIN = false) with nothing to continue, then text',
      [
        send([
          text('fragment1', false),
          cont('fragment2'),
          cont('fragment3', false, { violation: 'header' }),
          text('fragment4'),
        ]),
      ],
      { replies: [textReply('fragment1fragment2')], nonStrict: [[]], ending: failWith([PROTOCOL_ERROR]) },
    ),
    c(
      '5.16',
      'Send 2 times: continuation (FIN = false) with nothing to continue, then text (FIN = false), then continuation (FIN = true)',
      [send(repeated(false))],
      failNow,
    ),
    c(
      '5.17',
      'Send 2 times: continuation (FIN = true) with nothing to continue, then text (FIN = false), then continuation (FIN = true)',
      [send(repeated(true))],
      failNow,
    ),
    c(
      '5.18',
      'Send text message in 2 fragments, both with opcode text',
      [send([text('fragment1', false), text('fragment2', true, { violation: 'header' })])],
      failNow,
    ),
    c(
      '5.19',
      'Send text message in 5 fragments with 2 pings between them and a pause',
      five(false),
      fiveExpect,
    ),
    c(
      '5.20',
      'Send text message in 5 fragments with 2 pings between them, each frame its own write with pauses',
      five(true),
      fiveExpect,
    ),
  ];
}

// ---- 6 UTF-8 handling -----------------------------------------------------------------------------------

/** Autobahn's UTF-8 test sequences (from Markus Kuhn's decoder stress test): 6.5 to 6.23, in order. */
export function utf8TestSequences(): { title: string; sequences: Buffer[] }[] {
  const groups: { title: string; sequences: Buffer[] }[] = [];
  const kosme = hex('cebae1bdb9cf83cebcceb5');
  groups.push({
    title: 'Some valid UTF-8 sequences',
    sequences: [
      hex('68656c6c6f24776f726c64'), // hello$world
      hex('68656c6c6fc2a2776f726c64'), // hello¢world
      hex('68656c6c6fe282ac776f726c64'), // hello€world
      hex('68656c6c6ff0a4ada2776f726c64'), // hello𤭢world
      kosme,
    ],
  });
  groups.push({
    title: 'All prefixes of a valid UTF-8 string that contains multi-byte code points',
    sequences: Array.from({ length: kosme.length }, (_unused, index) => kosme.subarray(0, index + 1)),
  });
  groups.push({
    title: 'First possible sequence of a certain length',
    sequences: ['00', 'c280', 'e0a080', 'f0908080'].map(hex),
  });
  groups.push({
    title: 'First possible sequence length 5/6 (invalid codepoints)',
    sequences: ['f888808080', 'fc8480808080'].map(hex),
  });
  groups.push({
    title: 'Last possible sequence of a certain length',
    sequences: ['7f', 'dfbf', 'efbfbf', 'f48fbfbf'].map(hex),
  });
  groups.push({
    title: 'Last possible sequence length 4/5/6 (invalid codepoints)',
    sequences: ['f7bfbfbf', 'fbbfbfbfbf', 'fdbfbfbfbfbf'].map(hex),
  });
  groups.push({
    title: 'Other boundary conditions',
    sequences: ['ed9fbf', 'ee8080', 'efbfbd', 'f48fbfbf', 'f4908080'].map(hex),
  });
  const continuation = Buffer.from(Array.from({ length: 0xbf - 0x80 }, (_unused, index) => 0x80 + index));
  groups.push({
    title: 'Unexpected continuation bytes',
    sequences: [
      ...['80', 'bf', '80bf', '80bf80', '80bf80bf', '80bf80bf80', '80bf80bf80bf'].map(hex),
      continuation,
    ],
  });
  const lonely = (
    [
      [0xc0, 0xdf],
      [0xe0, 0xef],
      [0xf0, 0xf7],
      [0xf8, 0xfb],
      [0xfc, 0xfd],
    ] as const
  ).map(([from, to]) => {
    const bytes: number[] = [];
    for (let lead = from; lead < to; lead++) bytes.push(lead, 0x20);
    return Buffer.from(bytes);
  });
  groups.push({ title: 'Lonely start characters', sequences: lonely });
  const missing = [
    'c0',
    'e080',
    'f08080',
    'f8808080',
    'fc80808080',
    'df',
    'efbf',
    'f7bfbf',
    'fbbfbfbf',
    'fdbfbfbfbf',
  ].map(hex);
  groups.push({ title: 'Sequences with last continuation byte missing', sequences: missing });
  groups.push({ title: 'Concatenation of incomplete sequences', sequences: [Buffer.concat(missing)] });
  groups.push({ title: 'Impossible bytes', sequences: ['fe', 'ff', 'fefeffff'].map(hex) });
  groups.push({
    title: 'Examples of an overlong ASCII character',
    sequences: ['c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af'].map(hex),
  });
  groups.push({
    title: 'Maximum overlong sequences',
    sequences: ['c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf'].map(hex),
  });
  groups.push({
    title: 'Overlong representation of the NUL character',
    sequences: ['c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080'].map(hex),
  });
  groups.push({
    title: 'Single UTF-16 surrogates',
    sequences: ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map(hex),
  });
  groups.push({
    title: 'Paired UTF-16 surrogates',
    sequences: [
      'eda080edb080',
      'eda080edbfbf',
      'edadbfedb080',
      'edadbfedbfbf',
      'edae80edb080',
      'edae80edbfbf',
      'edafbfedb080',
      'edafbfedbfbf',
    ].map(hex),
  });
  const nonCharacters = [hex('efbfbe'), hex('efbfbf')];
  for (const z1 of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    for (const z2 of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (z1 === 0xf4 && z2 !== 0x8f) continue; // beyond U+10FFFF
      if (z1 === 0xf0 && z2 === 0x8f) continue; // overlong
      for (const z3 of [0xbe, 0xbf]) nonCharacters.push(Buffer.from([z1, z2, 0xbf, z3]));
    }
  }
  groups.push({ title: 'Non-character code points (valid UTF-8)', sequences: nonCharacters });
  groups.push({
    title: 'Unicode specials (i.e. replacement char)',
    sequences: ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'].map(hex),
  });
  return groups;
}

/** The steps and expectation of one text message whose payload is `payload` (valid or not). */
function utf8Message(
  payload: Buffer,
  frames: FrameSpec[],
  split: Split,
  pauseMs: number,
  failFastAfterWrite?: number,
): { steps: Step[]; expect: Expectation } {
  const invalid = utf8FirstInvalid(payload) !== undefined;
  return {
    steps: [send(frames, split, pauseMs)],
    expect: invalid
      ? {
          replies: [],
          ending: failWith([INVALID_PAYLOAD], failFastAfterWrite === undefined ? {} : { failFastAfterWrite }),
        }
      : { replies: [textReply(payload)], ending: normal },
  };
}

function utf8Cases(profile: Profile): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const c = (
    id: string,
    description: string,
    body: { steps: Step[]; expect: Expectation },
    more: Partial<ConformanceCase> = {},
  ): void => {
    cases.push({ id, category: '6', description, origin: 'autobahn', ...body, ...more });
  };
  const empty = Buffer.alloc(0);
  c(
    '6.1.1',
    'Send text message of length 0',
    {
      steps: [send([text(empty)])],
      expect: { replies: [textReply(empty)], ending: normal },
    },
    { variants: ['message'] },
  );
  c(
    '6.1.2',
    'Send fragmented text message, 3 fragments each of length 0',
    {
      steps: [send([text(empty, false), cont(empty, false), cont(empty)])],
      expect: { replies: [textReply(empty)], ending: normal },
    },
    { variants: ['message'] },
  );
  c('6.1.3', 'Send fragmented text message, 3 fragments, first and last of length 0, middle non-empty', {
    steps: [send([text(empty, false), cont('middle frame payload', false), cont(empty)])],
    expect: { replies: [textReply('middle frame payload')], ending: normal },
  });

  const hello = utf8('Hello-µ@ßöäüàá-UTF-8!!');
  c('6.2.1', 'Send a valid UTF-8 text message in one fragment', {
    steps: [send([text(hello)])],
    expect: { replies: [textReply(hello)], ending: normal },
  });
  c('6.2.2', 'Send a valid UTF-8 text message in two fragments, fragmented on a UTF-8 code point boundary', {
    steps: [send([text(hello.subarray(0, 12), false), cont(hello.subarray(12))])],
    expect: { replies: [textReply(hello)], ending: normal },
  });
  const octetFragments = (payload: Buffer): FrameSpec[] =>
    Array.from(payload, (_byte, index) =>
      index === 0
        ? text(payload.subarray(0, 1), payload.length === 1)
        : cont(payload.subarray(index, index + 1), index === payload.length - 1),
    );
  c('6.2.3', 'Send a valid UTF-8 text message in fragments of 1 octet, ending inside code points', {
    steps: [send(octetFragments(hello))],
    expect: { replies: [textReply(hello)], ending: normal },
  });
  const kosme = hex('cebae1bdb9cf83cebcceb5');
  c('6.2.4', 'Send a valid UTF-8 text message (κόσμε) in fragments of 1 octet', {
    steps: [send(octetFragments(kosme))],
    expect: { replies: [textReply(kosme)], ending: normal },
  });

  const kosmeEdited = Buffer.concat([kosme, hex('eda080'), utf8('edited')]);
  c('6.3.1', 'Send invalid UTF-8 text message unfragmented (a surrogate in κόσμε-edited)', {
    steps: [send([text(kosmeEdited, true, { violation: 'payload' })])],
    expect: { replies: [], ending: failWith([INVALID_PAYLOAD]) },
  });
  c('6.3.2', 'Send invalid UTF-8 text message in fragments of 1 octet', {
    steps: [
      send(
        octetFragments(kosmeEdited).map((frame, index) =>
          index === kosme.length + 1 ? { ...frame, violation: 'payload' as const } : frame,
        ),
      ),
    ],
    expect: { replies: [], ending: failWith([INVALID_PAYLOAD]) },
  });

  // 6.4: fail fast. The part that makes the text invalid goes out, then the peer pauses: the close
  // frame must arrive during that pause (OK), not only after the rest was sent (NON-STRICT).
  const part1 = kosme;
  const part2 = hex('f4908080');
  const part3 = utf8('edited');
  const failFast = (afterWrite: number): Ending =>
    failWith([INVALID_PAYLOAD], { failFastAfterWrite: afterWrite });
  c(
    '6.4.1',
    'Send invalid UTF-8 text message in 3 fragments (frames): valid, invalid (F4 90 80 80), valid; pause between',
    {
      steps: [
        send(
          [text(part1, false), cont(part2, false, { violation: 'payload' }), cont(part3)],
          { kind: 'frames' },
          FAIL_FAST_PAUSE_MS,
        ),
      ],
      expect: { replies: [], ending: failFast(2) },
    },
  );
  c(
    '6.4.2',
    'Send invalid UTF-8 text message in 3 fragments (frames): κόσμε F4, 90, 80 80 edited; pause between',
    {
      steps: [
        send(
          [
            text(Buffer.concat([part1, hex('f4')]), false),
            cont(hex('90'), false, { violation: 'payload' }),
            cont(Buffer.concat([hex('8080'), part3])),
          ],
          { kind: 'frames' },
          FAIL_FAST_PAUSE_MS,
        ),
      ],
      expect: { replies: [], ending: failFast(2) },
    },
  );
  const whole = Buffer.concat([part1, part2, part3]);
  c(
    '6.4.3',
    'Send invalid UTF-8 text message in 3 chops of one frame: valid, invalid (F4 90 80 80), valid; pause between',
    {
      steps: [
        send(
          [text(whole, true, { violation: 'payload' })],
          {
            kind: 'at',
            points: [
              { frame: 0, payloadOffset: part1.length },
              { frame: 0, payloadOffset: part1.length + part2.length },
            ],
          },
          FAIL_FAST_PAUSE_MS,
        ),
      ],
      expect: { replies: [], ending: failFast(2) },
    },
  );
  c(
    '6.4.4',
    'Send invalid UTF-8 text message in 3 chops of one frame: κόσμε F4, 90, 80 80 edited; pause between',
    {
      steps: [
        send(
          [text(whole, true, { violation: 'payload' })],
          {
            kind: 'at',
            points: [
              { frame: 0, payloadOffset: part1.length + 1 },
              { frame: 0, payloadOffset: part1.length + 2 },
            ],
          },
          FAIL_FAST_PAUSE_MS,
        ),
      ],
      expect: { replies: [], ending: failFast(2) },
    },
  );

  // 6.5 … 6.23: Autobahn's UTF-8 sequences, each sent as one text message. An invalid one whose first
  // invalid byte is not its last is cut into two TCP writes right after that byte, with a pause: the
  // connection must fail during the pause (fail fast).
  utf8TestSequences().forEach((group, groupIndex) => {
    const groupId = `6.${groupIndex + 5}`;
    group.sequences.forEach((payload, index) => {
      const id = `${groupId}.${index + 1}`;
      const firstInvalid = utf8FirstInvalid(payload);
      const validity = firstInvalid === undefined ? 'valid' : 'invalid';
      const shown =
        payload.length <= 16
          ? payload.toString('hex')
          : `${payload.subarray(0, 12).toString('hex')}… (${payload.length} bytes)`;
      if (typeof firstInvalid === 'number' && firstInvalid < payload.length - 1) {
        c(
          id,
          `${group.title}: ${validity} text ${shown}, cut after the first invalid byte (index ${firstInvalid}) with a pause`,
          utf8Message(
            payload,
            [text(payload, true, { violation: 'payload' })],
            { kind: 'at', points: [{ frame: 0, payloadOffset: firstInvalid + 1 }] },
            FAIL_FAST_PAUSE_MS,
            1,
          ),
        );
      } else {
        c(
          id,
          `${group.title}: ${validity} text ${shown}`,
          utf8Message(
            payload,
            [text(payload, true, validity === 'invalid' ? { violation: 'payload' } : {})],
            { kind: 'whole' },
            0,
          ),
        );
      }
      // Extras: the same text as two fragments, cut at every position (each fragment its own write).
      const maxSplits = profile === 'full' ? Infinity : 16;
      for (let at = 1; at < payload.length && at <= maxSplits; at++) {
        const firstBad = typeof firstInvalid === 'number' ? firstInvalid : payload.length;
        cases.push({
          id: `${id}/frag@${at}`,
          category: '6',
          description: `${group.title}: ${validity} text ${shown} as two fragments cut after byte ${at}`,
          origin: 'extra',
          ...utf8Message(
            payload,
            [
              text(payload.subarray(0, at), false, firstBad < at ? { violation: 'payload' } : {}),
              cont(
                payload.subarray(at),
                true,
                firstBad >= at && validity === 'invalid' ? { violation: 'payload' } : {},
              ),
            ],
            { kind: 'frames' },
            0,
          ),
        });
      }
    });
  });
  return cases;
}

// ---- 7 Close handling -----------------------------------------------------------------------------------

/** Close codes a peer may send (§7.4.1, §7.4.2): the echo must carry 1000 or the same code. */
export const VALID_CLOSE_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
];
/** Close codes that must never be received (reserved, undefined or out of range). */
export const INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999];

function closeCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const c = (
    id: string,
    description: string,
    steps: Step[],
    expect: Expectation,
    origin: 'autobahn' | 'extra' = 'autobahn',
  ): void => {
    cases.push({ id, category: '7', description, origin, steps, expect });
  };
  const reply1000: Ending = { kind: 'closeReply', codes: [1000] };
  c('7.1.1', 'Send a message followed by a close frame', [send([text('Hello World'), close(1000)])], {
    replies: [textReply('Hello World')],
    ending: reply1000,
  });
  c('7.1.2', 'Send two close frames', [send([close(1000), close(1000)])], { replies: [], ending: reply1000 });
  c('7.1.3', 'Send a ping after a close frame', [send([close(1000), ping('Hello World')])], {
    replies: [],
    ending: reply1000,
  });
  c('7.1.4', 'Send a text message after a close frame', [send([close(1000), text('Hello World')])], {
    replies: [],
    ending: reply1000,
  });
  c(
    '7.1.5',
    'Send a close frame between the fragments of a text message',
    [send([text('fragment1', false), close(1000), cont('fragment2')])],
    { replies: [], ending: reply1000 },
  );
  const big = Buffer.from('BAsd7&jh23'.repeat(26 * 1024));
  c(
    '7.1.6',
    'Send a 256K text message, then a small one, then close, then ping, back to back',
    [send([text(big), text('Hello World!'), close(1000), ping('Hello World!')])],
    {
      replies: [textReply(big), textReply('Hello World!')],
      ending: reply1000,
      informational:
        'RFC 6455 lets an endpoint stop sending data once the close frame is processed: echoes may be cut short',
    },
  );
  c('7.3.1', 'Send close with payload length 0 (no close code)', [send([close()])], {
    replies: [],
    ending: { kind: 'closeReply', codes: [null, 1000] },
  });
  c(
    '7.3.2',
    'Send close with payload length 1',
    [send([{ opcode: Op.Close, payload: utf8('a'), violation: 'header' }])],
    { replies: [], ending: failWith([PROTOCOL_ERROR]) },
  );
  c('7.3.3', 'Send close with payload length 2 (regular close with a code)', [send([close(1000)])], {
    replies: [],
    ending: reply1000,
  });
  c('7.3.4', 'Send close with close code and close reason', [send([close(1000, 'Hello World!')])], {
    replies: [],
    ending: reply1000,
  });
  c(
    '7.3.5',
    'Send close with close code and close reason of maximum length (123)',
    [send([close(1000, '*'.repeat(123))])],
    {
      replies: [],
      ending: reply1000,
    },
  );
  c(
    '7.3.6',
    'Send close with close code and close reason which is too long (124): payload of 126 octets',
    [send([close(1000, '*'.repeat(124), { violation: 'header' })])],
    { replies: [], ending: failWith([PROTOCOL_ERROR]) },
  );
  c(
    '7.5.1',
    'Send close with invalid UTF-8 payload in the close reason',
    [
      send([
        close(1000, Buffer.concat([hex('cebae1bdb9cf83cebcceb5'), hex('eda080'), utf8('edited')]), {
          violation: 'header',
        }),
      ]),
    ],
    { replies: [], ending: failWith([INVALID_PAYLOAD], { nonStrictCodes: [PROTOCOL_ERROR] }) },
  );
  VALID_CLOSE_CODES.forEach((code, index) => {
    c(`7.7.${index + 1}`, `Send close with valid close code ${code}`, [send([close(code)])], {
      replies: [],
      ending: { kind: 'closeReply', codes: [1000, code] },
    });
  });
  // Extras: the codes IANA registered since RFC 6455 (1012 service restart, 1013 try again later, 1014 bad gateway).
  [1012, 1013, 1014].forEach((code, index) => {
    c(
      `7.7.${VALID_CLOSE_CODES.length + index + 1}`,
      `Send close with close code ${code} (registered with IANA after RFC 6455)`,
      [send([close(code)])],
      {
        replies: [],
        ending: { kind: 'closeReply', codes: [1000, code] },
        informational: 'registered after RFC 6455: an endpoint may accept it or treat it as a protocol error',
      },
      'extra',
    );
  });
  INVALID_CLOSE_CODES.forEach((code, index) => {
    c(
      `7.9.${index + 1}`,
      `Send close with invalid close code ${code}`,
      [send([close(code, '', { violation: 'header' })])],
      {
        replies: [],
        ending: failWith([PROTOCOL_ERROR]),
      },
    );
  });
  c(
    '7.9.10',
    'Send close with close code 1015 (reserved for TLS failures, never sent)',
    [send([close(1015, '', { violation: 'header' })])],
    { replies: [], ending: failWith([PROTOCOL_ERROR]) },
    'extra',
  );
  [5000, 65535].forEach((code, index) => {
    c(
      `7.13.${index + 1}`,
      `Send close with close code ${code} (outside every range)`,
      [send([close(code, '', { violation: 'header' })])],
      {
        replies: [],
        ending: failWith([PROTOCOL_ERROR]),
        informational: 'codes above 4999 are undefined by RFC 6455',
      },
    );
  });
  return cases;
}

// ---- 9 Limits/performance -------------------------------------------------------------------------------

function limitCases(profile: Profile): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const quick = profile === 'quick';
  const KIB = 1024;
  const MIB = 1024 * KIB;
  const scale = (bytes: number): number => (quick ? Math.max(1024, bytes / 16) : bytes);
  const timeoutMs = quick ? 10_000 : 60_000;
  const textPayload = (size: number): Buffer => Buffer.alloc(size, '*');
  const binaryPayload = (size: number): Buffer => Buffer.alloc(size, 0xfe);
  const sizes = [64 * KIB, 256 * KIB, MIB, 4 * MIB, 8 * MIB, 16 * MIB];
  const fragmentSizes = [64, 256, KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB, 4 * MIB];
  const chopSizes = [64, 128, 256, 512, 1024, 2048];
  const roundTripSizes = [0, 16, 64, 256, 1024, 4096];
  for (const [group, kind] of [
    ['9.1', 'text'],
    ['9.2', 'binary'],
  ] as const) {
    sizes.forEach((size, index) => {
      const payload = kind === 'text' ? textPayload(scale(size)) : binaryPayload(scale(size));
      cases.push({
        id: `${group}.${index + 1}`,
        category: '9',
        description: `Send ${kind} message of ${payload.length} bytes`,
        origin: 'autobahn',
        steps: [send([kind === 'text' ? text(payload) : binary(payload)])],
        expect: { replies: [kind === 'text' ? textReply(payload) : binaryReply(payload)], ending: normal },
        timeoutMs,
      });
    });
  }
  for (const [group, kind] of [
    ['9.3', 'text'],
    ['9.4', 'binary'],
  ] as const) {
    const size = scale(4 * MIB);
    const payload = kind === 'text' ? textPayload(size) : binaryPayload(size);
    fragmentSizes.forEach((fragmentSize, index) => {
      const frames: FrameSpec[] = [];
      for (let offset = 0; offset < size; offset += fragmentSize) {
        const piece = payload.subarray(offset, offset + fragmentSize);
        const fin = offset + fragmentSize >= size;
        frames.push(
          offset === 0 ? (kind === 'text' ? text(piece, fin) : binary(piece, fin)) : cont(piece, fin),
        );
      }
      cases.push({
        id: `${group}.${index + 1}`,
        category: '9',
        description: `Send fragmented ${kind} message of ${size} bytes in fragments of ${fragmentSize} bytes`,
        origin: 'autobahn',
        steps: [send(frames)],
        expect: { replies: [kind === 'text' ? textReply(payload) : binaryReply(payload)], ending: normal },
        timeoutMs,
      });
    });
  }
  for (const [group, kind] of [
    ['9.5', 'text'],
    ['9.6', 'binary'],
  ] as const) {
    const size = quick ? 64 * KIB : MIB;
    const payload = kind === 'text' ? textPayload(size) : binaryPayload(size);
    chopSizes.forEach((chop, index) => {
      cases.push({
        id: `${group}.${index + 1}`,
        category: '9',
        description: `Send ${kind} message of ${size} bytes in TCP chops of ${chop} bytes`,
        origin: 'autobahn',
        steps: [send([kind === 'text' ? text(payload) : binary(payload)], { kind: 'chop', size: chop })],
        expect: { replies: [kind === 'text' ? textReply(payload) : binaryReply(payload)], ending: normal },
        timeoutMs,
      });
    });
  }
  for (const [group, kind] of [
    ['9.7', 'text'],
    ['9.8', 'binary'],
  ] as const) {
    const count = quick ? 100 : 1000;
    roundTripSizes.forEach((size, index) => {
      const payload = kind === 'text' ? textPayload(size) : binaryPayload(size);
      const opcode = kind === 'text' ? Op.Text : Op.Binary;
      cases.push({
        id: `${group}.${index + 1}`,
        category: '9',
        description: `Send ${count} ${kind} messages of ${size} bytes, each after the echo of the previous one`,
        origin: 'autobahn',
        steps: [{ kind: 'roundTrips', count, opcode, size }],
        expect: {
          replies: Array.from({ length: count }, () =>
            kind === 'text' ? textReply(payload) : binaryReply(payload),
          ),
          ending: normal,
        },
        timeoutMs,
        // Empty messages are invisible on a byte stream.
        ...(size === 0 ? { variants: ['message'] as Variant[] } : {}),
      });
    });
  }
  return cases;
}

// ---- 10 Misc --------------------------------------------------------------------------------------------

function miscCases(): ConformanceCase[] {
  const payload = Buffer.alloc(65536, '*');
  const frames: FrameSpec[] = [];
  for (let offset = 0; offset < payload.length; offset += 1300) {
    const piece = payload.subarray(offset, offset + 1300);
    const fin = offset + 1300 >= payload.length;
    frames.push(offset === 0 ? text(piece, fin) : cont(piece, fin));
  }
  return [
    {
      id: '10.1.1',
      category: '10',
      description:
        'Send text message with payload of length 65536, auto-fragmented into frames of 1300 bytes',
      origin: 'autobahn',
      steps: [send(frames)],
      expect: { replies: [textReply(payload)], ending: normal },
    },
    {
      id: '10.2.1',
      category: '10',
      description:
        'Send a text frame masked the wrong way for its direction (unmasked to a server, masked to a client)',
      origin: 'extra',
      steps: [send([text('Hello, world!', true, { wrongMask: true, violation: 'header' })])],
      expect: { replies: [], ending: failWith([PROTOCOL_ERROR]) },
    },
    {
      id: '10.2.2',
      category: '10',
      description: 'Send a valid text message, then a ping masked the wrong way for its direction',
      origin: 'extra',
      steps: [
        send([text('Hello, world!')], { kind: 'whole' }),
        { kind: 'pause', ms: 50 },
        send([ping('x', { wrongMask: true, violation: 'header' })]),
      ],
      expect: { replies: [textReply('Hello, world!')], ending: failWith([PROTOCOL_ERROR]) },
    },
  ];
}

/**
 * Every case, in Autobahn's order. `quick` shrinks the 9.x sizes, caps the generated splits, and sends 5
 * messages instead of 1000 in each 12.x and 13.x case.
 */
export function buildCases(profile: Profile = 'full'): ConformanceCase[] {
  return [
    ...framingCases(),
    ...pingCases(),
    ...reservedBitCases(),
    ...opcodeCases(),
    ...fragmentationCases(),
    ...utf8Cases(profile),
    ...closeCases(),
    ...limitCases(profile),
    ...miscCases(),
    ...compressionCases(profile),
  ];
}
