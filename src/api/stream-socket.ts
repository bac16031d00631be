// The implementation StreamWebSocket and ServerStreamWebSocket share: a byte-stream inputStream over
// every received message, and an outputStream whose writes are binary messages. Both streams are made on
// first use (deferred-streams.ts): an idle connection costs no Readable or Writable.

import type { ConnectionOptions } from '../connection/connection.js';
import type { WebSocketError } from '../errors.js';
import { Opcode } from '../protocol/opcodes.js';
import { DeferredInput, DeferredOutput } from './deferred-streams.js';
import type { InputStream } from './input-stream.js';
import { OutputStream } from './output-stream.js';
import { WebSocketBase, type UpgradedSocket } from './websocket-base.js';

export abstract class StreamSocket extends WebSocketBase {
  private readonly input = new DeferredInput();
  private readonly output = new DeferredOutput(() => new OutputStream());

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
    return this.output.stream;
  }

  /** @internal */
  protected override open(opened: UpgradedSocket, options: ConnectionOptions): void {
    const connection = this.bindConnection(opened, this.input, options);
    this.output.bind((stream) => {
      stream.bind(
        () => (payload) => () => connection.sendMessage(Opcode.Binary, payload),
        () => this.flushRefusal(),
        () => connection.endOutput(),
      );
    });
  }

  /** @internal */
  protected override whenOutputWritten(): Promise<void> | undefined {
    return this.output.madeStream?.whenWritten();
  }

  /** @internal */
  protected override failStreams(error: WebSocketError): void {
    this.input.finish(error);
    this.output.fail(error);
  }
}
