// The implementation StreamWebSocket and ServerStreamWebSocket share: a byte-stream inputStream over
// every received message, and an outputStream whose writes are binary messages.

import type { ConnectionOptions } from '../connection/connection.js';
import type { WebSocketError } from '../errors.js';
import { Opcode } from '../protocol/opcodes.js';
import { InputStream } from './input-stream.js';
import { OutputStream } from './output-stream.js';
import { WebSocketBase, type UpgradedSocket } from './websocket-base.js';

export abstract class StreamSocket extends WebSocketBase {
  /**
   * The payload bytes of every received data message, in order, in sections as frames arrive. A text
   * message's UTF-8 bytes are delivered as they are (as in WinRT). Ends when the peer closes cleanly;
   * fails (WebSocketError) on a protocol violation, a lost connection, or a local close.
   */
  readonly inputStream = new InputStream();

  /** Each write is sent as one binary message; a write completes once the socket can take more. */
  readonly outputStream = new OutputStream();

  constructor() {
    super();
    // Failures reach readers and writers through their calls and 'closed'; never as an unhandled 'error'.
    this.inputStream.on('error', ignore);
    this.outputStream.on('error', ignore);
  }

  /** @internal */
  protected override open(opened: UpgradedSocket, options: ConnectionOptions): void {
    const connection = this.bindConnection(opened, this.inputStream, options);
    this.outputStream.bind(
      () => (payload) => () => connection.sendMessage(Opcode.Binary, payload),
      () => this.flushRefusal(),
      () => connection.endOutput(),
    );
  }

  /** @internal */
  protected override failStreams(error: WebSocketError): void {
    this.inputStream.finish(error);
    this.outputStream.destroy(error);
  }
}

function ignore(): void {
  // See the constructor.
}
