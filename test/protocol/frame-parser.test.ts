// Unit tests of the frame parser: one test per RFC 6455 §5 rule, each asserting the close code of the
// ProtocolError, plus the parser's contract (views, zero-length frames, interleaving, stopping).

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import {
  CloseCode,
  decodeClosePayload,
  FrameParser,
  Opcode,
  ProtocolError,
} from '../../src/protocol/index.js';
import {
  assertProtocolError,
  assertRejected,
  concat,
  frame,
  frameFor,
  mergeData,
  parseChunks,
  Recorder,
  TEST_KEY,
} from './helpers.js';

const client = { role: 'client' } as const;
const server = { role: 'server' } as const;

function closePayload(code: number, reason: Uint8Array | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code);
  return concat(head, typeof reason === 'string' ? Buffer.from(reason, 'utf8') : reason);
}

void describe('FrameParser: valid input', () => {
  void it('reports a single unmasked text frame to a client', () => {
    const { events, error } = parseChunks([frame({ opcode: Opcode.Text, payload: 'hello' })], client);
    assert.equal(error, undefined);
    assert.deepEqual(events, [
      {
        type: 'header',
        header: { fin: true, rsv1: false, opcode: Opcode.Text, masked: false, payloadLength: 5 },
      },
      { type: 'start', opcode: Opcode.Text, compressed: false },
      { type: 'data', hex: Buffer.from('hello').toString('hex') },
      { type: 'frameEnd', final: true },
      { type: 'end' },
    ]);
  });

  void it('unmasks a masked binary frame to a server', () => {
    const payload = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 250]);
    const { events, error } = parseChunks(
      [frame({ opcode: Opcode.Binary, payload, maskKey: TEST_KEY })],
      server,
    );
    assert.equal(error, undefined);
    assert.deepEqual(events[0], {
      type: 'header',
      header: { fin: true, rsv1: false, opcode: Opcode.Binary, masked: true, payloadLength: 10 },
    });
    assert.deepEqual(events[2], { type: 'data', hex: payload.toString('hex') });
  });

  void it('reads the 16-bit and 64-bit length forms', () => {
    for (const length of [126, 65535, 65536]) {
      const payload = Buffer.alloc(length, 0x5a);
      const { events, error } = parseChunks([frame({ opcode: Opcode.Binary, payload })], client);
      assert.equal(error, undefined);
      const header = events[0];
      assert.ok(header?.type === 'header');
      assert.equal(header.header.payloadLength, length);
      assert.deepEqual(mergeData(events)[2], { type: 'data', hex: payload.toString('hex') });
    }
  });

  void it('reports zero-length data frames, fragments and control frames without data events', () => {
    const stream = concat(
      frame({ opcode: Opcode.Text }),
      frame({ opcode: Opcode.Binary, fin: false }),
      frame({ opcode: Opcode.Continuation, fin: false }),
      frame({ opcode: Opcode.Ping }),
      frame({ opcode: Opcode.Continuation, payload: 'x' }),
      frame({ opcode: Opcode.Pong }),
    );
    const { events, error } = parseChunks([stream], client);
    assert.equal(error, undefined);
    const withoutHeaders = events.filter((event) => event.type !== 'header');
    assert.deepEqual(withoutHeaders, [
      { type: 'start', opcode: Opcode.Text, compressed: false },
      { type: 'frameEnd', final: true },
      { type: 'end' },
      { type: 'start', opcode: Opcode.Binary, compressed: false },
      { type: 'frameEnd', final: false },
      { type: 'frameEnd', final: false },
      { type: 'ping', hex: '' },
      { type: 'data', hex: '78' },
      { type: 'frameEnd', final: true },
      { type: 'end' },
      { type: 'pong', hex: '' },
    ]);
  });

  void it('reports a zero-length frame whose header ends the chunk', () => {
    const { events, error } = parseChunks([frame({ opcode: Opcode.Binary })], client);
    assert.equal(error, undefined);
    assert.deepEqual(
      events.map((event) => event.type),
      ['header', 'start', 'frameEnd', 'end'],
    );
  });

  void it('delivers control frames interleaved in a fragmented message, in order', () => {
    const stream = concat(
      frameFor('server', { opcode: Opcode.Text, fin: false, payload: 'Hel' }),
      frameFor('server', { opcode: Opcode.Ping, payload: 'p1' }),
      frameFor('server', { opcode: Opcode.Continuation, fin: false, payload: 'lo, ' }),
      frameFor('server', { opcode: Opcode.Pong, payload: 'p2' }),
      frameFor('server', { opcode: Opcode.Ping }),
      frameFor('server', { opcode: Opcode.Continuation, payload: 'world' }),
    );
    const { events, error, parser } = parseChunks([stream], server);
    assert.equal(error, undefined);
    assert.equal(parser.isInMessage, false);
    const hex = (text: string): string => Buffer.from(text).toString('hex');
    assert.deepEqual(
      events.filter((event) => event.type !== 'header' && event.type !== 'frameEnd'),
      [
        { type: 'start', opcode: Opcode.Text, compressed: false },
        { type: 'data', hex: hex('Hel') },
        { type: 'ping', hex: hex('p1') },
        { type: 'data', hex: hex('lo, ') },
        { type: 'pong', hex: hex('p2') },
        { type: 'ping', hex: '' },
        { type: 'data', hex: hex('world') },
        { type: 'end' },
      ],
    );
  });

  void it('tracks isInMessage across fragments', () => {
    const parser = new FrameParser(new Recorder(), client);
    assert.equal(parser.isInMessage, false);
    parser.push(frame({ opcode: Opcode.Binary, fin: false, payload: 'a' }));
    assert.equal(parser.isInMessage, true);
    parser.push(frame({ opcode: Opcode.Ping }));
    assert.equal(parser.isInMessage, true);
    parser.push(frame({ opcode: Opcode.Continuation, payload: 'b' }));
    assert.equal(parser.isInMessage, false);
  });

  void it('gathers a control payload split over chunks', () => {
    const payload = Buffer.from('a ping payload that arrives in pieces');
    const bytes = frameFor('server', { opcode: Opcode.Ping, payload });
    const chunks = [bytes.subarray(0, 3), bytes.subarray(3, 9), bytes.subarray(9, 20), bytes.subarray(20)];
    const { events, error } = parseChunks(chunks, server);
    assert.equal(error, undefined);
    assert.deepEqual(events.at(-1), { type: 'ping', hex: payload.toString('hex') });
  });

  void it('ignores everything after a close frame, in the same chunk and in later ones', () => {
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const recorder = new Recorder();
    const parser = new FrameParser(recorder, client);
    parser.push(concat(frame({ opcode: Opcode.Close, payload: closePayload(1000, 'bye') }), garbage));
    assert.equal(parser.isClosed, true);
    parser.push(garbage);
    parser.push(frame({ opcode: Opcode.Text, payload: 'late' }));
    assert.deepEqual(recorder.events.at(-1), { type: 'close', code: 1000, reason: 'bye' });
    assert.equal(recorder.events.filter((event) => event.type === 'close').length, 1);
    assert.equal(
      recorder.events.some((event) => event.type === 'start'),
      false,
    );
  });

  void it('reports an empty close frame as 1005 with an empty reason', () => {
    const { events, error } = parseChunks([frame({ opcode: Opcode.Close })], client);
    assert.equal(error, undefined);
    assert.deepEqual(events.at(-1), { type: 'close', code: CloseCode.NoStatusReceived, reason: '' });
  });

  void it('accepts a close frame in the middle of a fragmented message and stops there', () => {
    const stream = concat(
      frame({ opcode: Opcode.Text, fin: false, payload: 'abc' }),
      frame({ opcode: Opcode.Close, payload: closePayload(1001) }),
      frame({ opcode: Opcode.Continuation, payload: 'def' }),
    );
    const { events, error, parser } = parseChunks([stream], client);
    assert.equal(error, undefined);
    assert.equal(parser.isClosed, true);
    assert.deepEqual(events.at(-1), { type: 'close', code: 1001, reason: '' });
    assert.equal(
      events.some((event) => event.type === 'end'),
      false,
    );
  });

  void it('stop() makes the parser ignore later input, even inside a handler', () => {
    class StoppingRecorder extends Recorder {
      parser: FrameParser | undefined;
      override onMessageData(section: Buffer): void {
        super.onMessageData(section);
        this.parser?.stop();
      }
    }
    const recorder = new StoppingRecorder();
    const parser = new FrameParser(recorder, client);
    recorder.parser = parser;
    const bytes = concat(
      frame({ opcode: Opcode.Binary, payload: 'first' }),
      frame({ opcode: Opcode.Binary }),
    );
    parser.push(bytes.subarray(0, 5));
    parser.push(bytes.subarray(5));
    parser.push(Buffer.from([0xff, 0xff]));
    assert.equal(parser.isClosed, true);
    assert.deepEqual(recorder.events.slice(1), [
      { type: 'start', opcode: Opcode.Binary, compressed: false },
      { type: 'data', hex: Buffer.from('fir').toString('hex') },
    ]);
  });

  void it('stop() inside a handler ends parsing even when the section completes the frame', () => {
    class StoppingRecorder extends Recorder {
      parser: FrameParser | undefined;
      override onMessageData(section: Buffer): void {
        super.onMessageData(section);
        this.parser?.stop();
      }
    }
    const recorder = new StoppingRecorder();
    const parser = new FrameParser(recorder, client);
    recorder.parser = parser;
    parser.push(
      concat(
        frame({ opcode: Opcode.Binary, payload: 'whole' }),
        frame({ opcode: Opcode.Text, payload: 'next' }),
      ),
    );
    assert.equal(parser.isClosed, true);
    assert.deepEqual(
      recorder.events.map((event) => event.type),
      ['header', 'start', 'data'],
    );
  });

  void it('accepts RSV1 on the first frame of a data message when allowRsv1 is set', () => {
    const stream = concat(
      frame({ opcode: Opcode.Text, rsv1: true, fin: false, payload: Buffer.from([0xff, 0xfe]) }),
      frame({ opcode: Opcode.Continuation, payload: Buffer.from([0xc0]) }),
    );
    const { events, error } = parseChunks([stream], { role: 'client', allowRsv1: true });
    assert.equal(error, undefined, 'a compressed text message is not UTF-8 checked by the parser');
    assert.deepEqual(events[1], { type: 'start', opcode: Opcode.Text, compressed: true });
    assert.ok(events[0]?.type === 'header' && events[0].header.rsv1);
  });

  void it('leaves binary messages and, when asked, text messages unchecked for UTF-8', () => {
    const invalid = Buffer.from([0xc0, 0xaf, 0xff]);
    assert.equal(parseChunks([frame({ opcode: Opcode.Binary, payload: invalid })], client).error, undefined);
    const unchecked = parseChunks([frame({ opcode: Opcode.Text, payload: invalid })], {
      role: 'client',
      validateUtf8: false,
    });
    assert.equal(unchecked.error, undefined);
    assert.deepEqual(unchecked.events[2], { type: 'data', hex: invalid.toString('hex') });
  });

  void it('accepts a code point split across two frames, and across an interleaved ping', () => {
    const euro = Buffer.from('€', 'utf8'); // E2 82 AC
    const stream = concat(
      frame({ opcode: Opcode.Text, fin: false, payload: euro.subarray(0, 1) }),
      frame({ opcode: Opcode.Continuation, fin: false, payload: euro.subarray(1, 2) }),
      frame({ opcode: Opcode.Ping, payload: Buffer.from([0xff]) }),
      frame({ opcode: Opcode.Continuation, payload: euro.subarray(2) }),
    );
    const { events, error } = parseChunks([stream], client);
    assert.equal(error, undefined);
    const data = events.flatMap((event) => (event.type === 'data' ? [event.hex] : []));
    assert.equal(data.join(''), euro.toString('hex'));
    assert.deepEqual(events.at(-1), { type: 'end' });
  });

  void it('accepts each message up to maxMessageSize, and counts each message afresh', () => {
    const options = { role: 'client', maxMessageSize: 10 } as const;
    const stream = concat(
      frame({ opcode: Opcode.Binary, payload: Buffer.alloc(10) }),
      frame({ opcode: Opcode.Binary, fin: false, payload: Buffer.alloc(4) }),
      frame({ opcode: Opcode.Ping, payload: Buffer.alloc(100) }),
      frame({ opcode: Opcode.Continuation, payload: Buffer.alloc(6) }),
      frame({ opcode: Opcode.Text, payload: '0123456789' }),
    );
    const { events, error } = parseChunks([stream], options);
    assert.equal(error, undefined);
    assert.equal(events.filter((event) => event.type === 'end').length, 3);
  });
});

