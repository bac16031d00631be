// The scripted raw-socket peer of the conformance suite, Autobahn's fuzzing role in both directions: a
// masked client that does the HTTP upgrade itself (against our server), and a TCP server that answers
// the upgrade itself (against our client). It sends exact bytes (frames built here, independently of the
// library) and decodes strictly what the testee sends back, recording every frame, the close frame, the
// TCP FIN, and how many of its own writes were done when each thing arrived. With permessage-deflate
// negotiated (categories 12 and 13) it compresses what it sends and inflates what it receives with
// node:zlib directly, context takeover included.

import { Buffer, isUtf8 } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import zlib from 'node:zlib';

import type { FrameSpec, Split } from './cases.js';

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Which end of the connection the peer plays: a client masks what it sends, a server does not. */
export type PeerRole = 'client' | 'server';

/** Something the testee sent, as the peer saw it. */
export type PeerEvent =
  | { kind: 'message'; opcode: 1 | 2; payload: Buffer; frames: number; at: number; writesDone: number }
  | { kind: 'ping' | 'pong'; payload: Buffer; at: number; writesDone: number }
  | {
      kind: 'close';
      code: number | null;
      reason: string;
      at: number;
      writesDone: number;
      /** It came after the close frame sendClose() sent (the peer ending a case), not before. */
      afterOurClose: boolean;
    };

// ---- encoding -------------------------------------------------------------------------------------------

export interface EncodedFrames {
  bytes: Buffer;
  /** Where each frame starts in `bytes`. */
  frameStarts: number[];
  /** The header length of each frame. */
  headerLengths: number[];
}

/** Encodes frames as `role` sends them (masked from a client), honouring each frame's overrides. */
export function encodeFrames(frames: readonly FrameSpec[], role: PeerRole): EncodedFrames {
  const parts: Buffer[] = [];
  const frameStarts: number[] = [];
  const headerLengths: number[] = [];
  let offset = 0;
  for (const frame of frames) {
    const { header, body } = encodeFrame(frame, role);
    frameStarts.push(offset);
    headerLengths.push(header.length);
    parts.push(header, body);
    offset += header.length + body.length;
  }
  return { bytes: Buffer.concat(parts), frameStarts, headerLengths };
}

function encodeFrame(frame: FrameSpec, role: PeerRole): { header: Buffer; body: Buffer } {
  const payload = frame.payload ?? Buffer.alloc(0);
  const masked = (role === 'client') !== (frame.wrongMask ?? false);
  const length = frame.declaredLength ?? BigInt(payload.length);
  const form = frame.lengthForm ?? (length < 126n ? 7 : length < 0x10000n ? 16 : 64);
  const lengthBytes = form === 7 ? 0 : form === 16 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0));
  header[0] = ((frame.fin ?? true) ? 0x80 : 0) | (((frame.rsv ?? 0) & 0x7) << 4) | (frame.opcode & 0x0f);
  const maskBit = masked ? 0x80 : 0;
  if (form === 7) {
    header[1] = maskBit | Number(length);
  } else if (form === 16) {
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(length, 2);
  }
  if (!masked) return { header, body: payload };
  const key = randomBytes(4);
  key.copy(header, 2 + lengthBytes);
  return { header, body: mask(payload, key) };
}

function mask(payload: Buffer, key: Buffer): Buffer {
  const body = Buffer.allocUnsafe(payload.length);
  for (let index = 0; index < payload.length; index++) body[index] = payload[index]! ^ key[index & 3]!;
  return body;
}

