// Must compile: the public API as the README uses it, under strict, exactOptionalPropertyTypes and
// noUncheckedIndexedAccess, against the published dist/*.d.ts. `Exactly` checks that a type is what it
// says, so an `any` (which would pass a plain assignment) fails here.
import { Buffer } from 'node:buffer';
import type http from 'node:http';

import {
  InputStreamOptions,
  MessageWebSocket,
  ServerMessageWebSocket,
  SocketMessageType,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
  webErrorStatusName,
  type ListenerMode,
  type ServerStreamWebSocket,
  type UpgradeRefusal,
  type WebSocketIncomingMessage,
} from 'stream-websocket';

type Exactly<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<A, B>(exact: Exactly<A, B>): void {
  void exact;
}

export async function streams(ws: StreamWebSocket): Promise<void> {
  for await (const section of ws.inputStream) expectType<typeof section, Buffer>(true);
  const read = await ws.inputStream.readAsync(new Uint8Array(16), 16, InputStreamOptions.Partial);
  expectType<typeof read, Buffer>(true);
  expectType<Awaited<ReturnType<typeof ws.outputStream.writeAsync>>, number>(true);
}

export async function messages(ws: MessageWebSocket | ServerMessageWebSocket): Promise<void> {
  await ws.outputStream.writeAsync(Buffer.from('50%'), { messageType: SocketMessageType.Utf8 });
  await ws.outputStream.writeAsync(Buffer.from([1]), {});
  await ws.send('text');
  await ws.send(new Uint8Array(1), SocketMessageType.Binary);
  for await (const message of ws.messages()) {
    expectType<typeof message, WebSocketIncomingMessage>(true);
    expectType<typeof message.messageType, SocketMessageType>(true);
    for await (const section of message) expectType<typeof section, Buffer>(true);
  }
}

export function listeners(): void {
  const streamListener = new WebSocketListener({ supportedProtocols: ['files.v1'] });
  streamListener.on('connectionReceived', ({ socket, request }) => {
    expectType<typeof socket, ServerStreamWebSocket>(true);
    expectType<typeof request, http.IncomingMessage>(true);
  });
  const messageListener = new WebSocketListener({ mode: 'message' });
  for (const socket of messageListener.clients) expectType<typeof socket, ServerMessageWebSocket>(true);
  expectType<typeof streamListener.clients, ReadonlySet<ServerStreamWebSocket>>(true);
  messageListener.on('connectionReceived', ({ socket }) => {
    expectType<typeof socket, ServerMessageWebSocket>(true);
  });
}

export function verification(): WebSocketListener<ListenerMode>[] {
  const refusal: UpgradeRefusal = { status: 429, headers: { 'Retry-After': '30' } };
  return [
    new WebSocketListener({
      verifyRequest: async (request) => {
        await Promise.resolve();
        if (request.headers.cookie === undefined)
          return { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } };
        if (request.url === '/banned') {
          return { status: 403, headers: { 'Content-Type': 'application/json' }, body: '{"error":"banned"}' };
        }
        if (request.url === '/bytes') return { status: 500, body: new Uint8Array(1) };
        if (request.url === '/busy') return refusal;
      },
    }),
    new WebSocketListener({ mode: 'message', verifyRequest: (request) => request.url !== '/no' }),
    new WebSocketListener({ verifyRequest: () => undefined }),
    new WebSocketListener({
      verifyRequest: () => {
        // Nothing returned: accepted.
      },
    }),
  ];
}

export function errors(error: unknown): string {
  const status = WebSocketError.getStatus(error);
  expectType<typeof status, WebErrorStatus>(true);
  return status === WebErrorStatus.CannotConnect ? 'is the server up?' : webErrorStatusName(status);
}