void describe('FrameParser: payload sections are views', () => {
  void it('hands out a view of the chunk for an unsplit frame', () => {
    const payload = Buffer.from('a payload that must not be copied');
    const encoded = frame({ opcode: Opcode.Binary, payload });
    // A chunk with its own memory, so a copy could not share it by accident (Buffer's pool).
    const chunk = Buffer.from(new ArrayBuffer(encoded.length));
    chunk.set(encoded);
    const recorder = new Recorder();
    new FrameParser(recorder, client).push(chunk);
    assert.equal(recorder.sections.length, 1);
    const section = recorder.sections[0]!;
    assert.equal(section.buffer, chunk.buffer);
    assert.equal(section.byteOffset, chunk.byteOffset + 2);
    assert.equal(section.length, payload.length);
  });

  void it('unmasks in place: the section is the chunk memory, now holding the clear payload', () => {
    const payload = Buffer.from('masked bytes become clear in the chunk itself');
    const encoded = frame({ opcode: Opcode.Text, payload, maskKey: TEST_KEY });
    const chunk = Buffer.from(new ArrayBuffer(encoded.length));
    chunk.set(encoded);
    const recorder = new Recorder();
    new FrameParser(recorder, server).push(chunk);
    const section = recorder.sections[0]!;
    assert.equal(section.buffer, chunk.buffer);
    assert.deepEqual(chunk.subarray(6), payload);
  });

  void it('hands out views of each chunk when a frame is split', () => {
    const payload = Buffer.alloc(300, 7);
    const encoded = frame({ opcode: Opcode.Binary, payload });
    const first = Buffer.from(new ArrayBuffer(100));
    first.set(encoded.subarray(0, 100));
    const second = Buffer.from(new ArrayBuffer(encoded.length - 100));
    second.set(encoded.subarray(100));
    const recorder = new Recorder();
    const parser = new FrameParser(recorder, client);
    parser.push(first);
    parser.push(second);
    assert.equal(recorder.sections.length, 2);
    assert.equal(recorder.sections[0]!.buffer, first.buffer);
    assert.equal(recorder.sections[1]!.buffer, second.buffer);
    assert.equal(recorder.sections[0]!.length + recorder.sections[1]!.length, 300);
  });

  void it('passes an unsplit control payload as a view', () => {
    const encoded = frame({ opcode: Opcode.Ping, payload: 'ping!' });
    const chunk = Buffer.from(new ArrayBuffer(encoded.length));
    chunk.set(encoded);
    const recorder = new Recorder();
    new FrameParser(recorder, client).push(chunk);
    assert.equal(recorder.controlPayloads[0]!.buffer, chunk.buffer);
    assert.equal(recorder.controlPayloads[0]!.toString(), 'ping!');
  });
});