/** Cuts encoded frames into the TCP writes a split asks for. */
export function splitWrites(encoded: EncodedFrames, split: Split): Buffer[] {
  const { bytes, frameStarts, headerLengths } = encoded;
  const cutAt = (positions: number[]): Buffer[] => {
    const writes: Buffer[] = [];
    let from = 0;
    for (const position of [...positions].sort((a, b) => a - b)) {
      if (position <= from || position >= bytes.length) continue;
      writes.push(bytes.subarray(from, position));
      from = position;
    }
    writes.push(bytes.subarray(from));
    return writes;
  };
  switch (split.kind) {
    case 'whole':
      return [bytes];
    case 'frames':
      return cutAt(frameStarts.slice(1));
    case 'chop': {
      const writes: Buffer[] = [];
      for (let offset = 0; offset < bytes.length; offset += split.size) {
        writes.push(bytes.subarray(offset, offset + split.size));
      }
      return writes;
    }
    case 'header-octets':
      return cutAt(Array.from({ length: headerLengths[0] ?? 0 }, (_unused, index) => index + 1));
    case 'at':
      return cutAt(
        split.points.map(
          ({ frame, payloadOffset }) => frameStarts[frame]! + headerLengths[frame]! + payloadOffset,
        ),
      );
  }
}

/** A close frame's payload: no code when `code` is null. */
export function encodeClose(code: number | null, role: PeerRole): Buffer {
  const payload = Buffer.alloc(code === null ? 0 : 2);
  if (code !== null) payload.writeUInt16BE(code, 0);
  return encodeFrames([{ opcode: 0x8, payload }], role).bytes;
}

// ---- strict decoding of what the testee sends ------------------------------------------------------------

/** May a testee send this close code? (§7.4; 1012–1014 registered since.) */
function isSendableCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

interface FrameSink {
  frame(fin: boolean, opcode: number, payload: Buffer, rsv1: boolean): void;
  violation(message: string): void;
}

/** An incremental frame decoder that checks every §5 rule a sender must follow. */
class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  constructor(
    /** True when the testee is a client: its frames must be masked (§5.1). */
    private readonly expectMasked: boolean,
    private readonly sink: FrameSink,
    /** permessage-deflate was negotiated: RSV1 may be set (RawPeer checks where). */
    private readonly allowRsv1: boolean,
  ) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 2) return;
      const head = this.peek(Math.min(this.buffered, 14));
      const byte0 = head[0]!;
      const byte1 = head[1]!;
      const masked = (byte1 & 0x80) !== 0;
      const lengthField = byte1 & 0x7f;
      const extended = lengthField === 126 ? 2 : lengthField === 127 ? 8 : 0;
      const headerLength = 2 + extended + (masked ? 4 : 0);
      if (head.length < headerLength) return;
      let length: number;
      if (lengthField === 126) {
        length = head.readUInt16BE(2);
        if (length < 126) {
          this.fail(`non-minimal 16-bit length ${length}`);
          return;
        }
      } else if (lengthField === 127) {
        const big = head.readBigUInt64BE(2);
        if (big >= 0x8000_0000_0000_0000n) {
          this.fail('64-bit length with the most significant bit set');
          return;
        }
        if (big < 0x10000n) {
          this.fail(`non-minimal 64-bit length ${big}`);
          return;
        }
        if (big > 0x1_0000_0000n) {
          this.fail(`implausible frame length ${big}`);
          return;
        }
        length = Number(big);
      } else {
        length = lengthField;
      }
      if (this.buffered < headerLength + length) return;
      const frame = this.take(headerLength + length);
      const opcode = byte0 & 0x0f;
      const reserved = byte0 & (this.allowRsv1 ? 0x30 : 0x70);
      if (reserved !== 0) {
        this.fail(`reserved bits set (0x${reserved.toString(16)})`);
        return;
      }
      if (masked !== this.expectMasked) {
        this.fail(this.expectMasked ? 'the client sent an unmasked frame' : 'the server sent a masked frame');
        return;
      }
      let payload = frame.subarray(headerLength);
      if (masked) payload = mask(payload, frame.subarray(headerLength - 4, headerLength));
      this.sink.frame((byte0 & 0x80) !== 0, opcode, payload, (byte0 & 0x40) !== 0);
    }
  }

  private fail(message: string): void {
    this.failed = true;
    this.sink.violation(message);
  }

  /** The first `count` buffered bytes, without consuming them. */
  private peek(count: number): Buffer {
    if (this.chunks[0]!.length >= count) return this.chunks[0]!.subarray(0, count);
    // Join only the few leading chunks that hold the header.
    let joinedCount = 0;
    let have = 0;
    while (have < count) have += this.chunks[joinedCount++]!.length;
    const joined = Buffer.concat(this.chunks.slice(0, joinedCount));
    this.chunks.splice(0, joinedCount, joined);
    return joined.subarray(0, count);
  }

  private take(count: number): Buffer {
    const first = this.chunks[0]!;
    let result: Buffer;
    if (first.length >= count) {
      result = first.subarray(0, count);
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
    } else {
      const parts: Buffer[] = [];
      let need = count;
      while (need > 0) {
        const chunk = this.chunks[0]!;
        if (chunk.length <= need) {
          parts.push(chunk);
          this.chunks.shift();
          need -= chunk.length;
        } else {
          parts.push(chunk.subarray(0, need));
          this.chunks[0] = chunk.subarray(need);
          need = 0;
        }
      }
      result = Buffer.concat(parts);
    }
    this.buffered -= count;
    return result;
  }
}

