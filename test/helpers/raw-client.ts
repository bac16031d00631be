// A hand-written WebSocket client for tests that abuse a server: it sends exactly the bytes a test builds
// (any header bits, any length field, masked or not, lies included) and decodes the server's frames.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import net from 'node:net';

/** RFC 6455 §1.3's sample key; any valid key will do. */
export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A valid opening handshake request for `path`, offering `extensions` when given. */
export function upgradeRequest(path = '/', host = '127.0.0.1', extensions?: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n` +
    (extensions === undefined ? '' : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
    '\r\n'
  );
}

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** FIN bit (default true). */
  fin?: boolean;
  /** RSV1..3 as the three bits 0b100, 0b010, 0b001 (default 0). */
  rsv?: number;
  /** Masked (default true, as a client must). A mask key of four zero bytes leaves the payload as is. */
  masked?: boolean;
  maskKey?: Uint8Array;
  /** The length written in the header, when it is to differ from the payload's (a lie). */
  declaredLength?: bigint;
  /** Force the length form: 7-bit, 16-bit (126) or 64-bit (127). Default: the minimal one. */
  lengthForm?: 7 | 16 | 64;
}

const DEFAULT_MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A client frame as the spec says, right or wrong. */
export function clientFrame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === 'string' ? Buffer.from(spec.payload) : Buffer.from(spec.payload ?? []);
  const masked = spec.masked ?? true;
  const declared = spec.declaredLength ?? BigInt(payload.length);
  const form = spec.lengthForm ?? (declared < 126n ? 7 : declared < 0x10000n ? 16 : 64);
  const byte0 = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 0x7) << 4) | (spec.opcode & 0x0f);
  const maskBit = masked ? 0x80 : 0;
  let header: Buffer;
  if (form === 7) {
    header = Buffer.from([byte0, maskBit | Number(declared)]);
  } else if (form === 16) {
    header = Buffer.alloc(4);
    header[0] = byte0;
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(declared), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = byte0;
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(declared, 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  const key = Buffer.from(spec.maskKey ?? DEFAULT_MASK);
  const body = Buffer.from(payload.map((byte, index) => byte ^ key[index % 4]!));
  return Buffer.concat([header, key, body]);
}

/** The payload of a close frame: a code, then a reason as text or raw bytes. */
export function closePayload(code: number, reason: string | Uint8Array = ''): Buffer {
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason) : Buffer.from(reason);
  const payload = Buffer.alloc(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return payload;
}

/** A frame the server sent. */
export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Decodes the frames at the start of `bytes`; returns them and how many bytes they took. */
export function decodeServerFrames(bytes: Buffer): { frames: ServerFrame[]; used: number } {
  const frames: ServerFrame[] = [];
  let offset = 0;
  for (;;) {
    if (bytes.length - offset < 2) break;
    const byte0 = bytes[offset]!;
    const byte1 = bytes[offset + 1]!;
    let length = byte1 & 0x7f;
    let headerLength = 2;
    if (length === 126) {
      if (bytes.length - offset < 4) break;
      length = bytes.readUInt16BE(offset + 2);
      headerLength = 4;
    } else if (length === 127) {
      if (bytes.length - offset < 10) break;
      length = Number(bytes.readBigUInt64BE(offset + 2));
      headerLength = 10;
    }
    const masked = (byte1 & 0x80) !== 0;
    if (masked) headerLength += 4;
    if (bytes.length - offset < headerLength + length) break;
    const payload = Buffer.from(bytes.subarray(offset + headerLength, offset + headerLength + length));
    if (masked) {
      const key = bytes.subarray(offset + headerLength - 4, offset + headerLength);
      for (let index = 0; index < payload.length; index++) payload[index]! ^= key[index % 4]!;
    }
    frames.push({ fin: (byte0 & 0x80) !== 0, rsv: (byte0 >> 4) & 7, opcode: byte0 & 0x0f, masked, payload });
    offset += headerLength + length;
  }
  return { frames, used: offset };
}

/** The close code of a close frame's payload (1005 when it has none). */
export function closeCodeOf(frame: ServerFrame): number {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
}

/** One raw TCP connection that went through the opening handshake. */
export class RawClient {
  /** The server's frames decoded so far. */
  readonly frames: ServerFrame[] = [];
  /** Resolves when the TCP connection is closed (by either side). */
  readonly closed: Promise<void>;
  /** The response head (status line and headers) of the handshake. */
  responseHead = '';
  private pending: Buffer = Buffer.alloc(0);
  private upgraded = false;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: net.Socket) {
    socket.on('error', () => undefined);
    this.closed = once(socket, 'close').then(() => undefined);
    socket.on('close', () => {
      this.notify();
    });
    socket.on('data', (chunk: Buffer) => {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      if (!this.upgraded) {
        const end = this.pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        this.responseHead = this.pending.subarray(0, end).toString('latin1');
        this.pending = this.pending.subarray(end + 4);
        this.upgraded = true;
      }
      const { frames, used } = decodeServerFrames(this.pending);
      // A copy of the partial frame left over: a view would keep the whole received chunk alive, and
      // the memory tests measure this process.
      this.pending = Buffer.from(this.pending.subarray(used));
      this.frames.push(...frames);
      this.notify();
    });
  }

  /**
   * Connects, sends the upgrade request (offering `extensions`, plus `extra` in the same write) and waits
   * for the 101.
   */
  static async open(
    port: number,
    path = '/',
    extra?: Buffer,
    timeoutMs = 3000,
    extensions?: string,
  ): Promise<RawClient> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const client = new RawClient(socket);
    await once(socket, 'connect');
    const request = Buffer.from(upgradeRequest(path, '127.0.0.1', extensions), 'latin1');
    socket.write(extra === undefined ? request : Buffer.concat([request, extra]));
    await client.until(() => client.upgraded, timeoutMs, 'the 101 response');
    assert.match(client.responseHead, /^HTTP\/1\.1 101 /, 'the handshake is answered with 101');
    return client;
  }

  send(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  /** Resolves once `condition()` holds (checked whenever something arrives); rejects after `ms`. */
  until(condition: () => boolean, ms: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${what}: not within ${ms} ms`));
      }, ms);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Waits for the server to close TCP; returns the code of the first close frame it sent, if any. */
  async closeCode(ms = 3000): Promise<number | undefined> {
    await this.until(() => this.isClosed, ms, 'the server closing the connection');
    const close = this.frames.find((frame) => frame.opcode === 0x8);
    return close === undefined ? undefined : closeCodeOf(close);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * From now on, answers the server's close frame with its code and ends TCP, as a polite client does
   * (a listener closing after a test then need not wait out its close timeout).
   */
  answerClose(): this {
    let answered = false;
    this.socket.on('data', () => {
      const close = this.frames.find((frame) => frame.opcode === 0x8);
      if (close === undefined || answered) return;
      answered = true;
      this.send(clientFrame({ opcode: 0x8, payload: close.payload.subarray(0, 2) }));
      this.socket.end();
    });
    return this;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
