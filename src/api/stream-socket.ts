// The implementation StreamWebSocket and ServerStreamWebSocket share: a byte-stream inputStream over
// every received message, and an outputStream whose writes are binary messages. Both streams are made on
// first use (deferred-input.ts, WebSocketBase.madeOutput): an idle connection costs no Readable or Writable.

import type { ConnectionOptions, WebSocketConnection } from '../connection/connection.js';
import type { WebSocketError } from '../errors.js';
import { Opcode } from '../protocol/opcodes.js';
import { DeferredInput } from './deferred-input.js';
import type { InputStream } from './input-stream.js';
import { OutputStream } from './output-stream.js';
import { WebSocketBase, type UpgradedSocket } from './websocket-base.js';

export abstract class StreamSocket extends WebSocketBase {
  private readonly input = new DeferredInput();

  /**
   * The payload bytes of every received data message, in order, in sections as frames arrive. A text
   * message's UTF-8 bytes are delivered as they are (as in WinRT). Ends when the peer closes cleanly;
   * fails (WebSocketError) on a protocol violation, a lost connection, or a local close.
   */
  get inputStream(): InputStream {
    return this.input.stream;
  }

  /** Each write is sent as one binary message; a write completes once the socket can take more. */
  get outputStream(): OutputStream {
    return this.madeOutput(makeOutputStream);
  }

  /** @internal */
  protected override open(opened: UpgradedSocket, options: ConnectionOptions): void {
    this.bindConnection(opened, this.input, options);
  }

  /** @internal Each write to the output stream is sent as one binary message. */
  protected override bindOutput(stream: OutputStream, connection: WebSocketConnection): void {
    stream.bind(
      () => (payload) => () => connection.sendMessage(Opcode.Binary, payload),
      () => this.flushRefusal(),
      () => connection.endOutput(),
    );
  }

  /** @internal */
  protected override failStreams(error: WebSocketError): void {
    this.input.finish(error);
  }
}

function makeOutputStream(): OutputStream {
  return new OutputStream();
}