// ---- permessage-deflate -------------------------------------------------------------------------------------

/** RFC 7692 §7.2.1: the end of a sync flush, stripped by the sender and appended by the receiver. */
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** Enough of the past for any window (2^15 bytes). */
const HISTORY = 1 << 15;

/** One direction's compression: its window, and whether its context is reset after each message. */
interface DeflateSide {
  windowBits: number;
  noContextTakeover: boolean;
}

/**
 * The agreement in a server's Sec-WebSocket-Extensions answer, read independently of the library: the
 * peer's side and the testee's. A window or context parameter the answer leaves out takes the value the
 * client offered in its first offer (a promise of its own), else 15 and context takeover.
 */
export function readAgreement(
  answer: string,
  offer: string,
  peerRole: PeerRole,
): { peer: DeflateSide; testee: DeflateSide } | undefined {
  const params = (header: string): Map<string, string | undefined> => {
    const [element = ''] = header.split(',');
    const [name, ...rest] = element.split(';').map((part) => part.trim());
    const map = new Map<string, string | undefined>();
    if (name !== 'permessage-deflate') return map;
    map.set('', undefined);
    for (const param of rest) {
      const [key = '', value] = param.split('=').map((part) => part.trim());
      map.set(key, value);
    }
    return map;
  };
  const agreed = params(answer);
  if (!agreed.has('')) return undefined;
  const offered = params(offer);
  const side = (who: 'server' | 'client'): DeflateSide => ({
    windowBits: Number(
      agreed.get(`${who}_max_window_bits`) ??
        (who === 'client' ? offered.get('client_max_window_bits') : undefined) ??
        15,
    ),
    noContextTakeover:
      agreed.has(`${who}_no_context_takeover`) ||
      (who === 'client' && offered.has('client_no_context_takeover')),
  });
  const server = side('server');
  const client = side('client');
  return peerRole === 'client' ? { peer: client, testee: server } : { peer: server, testee: client };
}

/**
 * The peer's compressor and decompressor. Context takeover is done with zlib's dictionary: the last
 * 32 KiB of what went through each way, which is what a compressor's window holds.
 */
export class PeerCompression {
  private sent: Buffer = Buffer.alloc(0);
  private received: Buffer = Buffer.alloc(0);

  constructor(
    private readonly own: DeflateSide,
    private readonly testee: DeflateSide,
  ) {}

  /** A message's compressed payload (marker stripped). */
  compress(message: Buffer): Buffer {
    const history = this.own.noContextTakeover ? undefined : this.sent;
    const output = zlib.deflateRawSync(message, {
      windowBits: this.own.windowBits,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      ...(history !== undefined && history.length > 0 ? { dictionary: history } : {}),
    });
    this.sent = recent(this.sent, message);
    const body = output.subarray(0, output.length - 4);
    return body.length === 0 ? Buffer.of(0) : body;
  }

