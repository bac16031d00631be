// The `ws` library as a reference testee (`npm run conformance -- --testee ws`): an echo server and an
// echo client in the message variant. It calibrates the suite's judgement against a library known to pass
// Autobahn: where ws and stream-websocket differ, the report shows whose behaviour the verdict reflects.

import type { Buffer } from 'node:buffer';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

import { WebSocket, WebSocketServer } from 'ws';

import { PathRegistry, type Testee, type TesteeConnection } from './testee.js';

function echo(socket: WebSocket, closed: (info: { code: number; reason: string }) => void): void {
  socket.on('message', (data, isBinary) => {
    socket.send(data as Buffer, { binary: isBinary });
  });
  socket.on('error', () => undefined);
  socket.on('close', (code, reason) => {
    closed({ code, reason: reason.toString() });
  });
}

export const wsTestee: Testee = {
  name: 'ws',
  variants: ['message'],
  reportsCloseCode: false,
  async startServer() {
    const registry = new PathRegistry();
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
    await once(server, 'listening');
    server.on('connection', (socket, request) => {
      const closed = new Promise<{ code: number; reason: string }>((resolve) => {
        echo(socket, resolve);
      });
      registry.arrive(request.url ?? '', {
        closed,
        errors: [],
        abort: () => {
          socket.terminate();
        },
      });
    });
    return {
      port: (server.address() as AddressInfo).port,
      connection: (path) => registry.connection(path),
      forget: (path) => {
        registry.forget(path);
      },
      stop: () =>
        new Promise<void>((resolve) => {
          for (const client of server.clients) client.terminate();
          server.close(() => {
            resolve();
          });
        }),
    };
  },
  async connectClient(_variant, url): Promise<TesteeConnection> {
    const socket = new WebSocket(url, { perMessageDeflate: true });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      echo(socket, resolve);
    });
    await once(socket, 'open');
    return {
      closed,
      errors: [],
      abort: () => {
        socket.terminate();
      },
    };
  },
};
