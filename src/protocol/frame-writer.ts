// Frame headers (RFC 6455 §5.2) in all three length forms, and the opcode sequence of a fragmented message.

import { Buffer } from 'node:buffer';

import { Opcode, type DataOpcode } from './opcodes.js';

export interface FrameHeaderFields {
  fin: boolean;
  /** Per-message compression marks the first frame of a message with RSV1 (RFC 7692). */
  rsv1?: boolean;
  opcode: Opcode;
  payloadLength: number;
  /** Present on frames a client sends (§5.3); the payload must then be masked with it. */
  maskKey?: Uint8Array | undefined;
}

/** The largest payload length a JavaScript number states exactly (2^53 − 1 bytes). */
export const MAX_PAYLOAD_LENGTH = Number.MAX_SAFE_INTEGER;

export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  const lengthBytes = payloadLength < 126 ? 0 : payloadLength < 0x10000 ? 2 : 8;
  return 2 + lengthBytes + (masked ? 4 : 0);
}

/** Writes the header into target at offset; returns its length (2 to 14 bytes). */
export function writeFrameHeader(target: Uint8Array, offset: number, fields: FrameHeaderFields): number {
  const { payloadLength, maskKey } = fields;
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 0) {
    throw new RangeError(`payload length ${String(payloadLength)} cannot be framed`);
  }
  let position = offset;
  target[position++] = (fields.fin ? 0x80 : 0) | (fields.rsv1 === true ? 0x40 : 0) | fields.opcode;
  const maskBit = maskKey === undefined ? 0 : 0x80;
  if (payloadLength < 126) {
    target[position++] = maskBit | payloadLength;
  } else if (payloadLength < 0x10000) {
    target[position++] = maskBit | 126;
    target[position++] = payloadLength >>> 8;
    target[position++] = payloadLength & 0xff;
  } else {
    target[position++] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x1_0000_0000);
    const low = payloadLength >>> 0;
    target[position++] = high >>> 24;
    target[position++] = (high >>> 16) & 0xff;
    target[position++] = (high >>> 8) & 0xff;
    target[position++] = high & 0xff;
    target[position++] = low >>> 24;
    target[position++] = (low >>> 16) & 0xff;
    target[position++] = (low >>> 8) & 0xff;
    target[position++] = low & 0xff;
  }
  if (maskKey !== undefined) {
    target[position++] = maskKey[0]!;
    target[position++] = maskKey[1]!;
    target[position++] = maskKey[2]!;
    target[position++] = maskKey[3]!;
  }
  return position - offset;
}

export function encodeFrameHeader(fields: FrameHeaderFields): Buffer {
  const header = Buffer.allocUnsafe(frameHeaderLength(fields.payloadLength, fields.maskKey !== undefined));
  writeFrameHeader(header, 0, fields);
  return header;
}

/**
 * The opcodes of one message sent as fragments whose total length is not known in advance: the first
 * frame carries the message's opcode, the others are continuations, the last has FIN set.
 */
export class FragmentSequence {
  private started = false;
  private finished = false;

  constructor(private readonly messageOpcode: DataOpcode) {}

  get isStarted(): boolean {
    return this.started;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** The opcode for the next fragment; marks the message finished when fin is set. */
  next(fin: boolean): Opcode {
    if (this.finished) throw new Error('the message was already finished');
    const opcode = this.started ? Opcode.Continuation : this.messageOpcode;
    this.started = true;
    this.finished = fin;
    return opcode;
  }
}
