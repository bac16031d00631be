// Property tests of the frame parser: the events do not depend on how the bytes are cut into chunks;
// what frame-writer writes, the parser reads back; and arbitrary bytes only ever end in one ProtocolError.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import {
  encodeFrameHeader,
  FragmentSequence,
  frameHeaderLength,
  maskInto,
  nextMaskKey,
  Opcode,
  writeFrameHeader,
  type DataOpcode,
  type FrameParserOptions,
} from '../../src/protocol/index.js';
import { concat, frame, mergeData, parseChunks, patternBytes, splitAt, type ParserEvent } from './helpers.js';

type Role = 'client' | 'server';

interface ControlItem {
  kind: 'ping' | 'pong';
  payload: Uint8Array;
}

interface MessageItem {
  kind: 'message';
  opcode: DataOpcode;
  /** The message's payload, already cut into fragments (a text message possibly inside a code point). */
  fragments: Uint8Array[];
  /** Control frames sent after each fragment but the last. */
  between: ControlItem[][];
}

interface CloseItem {
  code: number | undefined;
  reason: string;
}

interface StreamModel {
  role: Role;
  items: (MessageItem | ControlItem)[];
  close: CloseItem | undefined;
  /** Bytes after the close frame, which the parser must ignore. */
  trailing: Uint8Array;
}

interface EncodedFrame {
  bytes: Buffer;
  /** Offsets in the stream where this frame starts and where its payload starts. */
  start: number;
  payloadStart: number;
}

const ROLE = fc.constantFrom<Role>('client', 'server');

/** Payload sizes that exercise all three length forms and their edges, cheap to generate when large. */
const binaryPayload: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 300 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(125, 126, 127, 65535, 65536, 70001), fc.integer({ min: 1, max: 1000 }))
      .map(([length, seed]) => patternBytes(length, seed)),
  },
);

const textPayload: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((text) => Buffer.from(text, 'utf8')),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('é', '€', '😀', 'a'), fc.constantFrom(42, 16384, 22000))
      .map(([unit, count]) => Buffer.from(unit.repeat(count), 'utf8')),
  },
);

const controlItem: fc.Arbitrary<ControlItem> = fc.record({
  kind: fc.constantFrom<'ping' | 'pong'>('ping', 'pong'),
  payload: fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ minLength: 120, maxLength: 125 })),
});

/** Cuts bytes into count fragments at arbitrary (possibly equal) positions. */
function fragmentsOf(payload: Uint8Array, cuts: number[]): Uint8Array[] {
  const positions = cuts.map((cut) => cut % (payload.length + 1)).sort((a, b) => a - b);
  const fragments: Uint8Array[] = [];
  let start = 0;
  for (const position of positions) {
    fragments.push(payload.subarray(start, position));
    start = position;
  }
  fragments.push(payload.subarray(start));
  return fragments;
}

const messageItem: fc.Arbitrary<MessageItem> = fc
  .oneof(
    fc.tuple(fc.constant<DataOpcode>(Opcode.Text), textPayload),
    fc.tuple(fc.constant<DataOpcode>(Opcode.Binary), binaryPayload),
  )
  .chain(([opcode, payload]) =>
    fc.array(fc.nat(), { maxLength: 4 }).chain((cuts) => {
      const fragments = fragmentsOf(payload, cuts);
      return fc
        .array(fc.array(controlItem, { maxLength: 2 }), {
          minLength: fragments.length - 1,
          maxLength: fragments.length - 1,
        })
        .map((between) => ({ kind: 'message' as const, opcode, fragments, between }));
    }),
  );

const closeItem: fc.Arbitrary<CloseItem> = fc.oneof(
  fc.constant({ code: undefined, reason: '' }),
  fc.record({
    code: fc.constantFrom(1000, 1001, 1003, 1011, 1014, 3000, 4321, 4999),
    reason: fc.string({ unit: 'binary', maxLength: 30 }),
  }),
);

