// MessageWebSocket (WinRT Windows.Networking.Sockets.MessageWebSocket): the client message socket, for
// UTF-8 and binary messages, whole or in pieces, and as streams.

import { ClientConnector, type ConnectAsyncOptions } from './client-connector.js';
import { MessageWebSocketControl } from './control.js';
import { MessageSocket, type MessageSettings } from './message-socket.js';

export class MessageWebSocket extends MessageSocket {
  /** Settings: messageType and receiveMode at any time, the others before connectAsync. */
  readonly control = new MessageWebSocketControl();

  private readonly connector = new ClientConnector();

  protected override get messageSettings(): MessageSettings {
    return this.control;
  }

  /** Adds a header to the opening handshake; before connectAsync only. */
  setRequestHeader(headerName: string, headerValue: string): void {
    this.connector.setRequestHeader(headerName, headerValue);
  }

  /** Connects to a ws: or wss: URI; the errors are those of StreamWebSocket.connectAsync. */
  async connectAsync(uri: string | URL, options: ConnectAsyncOptions = {}): Promise<void> {
    // Message sockets send small messages too: Nagle's algorithm would delay them.
    const opened = await this.connector.connect(uri, this.control, { noDelay: true }, options);
    this.open(opened, ClientConnector.connectionOptions(this.control));
  }

  protected override onCloseRequested(): void {
    this.connector.cancel();
  }
}
