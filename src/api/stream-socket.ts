// The implementation StreamWebSocket and ServerStreamWebSocket share: a byte-stream inputStream over
// every received message, and an outputStream whose writes are binary messages. Both streams are made on
// first use: until then received data (or the end of it) waits in a small sink, not in a Readable.

import type { Buffer } from 'node:buffer';

import type { ConnectionOptions, WebSocketConnection } from '../connection/connection.js';
import type { IncomingSink, ReadControl } from '../connection/incoming-sink.js';
import { operationCanceled, type WebSocketError } from '../errors.js';
import { Opcode } from '../protocol/opcodes.js';
import { InputStream } from './input-stream.js';
import type { OutputStream } from './output-stream.js';
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

  protected override open(opened: UpgradedSocket, options: ConnectionOptions): void {
    this.bindConnection(opened, this.input, options);
  }

  protected override bindOutput(output: OutputStream, connection: WebSocketConnection): void {
    output.bind(
      (payload) => () => connection.sendMessage(Opcode.Binary, payload),
      () => this.flushRefusal(),
    );
  }

  protected override onCloseRequested(): void {
    if (this.connection !== undefined) return;
    const canceled = operationCanceled('the WebSocket was closed before it connected');
    this.input.finish(canceled);
    this.outputCanceled = canceled;
    this.madeOutputStream?.destroy(canceled);
  }
}

/** The connection's sink until the InputStream is asked for: made then, or at the first data. */
class DeferredInput implements IncomingSink {
  private made: InputStream | undefined;
  private control: ReadControl | undefined;
  /** Reading ended before the stream was made: how. */
  private end: { error: WebSocketError | undefined } | undefined;

  get stream(): InputStream {
    if (this.made === undefined) {
      const stream = new InputStream();
      // Failures reach readers through their calls and 'closed'; never as an unhandled 'error'.
      stream.on('error', ignore);
      if (this.control !== undefined) stream.attach(this.control);
      if (this.end !== undefined) stream.finish(this.end.error);
      this.made = stream;
    }
    return this.made;
  }

  attach(control: ReadControl): void {
    this.control = control;
    this.made?.attach(control);
  }

  messageStart(): void {
    // Message boundaries are not part of a byte stream.
  }

  messageData(section: Buffer): boolean {
    return this.stream.messageData(section);
  }

  messageEnd(): boolean {
    // As above: the byte stream's own watermarks govern.
    return true;
  }

  finish(error: WebSocketError | undefined): void {
    if (this.made !== undefined) this.made.finish(error);
    else this.end ??= { error };
  }
}

function ignore(): void {
  // See DeferredInput.stream.
}
