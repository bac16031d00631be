// The implementation MessageWebSocket and ServerMessageWebSocket share: whole messages and fragments
// out, and three ways in — 'messageReceived' events (WinRT, whole or in pieces, with backpressure from
// async handlers), messages() (one Readable per message), and openMessage() (one Writable per message).

import { Buffer } from 'node:buffer';
import type { Writable } from 'node:stream';

import type { ConnectionOptions, WebSocketConnection } from '../connection/connection.js';
import { WebSocketIncomingMessage } from '../connection/incoming-message.js';
import { IncomingMessageQueue, type WholeMessage } from '../connection/message-queue.js';
import { OutgoingMessageStream } from '../connection/outgoing-message-stream.js';
import type { OutgoingMessage } from '../connection/outgoing-message.js';
import {
  closedError,
  illegalMethodCall,
  invalidArgument,
  toWebSocketError,
  WebErrorStatus,
  type WebSocketError,
} from '../errors.js';
import { CloseCode } from '../protocol/close.js';
import { opcodeOf, SocketMessageType } from '../protocol/opcodes.js';
import { isValidUtf8, Utf8Validator } from '../protocol/utf8.js';
import { MessageWebSocketReceiveMode } from './enums.js';
import { MessageWebSocketMessageReceivedEventArgs } from './message-received-event-args.js';
import { MessageOutputStream } from './message-output-stream.js';
import type { MessageMaker, OutputStream } from './output-stream.js';
import { WebSocketBase, type UpgradedSocket, type CloseReceivedHandler } from './websocket-base.js';

/* eslint-disable @typescript-eslint/no-unsafe-declaration-merging -- the interface types the class's events, as @types/node does for its own emitters */

export type MessageReceivedHandler = (args: MessageWebSocketMessageReceivedEventArgs) => void | Promise<void>;

export interface MessageSettings {
  messageType: SocketMessageType;
  receiveMode: MessageWebSocketReceiveMode;
}

export interface MessageSocket {
  on(event: 'newListener', listener: (event: string | symbol) => void): this;
  on(event: 'messageReceived', listener: MessageReceivedHandler): this;
  on(event: 'closed', listener: (args: { code: number; reason: string }) => void): this;
  on(event: 'closeReceived', listener: CloseReceivedHandler): this;
  once(event: 'messageReceived', listener: MessageReceivedHandler): this;
  once(event: 'closed', listener: (args: { code: number; reason: string }) => void): this;
  once(event: 'closeReceived', listener: CloseReceivedHandler): this;
  off(event: 'messageReceived', listener: MessageReceivedHandler): this;
  off(event: 'closed', listener: (args: { code: number; reason: string }) => void): this;
  off(event: 'closeReceived', listener: CloseReceivedHandler): this;
}

const EMPTY = Buffer.alloc(0);

/**
 * The largest message taken whole (FullMessage mode) while control.maxMessageSize is not set: 16 MiB.
 * A larger one closes the connection with 1009. Messages that stream (messages(), PartialMessage) are
 * unlimited unless maxMessageSize is set.
 */
export const DEFAULT_WHOLE_MESSAGE_LIMIT = 16 * 1024 * 1024;

export abstract class MessageSocket extends WebSocketBase {
  private readonly queue = new IncomingMessageQueue();
  private consumer: 'messageReceived' | 'messages()' | undefined;
  private pumping = false;
  /** messageReceived was raised for a message the connection's failure cut short. */
  private failureRaised = false;
  /** A message taken while the last messageReceived listener went away: the next listener gets it. */
  private held: WebSocketIncomingMessage | WholeMessage | undefined;
  /** The message that sendNonfinalFrameAsync started, until sendFinalFrameAsync ends it. */
  private fragmented:
    { message: OutgoingMessage; type: SocketMessageType; utf8: Utf8Validator | undefined } | undefined;

  /** Each write is sent as one whole message, of the type it chooses or else of control.messageType. */
  get outputStream(): MessageOutputStream {
    return this.madeOutput(makeMessageOutputStream);
  }

