// One side of a transfer (bench/transfer.ts) for each contender: ours, ws and raw node:net TCP, each
// connected, sending and receiving in two ways: the tuned path (one awaited write after the other,
// 'data'/'message' listeners) and the way the contender's users write it (ours: the README's pipeline()
// into outputStream and for await / readAsync over inputStream; ws: send() with a bufferedAmount check
// and 'message'; TCP: pipeline() into the socket and for await over it).

import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type { RawData, WebSocket as WsSocket } from 'ws';

import type { ServerStreamWebSocket, StreamWebSocket } from '../../src/index.js';
import { checkWsMasking, HOST, MiB, type ContenderId } from './processes.js';

/**
 * How the receiver reads. 'events': ours inputStream.on('data'), TCP socket.on('data'). 'iterate':
 * `for await (const section of inputStream)` (TCP: of the socket). 'read-async': ours
 * `inputStream.readAsync(buffer, buffer.length, InputStreamOptions.Partial)` into one reused buffer until
 * a 0-length result (TCP: for await). ws always reads its 'message' events, as its users do.
 */
export type ReceiveStyle = 'events' | 'iterate' | 'read-async';

export interface ReceiveOptions {
  style: ReceiveStyle;
  /** The reused buffer's size for 'read-async'. */
  readBufferBytes: number;
}

/** What ws users wait for before sending more: bufferedAmount at or above this. */
export const WS_HIGH_WATER_MARK = MiB;

/** One open connection, whatever the contender. */
export interface Connection {
  /** The tuned path: sends a chunk (one message where there are messages); resolves when the next may go. */
  write(chunk: Buffer): Promise<void>;
  /** The users' path: sends everything the source produces, each chunk one message where there are any. */
  stream(source: Readable): Promise<void>;
  /** Starts reading: `onData` gets each section's length, and whether it ended a message. */
  receive(options: ReceiveOptions, onData: (length: number, messageEnded: boolean) => void): void;
  /** Whether receive() reports message ends (ws delivers whole messages). */
  readonly countsMessages: boolean;
}

export interface Endpoint {
  /** Binds a port (reported to onListening) and resolves with the first connection. */
  serve(onListening: (port: number) => void): Promise<Connection>;
  connect(port: number): Promise<Connection>;
}

export type Fail = (error: unknown) => void;

async function oursEndpoint(fail: Fail): Promise<Endpoint> {
  const { InputStreamOptions, StreamWebSocket, WebSocketListener } = await import('../../src/index.js');
  const wrap = (socket: StreamWebSocket | ServerStreamWebSocket): Connection => ({
    async write(chunk) {
      await socket.outputStream.writeAsync(chunk);
    },
    async stream(source) {
      await pipeline(source, socket.outputStream, { end: false });
    },
    receive(options, onData) {
      const input = socket.inputStream;
      const ended = (): void => {
        fail(new Error('the input stream ended'));
      };
      if (options.style === 'events') {
        input.on('data', (section: Buffer) => {
          onData(section.length, false);
        });
        input.on('error', fail);
        input.on('end', ended);
        return;
      }
      const read = async (): Promise<void> => {
        if (options.style === 'iterate') {
          for await (const section of input) onData(section.length, false);
        } else {
          const buffer = Buffer.allocUnsafe(options.readBufferBytes);
          for (;;) {
            const view = await input.readAsync(buffer, buffer.length, InputStreamOptions.Partial);
            if (view.length === 0) break;
            onData(view.length, false);
          }
        }
      };
      read().then(ended, fail);
    },
    countsMessages: false,
  });
  return {
    async serve(onListening) {
      const listener = new WebSocketListener();
      const connection = new Promise<Connection>((resolve) => {
        listener.once('connectionReceived', ({ socket }) => {
          resolve(wrap(socket));
        });
      });
      await listener.bindServiceNameAsync(0, HOST);
      const port = listener.information.localPort;
      if (port === null) throw new Error('the listener has no port');
      onListening(port);
      return connection;
    },
    async connect(port) {
      const socket = new StreamWebSocket();
      await socket.connectAsync(`ws://${HOST}:${String(port)}/`);
      return wrap(socket);
    },
  };
}

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data.byteLength;
}

