// StreamWebSocket (WinRT Windows.Networking.Sockets.StreamWebSocket): the client byte-stream socket.

import {
  ClientConnector,
  type ConnectAsyncOptions,
  type ServerCustomValidationHandler,
} from './client-connector.js';
import { operationCanceled } from '../errors.js';
import { StreamWebSocketControl } from './control.js';
import { StreamSocket } from './stream-socket.js';
import type { WebSocketClosedEventArgs, CloseReceivedHandler } from './websocket-base.js';

/* eslint-disable @typescript-eslint/no-unsafe-declaration-merging -- the interface types the class's events, as @types/node does for its own emitters */
export interface StreamWebSocket {
  on(event: 'serverCustomValidationRequested', listener: ServerCustomValidationHandler): this;
  on(event: 'closed', listener: (args: WebSocketClosedEventArgs) => void): this;
  on(event: 'closeReceived', listener: CloseReceivedHandler): this;
  once(event: 'serverCustomValidationRequested', listener: ServerCustomValidationHandler): this;
  once(event: 'closed', listener: (args: WebSocketClosedEventArgs) => void): this;
  once(event: 'closeReceived', listener: CloseReceivedHandler): this;
  off(event: 'serverCustomValidationRequested', listener: ServerCustomValidationHandler): this;
  off(event: 'closed', listener: (args: WebSocketClosedEventArgs) => void): this;
  off(event: 'closeReceived', listener: CloseReceivedHandler): this;
}

export class StreamWebSocket extends StreamSocket {
  /** Settings, fixed once connectAsync is called. */
  readonly control = new StreamWebSocketControl();

  private readonly connector = new ClientConnector((error) => {
    this.endUnconnected(operationCanceled('the WebSocket did not connect', error));
  });

  /** Adds a header to the opening handshake; before connectAsync only. */
  setRequestHeader(headerName: string, headerValue: string): void {
    this.connector.setRequestHeader(headerName, headerValue);
  }

  /**
   * Connects to a ws: or wss: URI and performs the opening handshake. Rejects with a WebSocketError:
   * E_INVALIDARG for a bad URI (before any I/O), HostNameNotResolved, CannotConnect, Timeout, the HTTP
   * status of a refused upgrade, OperationCanceled when aborted or closed meanwhile.
   */
  async connectAsync(uri: string | URL, options: ConnectAsyncOptions = {}): Promise<void> {
    const opened = await this.connector.connect(
      uri,
      this.control,
      { noDelay: this.control.noDelay },
      options,
      this,
    );
    this.open(opened, ClientConnector.connectionOptions(this.control));
  }

  /** @internal */
  protected override onCloseRequested(): void {
    this.connector.cancel();
  }
}