  constructor() {
    super();
    this.on('newListener', (event: string | symbol) => {
      if (event !== 'messageReceived' || this.pumping) return;
      this.claim('messageReceived');
      this.pumping = true;
      // The listener is added right after this event: start on the next tick, when it is there.
      process.nextTick(() => {
        this.pumpEvents().catch(ignore);
      });
    });
  }

  /** @internal The settings the socket reads for each message sent and received. */
  protected abstract get messageSettings(): MessageSettings;

  /** @internal */
  protected override open(opened: UpgradedSocket, options: ConnectionOptions): void {
    const limit = options.maxMessageSize ?? Infinity;
    this.queue.limitWholeMessages(limit === Infinity ? DEFAULT_WHOLE_MESSAGE_LIMIT : limit);
    this.bindConnection(opened, this.queue, options);
  }

  /** @internal Each write to the output stream is sent as one whole message. */
  protected override bindOutput(stream: OutputStream, connection: WebSocketConnection): void {
    stream.bind(
      (messageType) => this.wholeMessageMaker(connection, messageType),
      () => this.flushRefusal(),
      () => connection.endOutput(),
    );
  }

  protected override failStreams(error: WebSocketError): void {
    this.queue.finish(error);
  }

  /**
   * The received messages, in order, each a Readable of its sections as frames arrive: a message of any
   * size moves through in bounded memory. Ends after the peer's close frame; throws (WebSocketError) when
   * the connection fails. Moving on to the next message discards what was not read of the previous one.
   */
  messages(): AsyncIterableIterator<WebSocketIncomingMessage> {
    this.claim('messages()');
    return this.iterateMessages();
  }

  /**
   * A Writable that sends one message of `type` (default control.messageType): each chunk a fragment,
   * end() the final frame, with backpressure from the socket. Destroying it before end() fails the
   * connection (1011) rather than let a truncated message look complete.
   */
  openMessage(type: SocketMessageType = this.messageSettings.messageType): Writable {
    const problem = messageTypeProblem(type);
    if (problem !== undefined) throw problem;
    const connection = this.requireConnection();
    const message = connection.openMessage(opcodeOf(type));
    const stream = new OutgoingMessageStream(message, type === SocketMessageType.Utf8);
    stream.on('error', ignore);
    return stream;
  }

  /**
   * Sends one whole message, as `ws`'s send() does: a string as a text message, bytes as `messageType`
   * (default control.messageType). The type holds for this message only. Resolves once the socket can
   * take more.
   */
  async send(data: string | Uint8Array, messageType?: SocketMessageType): Promise<void> {
    const text = typeof data === 'string';
    await this.outputStream.writeAsync(text ? Buffer.from(data) : data, {
      messageType: messageType ?? (text ? SocketMessageType.Utf8 : undefined),
    });
  }

  /** Sends a frame of a message that more frames will follow (FIN clear); the type is control.messageType. */
  sendNonfinalFrameAsync(data: Uint8Array): Promise<number> {
    return this.sendFragment(data, false);
  }

  /** Sends the last frame of a message (FIN set), or a whole message when no fragment preceded it. */
  sendFinalFrameAsync(data: Uint8Array): Promise<number> {
    return this.sendFragment(data, true);
  }

  private async sendFragment(data: Uint8Array, fin: boolean): Promise<number> {
    const connection = this.requireConnection();
    const type = this.fragmented?.type ?? this.messageSettings.messageType;
    // Tried on a copy: a rejected fragment is not sent, so it must not count.
    const validator =
      this.fragmented?.utf8 ?? (type === SocketMessageType.Utf8 ? new Utf8Validator() : undefined);
    const trial = validator?.clone();
    if (trial !== undefined && (!trial.write(data) || (fin && !trial.end()))) {
      throw invalidArgument('a text message must be valid UTF-8');
    }
    const message = this.fragmented?.message ?? connection.openMessage(opcodeOf(type));
    this.fragmented = fin ? undefined : { message, type, utf8: trial };
    await message
      .write(Buffer.from(data.buffer, data.byteOffset, data.length), fin)
      .catch((error: unknown) => {
        throw toWebSocketError(error);
      });
    return data.length;
  }