  /** A compressed message of the testee, inflated; throws on invalid data. */
  inflate(payload: Buffer): Buffer {
    const history = this.testee.noContextTakeover ? undefined : this.received;
    const output = zlib.inflateRawSync(Buffer.concat([payload, SYNC_MARKER]), {
      windowBits: this.testee.windowBits,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      ...(history !== undefined && history.length > 0 ? { dictionary: history } : {}),
    });
    this.received = recent(this.received, output);
    return output;
  }
}

function recent(history: Buffer, more: Buffer): Buffer {
  const joined = history.length === 0 ? more : Buffer.concat([history, more]);
  return Buffer.from(joined.subarray(Math.max(0, joined.length - HISTORY)));
}

// ---- the peer ---------------------------------------------------------------------------------------------

/** The payload of the peer's barrier ping: no case sends it. */
const BARRIER_PAYLOAD = Buffer.from('raw-peer barrier');

interface Waiter {
  check: () => boolean;
  resolve: (met: boolean) => void;
  timer: NodeJS.Timeout;
}

/** One upgraded connection, driven by the script and recording what the testee does. */
export class RawPeer {
  readonly events: PeerEvent[] = [];
  /** Frames or behaviour of the testee that break RFC 6455. */
  readonly violations: string[] = [];
  /** Writes the script has made so far (counted from 1). */
  writesDone = 0;
  /** The testee's FIN (or reset) arrived. */
  tcpEnded = false;
  /** When the peer itself ended its side (ms since the connection was upgraded). */
  endedByUs: number | undefined;
  /** When the testee's FIN arrived. */
  tcpEndedAt: number | undefined;
  socketClosed = false;
  socketError: string | undefined;
  /** A close frame went out: from the script, or from sendClose(). */
  closeSent = false;
  /** sendClose() sent one. */
  private ourCloseSent = false;
  /** The payload of the barrier ping whose pong is awaited, and whether it came. */
  private barrierPayload: Buffer | undefined;
  private barrierAnswered = false;

  private readonly started = performance.now();
  private readonly decoder: FrameDecoder;
  private waiters: Waiter[] = [];
  private message: { opcode: 1 | 2; parts: Buffer[]; frames: number; compressed: boolean } | undefined;
  private closeEvent: Extract<PeerEvent, { kind: 'close' }> | undefined;