const streamModel: fc.Arbitrary<StreamModel> = fc.record({
  role: ROLE,
  items: fc.array(fc.oneof({ weight: 3, arbitrary: messageItem }, { weight: 1, arbitrary: controlItem }), {
    maxLength: 6,
  }),
  close: fc.option(closeItem, { nil: undefined }),
  trailing: fc.uint8Array({ maxLength: 6 }),
});

function maskKeyFor(role: Role, index: number): Uint8Array | undefined {
  // A server's parser reads client frames: masked, each with its own key.
  return role === 'server' ? Uint8Array.of(index & 0xff, 0xa5, (index * 7) & 0xff, 0x3c) : undefined;
}

function closeBytes(close: CloseItem): Buffer {
  if (close.code === undefined) return Buffer.alloc(0);
  const reason = Buffer.from(close.reason, 'utf8');
  const payload = Buffer.alloc(2 + reason.length);
  payload.writeUInt16BE(close.code);
  reason.copy(payload, 2);
  return payload;
}

/** The model as bytes (with each frame's offsets) and as the events a parser must report. */
function encodeModel(model: StreamModel): {
  stream: Buffer;
  frames: EncodedFrame[];
  expected: ParserEvent[];
} {
  const frames: EncodedFrame[] = [];
  const expected: ParserEvent[] = [];
  let offset = 0;
  const masked = model.role === 'server';
  const add = (opcode: number, fin: boolean, payload: Uint8Array): void => {
    const bytes = frame({ opcode, fin, payload, maskKey: maskKeyFor(model.role, frames.length) });
    frames.push({ bytes, start: offset, payloadStart: offset + bytes.length - payload.length });
    offset += bytes.length;
    expected.push({
      type: 'header',
      header: { fin, rsv1: false, opcode, masked, payloadLength: payload.length },
    });
  };
  const addControl = (control: ControlItem): void => {
    add(control.kind === 'ping' ? Opcode.Ping : Opcode.Pong, true, control.payload);
    expected.push({ type: control.kind, hex: Buffer.from(control.payload).toString('hex') });
  };
  for (const item of model.items) {
    if (item.kind !== 'message') {
      addControl(item);
      continue;
    }
    item.fragments.forEach((fragment, index) => {
      const final = index === item.fragments.length - 1;
      add(index === 0 ? item.opcode : Opcode.Continuation, final, fragment);
      if (index === 0) expected.push({ type: 'start', opcode: item.opcode, compressed: false });
      if (fragment.length > 0) expected.push({ type: 'data', hex: Buffer.from(fragment).toString('hex') });
      expected.push({ type: 'frameEnd', final });
      if (final) expected.push({ type: 'end' });
      else for (const control of item.between[index]!) addControl(control);
    });
  }
  let trailing = Buffer.alloc(0);
  if (model.close !== undefined) {
    add(Opcode.Close, true, closeBytes(model.close));
    expected.push({
      type: 'close',
      code: model.close.code ?? 1005,
      reason: model.close.code === undefined ? '' : model.close.reason,
    });
    trailing = Buffer.from(model.trailing);
  }
  return { stream: concat(...frames.map((encoded) => encoded.bytes), trailing), frames, expected };
}

/** Split positions that matter: every one near a frame boundary, and a stride through long payloads. */
function interestingCuts(stream: Buffer, frames: readonly EncodedFrame[]): number[] {
  const cuts = new Set<number>();
  const near = (position: number): void => {
    for (let delta = -16; delta <= 16; delta++) {
      const cut = position + delta;
      if (cut >= 0 && cut <= stream.length) cuts.add(cut);
    }
  };
  for (const encoded of frames) {
    near(encoded.start);
    near(encoded.payloadStart);
  }
  near(stream.length);
  for (let cut = 0; cut <= stream.length; cut += 997) cuts.add(cut);
  return [...cuts].sort((a, b) => a - b);
}