  /**
   * Fixes, when a write is made, the type of its whole message: the one it chose, else the one in force
   * now. A text message must be valid UTF-8.
   */
  private wholeMessageMaker(
    connection: WebSocketConnection,
    messageType: SocketMessageType | undefined,
  ): MessageMaker {
    const type = messageType ?? this.messageSettings.messageType;
    return (payload) => {
      const problem = messageTypeProblem(type);
      if (problem !== undefined) return problem;
      if (this.fragmented !== undefined) {
        return illegalMethodCall(
          'a message begun with sendNonfinalFrameAsync is still open: end it with sendFinalFrameAsync first',
        );
      }
      if (type === SocketMessageType.Utf8 && !isValidUtf8(payload)) {
        return invalidArgument('a text message must be valid UTF-8');
      }
      return () => connection.sendMessage(opcodeOf(type), payload);
    };
  }

  private requireConnection(): WebSocketConnection {
    if (this.connection === undefined) throw illegalMethodCall('the WebSocket is not connected yet');
    // close() may wait for earlier writes; nothing new starts meanwhile.
    if (this.isCloseRequested) throw this.flushRefusal() ?? closedError('the WebSocket is closed');
    return this.connection;
  }

  /** One way of taking messages per socket: events and iteration would steal from each other. */
  private claim(consumer: 'messageReceived' | 'messages()'): void {
    if (this.consumer !== undefined && this.consumer !== consumer) {
      throw illegalMethodCall(`messages are already taken through ${this.consumer}`);
    }
    this.consumer = consumer;
  }

