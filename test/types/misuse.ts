// Must not compile: each line below a `@ts-expect-error` comment is a mistake the published types
// refuse (tsc fails if one of them compiles). Internals stay out of the .d.ts (reading the member is
// already an error), and data is not `any`.
import {
  MessageWebSocket,
  ServerStreamWebSocket,
  SocketMessageType,
  StreamWebSocket,
  WebSocketListener,
  type MessageWebSocketMessageReceivedEventArgs,
} from 'stream-websocket';
// @ts-expect-error -- ours is WebSocketIncomingMessage: the name is http's
import type { IncomingMessage } from 'stream-websocket';

export type Renamed = IncomingMessage;

export async function internals(
  ws: StreamWebSocket,
  args: MessageWebSocketMessageReceivedEventArgs,
): Promise<void> {
  // @ts-expect-error -- control.lock() is the socket's own
  void ws.control.lock;
  // @ts-expect-error -- control.unlock() is the socket's own
  void ws.control.unlock;
  // @ts-expect-error -- the connection feeds the input stream
  void ws.inputStream.messageData;
  // @ts-expect-error -- the connection ends the input stream
  void ws.inputStream.finish;
  // @ts-expect-error -- the input stream's queue is internal
  void ws.inputStream.pushSection;
  // @ts-expect-error -- the socket binds its output stream
  void ws.outputStream.bind;
  // @ts-expect-error -- the socket fills in its information
  void ws.information.connected;
  // @ts-expect-error -- the sockets read a failed message's error through the getters
  void args.failure;
  const listener = new WebSocketListener();
  for (const socket of listener.clients) {
    // @ts-expect-error -- listener.clients is read-only
    listener.clients.delete(socket);
  }
  // @ts-expect-error -- listener.clients is read-only
  listener.clients.clear();
  // @ts-expect-error -- a refusal needs a status
  new WebSocketListener({ verifyRequest: () => ({ body: 'no' }) });
  // @ts-expect-error -- header values are strings
  new WebSocketListener({ verifyRequest: () => ({ status: 403, headers: { 'Retry-After': 30 } }) });
  // @ts-expect-error -- the listener creates server sockets
  new ServerStreamWebSocket();
  // @ts-expect-error -- a StreamWebSocket sends binary messages only: no per-send type
  await ws.outputStream.writeAsync(new Uint8Array(1), { messageType: SocketMessageType.Utf8 });
  // @ts-expect-error -- the type is a SocketMessageType
  await new MessageWebSocket().outputStream.writeAsync(new Uint8Array(1), { messageType: 'text' });
  for await (const section of ws.inputStream) {
    // @ts-expect-error -- a section is a Buffer, not any
    const wrong: string = section;
    void wrong;
  }
  for await (const message of new MessageWebSocket().messages()) {
    for await (const section of message) {
      // @ts-expect-error -- a section is a Buffer, not any
      const wrong: number = section;
      void wrong;
    }
  }
}