function parseWhole(stream: Buffer, options: FrameParserOptions): ParserEvent[] {
  const { events, error } = parseChunks([Buffer.from(stream)], options);
  assert.equal(error, undefined, error?.message);
  return mergeData(events);
}

function parseSplit(stream: Buffer, cuts: readonly number[], options: FrameParserOptions): ParserEvent[] {
  const { events, error } = parseChunks(splitAt(stream, cuts), options);
  assert.equal(error, undefined, error?.message);
  return mergeData(events);
}

/** A fixed stream with every feature: both kinds of message, fragments, interleaved controls, close. */
function richModel(role: Role, largePayload: boolean): StreamModel {
  const text = Buffer.from('Grüße, 世界! 😀 — ok', 'utf8');
  // Large: the fragment after the two cuts still needs the 64-bit length form.
  const binary = patternBytes(largePayload ? 65536 + 126 : 300, 3);
  return {
    role,
    items: [
      { kind: 'ping', payload: Buffer.from('p0') },
      { kind: 'message', opcode: Opcode.Text, fragments: [text], between: [] },
      {
        kind: 'message',
        opcode: Opcode.Text,
        // Cut inside 'ü' (2 bytes), '世' (3 bytes) and '😀' (4 bytes).
        fragments: fragmentsOf(text, [3, 9, 20, 22]),
        between: [
          [{ kind: 'pong', payload: Buffer.alloc(0) }],
          [],
          [{ kind: 'ping', payload: Buffer.alloc(125, 1) }],
          [],
        ],
      },
      { kind: 'message', opcode: Opcode.Binary, fragments: [Buffer.alloc(0)], between: [] },
      {
        kind: 'message',
        opcode: Opcode.Binary,
        fragments: fragmentsOf(binary, [0, 126, 126]),
        between: [[], [{ kind: 'pong', payload: Buffer.from('pong') }], []],
      },
      { kind: 'message', opcode: Opcode.Binary, fragments: [patternBytes(126, 9)], between: [] },
    ],
    close: { code: 1000, reason: 'bye ✓' },
    trailing: Buffer.from([0x82, 0x05, 1]),
  };
}

void describe('FrameParser: chunking does not change the events', () => {
  for (const role of ['client', 'server'] as const) {
    void it(`every split into two chunks of a small stream, and one byte at a time (${role})`, () => {
      const model = richModel(role, false);
      const { stream, expected } = encodeModel(model);
      const options = { role };
      assert.deepEqual(parseWhole(stream, options), mergeData(expected));
      for (let cut = 0; cut <= stream.length; cut++) {
        assert.deepEqual(parseSplit(stream, [cut], options), mergeData(expected), `cut at ${cut}`);
      }
      const bytewise = Array.from({ length: stream.length }, (_, index) => index);
      assert.deepEqual(parseSplit(stream, bytewise, options), mergeData(expected));
    });

    void it(`every split around the frame boundaries of a stream with a 64-bit length (${role})`, () => {
      const model = richModel(role, true);
      const { stream, frames, expected } = encodeModel(model);
      const options = { role };
      const wanted = mergeData(expected);
      const cuts = interestingCuts(stream, frames);
      for (const cut of cuts) assert.deepEqual(parseSplit(stream, [cut], options), wanted, `cut at ${cut}`);
      // Three chunks: both cuts near the 64-bit header.
      const big = frames.find((encoded) => encoded.payloadStart - encoded.start >= 10)!;
      for (let first = big.start - 2; first <= big.payloadStart + 2; first++) {
        for (let second = first; second <= big.payloadStart + 3; second++) {
          assert.deepEqual(parseSplit(stream, [first, second], options), wanted, `cuts ${first}, ${second}`);
        }
      }
    });
  }

  void it('random streams cut at random places report the modelled events', () => {
    fc.assert(
      fc.property(
        streamModel.chain((model) => {
          const { stream } = encodeModel(model);
          return fc.tuple(
            fc.constant(model),
            fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 12 }),
          );
        }),
        ([model, cuts]) => {
          const { stream, expected } = encodeModel(model);
          const options = { role: model.role };
          const wanted = mergeData(expected);
          assert.deepEqual(parseWhole(stream, options), wanted);
          assert.deepEqual(parseSplit(stream, cuts, options), wanted);
        },
      ),
      { seed: 6455, numRuns: 150 },
    );
  });
});

