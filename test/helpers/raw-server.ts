// A hand-written WebSocket server for tests that need exact frames: it completes the opening handshake
// itself, sends whatever bytes the test writes, and decodes the (masked) frames the client sends.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';

/** One frame as it crossed the wire. */
export interface Frame {
  fin: boolean;
  /** RSV1..3 as the three bits 0b100, 0b010, 0b001. */
  rsv: number;
  opcode: number;
  payload: Buffer;
}

export interface RawConnection {
  readonly socket: net.Socket;
  /** The client's upgrade request head (request line and headers). */
  readonly requestHead: string;
  /** The client's frames decoded so far, unmasked. */
  readonly frames: readonly Frame[];
  /** Every frame the client sent, once the TCP connection is closed. */
  readonly closed: Promise<Frame[]>;
  /** Writes raw bytes (use serverFrame to build them). */
  send(bytes: Buffer): void;
}

export interface RawServer {
  url: string;
  /** The next connection, once its handshake is answered. */
  connection: Promise<RawConnection>;
}

export interface RawServerOptions {
  /** Bytes written in the same write as the 101 response (frames that arrive with the handshake). */
  withHandshake?: Buffer;
  /** Answer the client's close frame with one echoing its code, then end TCP (default true). */
  echoClose?: boolean;
  /** A Sec-WebSocket-Extensions value for the 101 (none by default). */
  extensions?: string;
}

/** Something with node:test's `after` (a TestContext). */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/** Starts a raw server on 127.0.0.1:0; `behave` runs once the handshake of a connection is answered. */
export async function rawWebSocketServer(
  t: Cleanup,
  behave: (connection: RawConnection) => void = () => undefined,
  options: RawServerOptions = {},
): Promise<RawServer> {
  const echoClose = options.echoClose ?? true;
  const sockets = new Set<net.Socket>();
  let deliver!: (connection: RawConnection) => void;
  const connection = new Promise<RawConnection>((resolve) => (deliver = resolve));
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    let pending: Buffer = Buffer.alloc(0);
    let upgraded = false;
    let closeSent = false;
    const frames: Frame[] = [];
    let closedResolve!: (frames: Frame[]) => void;
    const closed = new Promise<Frame[]>((resolve) => (closedResolve = resolve));
    socket.on('close', () => {
      sockets.delete(socket);
      closedResolve(frames);
    });
    let requestHead = '';
    const raw: RawConnection = {
      socket,
      get requestHead() {
        return requestHead;
      },
      frames,
      closed,
      send: (bytes) => {
        if (bytes.length >= 2 && (bytes[0]! & 0x0f) === 0x8) closeSent = true;
        if (!socket.destroyed) socket.write(bytes);
      },
    };
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (!upgraded) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.subarray(0, end).toString('latin1');
        requestHead = head;
        pending = pending.subarray(end + 4);
        upgraded = true;
        const key = /sec-websocket-key: *(.+)/i.exec(head)?.[1]?.trim() ?? '';
        const accept = createHash('sha1')
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64');
        const extensions =
          options.extensions === undefined ? '' : `Sec-WebSocket-Extensions: ${options.extensions}\r\n`;
        const response = Buffer.from(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extensions}\r\n`,
          'latin1',
        );
        socket.write(
          options.withHandshake === undefined ? response : Buffer.concat([response, options.withHandshake]),
        );
        behave(raw);
        deliver(raw);
      }
      for (;;) {
        const decoded = decodeClientFrame(pending);
        if (decoded === undefined) break;
        pending = pending.subarray(decoded.length);
        frames.push(decoded.frame);
        if (decoded.frame.opcode === 0x8 && echoClose) {
          if (!closeSent) {
            closeSent = true;
            socket.write(serverFrame(0x8, decoded.frame.payload.subarray(0, 2)));
          }
          socket.end();
        }
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const { port } = server.address() as net.AddressInfo;
  return { url: `ws://127.0.0.1:${String(port)}/`, connection };
}

/** Decodes one masked client frame at the start of `bytes`, if it is all there. */
function decodeClientFrame(bytes: Buffer): { frame: Frame; length: number } | undefined {
  if (bytes.length < 2) return undefined;
  const byte0 = bytes[0]!;
  const byte1 = bytes[1]!;
  assert.ok((byte1 & 0x80) !== 0, 'a client frame must be masked');
  let length = byte1 & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  if (bytes.length < offset + 4 + length) return undefined;
  const key = bytes.subarray(offset, offset + 4);
  const payload = Buffer.from(bytes.subarray(offset + 4, offset + 4 + length));
  for (let index = 0; index < payload.length; index++) payload[index]! ^= key[index % 4]!;
  return {
    frame: { fin: (byte0 & 0x80) !== 0, rsv: (byte0 >> 4) & 7, opcode: byte0 & 0x0f, payload },
    length: offset + 4 + length,
  };
}

/** An unmasked server frame of any size; `rsv` as the bits 0b100 (RSV1), 0b010, 0b001. */
export function serverFrame(opcode: number, payload: Buffer, fin = true, rsv = 0): Buffer {
  const first = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | opcode;
  let header: Buffer;
  if (payload.length < 126) {
    header = Buffer.from([first, payload.length]);
  } else if (payload.length < 0x10000) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  return Buffer.concat([header, payload]);
}

/** A close frame with a code and reason. */
export function closeFrame(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return serverFrame(0x8, payload);
}

/** The close code of the client's close frame, if it sent one. */
export function closeCodeOf(frames: readonly Frame[]): number | undefined {
  const close = frames.find((frame) => frame.opcode === 0x8);
  if (close === undefined) return undefined;
  return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
}