  constructor(
    readonly socket: net.Socket,
    readonly role: PeerRole,
    leftover: Buffer,
    /** permessage-deflate, when the handshake agreed on it. */
    readonly compression?: PeerCompression,
  ) {
    this.decoder = new FrameDecoder(
      role === 'server',
      {
        frame: (fin, opcode, payload, rsv1) => {
          this.onFrame(fin, opcode, payload, rsv1);
        },
        violation: (message) => {
          this.violations.push(message);
          this.notify();
        },
      },
      compression !== undefined,
    );
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
    });
    socket.on('end', () => {
      this.tcpEnded = true;
      this.tcpEndedAt = this.now();
      this.notify();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.socketError ??= error.code ?? error.message;
      this.tcpEnded = true;
      this.tcpEndedAt ??= this.now();
      this.notify();
    });
    socket.on('close', () => {
      this.socketClosed = true;
      this.tcpEnded = true;
      this.tcpEndedAt ??= this.now();
      this.notify();
    });
    if (leftover.length > 0) this.decoder.push(leftover);
  }

  /** Milliseconds since the upgrade. */
  now(): number {
    return performance.now() - this.started;
  }

  /** The testee's close frame, once it arrived. */
  get close(): Extract<PeerEvent, { kind: 'close' }> | undefined {
    return this.closeEvent;
  }

  /** True once the testee sent its close frame or dropped the connection: the script stops. */
  isTesteeGone(): boolean {
    return this.closeEvent !== undefined || this.tcpEnded;
  }

  /** Data messages and pongs received before the close frame. */
  get replies(): PeerEvent[] {
    return this.events.filter((event) => event.kind === 'message' || event.kind === 'pong');
  }

  /** Writes one piece of the script; waits for the socket to drain when it is full. */
  async write(bytes: Buffer): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.writesDone++;
    if (this.socket.write(bytes)) return;
    await this.waitFor(() => !this.socket.writableNeedDrain || this.socket.destroyed, 60_000, 'drain');
  }

  /**
   * An ordering barrier: a ping of our own, which the testee answers after everything it does about
   * what we sent before. Resolves true once its pong came back, false if the testee went away first or
   * `timeoutMs` passed. The pong is not recorded among the events, and the ping is not a script write.
   */
  barrier(timeoutMs: number): Promise<boolean> {
    if (this.closeSent || this.socket.destroyed || this.socket.writableEnded) return Promise.resolve(false);
    this.barrierPayload = BARRIER_PAYLOAD;
    this.barrierAnswered = false;
    this.socket.write(encodeFrames([{ opcode: 0x9, payload: BARRIER_PAYLOAD }], this.role).bytes);
    return this.waitFor(() => this.barrierAnswered || this.isTesteeGone(), timeoutMs).then(
      () => this.barrierAnswered,
    );
  }

  /**
   * One message compressed as negotiated, RSV1 on its first frame, cut into frames of `fragmentSize`
   * compressed octets (0: one frame), as this peer sends it.
   */
  compressedMessage(opcode: number, message: Buffer, fragmentSize: number): Buffer {
    if (this.compression === undefined) throw new Error('permessage-deflate was not negotiated');
    const payload = this.compression.compress(message);
    const step = fragmentSize === 0 ? payload.length : fragmentSize;
    const frames: FrameSpec[] = [];
    for (let offset = 0; offset === 0 || offset < payload.length; offset += step) {
      const end = Math.min(offset + step, payload.length);
      frames.push({
        opcode: offset === 0 ? opcode : 0x0,
        rsv: offset === 0 ? 4 : 0,
        fin: end === payload.length,
        payload: payload.subarray(offset, end),
      });
    }
    return encodeFrames(frames, this.role).bytes;
  }

  /** Sends a close frame (once). */
  sendClose(code: number | null): void {
    if (this.closeSent || this.socket.destroyed || this.socket.writableEnded) return;
    this.closeSent = true;
    this.ourCloseSent = true;
    this.socket.write(encodeClose(code, this.role));
  }

  /** Ends our side of the TCP connection (FIN). */
  end(): void {
    if (this.endedByUs !== undefined) return;
    this.endedByUs = this.now();
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Resolves true as soon as `check()` holds (re-checked on every event), false after `timeoutMs`.
   * `drain` also re-checks on the socket's 'drain'.
   */
  waitFor(check: () => boolean, timeoutMs: number, drain?: 'drain'): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onDrain = (): void => {
        this.notify();
      };
      if (drain !== undefined) this.socket.on('drain', onDrain);
      const finish = (met: boolean): void => {
        if (drain !== undefined) this.socket.off('drain', onDrain);
        resolve(met);
      };
      const waiter: Waiter = {
        check,
        resolve: finish,
        timer: setTimeout(
          () => {
            this.waiters = this.waiters.filter((other) => other !== waiter);
            finish(check());
          },
          Math.max(0, timeoutMs),
        ),
      };
      this.waiters.push(waiter);
    });
  }

  private notify(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const waiter of waiting) {
      if (waiter.check()) {
        clearTimeout(waiter.timer);
        waiter.resolve(true);
      } else {
        this.waiters.push(waiter);
      }
    }
  }

  private onFrame(fin: boolean, opcode: number, payload: Buffer, rsv1: boolean): void {
    const at = this.now();
    const writesDone = this.writesDone;
    if (this.closeEvent !== undefined) {
      this.violations.push(`a frame (opcode ${opcode}) after the close frame`);
      this.notify();
      return;
    }
    if (rsv1 && opcode !== 0x1 && opcode !== 0x2) {
      this.violations.push(`RSV1 on a frame that does not start a data message (opcode ${opcode})`);
    }
    if (opcode >= 0x8) {
      if (!fin) this.violations.push(`a fragmented control frame (opcode ${opcode})`);
      if (payload.length > 125) this.violations.push(`a control frame of ${payload.length} bytes`);
    }
    switch (opcode) {
      case 0x0:
      case 0x1:
      case 0x2: {
        if (opcode === 0x0 && this.message === undefined) {
          this.violations.push('a continuation frame with no message open');
          break;
        }
        if (opcode !== 0x0 && this.message !== undefined) {
          this.violations.push('a new data frame inside a fragmented message');
          break;
        }
        this.message ??= { opcode: opcode as 1 | 2, parts: [], frames: 0, compressed: rsv1 };
        this.message.parts.push(Buffer.from(payload));
        this.message.frames++;
        if (fin) {
          const { opcode: messageOpcode, parts, frames, compressed } = this.message;
          this.message = undefined;
          let whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
          if (compressed) {
            try {
              whole = this.compression!.inflate(whole);
            } catch (error) {
              this.violations.push(`a compressed message that does not inflate: ${String(error)}`);
              break;
            }
          }
          if (messageOpcode === 1 && !isUtf8(whole))
            this.violations.push('a text message that is not valid UTF-8');
          this.events.push({
            kind: 'message',
            opcode: messageOpcode,
            payload: whole,
            frames,
            at,
            writesDone,
          });
        }
        break;
      }
      case 0x9:
        this.events.push({ kind: 'ping', payload: Buffer.from(payload), at, writesDone });
        // Answer as any endpoint would; the testee does not ping in this suite.
        if (!this.closeSent && !this.socket.destroyed && !this.socket.writableEnded) {
          this.socket.write(encodeFrames([{ opcode: 0xa, payload: Buffer.from(payload) }], this.role).bytes);
        }
        break;
      case 0xa:
        if (this.barrierPayload?.equals(payload) === true) {
          this.barrierPayload = undefined;
          this.barrierAnswered = true;
          break;
        }
        this.events.push({ kind: 'pong', payload: Buffer.from(payload), at, writesDone });
        break;
      case 0x8: {
        let code: number | null = null;
        let reason = '';
        if (payload.length === 1) this.violations.push('a close frame with a one-byte payload');
        if (payload.length >= 2) {
          code = payload.readUInt16BE(0);
          if (!isSendableCloseCode(code))
            this.violations.push(`a close frame with code ${code}, which may not be sent`);
          const reasonBytes = payload.subarray(2);
          if (!isUtf8(reasonBytes)) this.violations.push('a close reason that is not valid UTF-8');
          reason = reasonBytes.toString('utf8');
        }
        this.closeEvent = { kind: 'close', code, reason, at, writesDone, afterOurClose: this.ourCloseSent };
        this.events.push(this.closeEvent);
        break;
      }
      default:
        this.violations.push(`a frame with reserved opcode ${opcode}`);
    }
    this.notify();
  }
}

