// Test helpers for the protocol tests: a frame encoder written independently of frame-writer.ts, a handler
// that records what the parser reports, and a driver that feeds chunks and checks the failure contract.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';

import {
  FrameParser,
  ProtocolError,
  type DataOpcode,
  type FrameHeader,
  type FrameParserHandler,
  type FrameParserOptions,
} from '../../src/protocol/index.js';

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** The masking key; the payload is masked with it. */
  maskKey?: Uint8Array;
}

export const TEST_KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** Encodes one frame with the shortest length form, byte by byte, as RFC 6455 §5.2 draws it. */
export function frame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload, 'utf8') : (spec.payload ?? []);
  const length = payload.length;
  const bytes: number[] = [
    ((spec.fin ?? true) ? 0x80 : 0) |
      (spec.rsv1 === true ? 0x40 : 0) |
      (spec.rsv2 === true ? 0x20 : 0) |
      (spec.rsv3 === true ? 0x10 : 0) |
      spec.opcode,
  ];
  const maskBit = spec.maskKey === undefined ? 0 : 0x80;
  if (length < 126) {
    bytes.push(maskBit | length);
  } else if (length < 65536) {
    bytes.push(maskBit | 126, length >> 8, length & 0xff);
  } else {
    bytes.push(maskBit | 127);
    let rest = length;
    const extended: number[] = [];
    for (let index = 0; index < 8; index++) {
      extended.unshift(rest % 256);
      rest = Math.floor(rest / 256);
    }
    bytes.push(...extended);
  }
  const key = spec.maskKey;
  if (key !== undefined) bytes.push(key[0]!, key[1]!, key[2]!, key[3]!);
  const result = Buffer.alloc(bytes.length + length);
  result.set(bytes, 0);
  for (let index = 0; index < length; index++) {
    result[bytes.length + index] = payload[index]! ^ (key === undefined ? 0 : key[index % 4]!);
  }
  return result;
}

/** A frame as the given role's parser expects it: masked when the parser is a server's. */
export function frameFor(role: 'client' | 'server', spec: FrameSpec): Buffer {
  return frame(role === 'server' ? { maskKey: TEST_KEY, ...spec } : spec);
}

/** A deterministic, non-constant payload of any length (cheaper than random bytes for large sizes). */
export function patternBytes(length: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(length);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

export type ParserEvent =
  | { type: 'header'; header: FrameHeader }
  | { type: 'start'; opcode: DataOpcode; compressed: boolean }
  | { type: 'data'; hex: string }
  | { type: 'frameEnd'; final: boolean }
  | { type: 'end' }
  | { type: 'ping'; hex: string }
  | { type: 'pong'; hex: string }
  | { type: 'close'; code: number; reason: string };

/** Records every callback; data sections are kept both as the views received and as copied hex. */
export class Recorder implements FrameParserHandler {
  readonly events: ParserEvent[] = [];
  readonly sections: Buffer[] = [];
  readonly controlPayloads: Buffer[] = [];

  onFrameHeader(header: FrameHeader): void {
    this.events.push({ type: 'header', header: { ...header } });
  }
  onMessageStart(opcode: DataOpcode, compressed: boolean): void {
    this.events.push({ type: 'start', opcode, compressed });
  }
  onMessageData(section: Buffer): void {
    this.sections.push(section);
    this.events.push({ type: 'data', hex: section.toString('hex') });
  }
  onFrameEnd(final: boolean): void {
    this.events.push({ type: 'frameEnd', final });
  }
  onMessageEnd(): void {
    this.events.push({ type: 'end' });
  }
  onPing(payload: Buffer): void {
    this.controlPayloads.push(payload);
    this.events.push({ type: 'ping', hex: payload.toString('hex') });
  }
  onPong(payload: Buffer): void {
    this.controlPayloads.push(payload);
    this.events.push({ type: 'pong', hex: payload.toString('hex') });
  }
  onClose(code: number, reason: string): void {
    this.events.push({ type: 'close', code, reason });
  }
}

/** Joins adjacent data events, so that the same frames cut at different places compare equal. */
export function mergeData(events: readonly ParserEvent[]): ParserEvent[] {
  const merged: ParserEvent[] = [];
  for (const event of events) {
    const last = merged.at(-1);
    if (event.type === 'data' && last?.type === 'data') {
      merged[merged.length - 1] = { type: 'data', hex: last.hex + event.hex };
    } else {
      merged.push(event);
    }
  }
  return merged;
}

export interface ParseOutcome {
  events: ParserEvent[];
  error: ProtocolError | undefined;
  parser: FrameParser;
}

/**
 * Pushes the chunks in order. Anything thrown other than a ProtocolError fails the test. After the first
 * ProtocolError, every later push must throw that same error and report nothing more.
 */
export function parseChunks(chunks: readonly Buffer[], options: FrameParserOptions): ParseOutcome {
  const recorder = new Recorder();
  const parser = new FrameParser(recorder, options);
  let error: ProtocolError | undefined;
  for (const chunk of chunks) {
    if (error !== undefined) {
      const before = recorder.events.length;
      assert.throws(
        () => {
          parser.push(chunk);
        },
        (thrown: unknown) => thrown === error,
      );
      assert.equal(recorder.events.length, before, 'a failed parser reports no more events');
      continue;
    }
    try {
      parser.push(chunk);
    } catch (thrown) {
      if (!(thrown instanceof ProtocolError)) throw thrown;
      error = thrown;
    }
  }
  if (error !== undefined) {
    assert.throws(
      () => {
        parser.push(Buffer.alloc(0));
      },
      (thrown: unknown) => thrown === error,
    );
  }
  return { events: recorder.events, error, parser };
}

/** Cuts a fresh copy of bytes at the given positions (sorted, duplicates give empty chunks). */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Buffer[] {
  const copy = Buffer.from(bytes);
  const sorted = [...cuts].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of sorted) {
    chunks.push(copy.subarray(start, cut));
    start = cut;
  }
  chunks.push(copy.subarray(start));
  return chunks;
}

/** Asserts that fn throws a ProtocolError with this close code, and returns the error. */
export function assertProtocolError(fn: () => unknown, closeCode: number, message?: RegExp): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ProtocolError, `expected a ProtocolError, got ${String(caught)}`);
  assert.equal(caught.closeCode, closeCode, `close code for: ${caught.message}`);
  if (message !== undefined) assert.match(caught.message, message);
  return caught;
}

/** Parses bytes in one push and asserts the resulting ProtocolError's close code. */
export function assertRejected(
  bytes: Uint8Array,
  options: FrameParserOptions,
  closeCode: number,
  message?: RegExp,
): ProtocolError {
  const parser = new FrameParser(new Recorder(), options);
  return assertProtocolError(
    () => {
      parser.push(Buffer.from(bytes));
    },
    closeCode,
    message,
  );
}

export function concat(...parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}