void describe('FrameParser: reserved bits', () => {
  void it('rejects RSV1 without a negotiated extension (1002)', () => {
    assertRejected(frame({ opcode: Opcode.Text, rsv1: true, payload: 'x' }), client, 1002, /RSV1/);
    assertRejected(frame({ opcode: Opcode.Binary, rsv1: true }), client, 1002);
  });

  void it('rejects RSV2 and RSV3 even with allowRsv1 (1002)', () => {
    for (const options of [client, { role: 'client', allowRsv1: true } as const]) {
      assertRejected(frame({ opcode: Opcode.Binary, rsv2: true }), options, 1002, /RSV2 or RSV3/);
      assertRejected(frame({ opcode: Opcode.Binary, rsv3: true }), options, 1002, /RSV2 or RSV3/);
      assertRejected(frame({ opcode: Opcode.Ping, rsv2: true }), options, 1002);
    }
  });

  void it('rejects RSV1 on a continuation frame even with allowRsv1 (1002)', () => {
    const options = { role: 'client', allowRsv1: true } as const;
    const stream = concat(
      frame({ opcode: Opcode.Binary, rsv1: true, fin: false, payload: 'a' }),
      frame({ opcode: Opcode.Continuation, rsv1: true, payload: 'b' }),
    );
    assertRejected(stream, options, 1002, /continuation/);
  });

  void it('rejects RSV1 on a control frame even with allowRsv1 (1002)', () => {
    const options = { role: 'client', allowRsv1: true } as const;
    for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) {
      assertRejected(frame({ opcode, rsv1: true }), options, 1002, /control/);
    }
  });
});

