// The server the WebSocketStream scenario (webstream-scenario.ts) runs against, from Node and from
// Chromium alike: an HTTP server on 127.0.0.1 that serves a blank page (the browser's origin) and hands
// every upgrade to a WebSocketListener in 'webstream' mode. /echo pipes each connection's readable into
// its writable; /flood writes FLOOD_MESSAGES binary messages of 1 MiB as fast as its writable takes them;
// /hold keeps the upgrade request waiting in `authenticate` until the client goes away; /missing is 404.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { WebSocketListener, type ServerWebSocketStream } from '../../src/index.js';
import { Arrivals, MiB } from './peers.js';
import type { Cleanup } from './raw-server.js';
import { untilQuiet } from './until-quiet.js';
import type { ScenarioHooks } from './webstream-scenario.js';
import { within } from './within.js';

export const FLOOD_MESSAGE_SIZE = MiB;
export const FLOOD_MESSAGES = 32;

export interface ScenarioServer {
  /** ws://127.0.0.1:port/ */
  base: string;
  /** http://127.0.0.1:port/, a blank page for the browser. */
  page: string;
  hooks: ScenarioHooks;
}

interface Flood {
  socket: ServerWebSocketStream;
  /** Bytes whose write has resolved. */
  taken: number;
}

export async function scenarioServer(t: Cleanup): Promise<ScenarioServer> {
  const floods = new Arrivals<Flood>();
  const holds = new Arrivals<true>();
  const listener = new WebSocketListener({
    mode: 'webstream',
    supportedProtocols: ['chat.v1', 'chat.v2'],
    authenticate: (request) => {
      if (request.url !== '/hold') return true;
      holds.push(true);
      return new Promise<boolean>((resolve) => {
        request.socket.once('close', () => {
          resolve(false);
        });
      });
    },
  });
  listener.on('connectionReceived', ({ socket, request }) => {
    if (request.url === '/flood') {
      const flood = { socket, taken: 0 };
      floods.push(flood);
      sendFlood(flood).catch(() => undefined);
    } else {
      socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => undefined);
    }
  });
  const http = createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><title>WebSocketStream scenario</title>');
  });
  http.on('upgrade', (request, socket, head: Buffer) => {
    if (request.url === '/missing') socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    else listener.handleUpgrade(request, socket, head);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await within(listener.closeAsync(), 15_000, 'listener.closeAsync()');
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });
  const { port } = http.address() as AddressInfo;
  return {
    base: `ws://127.0.0.1:${port}/`,
    page: `http://127.0.0.1:${port}/`,
    hooks: {
      floodQuiet: async () => {
        const flood = await floods.next(10_000, 'the /flood connection');
        // The server sends until the reader's backpressure stops it (bytesSent unchanged over 5 checks).
        await untilQuiet(() => flood.socket.information.bytesSent, 20, 5);
        return { taken: flood.taken, total: FLOOD_MESSAGES * FLOOD_MESSAGE_SIZE };
      },
      handshakeArrived: () => holds.next(10_000, 'the /hold upgrade request').then(() => undefined),
    },
  };
}

/** Sends the flood through the writable, one awaited write after another. */
async function sendFlood(flood: Flood): Promise<void> {
  const writer = (await flood.socket.opened).writable.getWriter();
  const message = new Uint8Array(FLOOD_MESSAGE_SIZE);
  for (let index = 0; index < FLOOD_MESSAGES; index++) {
    message[0] = index;
    await writer.write(message);
    flood.taken += message.byteLength;
  }
}
