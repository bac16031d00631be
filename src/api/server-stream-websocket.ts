// ServerStreamWebSocket: the byte-stream socket a WebSocketListener hands out for each connection.

import type { ConnectionOptions } from '../connection/connection.js';
import { StreamSocket } from './stream-socket.js';
import type { UpgradedSocket } from './websocket-base.js';

export class ServerStreamWebSocket extends StreamSocket {
  /** Not for applications: WebSocketListener creates it for an upgraded connection. */
  constructor(opened: UpgradedSocket, options: ConnectionOptions) {
    super();
    this.open(opened, options);
  }
}