void describe('FrameParser: opcodes and framing', () => {
  void it('rejects every reserved opcode, 3–7 and B–F (1002), from the first two bytes alone', () => {
    for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      assertRejected(frame({ opcode, payload: 'x' }), client, 1002, /reserved opcode/);
      assertRejected(frame({ opcode, maskKey: TEST_KEY }), server, 1002, /reserved opcode/);
      // A header that needs 12 more bytes is refused before they arrive.
      const parser = new FrameParser(new Recorder(), server);
      assertProtocolError(() => {
        parser.push(Buffer.from([0x80 | opcode, 0x80 | 127]));
      }, 1002);
    }
  });

  void it('rejects a fragmented control frame (1002)', () => {
    for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) {
      assertRejected(frame({ opcode, fin: false }), client, 1002, /fragmented control/);
    }
  });

  void it('rejects a control frame longer than 125 bytes (1002), accepts 125', () => {
    for (const opcode of [Opcode.Ping, Opcode.Pong]) {
      assertRejected(frame({ opcode, payload: Buffer.alloc(126) }), client, 1002, /over 125/);
      assertRejected(frame({ opcode, payload: Buffer.alloc(65536) }), client, 1002, /over 125/);
      assert.equal(parseChunks([frame({ opcode, payload: Buffer.alloc(125) })], client).error, undefined);
    }
    assertRejected(
      frame({ opcode: Opcode.Close, payload: closePayload(1000, 'x'.repeat(124)) }),
      client,
      1002,
    );
    // Refused from the two first bytes: the extended length has not arrived.
    const parser = new FrameParser(new Recorder(), client);
    assertProtocolError(() => {
      parser.push(Buffer.from([0x89, 126]));
    }, 1002);
  });

  void it('rejects a 64-bit length with the most significant bit set (1002)', () => {
    const header = Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 5]);
    assertRejected(header, client, 1002, /most significant bit/);
    const masked = Buffer.from([
      0x82,
      0x80 | 127,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      1,
      2,
      3,
      4,
    ]);
    assertRejected(masked, server, 1002, /most significant bit/);
  });

  void it('rejects a 64-bit length beyond 2^53 − 1 as too big (1009)', () => {
    assertRejected(Buffer.from([0x82, 127, 0x00, 0x20, 0, 0, 0, 0, 0, 0]), client, 1009);
    // 2^53 − 1 itself is a legal length: only the header arrives, and nothing is thrown.
    const parser = new FrameParser(new Recorder(), client);
    parser.push(Buffer.from([0x82, 127, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    assert.equal(parser.isInMessage, true);
  });

  void it('rejects an unmasked frame sent to a server (1002)', () => {
    assertRejected(frame({ opcode: Opcode.Text, payload: 'hi' }), server, 1002, /unmasked/);
    assertRejected(frame({ opcode: Opcode.Ping }), server, 1002, /unmasked/);
  });

  void it('rejects a masked frame sent to a client (1002)', () => {
    assertRejected(frame({ opcode: Opcode.Text, payload: 'hi', maskKey: TEST_KEY }), client, 1002, /masked/);
    assertRejected(frame({ opcode: Opcode.Close, maskKey: TEST_KEY }), client, 1002, /masked/);
  });

  void it('rejects a continuation frame with no message open (1002)', () => {
    assertRejected(frame({ opcode: Opcode.Continuation, payload: 'x' }), client, 1002, /no message open/);
    const afterMessage = concat(
      frame({ opcode: Opcode.Binary, payload: 'done' }),
      frame({ opcode: Opcode.Continuation, fin: true }),
    );
    assertRejected(afterMessage, client, 1002, /no message open/);
  });

  void it('rejects a new data frame inside a fragmented message (1002)', () => {
    for (const opcode of [Opcode.Text, Opcode.Binary]) {
      const stream = concat(
        frame({ opcode: Opcode.Binary, fin: false, payload: 'a' }),
        frame({ opcode: Opcode.Ping }),
        frame({ opcode, payload: 'b' }),
      );
      assertRejected(stream, client, 1002, /inside a fragmented message/);
    }
  });
});

void describe('FrameParser: close frames', () => {
  void it('rejects a close payload of one byte (1002)', () => {
    assertRejected(frame({ opcode: Opcode.Close, payload: Buffer.from([0x03]) }), client, 1002, /one-byte/);
  });

  void it('rejects invalid close codes (1002)', () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
      assertRejected(
        frame({ opcode: Opcode.Close, payload: closePayload(code) }),
        client,
        1002,
        /close code/,
      );
    }
  });

  void it('accepts the valid close codes and reports code and reason', () => {
    const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999];
    for (const code of valid) {
      const payload = closePayload(code, 'fin ✓');
      const { events, error } = parseChunks([frameFor('server', { opcode: Opcode.Close, payload })], server);
      assert.equal(error, undefined, `code ${code}`);
      assert.deepEqual(events.at(-1), { type: 'close', code, reason: 'fin ✓' });
    }
  });

  void it('rejects a close reason that is not UTF-8 (1007)', () => {
    const payload = closePayload(1000, Buffer.from([0x61, 0xc3]));
    assertRejected(frame({ opcode: Opcode.Close, payload }), client, 1007, /reason/);
    const surrogate = closePayload(1000, Buffer.from([0xed, 0xa0, 0x80]));
    assertRejected(frame({ opcode: Opcode.Close, payload: surrogate }), client, 1007);
  });

  void it('decodeClosePayload applies the same rules', () => {
    assert.deepEqual(decodeClosePayload(Buffer.alloc(0)), { code: 1005, reason: '' });
    assert.deepEqual(decodeClosePayload(closePayload(4000, 'ok')), { code: 4000, reason: 'ok' });
    assertProtocolError(() => decodeClosePayload(Buffer.from([0x03])), 1002);
    assertProtocolError(() => decodeClosePayload(closePayload(1006)), 1002);
    assertProtocolError(() => decodeClosePayload(closePayload(1000, Buffer.from([0xff]))), 1007);
  });
});