// ---- handshakes -------------------------------------------------------------------------------------------

/** Reads an HTTP head (up to the blank line); returns it and the bytes after it. */
async function readHead(socket: net.Socket, timeoutMs: number): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no HTTP head within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      cleanup();
      socket.pause();
      resolve({ head: buffered.subarray(0, end).toString('latin1'), rest: buffered.subarray(end + 4) });
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error('the connection closed during the opening handshake'));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
}

function header(head: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:[ \\t]*(.*?)[ \\t]*$`, 'im').exec(head);
  return match?.[1];
}

function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + ACCEPT_GUID)
    .digest('base64');
}

/**
 * Connects to our server as a raw client, performs the upgrade by hand (offering `extensions`, if any),
 * returns the peer.
 */
export async function connectRawClient(
  port: number,
  path: string,
  timeoutMs: number,
  extensions?: string,
): Promise<RawPeer> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (extensions === undefined ? '' : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
      '\r\n',
  );
  try {
    const { head, rest } = await readHead(socket, timeoutMs);
    const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
    if (status !== '101') throw new Error(`the upgrade was answered with ${head.split('\r\n')[0] ?? '?'}`);
    if (header(head, 'sec-websocket-accept') !== acceptFor(key))
      throw new Error('wrong Sec-WebSocket-Accept');
    if (header(head, 'upgrade')?.toLowerCase() !== 'websocket') throw new Error('no Upgrade: websocket');
    const agreement = readAgreement(
      header(head, 'sec-websocket-extensions') ?? '',
      extensions ?? '',
      'client',
    );
    if (extensions !== undefined && agreement === undefined)
      throw new Error('permessage-deflate was declined');
    const compression =
      agreement === undefined ? undefined : new PeerCompression(agreement.peer, agreement.testee);
    const peer = new RawPeer(socket, 'client', rest, compression);
    socket.resume();
    return peer;
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** A raw TCP server that answers upgrades by hand and hands each connection out by its request path. */
export class RawServerHub {
  private readonly pending = new Map<
    string,
    { resolve: (peer: RawPeer) => void; reject: (error: Error) => void; extensions: string | undefined }
  >();
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(): Promise<RawServerHub> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const hub = new RawServerHub(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (socket) => {
      hub.accept(socket);
    });
    return hub;
  }

  /**
   * The connection the testee will make to `path`, once its upgrade is answered (with `extensions`, if
   * given and the testee offered permessage-deflate).
   */
  expect(path: string, timeoutMs: number, extensions?: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(path);
        reject(new Error(`the client did not connect within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(path, {
        extensions,
        resolve: (peer) => {
          clearTimeout(timer);
          resolve(peer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    readHead(socket, 5_000).then(
      ({ head, rest }) => {
        const path = /^GET (\S+) HTTP\/1\.1/.exec(head)?.[1] ?? '';
        const waiting = this.pending.get(path);
        this.pending.delete(path);
        const key = header(head, 'sec-websocket-key');
        const problems: string[] = [];
        if (header(head, 'upgrade')?.toLowerCase() !== 'websocket') problems.push('no Upgrade: websocket');
        if (!/\bupgrade\b/i.test(header(head, 'connection') ?? '')) problems.push('no Connection: Upgrade');
        if (header(head, 'sec-websocket-version') !== '13') problems.push('no Sec-WebSocket-Version: 13');
        if (key === undefined || Buffer.from(key, 'base64').length !== 16)
          problems.push('no valid Sec-WebSocket-Key');
        if (waiting === undefined || key === undefined || problems.length > 0) {
          socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
          waiting?.reject(new Error(`bad opening handshake: ${problems.join(', ')}`));
          return;
        }
        const offer = header(head, 'sec-websocket-extensions') ?? '';
        const answer =
          waiting.extensions !== undefined && offer.includes('permessage-deflate')
            ? waiting.extensions
            : undefined;
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n` +
            (answer === undefined ? '' : `Sec-WebSocket-Extensions: ${answer}\r\n`) +
            '\r\n',
        );
        const agreement = answer === undefined ? undefined : readAgreement(answer, offer, 'server');
        const compression =
          agreement === undefined ? undefined : new PeerCompression(agreement.peer, agreement.testee);
        const peer = new RawPeer(socket, 'server', rest, compression);
        socket.resume();
        waiting.resolve(peer);
      },
      () => {
        socket.destroy();
      },
    );
  }
}
