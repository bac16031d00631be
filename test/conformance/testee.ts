// The library under test, set up the way Autobahn requires of a testee: an echo server (a
// WebSocketListener whose sockets send every message back with the same type) and an echo client
// (MessageWebSocket / StreamWebSocket that echo what they receive), in the message and stream variants.
// A stream socket has no message boundaries: it echoes its inputStream to its outputStream chunk by chunk.

import type { Buffer } from 'node:buffer';

import {
  MessageWebSocket,
  type MessageWebSocketMessageReceivedEventArgs,
  type ServerMessageWebSocket,
  type ServerStreamWebSocket,
  StreamWebSocket,
  type WebSocketClosedEventArgs,
  WebSocketListener,
} from '../../src/index.js';
import type { Variant } from './cases.js';

/** How long our sockets wait for the peer's close frame or FIN (the library's default is 10 s). */
export const TESTEE_CLOSE_TIMEOUT_MS = 3_000;

/** What the suite sees of one testee connection. */
export interface TesteeConnection {
  /** The 'closed' event's arguments, once it fired. */
  readonly closed: Promise<WebSocketClosedEventArgs>;
  /** Errors the testee's API raised where none was expected (e.g. a handler rejected). */
  readonly errors: string[];
  /** Drops the connection without ceremony (cleanup after a timed-out case). */
  abort(): void;
}

interface Echoing {
  on(event: 'closed', listener: (args: WebSocketClosedEventArgs) => void): unknown;
}

function closedPromise(socket: Echoing): Promise<WebSocketClosedEventArgs> {
  return new Promise((resolve) => {
    socket.on('closed', resolve);
  });
}

type MessageEchoSocket = MessageWebSocket | ServerMessageWebSocket;
type StreamEchoSocket = StreamWebSocket | ServerStreamWebSocket;

/** Echoes every message with its type: Autobahn's echo requirement. */
function echoMessages(socket: MessageEchoSocket, errors: string[]): void {
  socket.on('messageReceived', async (event: MessageWebSocketMessageReceivedEventArgs) => {
    let data: Buffer;
    try {
      data = event.getData();
    } catch {
      return; // The message could not be received (the connection failed): nothing to echo.
    }
    socket.control.messageType = event.messageType;
    try {
      await socket.outputStream.writeAsync(data);
    } catch (error) {
      // Writes fail once the connection is closing; that is not a testee error.
      if (!isClosing(error)) errors.push(`echo write failed: ${String(error)}`);
    }
  });
}

/** Echoes the byte stream section by section. */
function echoStream(socket: StreamEchoSocket, errors: string[]): void {
  const pump = async (): Promise<void> => {
    try {
      for await (const section of socket.inputStream) {
        await socket.outputStream.writeAsync(section);
      }
    } catch (error) {
      if (!isClosing(error)) errors.push(`stream echo failed: ${String(error)}`);
    }
  };
  void pump();
}

/** Failures that are the ordinary end of a connection (closed, reset, protocol error), not a bug. */
function isClosing(error: unknown): boolean {
  return error instanceof Error && error.name === 'WebSocketError';
}

/** An echo server under test; its connections are told apart by their request path. */
export interface TesteeServerHandle {
  readonly port: number;
  /** The connection that arrives (or arrived) for `path`. */
  connection(path: string): Promise<TesteeConnection>;
  /** Forgets a path nobody connected to (a case that failed before its upgrade). */
  forget(path: string): void;
  stop(): Promise<void>;
}

/** An implementation under test: its echo server and echo client. */
export interface Testee {
  readonly name: string;
  /** The variants it has: a message-only library has no stream variant. */
  readonly variants: readonly Variant[];
  /**
   * Its close event promises the code of the close (the peer's, or its own after failing): true for
   * stream-websocket, whose API contract says so; the suite then checks it too.
   */
  readonly reportsCloseCode: boolean;
  startServer(variant: Variant): Promise<TesteeServerHandle>;
  connectClient(variant: Variant, url: string): Promise<TesteeConnection>;
}

