// A minimal DER reader (X.690): enough to walk an X.509 certificate's fields that node:crypto does not
// expose (extensions with their critical flag, key usage bits, path length, name constraints, the
// signature algorithm). Reads views of the input; throws a RangeError on malformed input.

import type { Buffer } from 'node:buffer';

/** One element: its tag byte and the view of its contents. */
export interface DerElement {
  tag: number;
  contents: Buffer;
}

export const DerTag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Oid: 0x06,
  Sequence: 0x30,
} as const;

/** The elements found one after another in `input` (the contents of a constructed element). */
export function derChildren(input: Buffer): DerElement[] {
  const elements: DerElement[] = [];
  let offset = 0;
  while (offset < input.length) {
    const tag = byteAt(input, offset);
    if ((tag & 0x1f) === 0x1f) throw new RangeError('DER: multi-byte tags are not supported');
    let length = byteAt(input, offset + 1);
    let start = offset + 2;
    if (length & 0x80) {
      const octets = length & 0x7f;
      if (octets === 0 || octets > 4) throw new RangeError('DER: bad length');
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + byteAt(input, start + i);
      start += octets;
    }
    const end = start + length;
    if (end > input.length) throw new RangeError('DER: element runs past its container');
    elements.push({ tag, contents: input.subarray(start, end) });
    offset = end;
  }
  return elements;
}

/** The one element that `input` holds. */
export function derElement(input: Buffer): DerElement {
  const [element, extra] = derChildren(input);
  if (element === undefined || extra !== undefined) throw new RangeError('DER: expected one element');
  return element;
}

/** An OBJECT IDENTIFIER's contents in dotted form. */
export function derOid(contents: Buffer): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of contents) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0)
        arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/** A non-negative INTEGER's contents as a number (small values: path lengths). */
export function derSmallInteger(contents: Buffer): number {
  let value = 0;
  for (const byte of contents) value = value * 256 + byte;
  return value;
}

function byteAt(input: Buffer, offset: number): number {
  const byte = input[offset];
  if (byte === undefined) throw new RangeError('DER: truncated');
  return byte;
}
