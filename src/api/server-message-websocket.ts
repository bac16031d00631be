// ServerMessageWebSocket: the message socket a WebSocketListener in 'message' mode hands out.

import type { ConnectionOptions } from '../connection/connection.js';
import { ServerMessageWebSocketControl } from './control.js';
import { MessageSocket, type MessageSettings } from './message-socket.js';
import type { UpgradedSocket } from './websocket-base.js';

export class ServerMessageWebSocket extends MessageSocket {
  /** messageType (of what is sent) and receiveMode, at any time. */
  readonly control = new ServerMessageWebSocketControl();

  /** Not for applications: WebSocketListener creates it for an upgraded connection. */
  constructor(opened: UpgradedSocket, options: ConnectionOptions) {
    super();
    this.open(opened, options);
  }

  /** @internal */
  protected override get messageSettings(): MessageSettings {
    return this.control;
  }
}
