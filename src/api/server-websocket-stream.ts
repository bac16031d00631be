// ServerWebSocketStream: the WebSocketStream shape a WebSocketListener in 'webstream' mode hands out for
// each accepted connection — `opened` (already resolved), `closed` and close(), as on the client.

import type { WebStreamSocket } from './web-stream-socket.js';
import { WebSocketStreamBase } from './websocket-stream-base.js';

export class ServerWebSocketStream<
  MessageStreams extends boolean = boolean,
> extends WebSocketStreamBase<MessageStreams> {
  /** @internal Created by WebSocketListener for an accepted connection. */
  constructor(socket: WebStreamSocket, messageStreams: MessageStreams) {
    super(socket, messageStreams);
    this.start();
  }
}