void describe('FrameParser: message size', () => {
  void it('rejects a frame over maxMessageSize from its header alone (1009)', () => {
    const options = { role: 'client', maxMessageSize: 1000 } as const;
    const parser = new FrameParser(new Recorder(), options);
    const header = frame({ opcode: Opcode.Binary, payload: Buffer.alloc(1001) }).subarray(0, 4);
    assertProtocolError(() => {
      parser.push(header);
    }, 1009);
    assertRejected(Buffer.from([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]), options, 1009);
  });

  void it('rejects a fragmented message once its fragments exceed maxMessageSize (1009)', () => {
    const options = { role: 'server', maxMessageSize: 100 } as const;
    const recorder = new Recorder();
    const parser = new FrameParser(recorder, options);
    parser.push(frameFor('server', { opcode: Opcode.Text, fin: false, payload: 'a'.repeat(60) }));
    parser.push(frameFor('server', { opcode: Opcode.Ping, payload: 'b'.repeat(100) }));
    parser.push(frameFor('server', { opcode: Opcode.Continuation, fin: false, payload: 'c'.repeat(40) }));
    const over = frameFor('server', { opcode: Opcode.Continuation, payload: 'd' });
    // The header (with its masking key) is enough: the payload byte is not pushed.
    assertProtocolError(() => {
      parser.push(over.subarray(0, 6));
    }, 1009);
    assert.equal(
      recorder.events.some((event) => event.type === 'end'),
      false,
    );
  });
});

