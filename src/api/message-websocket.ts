// MessageWebSocket (WinRT Windows.Networking.Sockets.MessageWebSocket): the client message socket, for
// UTF-8 and binary messages, whole or in pieces, and as streams.

import {
  ClientConnector,
  type ConnectAsyncOptions,
  type ServerCustomValidationHandler,
} from './client-connector.js';
import { operationCanceled } from '../errors.js';
import { MessageWebSocketControl } from './control.js';
import { MessageSocket, type MessageReceivedHandler, type MessageSettings } from './message-socket.js';
import type { WebSocketClosedEventArgs, CloseReceivedHandler } from './websocket-base.js';

/* eslint-disable @typescript-eslint/no-unsafe-declaration-merging -- the interface types the class's events, as @types/node does for its own emitters */
export interface MessageWebSocket {
  on(event: 'serverCustomValidationRequested', listener: ServerCustomValidationHandler): this;
  on(event: 'newListener', listener: (event: string | symbol) => void): this;
  on(event: 'messageReceived', listener: MessageReceivedHandler): this;
  on(event: 'closed', listener: (args: WebSocketClosedEventArgs) => void): this;
  on(event: 'closeReceived', listener: CloseReceivedHandler): this;
  once(event: 'serverCustomValidationRequested', listener: ServerCustomValidationHandler): this;
  once(event: 'messageReceived', listener: MessageReceivedHandler): this;
  once(event: 'closed', listener: (args: WebSocketClosedEventArgs) => void): this;
  once(event: 'closeReceived', listener: CloseReceivedHandler): this;
  off(event: 'serverCustomValidationRequested', listener: ServerCustomValidationHandler): this;
  off(event: 'messageReceived', listener: MessageReceivedHandler): this;
  off(event: 'closed', listener: (args: WebSocketClosedEventArgs) => void): this;
  off(event: 'closeReceived', listener: CloseReceivedHandler): this;
}

export class MessageWebSocket extends MessageSocket {
  /** Settings: messageType and receiveMode at any time, the others before connectAsync. */
  readonly control = new MessageWebSocketControl();

  private readonly connector = new ClientConnector((error) => {
    this.endUnconnected(operationCanceled('the WebSocket did not connect', error));
  });

  /** @internal */
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
    const opened = await this.connector.connect(uri, this.control, { noDelay: true }, options, this);
    this.open(opened, ClientConnector.connectionOptions(this.control));
  }

  /** @internal */
  protected override onCloseRequested(): void {
    this.connector.cancel();
  }
}
