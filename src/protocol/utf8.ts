// Streaming UTF-8 validation (RFC 3629) that holds across fragment boundaries and fails at the first
// bad chunk: a code point split over two frames is valid, a truncated one at the end is not.

import { Buffer, isUtf8 } from 'node:buffer';

const ACCEPT = 0;
const REJECT = 0xff;

/**
 * Transition table of the UTF-8 automaton: TRANSITIONS[state * 256 + byte] is the next state.
 * States: 0 accept, 1/2/3 need that many continuation bytes (80–BF), 4 after E0 (A0–BF next),
 * 5 after ED (80–9F next, no surrogates), 6 after F0 (90–BF next, no overlong), 7 after F4 (80–8F next,
 * nothing above U+10FFFF).
 */
const TRANSITIONS = buildTransitions();

function buildTransitions(): Uint8Array {
  const table = new Uint8Array(8 * 256).fill(REJECT);
  const range = (state: number, from: number, to: number, next: number): void => {
    table.fill(next, state * 256 + from, state * 256 + to + 1);
  };
  range(ACCEPT, 0x00, 0x7f, ACCEPT);
  range(ACCEPT, 0xc2, 0xdf, 1);
  range(ACCEPT, 0xe0, 0xe0, 4);
  range(ACCEPT, 0xe1, 0xec, 2);
  range(ACCEPT, 0xed, 0xed, 5);
  range(ACCEPT, 0xee, 0xef, 2);
  range(ACCEPT, 0xf0, 0xf0, 6);
  range(ACCEPT, 0xf1, 0xf3, 3);
  range(ACCEPT, 0xf4, 0xf4, 7);
  range(1, 0x80, 0xbf, ACCEPT);
  range(2, 0x80, 0xbf, 1);
  range(3, 0x80, 0xbf, 2);
  range(4, 0xa0, 0xbf, 1);
  range(5, 0x80, 0x9f, 1);
  range(6, 0x90, 0xbf, 2);
  range(7, 0x80, 0x8f, 2);
  return table;
}

/** Validates one message's bytes as they arrive, section by section. */
export class Utf8Validator {
  private state = ACCEPT;

  /**
   * Feeds the next bytes. Returns false as soon as they cannot be part of valid UTF-8 (including a
   * sequence that is already invalid though incomplete, such as E0 80); the state is then left as it was
   * before the call.
   */
  write(bytes: Uint8Array): boolean {
    const length = bytes.length;
    let index = 0;
    let state = this.state;
    // Finish a code point left open by the previous section.
    while (state !== ACCEPT && index < length) {
      state = TRANSITIONS[state * 256 + bytes[index]!]!;
      if (state === REJECT) return false;
      index++;
    }
    if (index < length) {
      // The bulk goes to the native validator; only a code point cut at the end is walked by hand.
      const tailStart = startOfLastCodePoint(bytes, index);
      if (tailStart > index && !isUtf8(bytes.subarray(index, tailStart))) return false;
      for (index = tailStart; index < length; index++) {
        state = TRANSITIONS[state * 256 + bytes[index]!]!;
        if (state === REJECT) return false;
      }
    }
    this.state = state;
    return true;
  }

  /** Ends the message: true when no code point was left incomplete. Resets for the next message. */
  end(): boolean {
    const complete = this.state === ACCEPT;
    this.state = ACCEPT;
    return complete;
  }

  /** A validator in the same state, to try bytes without committing to them. */
  clone(): Utf8Validator {
    const copy = new Utf8Validator();
    copy.state = this.state;
    return copy;
  }
}

/**
 * Index of the lead byte of the last code point in bytes[from..], so that everything before it is made of
 * whole code points when valid. Looks back at most four bytes; returns bytes.length when there is nothing
 * to hold back.
 */
function startOfLastCodePoint(bytes: Uint8Array, from: number): number {
  const length = bytes.length;
  const lowest = Math.max(from, length - 4);
  for (let index = length - 1; index >= lowest; index--) {
    if ((bytes[index]! & 0xc0) !== 0x80) return index;
  }
  return length;
}

/** Whole-buffer check, for close reasons and other small payloads. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes);
}

export function utf8ByteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
