// The write path of one connection: frames onto the socket, masked when we are the client (large masked
// frames built in pooled buffers), all frames of one tick corked into one writev. It keeps the write
// contract: a frame's promise settles only once the socket no longer needs the caller's buffer — at
// once when the payload was copied (masked, or small enough to sit behind its header), else when the
// socket has written it out.

import { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';

import { frameHeaderLength, writeFrameHeader } from '../protocol/frame-writer.js';
import { maskInto } from '../protocol/mask.js';
import { nextMaskKey } from '../protocol/mask-keys.js';
import type { Opcode } from '../protocol/opcodes.js';
import type { BandwidthMeter } from './bandwidth-meter.js';
import { FrameBufferPool } from './frame-buffer-pool.js';

/**
 * What a socket buffers before writes wait, unless configured otherwise: Node's default (16 KiB) makes a
 * 64 KiB write wait for the kernel each time; a quarter megabyte lets writes queue up and go out together.
 */
export const DEFAULT_OUTBOUND_BUFFER_SIZE = 256 * 1024;
/** Payloads up to this size are copied behind their header and written as one buffer. */
const COALESCE_LIMIT = 16 * 1024;
/** A client masks into copies; a larger write is sent as frames of at most this size. */
export const MASKED_FRAME_LIMIT = 1024 * 1024;
/** Masked frames from this payload size on are built in pooled buffers (shared by all connections). */
const POOLED_FRAME_PAYLOAD = 64 * 1024;
const MAX_FRAME_HEADER = 14;
/** The key of the frame being written: used up (copied into the header, applied) before write returns. */
const frameMaskKey = new Uint8Array(4);
const maskedFrameBuffers = new FrameBufferPool(MASKED_FRAME_LIMIT + MAX_FRAME_HEADER, 8);
const RESOLVED = Promise.resolve();

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

export class FrameOutput {
  private drainWaiters: Waiter[] | undefined;
  /** Writes of callers' own buffers that the socket has not written out yet (made at the first). */
  private takeWaiters: Set<Waiter> | undefined;
  /** Frames written in one tick go out together: the socket is corked until the next tick. */
  private corked = false;
  /** Bytes of every frame handed to the socket. */
  private written = 0;
  /** Bytes of this tick's frames, counted by the meter once, when they go out. */
  private tickBytes = 0;

  private static readonly uncork = (output: FrameOutput): void => {
    output.corked = false;
    output.meter.sent(output.tickBytes);
    output.tickBytes = 0;
    output.socket.uncork();
  };

  constructor(
    private readonly socket: Duplex,
    private readonly masking: boolean,
    private readonly meter: BandwidthMeter,
  ) {}

  /** The socket holds more than its buffer size: writers should wait for drain. */
  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** Bytes the socket has passed on to the OS so far: written minus what it still buffers. */
  get passedOn(): number {
    return this.written - this.socket.writableLength;
  }

  /** Bytes written that the socket still buffers (the OS has not taken them yet). */
  get buffered(): number {
    return this.socket.writableLength;
  }

  /**
   * Writes one whole frame (`rsv1`: the first frame of a compressed message). Returns undefined when the
   * payload was copied (the caller owns it again at once), or a promise that resolves when the socket has
   * written the caller's buffer out (rejects if the socket failed first). `onWritten` runs once the socket
   * has passed the whole frame on.
   */
  write(
    opcode: Opcode,
    fin: boolean,
    payload: Buffer,
    rsv1 = false,
    onWritten?: () => void,
  ): Promise<void> | undefined {
    const maskKey = this.masking ? nextMaskKey(frameMaskKey) : undefined;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(FrameOutput.uncork, this);
    }
    const headerLength = frameHeaderLength(payload.length, maskKey !== undefined);
    const frameLength = headerLength + payload.length;
    let taken: Promise<void> | undefined;
    if (maskKey !== undefined && payload.length >= POOLED_FRAME_PAYLOAD) {
      const buffer = maskedFrameBuffers.take();
      writeFrameHeader(buffer, 0, { fin, rsv1, opcode, payloadLength: payload.length, maskKey });
      maskInto(payload, buffer.subarray(headerLength, frameLength), maskKey);
      this.socket.write(buffer.subarray(0, frameLength), () => {
        maskedFrameBuffers.give(buffer);
        onWritten?.();
      });
    } else if (maskKey !== undefined || payload.length <= COALESCE_LIMIT || this.socket.writableNeedDrain) {
      // Copied: masked, small, or behind other data in a congested socket (where the caller's buffer
      // could otherwise be held for as long as the peer does not read).
      const frame = Buffer.allocUnsafe(frameLength);
      writeFrameHeader(frame, 0, { fin, rsv1, opcode, payloadLength: payload.length, maskKey });
      const body = frame.subarray(headerLength);
      if (maskKey === undefined) body.set(payload);
      else maskInto(payload, body, maskKey);
      this.socket.write(frame, onWritten);
    } else {
      // The caller's buffer itself goes to the socket: it stays theirs only once the socket wrote it.
      const header = Buffer.allocUnsafe(headerLength);
      writeFrameHeader(header, 0, { fin, rsv1, opcode, payloadLength: payload.length });
      this.socket.write(header);
      const takeWaiters = (this.takeWaiters ??= new Set());
      taken = new Promise((resolve, reject) => {
        const waiter = { resolve, reject };
        takeWaiters.add(waiter);
        this.socket.write(payload, (error) => {
          takeWaiters.delete(waiter);
          onWritten?.();
          if (error === null || error === undefined) resolve();
          else reject(error);
        });
      });
    }
    this.written += frameLength;
    this.tickBytes += frameLength;
    if (this.socket.writableNeedDrain) this.meter.sendLimited();
    return taken;
  }

  /** Resolves when the socket can take more. */
  whenDrained(): Promise<void> {
    if (!this.socket.writableNeedDrain) return RESOLVED;
    return new Promise((resolve, reject) => {
      (this.drainWaiters ??= []).push({ resolve, reject });
    });
  }

  /** The socket drained: writers waiting for it go on. */
  drained(): void {
    for (const waiter of this.takeDrainWaiters()) waiter.resolve();
  }

  /** The connection is over for writers (closed, failed): every pending write fails with `error`. */
  failWaiters(error: Error): void {
    for (const waiter of this.takeDrainWaiters()) waiter.reject(error);
    for (const waiter of this.takeWaiters ?? []) waiter.reject(error);
    this.takeWaiters?.clear();
  }

  private takeDrainWaiters(): Waiter[] {
    const waiters = this.drainWaiters ?? [];
    this.drainWaiters = undefined;
    return waiters;
  }
}