void describe('FrameParser: frame-writer round trip', () => {
  const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 65537, 100_000, 1 << 20];

  interface WrittenFrame {
    fin: boolean;
    rsv1: boolean;
    opcode: number;
    payload: Buffer;
  }

  const frameSize = fc.oneof(fc.constantFrom(...SIZES), fc.integer({ min: 0, max: 300 }));

  /** One message's frames, opcodes from FragmentSequence, possibly with a control frame between. */
  const writtenMessage: fc.Arbitrary<WrittenFrame[]> = fc
    .record({
      opcode: fc.constantFrom<DataOpcode>(Opcode.Binary, Opcode.Text),
      compressed: fc.boolean(),
      sizes: fc.array(frameSize, { minLength: 1, maxLength: 3 }),
      ping: fc.option(fc.integer({ min: 0, max: 125 }), { nil: undefined }),
      seed: fc.integer({ min: 1, max: 1 << 20 }),
    })
    .map(({ opcode, compressed, sizes, ping, seed }) => {
      const sequence = new FragmentSequence(opcode);
      const frames: WrittenFrame[] = [];
      sizes.forEach((size, index) => {
        const fin = index === sizes.length - 1;
        const fragmentOpcode = sequence.next(fin);
        // Text payloads are ASCII so that any cut is valid UTF-8.
        const payload =
          opcode === Opcode.Text ? Buffer.alloc(size, 0x61 + (index % 26)) : patternBytes(size, seed + index);
        frames.push({ fin, rsv1: compressed && index === 0, opcode: fragmentOpcode, payload });
        if (!fin && ping !== undefined) {
          frames.push({ fin: true, rsv1: false, opcode: Opcode.Ping, payload: patternBytes(ping, seed) });
        }
      });
      return frames;
    });

  /** Writes a frame the way the connection will: header from the writer, payload masked with maskInto. */
  function writeFrame(written: WrittenFrame, sender: Role, useOffset: boolean): Buffer {
    const maskKey = sender === 'client' ? nextMaskKey() : undefined;
    const fields = {
      fin: written.fin,
      rsv1: written.rsv1,
      opcode: written.opcode as Opcode,
      payloadLength: written.payload.length,
      maskKey,
    };
    let header: Buffer;
    if (useOffset) {
      const target = Buffer.alloc(20, 0xee);
      const length = writeFrameHeader(target, 3, fields);
      assert.equal(length, frameHeaderLength(written.payload.length, maskKey !== undefined));
      assert.equal(target[2], 0xee);
      assert.equal(target[3 + length], 0xee);
      header = target.subarray(3, 3 + length);
    } else {
      header = encodeFrameHeader(fields);
    }
    if (maskKey === undefined) return concat(header, written.payload);
    const body = Buffer.alloc(written.payload.length);
    maskInto(written.payload, body, maskKey);
    return concat(header, body);
  }

  void it('reads back random frames of all sizes, both directions', () => {
    fc.assert(
      fc.property(
        fc.array(writtenMessage, { minLength: 1, maxLength: 3 }),
        fc.constantFrom<Role>('client', 'server'),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 4 }),
        (messages, sender, useOffset, rawCuts) => {
          const frames = messages.flat();
          const stream = concat(...frames.map((written) => writeFrame(written, sender, useOffset)));
          const cuts = rawCuts.map((cut) => cut % (stream.length + 1));
          const receiver: Role = sender === 'client' ? 'server' : 'client';
          const { events, error } = parseChunks(splitAt(stream, cuts), { role: receiver, allowRsv1: true });
          assert.equal(error, undefined, error?.message);
          const merged = mergeData(events);
          const headers = merged.flatMap((event) => (event.type === 'header' ? [event.header] : []));
          assert.deepEqual(
            headers,
            frames.map((written) => ({
              fin: written.fin,
              rsv1: written.rsv1,
              opcode: written.opcode,
              masked: sender === 'client',
              payloadLength: written.payload.length,
            })),
          );
          const dataFrames = frames.filter((written) => written.opcode !== Opcode.Ping);
          const received = merged.flatMap((event, index) => {
            if (event.type !== 'frameEnd') return [];
            const previous = merged[index - 1];
            return [previous?.type === 'data' ? previous.hex : ''];
          });
          assert.deepEqual(
            received,
            dataFrames.map((written) => written.payload.toString('hex')),
          );
          const pings = merged.flatMap((event) => (event.type === 'ping' ? [event.hex] : []));
          assert.deepEqual(
            pings,
            frames
              .filter((written) => written.opcode === Opcode.Ping)
              .map((written) => written.payload.toString('hex')),
          );
          assert.equal(merged.filter((event) => event.type === 'end').length, messages.length);
        },
      ),
      { seed: 1337, numRuns: 60 },
    );
  });
});