void describe('FrameParser: UTF-8 in text messages', () => {
  void it('rejects a text message that is not UTF-8 (1007)', () => {
    assertRejected(frame({ opcode: Opcode.Text, payload: Buffer.from([0x61, 0xff, 0x62]) }), client, 1007);
    assertRejected(frame({ opcode: Opcode.Text, payload: Buffer.from([0xc0, 0x80]) }), client, 1007);
  });

  void it('fails fast: the chunk holding the first invalid byte throws before the frame ends', () => {
    for (const role of ['client', 'server'] as const) {
      const payload = Buffer.concat([
        Buffer.from('valid text, then '),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.alloc(50, 0x41),
      ]);
      const bytes = frameFor(role, { opcode: Opcode.Text, payload });
      const headerLength = role === 'server' ? 6 : 2;
      const firstBad = headerLength + 'valid text, then '.length + 1; // A0 after ED: a surrogate
      const recorder = new Recorder();
      const parser = new FrameParser(recorder, { role });
      parser.push(bytes.subarray(0, firstBad)); // ends with ED: still a possible prefix
      assertProtocolError(() => {
        parser.push(bytes.subarray(firstBad, firstBad + 5));
      }, 1007);
      assert.equal(
        recorder.events.some((event) => event.type === 'frameEnd'),
        false,
      );
      // What was handed out is the valid prefix; the section holding the bad byte never is.
      const delivered = recorder.events.flatMap((event) => (event.type === 'data' ? [event.hex] : []));
      assert.equal(delivered.join(''), payload.subarray(0, firstBad - headerLength).toString('hex'));
    }
  });

  void it('fails fast on an invalid byte in a later fragment', () => {
    const parser = new FrameParser(new Recorder(), client);
    parser.push(frame({ opcode: Opcode.Text, fin: false, payload: 'ok' }));
    const second = frame({ opcode: Opcode.Continuation, payload: Buffer.from([0x41, 0x80, 0x41, 0x41]) });
    assertProtocolError(() => {
      parser.push(second.subarray(0, 4));
    }, 1007);
  });

  void it('rejects a code point truncated at the end of the message (1007)', () => {
    const euro = Buffer.from('€', 'utf8');
    assertRejected(frame({ opcode: Opcode.Text, payload: euro.subarray(0, 2) }), client, 1007, /ends inside/);
    const fragmented = concat(
      frame({ opcode: Opcode.Text, fin: false, payload: 'abc' }),
      frame({ opcode: Opcode.Continuation, fin: false, payload: euro.subarray(0, 1) }),
      frame({ opcode: Opcode.Continuation, payload: euro.subarray(1, 2) }),
    );
    assertRejected(fragmented, client, 1007);
  });

  void it('starts each text message with a fresh validator', () => {
    // The first message is binary with a dangling lead byte; the text message after it is clean.
    const stream = concat(
      frame({ opcode: Opcode.Binary, payload: Buffer.from([0xe2]) }),
      frame({ opcode: Opcode.Text, payload: Buffer.from([0x82, 0xac]) }),
    );
    assertRejected(stream, client, 1007);
    const clean = concat(
      frame({ opcode: Opcode.Text, payload: '€' }),
      frame({ opcode: Opcode.Text, payload: 'plain' }),
    );
    assert.equal(parseChunks([clean], client).error, undefined);
  });
});

void describe('FrameParser: failure contract', () => {
  void it('throws the same ProtocolError on every push after the first', () => {
    const parser = new FrameParser(new Recorder(), client);
    const first = assertProtocolError(() => {
      parser.push(Buffer.from([0x83, 0x00]));
    }, 1002);
    assert.ok(first instanceof ProtocolError);
    assert.equal(first.name, 'ProtocolError');
    for (const next of [frame({ opcode: Opcode.Text, payload: 'fine' }), Buffer.alloc(0)]) {
      assert.throws(
        () => {
          parser.push(next);
        },
        (error: unknown) => error === first,
      );
    }
    parser.stop();
    assert.throws(
      () => {
        parser.push(Buffer.alloc(0));
      },
      (error: unknown) => error === first,
    );
  });

  void it('reports nothing about a frame whose first two bytes are refused', () => {
    const recorder = new Recorder();
    const parser = new FrameParser(recorder, client);
    parser.push(frame({ opcode: Opcode.Binary, payload: 'ok' }));
    const before = recorder.events.length;
    assertProtocolError(() => {
      parser.push(frame({ opcode: Opcode.Binary, payload: 'x', maskKey: TEST_KEY }));
    }, 1002);
    assert.equal(recorder.events.length, before);
  });
});