  /** The queue's messages as an iterator: one promise per message (a generator would add two more). */
  private iterateMessages(): AsyncIterableIterator<WebSocketIncomingMessage> {
    const queue = this.queue;
    const end: IteratorReturnResult<undefined> = { value: undefined, done: true };
    let over = false;
    const iterator: AsyncIterableIterator<WebSocketIncomingMessage> = {
      next: () => {
        if (over) return Promise.resolve(end);
        return queue.next().then(
          (message): IteratorResult<WebSocketIncomingMessage, undefined> => {
            if (message !== null) return { value: message, done: false };
            over = true;
            return end;
          },
          (error: unknown) => {
            over = true;
            throw error;
          },
        );
      },
      return: () => {
        over = true;
        return Promise.resolve(end);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /**
   * Raises messageReceived for each message, awaiting async handlers before reading on. Stops while no
   * listener is attached (after once(), or off()), keeping the message it took for the next listener.
   */
  private async pumpEvents(): Promise<void> {
    for (;;) {
      let message: WebSocketIncomingMessage | WholeMessage | null;
      try {
        // Complete messages already waiting are taken at once: no promise per message.
        message = this.held ?? this.takeReadyWhole() ?? (await this.takeNext());
      } catch (error) {
        // WinRT raises the event for a message that could not be received; its getters throw. Once: a
        // message cut short by the failure has raised it already.
        const failure = toWebSocketError(error);
        if (failure.status !== WebErrorStatus.OperationCanceled && !this.failureRaised) {
          await this.dispatch(
            new MessageWebSocketMessageReceivedEventArgs(this.messageSettings.messageType, true, failure),
          );
        }
        return;
      }
      this.held = undefined;
      if (message === null) return;
      if (this.listenerCount('messageReceived') === 0) {
        this.held = message;
        this.pumping = false;
        return;
      }
      if (message instanceof WebSocketIncomingMessage) {
        await this.deliverPieces(message);
      } else {
        // Full mode promises the whole message in one buffer: this is where its sections are joined.
        const { messageType, sections, failure } = message;
        if (failure !== undefined) this.failureRaised = true;
        const data = failure ?? (sections.length === 1 ? sections[0]! : Buffer.concat(sections));
        const handled = this.dispatch(new MessageWebSocketMessageReceivedEventArgs(messageType, true, data));
        if (handled !== undefined) await handled;
      }
    }
  }

  /** In full mode, the next message if it is waiting complete; else undefined. */
  private takeReadyWhole(): WholeMessage | undefined {
    if (this.messageSettings.receiveMode === MessageWebSocketReceiveMode.PartialMessage) return undefined;
    return this.queue.takeCompleteWhole();
  }

  /** Full mode takes each message whole; partial mode as a stream of its sections. */
  private takeNext(): Promise<WebSocketIncomingMessage | WholeMessage | null> {
    return this.messageSettings.receiveMode === MessageWebSocketReceiveMode.PartialMessage
      ? this.queue.next()
      : this.queue.nextWhole();
  }

  /** Each section as it arrives; one is held back so that the last can say it is the last. */
  private async deliverPieces(message: WebSocketIncomingMessage): Promise<void> {
    const decoder = message.messageType === SocketMessageType.Utf8 ? new TextDecoder() : undefined;
    const piece = (data: Buffer, complete: boolean): MessageWebSocketMessageReceivedEventArgs =>
      new MessageWebSocketMessageReceivedEventArgs(
        message.messageType,
        complete,
        data,
        decoder?.decode(data, { stream: !complete }),
      );
    let held: Buffer | undefined;
    try {
      for await (const section of message) {
        if (held !== undefined) await this.dispatch(piece(held, false));
        held = section;
      }
    } catch (error) {
      this.failureRaised = true;
      await this.dispatch(
        new MessageWebSocketMessageReceivedEventArgs(message.messageType, false, toWebSocketError(error)),
      );
      return;
    }
    await this.dispatch(piece(held ?? EMPTY, true));
  }

  /**
   * Calls every messageReceived handler; returns a promise when any of them returned one (that is how a
   * handler holds back further reading), undefined when all of them are done. A handler that throws
   * closes the socket with 1011 and is rethrown.
   */
  private dispatch(args: MessageWebSocketMessageReceivedEventArgs): Promise<void> | undefined {
    // rawListeners: a once() wrapper removes itself when called.
    const handlers = this.rawListeners('messageReceived') as MessageReceivedHandler[];
    let pending: PromiseLike<void>[] | undefined;
    let thrown: { error: unknown } | undefined;
    for (const handler of handlers) {
      try {
        const result = handler.call(this, args);
        if (isPromiseLike(result)) (pending ??= []).push(result);
      } catch (error) {
        thrown ??= { error };
      }
    }
    if (thrown !== undefined) {
      // As with the first rejection: the others' outcomes no longer matter.
      for (const promise of pending ?? []) void Promise.resolve(promise).catch(ignore);
      this.handlerFailed(thrown.error, args);
      return undefined;
    }
    if (pending === undefined) return undefined;
    return Promise.all(pending).then(
      () => undefined,
      (error: unknown) => {
        this.handlerFailed(error, args);
      },
    );
  }

  private handlerFailed(error: unknown, args: MessageWebSocketMessageReceivedEventArgs): void {
    // A getter rethrowing the message's own failure is the expected way to learn of it: not a crash.
    if (error === args.failure) return;
    this.goAway(CloseCode.InternalError, 'a messageReceived handler failed');
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** A message type from JavaScript callers may be anything: only Binary and Utf8 are. */
function messageTypeProblem(type: number): WebSocketError | undefined {
  return type === SocketMessageType.Binary || type === SocketMessageType.Utf8
    ? undefined
    : invalidArgument(`messageType must be SocketMessageType.Binary (0) or Utf8 (1), not ${String(type)}`);
}

function isPromiseLike(value: unknown): value is PromiseLike<void> {
  return typeof (value as PromiseLike<void> | undefined)?.then === 'function';
}

function ignore(): void {
  // Failures reach the application through its calls, its iterators and 'closed'.
}

function makeMessageOutputStream(): MessageOutputStream {
  return new MessageOutputStream();
}