async function wsEndpoint(native: boolean, fail: Fail): Promise<Endpoint> {
  const { WebSocket, WebSocketServer } = await import('ws');
  checkWsMasking(native);
  // 0 lifts each limit: ws (8.23) refuses messages over 100 MiB, over 16 384 fragments or over 262 144
  // buffered socket chunks by default, and the one-message workload exceeds the first.
  const limits = { maxPayload: 0, maxFragments: 0, maxBufferedChunks: 0, perMessageDeflate: false };
  const wrap = (socket: WsSocket): Connection => {
    socket.on('error', fail);
    const send = (chunk: Buffer): Promise<void> =>
      new Promise((resolve, reject) => {
        socket.send(chunk, { binary: true }, (error) => {
          // Node hands write callbacks null, not undefined, on success.
          if (error instanceof Error) reject(error);
          else resolve();
        });
      });
    const sendOrFail = (error?: Error): void => {
      if (error instanceof Error) fail(error);
    };
    return {
      write: send,
      async stream(source) {
        for await (const chunk of source) {
          // Below the mark, send and go on; above it, wait until this send has reached the socket.
          if (socket.bufferedAmount < WS_HIGH_WATER_MARK)
            socket.send(chunk as Buffer, { binary: true }, sendOrFail);
          else await send(chunk as Buffer);
        }
      },
      receive(_options, onData) {
        socket.on('message', (data: RawData) => {
          onData(rawLength(data), true);
        });
      },
      countsMessages: true,
    };
  };
  return {
    async serve(onListening) {
      const server = new WebSocketServer({ host: HOST, port: 0, ...limits });
      server.on('error', fail);
      const connection = new Promise<Connection>((resolve) => {
        server.once('connection', (socket) => {
          resolve(wrap(socket));
        });
      });
      await once(server, 'listening');
      onListening((server.address() as AddressInfo).port);
      return connection;
    },
    async connect(port) {
      const socket = new WebSocket(`ws://${HOST}:${String(port)}/`, limits);
      const connection = wrap(socket);
      await once(socket, 'open');
      return connection;
    },
  };
}

function tcpEndpoint(fail: Fail): Endpoint {
  const wrap = (socket: net.Socket): Connection => {
    socket.setNoDelay(true);
    socket.on('error', fail);
    return {
      async write(chunk) {
        if (!socket.write(chunk)) await once(socket, 'drain');
      },
      async stream(source) {
        await pipeline(source, socket, { end: false });
      },
      receive(options, onData) {
        if (options.style === 'events') {
          socket.on('data', (chunk: Buffer) => {
            onData(chunk.length, false);
          });
          return;
        }
        const read = async (): Promise<void> => {
          for await (const chunk of socket) onData((chunk as Buffer).length, false);
        };
        read().then(() => {
          fail(new Error('the socket ended'));
        }, fail);
      },
      countsMessages: false,
    };
  };
  return {
    async serve(onListening) {
      const server = net.createServer();
      server.on('error', fail);
      const connection = new Promise<Connection>((resolve) => {
        server.once('connection', (socket) => {
          resolve(wrap(socket));
        });
      });
      server.listen(0, HOST);
      await once(server, 'listening');
      onListening((server.address() as AddressInfo).port);
      return connection;
    },
    async connect(port) {
      const socket = net.connect(port, HOST);
      const connection = wrap(socket);
      await once(socket, 'connect');
      return connection;
    },
  };
}

/** Only the contender's own code is loaded, so that each process's RSS is its own. */
export function loadEndpoint(contender: ContenderId, fail: Fail): Promise<Endpoint> {
  switch (contender) {
    case 'ours':
      return oursEndpoint(fail);
    case 'ws-native':
      return wsEndpoint(true, fail);
    case 'ws-js':
      return wsEndpoint(false, fail);
    case 'tcp':
      return Promise.resolve(tcpEndpoint(fail));
  }
}
