// Opcodes (§5.2): which are known, which are control opcodes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { isControlOpcode, isKnownOpcode, Opcode } from '../../src/protocol/index.js';

void describe('opcodes', () => {
  void it('has the values of RFC 6455 §11.8', () => {
    assert.deepEqual(Opcode, { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 });
  });

  void it('knows exactly 0–2 and 8–A', () => {
    const known = Array.from({ length: 16 }, (_, opcode) => opcode).filter((opcode) => isKnownOpcode(opcode));
    assert.deepEqual(known, [0, 1, 2, 8, 9, 10]);
  });

  void it('treats 8–F as control opcodes', () => {
    const control = Array.from({ length: 16 }, (_, opcode) => opcode).filter((opcode) =>
      isControlOpcode(opcode),
    );
    assert.deepEqual(control, [8, 9, 10, 11, 12, 13, 14, 15]);
  });
});
