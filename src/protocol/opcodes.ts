// RFC 6455 §5.2 opcodes and the two questions every layer asks of them.

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** The opcode of a data message: text or binary. */
export type DataOpcode = typeof Opcode.Text | typeof Opcode.Binary;

/** Control frames have the high bit of the opcode nibble set (§5.5). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

export function isKnownOpcode(opcode: number): opcode is Opcode {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** The kind of a data message, as WinRT names it (Windows.Networking.Sockets.SocketMessageType). */
export const SocketMessageType = {
  Binary: 0,
  Utf8: 1,
} as const;
export type SocketMessageType = (typeof SocketMessageType)[keyof typeof SocketMessageType];

export function messageTypeOf(opcode: DataOpcode): SocketMessageType {
  return opcode === Opcode.Text ? SocketMessageType.Utf8 : SocketMessageType.Binary;
}

export function opcodeOf(type: SocketMessageType): DataOpcode {
  return type === SocketMessageType.Utf8 ? Opcode.Text : Opcode.Binary;
}
