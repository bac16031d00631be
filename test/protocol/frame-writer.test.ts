// Frame headers byte for byte in all three length forms, and the opcodes of a fragmented message.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import {
  encodeFrameHeader,
  FragmentSequence,
  frameHeaderLength,
  MAX_PAYLOAD_LENGTH,
  Opcode,
  writeFrameHeader,
} from '../../src/protocol/index.js';

const KEY = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);

void describe('writeFrameHeader / encodeFrameHeader', () => {
  const cases: { length: number; lengthBytes: number[] }[] = [
    { length: 0, lengthBytes: [0x00] },
    { length: 125, lengthBytes: [0x7d] },
    { length: 126, lengthBytes: [0x7e, 0x00, 0x7e] },
    { length: 65535, lengthBytes: [0x7e, 0xff, 0xff] },
    { length: 65536, lengthBytes: [0x7f, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x00] },
    { length: 2 ** 32 + 5, lengthBytes: [0x7f, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0x05] },
    { length: MAX_PAYLOAD_LENGTH, lengthBytes: [0x7f, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] },
  ];

  for (const { length, lengthBytes } of cases) {
    void it(`writes the header of a ${length}-byte payload, unmasked and masked`, () => {
      const unmasked = encodeFrameHeader({ fin: true, opcode: Opcode.Binary, payloadLength: length });
      assert.deepEqual([...unmasked], [0x82, ...lengthBytes]);
      assert.equal(frameHeaderLength(length, false), unmasked.length);

      const masked = encodeFrameHeader({
        fin: false,
        opcode: Opcode.Text,
        payloadLength: length,
        maskKey: KEY,
      });
      const [first, ...rest] = lengthBytes;
      assert.deepEqual([...masked], [0x01, 0x80 | first!, ...rest, 0xde, 0xad, 0xbe, 0xef]);
      assert.equal(frameHeaderLength(length, true), masked.length);
    });
  }

  void it('sets FIN, RSV1 and the opcode in the first byte', () => {
    const first = (fin: boolean, rsv1: boolean | undefined, opcode: Opcode): number =>
      encodeFrameHeader({ fin, rsv1, opcode, payloadLength: 0 })[0]!;
    assert.equal(first(true, true, Opcode.Text), 0xc1);
    assert.equal(first(false, true, Opcode.Binary), 0x42);
    assert.equal(first(true, undefined, Opcode.Close), 0x88);
    assert.equal(first(true, false, Opcode.Ping), 0x89);
    assert.equal(first(true, false, Opcode.Pong), 0x8a);
    assert.equal(first(false, false, Opcode.Continuation), 0x00);
  });

  void it('writes at an offset, returns the header length and touches nothing else', () => {
    const target = Buffer.alloc(24, 0xaa);
    const written = writeFrameHeader(target, 5, {
      fin: true,
      opcode: Opcode.Binary,
      payloadLength: 300,
      maskKey: KEY,
    });
    assert.equal(written, 8);
    assert.deepEqual(
      [...target],
      [
        ...Array<number>(5).fill(0xaa),
        0x82,
        0xfe,
        0x01,
        0x2c,
        0xde,
        0xad,
        0xbe,
        0xef,
        ...Array<number>(11).fill(0xaa),
      ],
    );
  });

  void it('reads the masking key from a view at any offset', () => {
    const pool = Uint8Array.of(9, 9, 9, 1, 2, 3, 4, 9);
    const header = encodeFrameHeader({
      fin: true,
      opcode: Opcode.Ping,
      payloadLength: 0,
      maskKey: pool.subarray(3, 7),
    });
    assert.deepEqual([...header], [0x89, 0x80, 1, 2, 3, 4]);
  });

  void it('rejects negative, fractional, non-finite and unsafe lengths', () => {
    const target = Buffer.alloc(14);
    for (const payloadLength of [-1, -0.5, 1.5, 126.25, NaN, Infinity, MAX_PAYLOAD_LENGTH + 1]) {
      assert.throws(
        () => writeFrameHeader(target, 0, { fin: true, opcode: Opcode.Binary, payloadLength }),
        RangeError,
        `length ${payloadLength}`,
      );
      assert.throws(() => encodeFrameHeader({ fin: true, opcode: Opcode.Binary, payloadLength }), RangeError);
    }
  });
});

void describe('FragmentSequence', () => {
  void it('gives the message opcode first, then continuations, and finishes on fin', () => {
    const sequence = new FragmentSequence(Opcode.Text);
    assert.equal(sequence.isStarted, false);
    assert.equal(sequence.isFinished, false);
    assert.equal(sequence.next(false), Opcode.Text);
    assert.equal(sequence.isStarted, true);
    assert.equal(sequence.next(false), Opcode.Continuation);
    assert.equal(sequence.isFinished, false);
    assert.equal(sequence.next(true), Opcode.Continuation);
    assert.equal(sequence.isFinished, true);
  });

  void it('sends a one-frame message with the message opcode', () => {
    const sequence = new FragmentSequence(Opcode.Binary);
    assert.equal(sequence.next(true), Opcode.Binary);
    assert.equal(sequence.isFinished, true);
  });

  void it('refuses a fragment after the final one', () => {
    const sequence = new FragmentSequence(Opcode.Binary);
    sequence.next(true);
    assert.throws(() => sequence.next(false), /already finished/);
  });
});