/** Hands connections out by request path, whichever comes first: the connection or the question. */
export class PathRegistry {
  private readonly waiting = new Map<string, (connection: TesteeConnection) => void>();
  private readonly arrived = new Map<string, TesteeConnection>();

  connection(path: string): Promise<TesteeConnection> {
    const arrived = this.arrived.get(path);
    if (arrived !== undefined) {
      this.arrived.delete(path);
      return Promise.resolve(arrived);
    }
    return new Promise((resolve) => this.waiting.set(path, resolve));
  }

  forget(path: string): void {
    this.waiting.delete(path);
    this.arrived.delete(path);
  }

  arrive(path: string, connection: TesteeConnection): void {
    const waiting = this.waiting.get(path);
    this.waiting.delete(path);
    if (waiting === undefined) this.arrived.set(path, connection);
    else waiting(connection);
  }
}

/** stream-websocket itself. */
export const ourTestee: Testee = {
  name: 'stream-websocket',
  variants: ['message', 'stream'],
  reportsCloseCode: true,
  startServer: (variant) => TesteeServer.start(variant),
  connectClient: (variant, url) => connectTesteeClient(variant, url),
};

/** Our WebSocketListener as an echo server; connections are told apart by their request path. */
export class TesteeServer implements TesteeServerHandle {
  private readonly registry = new PathRegistry();

  private constructor(
    private readonly listener: WebSocketListener | WebSocketListener<'message'>,
    readonly port: number,
  ) {}

  static async start(variant: Variant): Promise<TesteeServer> {
    const options = { closeTimeout: TESTEE_CLOSE_TIMEOUT_MS };
    if (variant === 'message') {
      const listener = new WebSocketListener({ mode: 'message', ...options });
      await listener.bindServiceNameAsync(0, '127.0.0.1');
      const server = new TesteeServer(listener, listener.information.localPort!);
      listener.on('connectionReceived', ({ socket, request }) => {
        const errors: string[] = [];
        const closed = closedPromise(socket);
        echoMessages(socket, errors);
        server.arrive(request.url ?? '', {
          closed,
          errors,
          abort: () => {
            socket.close();
          },
        });
      });
      return server;
    }
    const listener = new WebSocketListener({ mode: 'stream', ...options });
    await listener.bindServiceNameAsync(0, '127.0.0.1');
    const server = new TesteeServer(listener, listener.information.localPort!);
    listener.on('connectionReceived', ({ socket, request }) => {
      const errors: string[] = [];
      const closed = closedPromise(socket);
      echoStream(socket, errors);
      server.arrive(request.url ?? '', {
        closed,
        errors,
        abort: () => {
          socket.close();
        },
      });
    });
    return server;
  }

  connection(path: string): Promise<TesteeConnection> {
    return this.registry.connection(path);
  }

  forget(path: string): void {
    this.registry.forget(path);
  }

  async stop(): Promise<void> {
    await this.listener.closeAsync();
  }

  private arrive(path: string, connection: TesteeConnection): void {
    this.registry.arrive(path, connection);
  }
}

/** Our client as an echo client, connected to the raw server at `url`. */
export async function connectTesteeClient(variant: Variant, url: string): Promise<TesteeConnection> {
  const errors: string[] = [];
  if (variant === 'message') {
    const socket = new MessageWebSocket();
    socket.control.closeTimeout = TESTEE_CLOSE_TIMEOUT_MS;
    const closed = closedPromise(socket);
    await socket.connectAsync(url);
    echoMessages(socket, errors);
    return {
      closed,
      errors,
      abort: () => {
        socket.close();
      },
    };
  }
  const socket = new StreamWebSocket();
  socket.control.closeTimeout = TESTEE_CLOSE_TIMEOUT_MS;
  const closed = closedPromise(socket);
  await socket.connectAsync(url);
  echoStream(socket, errors);
  return {
    closed,
    errors,
    abort: () => {
      socket.close();
    },
  };
}