void describe('FrameParser: arbitrary input', () => {
  const options: fc.Arbitrary<FrameParserOptions> = fc.record({
    role: ROLE,
    allowRsv1: fc.boolean(),
    maxMessageSize: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
  });

  /** Valid streams with a few bytes changed, cut short or inserted: they fail deep inside frames. */
  const mutatedStream: fc.Arbitrary<[Buffer, FrameParserOptions]> = fc
    .tuple(streamModel, options)
    .chain(([model, parserOptions]) => {
      const { stream } = encodeModel(model);
      const position = fc.integer({ min: 0, max: Math.max(0, stream.length - 1) });
      return fc
        .tuple(
          fc.array(fc.tuple(position, fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
          fc.integer({ min: 0, max: stream.length }),
        )
        .map(([changes, keep]): [Buffer, FrameParserOptions] => {
          const bytes = Buffer.from(stream.subarray(0, Math.max(keep, 1)));
          for (const [at, value] of changes) if (at < bytes.length) bytes[at] = value;
          return [bytes, { ...parserOptions, role: model.role }];
        });
    });

  const input: fc.Arbitrary<[Buffer, FrameParserOptions]> = fc.oneof(
    fc.tuple(
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      options,
    ),
    mutatedStream,
  );

  function outcome(
    chunks: Buffer[],
    parserOptions: FrameParserOptions,
  ): { code: number | undefined; events: ParserEvent[] } {
    const { events, error } = parseChunks(chunks, parserOptions);
    return { code: error?.closeCode, events };
  }

  void it('never throws anything but one ProtocolError, and the cut does not change the outcome', () => {
    fc.assert(
      fc.property(input, fc.array(fc.nat(), { maxLength: 8 }), ([bytes, parserOptions], rawCuts) => {
        const whole = outcome([Buffer.from(bytes)], parserOptions);
        const cuts = rawCuts.map((cut) => cut % (bytes.length + 1));
        const split = outcome(splitAt(bytes, cuts), parserOptions);
        // parseChunks already checked: only ProtocolError, then the same error on every push.
        assert.equal(split.code, whole.code);
        if (whole.code !== undefined) assert.ok([1002, 1007, 1009].includes(whole.code));
        // A chunk that fails reports none of its data, so only the events without data must agree.
        const skeleton = (events: ParserEvent[]): ParserEvent[] =>
          events.filter((event) => event.type !== 'data');
        if (whole.code === undefined) assert.deepEqual(mergeData(split.events), mergeData(whole.events));
        else assert.deepEqual(skeleton(split.events), skeleton(whole.events));
      }),
      { seed: 42, numRuns: 1500 },
    );
  });
});
