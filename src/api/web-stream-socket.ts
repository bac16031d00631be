// The socket under a WebSocketStream, client or server: it binds the connection to a message queue,
// connects (clients), sends whole messages and opens message writers, and remembers how receiving ended,
// so that the WebSocketStream can tell a clean close from an unclean one as the explainer does.

import type { Buffer } from 'node:buffer';

import type { ConnectionOptions } from '../connection/connection.js';
import { IncomingMessageQueue } from '../connection/message-queue.js';
import { OutgoingMessageStream } from '../connection/outgoing-message-stream.js';
import { illegalMethodCall, operationCanceled, WebErrorStatus, type WebSocketError } from '../errors.js';
import { Opcode, type DataOpcode } from '../protocol/opcodes.js';
import { ClientConnector } from './client-connector.js';
import type { WebSocketControl } from './control.js';
import { DEFAULT_WHOLE_MESSAGE_LIMIT } from './message-socket.js';
import type { ServerCustomValidationHandler } from './client-connector.js';
import {
  WebSocketBase,
  type CloseReceivedHandler,
  type UpgradedSocket,
  type WebSocketClosedEventArgs,
} from './websocket-base.js';

/* eslint-disable @typescript-eslint/no-unsafe-declaration-merging -- the interface types the class's events, as @types/node does for its own emitters */
export interface WebStreamSocket {
  on(event: 'serverCustomValidationRequested', listener: ServerCustomValidationHandler): this;
  on(event: 'closed', listener: (args: WebSocketClosedEventArgs) => void): this;
  on(event: 'closeReceived', listener: CloseReceivedHandler): this;
}

/** The message queue, recording why receiving ended (undefined: the peer's close frame came). */
class RecordingMessageQueue extends IncomingMessageQueue {
  /** Set once receiving ended: with undefined after the peer's close frame, else with the error. */
  outcome: { error: WebSocketError | undefined } | undefined;

  override finish(error: WebSocketError | undefined): void {
    this.outcome = { error };
    super.finish(error);
  }
}

export class WebStreamSocket extends WebSocketBase {
  /** Received messages: whole (nextWhole) or as streams of sections (next). */
  readonly incoming = new RecordingMessageQueue();
  private connector: ClientConnector | undefined;

  /** A server's socket for an accepted connection. */
  static accepted(opened: UpgradedSocket, options: ConnectionOptions): WebStreamSocket {
    const socket = new WebStreamSocket();
    socket.open(opened, options);
    return socket;
  }

  /** A client's connect: the opening handshake with the control's settings and these headers. */
  async connect(
    url: URL,
    control: WebSocketControl,
    headers: readonly (readonly [string, string])[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const connector = new ClientConnector((error) => {
      this.endUnconnected(operationCanceled('the WebSocket did not connect', error));
    });
    this.connector = connector;
    for (const [name, value] of headers) connector.setRequestHeader(name, value);
    // Messages are often small: Nagle's algorithm would delay them.
    const opened = await connector.connect(
      url,
      control,
      { noDelay: true },
      signal === undefined ? {} : { signal },
      this,
    );
    this.open(opened, ClientConnector.connectionOptions(control));
  }

  protected override open(opened: UpgradedSocket, options: ConnectionOptions): void {
    const limit = options.maxMessageSize ?? Infinity;
    this.incoming.limitWholeMessages(limit === Infinity ? DEFAULT_WHOLE_MESSAGE_LIMIT : limit);
    this.bindConnection(opened, this.incoming, options);
  }

  protected override onCloseRequested(): void {
    this.connector?.cancel();
  }

  protected override failStreams(error: WebSocketError): void {
    this.incoming.finish(error);
  }

  /** The peer's close frame has arrived: a close() now would only take the place of its echo. */
  get isCloseReceived(): boolean {
    return this.connection?.isCloseReceived === true;
  }

  /**
   * Whether the connection ended cleanly (read once 'closed' fired): the peer's close frame came and
   * receiving did not fail — a local close() cancelling it is no failure, a message cut short is.
   */
  get closedCleanly(): boolean {
    const outcome = this.incoming.outcome;
    if (outcome === undefined || !this.isCloseReceived) return false;
    return outcome.error === undefined || outcome.error.status === WebErrorStatus.OperationCanceled;
  }

  /** Sends one whole message; resolves once the payload is the caller's again. */
  sendWhole(opcode: DataOpcode, payload: Buffer): Promise<void> {
    if (this.connection === undefined) return Promise.reject(illegalMethodCall('not connected yet'));
    return this.connection.sendMessage(opcode, payload);
  }

  /** A Writable for one message: each chunk a fragment, end() its final frame. */
  openMessage(opcode: DataOpcode): OutgoingMessageStream {
    if (this.connection === undefined) throw illegalMethodCall('not connected yet');
    return new OutgoingMessageStream(this.connection.openMessage(opcode), opcode === Opcode.Text);
  }
}
