// Endpoints for tests that put one of our sockets opposite a real peer on 127.0.0.1: a WebSocketListener
// whose connections are handed out in order, a `ws` server and client, and collectors of what a `ws`
// peer received. Everything is closed after the test (t.after).

import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

import { WebSocket as WsSocket, WebSocketServer, type RawData } from 'ws';

import {
  WebSocketListener,
  type ListenerMode,
  type ServerMessageWebSocket,
  type ServerSocketOf,
  type WebSocketListenerOptions,
} from '../../src/index.js';
import type { Cleanup } from './raw-server.js';
import { within } from './within.js';

/** Hands out items in arrival order to whoever asks, before or after they arrive. */
export class Arrivals<T> {
  private readonly arrived: T[] = [];
  private readonly waiting: ((item: T) => void)[] = [];

  push(item: T): void {
    const taker = this.waiting.shift();
    if (taker === undefined) this.arrived.push(item);
    else taker(item);
  }

  next(ms = 5000, what = 'the next connection'): Promise<T> {
    const item = this.arrived.shift();
    if (item !== undefined) return Promise.resolve(item);
    return within(new Promise<T>((resolve) => this.waiting.push(resolve)), ms, what);
  }
}

export interface BoundListener<Mode extends ListenerMode> {
  listener: WebSocketListener<Mode>;
  url: string;
  port: number;
  /** The next socket the listener hands out. */
  next: () => Promise<ServerSocketOf<Mode>>;
}

/** A WebSocketListener on 127.0.0.1:0, closed after the test. */
export async function listen<Mode extends ListenerMode = 'stream'>(
  t: Cleanup,
  options: WebSocketListenerOptions<Mode> = {},
): Promise<BoundListener<Mode>> {
  const listener = new WebSocketListener<Mode>(options);
  const sockets = new Arrivals<ServerSocketOf<Mode>>();
  listener.on('connectionReceived', ({ socket }) => {
    sockets.push(socket);
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(() => within(listener.closeAsync(), 15_000, 'listener.closeAsync()'));
  const port = listener.information.localPort ?? 0;
  return { listener, port, url: `ws://127.0.0.1:${String(port)}/`, next: () => sockets.next() };
}

export interface WsServer {
  server: WebSocketServer;
  url: string;
  /** The next connection, once open. */
  next: () => Promise<WsSocket>;
}

/** A `ws` server on 127.0.0.1:0 (maxPayload 1 GiB), closed after the test. */
export async function wsServer(t: Cleanup): Promise<WsServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 2 ** 30 });
  const sockets = new Arrivals<WsSocket>();
  server.on('connection', (socket) => {
    socket.on('error', () => undefined);
    sockets.push(socket);
  });
  await once(server, 'listening');
  t.after(() => {
    for (const client of server.clients) client.terminate();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `ws://127.0.0.1:${String(port)}/`, next: () => sockets.next() };
}

/** A `ws` client, once open; terminated after the test. */
export async function wsClient(t: Cleanup, url: string): Promise<WsSocket> {
  const socket = new WsSocket(url, { maxPayload: 2 ** 30 });
  socket.on('error', () => undefined);
  t.after(() => {
    socket.terminate();
  });
  await within(once(socket, 'open'), 5000, 'the ws client connecting');
  return socket;
}

/** Every data message a `ws` peer receives, as one Buffer each, from now on. */
export class WsMessages {
  readonly messages: Buffer[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly socket: WsSocket) {
    socket.on('message', (data: RawData) => {
      this.messages.push(toBuffer(data));
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  /** Total payload bytes received so far. */
  get bytes(): number {
    return this.messages.reduce((sum, message) => sum + message.length, 0);
  }

  /** Resolves once `condition()` holds (checked on each message); rejects after `ms`. */
  until(condition: () => boolean, ms: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    let check!: () => void;
    const reached = new Promise<void>((resolve) => {
      check = () => {
        if (condition()) resolve();
      };
      this.waiters.add(check);
    });
    return within(reached, ms, what).finally(() => this.waiters.delete(check));
  }

  /** The first `count` messages, once they are all there. */
  async first(count: number, ms = 10_000): Promise<Buffer[]> {
    await this.until(() => this.messages.length >= count, ms, `${String(count)} messages at the ws peer`);
    return this.messages.slice(0, count);
  }
}

/** A `ws` data event's payload as one Buffer. */
export function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** The code of the close frame a `ws` peer received (its 'close' event), within `ms`. */
export async function wsCloseCode(socket: WsSocket, ms = 5000): Promise<number> {
  if (socket.readyState === WsSocket.CLOSED) throw new Error('the ws socket closed before the test listened');
  const [code] = (await within(once(socket, 'close'), ms, 'the ws peer closing')) as [number, Buffer];
  return code;
}

/** Sends a ping from a `ws` peer and resolves when its pong comes back: everything the peer sent before
 * the ping has been read by our side. */
export async function wsRoundTrip(socket: WsSocket, ms = 5000): Promise<void> {
  const pong = once(socket, 'pong');
  socket.ping();
  await within(pong, ms, 'the pong to a ws ping');
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

/**
 * Echoes every whole message with its own type. A message that could not be received (the connection
 * failed) has nothing to echo, and a write the closing connection refuses is dropped.
 */
export function echoMessages(socket: ServerMessageWebSocket): void {
  socket.on('messageReceived', async (event) => {
    let data: Buffer;
    try {
      data = event.getData();
    } catch {
      return;
    }
    await socket.outputStream.writeAsync(data, { messageType: event.messageType }).catch(() => undefined);
  });
}
