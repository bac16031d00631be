// sws listen [HOST:]PORT: a WebSocket server to debug clients with (websocat -s). Each received message
// goes to stdout (a line per text message with --text, the default; raw bytes with --binary) and stdin
// goes out as messages to the connected client; --echo sends every message back instead. One client at a
// time (another one gets 503 until it leaves), or any number with --multi (stdin then goes to all).

import { Buffer } from 'node:buffer';
import readline from 'node:readline';
import { pipeline } from 'node:stream/promises';

import {
  SocketMessageType,
  WebSocketListener,
  type ServerMessageWebSocket,
  type WebSocketIncomingMessage,
} from '../../index.js';
import { COMMON_OPTIONS, operands, parseCommand, parseCredential, parseListen } from '../args.js';
import { peerOf, type Command } from '../command.js';
import { ExitCode, ioFailure, usageError } from '../errors.js';
import { onInterrupt } from '../interrupt.js';
import { Output, writeStdout } from '../output.js';
import {
  closeFront,
  createFront,
  HANDSHAKE_TIMEOUT_OPTION,
  HANDSHAKE_TIMEOUT_USAGE,
  handshakeTimeout,
  listen as listenOn,
  readTls,
  refuse,
} from '../upgrade-server.js';

const OPTIONS = {
  ...COMMON_OPTIONS,
  text: { type: 'boolean', short: 't' },
  binary: { type: 'boolean', short: 'b' },
  echo: { type: 'boolean', short: 'e' },
  multi: { type: 'boolean', short: 'm' },
  protocol: { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  auth: { type: 'string' },
  ...HANDSHAKE_TIMEOUT_OPTION,
} as const;

const USAGE = `Usage: sws listen [HOST:]PORT [--text | --binary] [--echo] [--multi] [options]

A WebSocket server (on any path) for trying out a client, the peer of sws connect:
  sws listen 8080                     (then: sws connect ws://127.0.0.1:8080/)
Received messages go to stdout, stdin goes out as messages to the client. HOST defaults to 127.0.0.1.
  -t, --text     one text message per line of stdin; each received message is printed on a line (default)
  -b, --binary   stdin goes out in binary messages as it is read; received messages are written as they are
  -e, --echo     send every message back to its sender (same type) instead of printing it; stdin unused
  -m, --multi    serve any number of clients at once; each line of stdin goes to all of them
                 (without it: one client at a time, others are answered 503 until it leaves)
Lines typed while no client is connected wait for the next one. Runs until Ctrl-C (close 1001).

  --protocol P             accept subprotocol P when a client offers it (repeatable, preferred first)
  --tls-cert FILE --tls-key FILE   serve wss: with this certificate and key (PEM)
  --auth user:pass         require these Basic credentials (sws connect --user user:pass)
${HANDSHAKE_TIMEOUT_USAGE}
Output (stderr, since stdout carries the messages):
  --json                   JSON lines: "listening", then "connected" and "closed" per client
  -q, --quiet              no startup line
  -h, --help               this help`;

const NEWLINE = Buffer.from('\n');

export const listen: Command = {
  name: 'listen',
  summary: 'a WebSocket server printing messages, stdin → messages (websocat -s)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommand('listen', argv, OPTIONS);
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.Ok;
    }
    const [address] = operands('listen', positionals, ['[HOST:]PORT']) as [string];
    const { host, port } = parseListen(address, 'listen');
    if (values.text === true && values.binary === true)
      throw usageError('listen: --text or --binary, not both');
    const text = values.binary !== true;
    const echo = values.echo === true;
    const multi = values.multi === true;
    const auth = values.auth === undefined ? undefined : parseCredential(values.auth, '--auth');
    const tls = await readTls(values['tls-cert'], values['tls-key']);
    const out = new Output({ quiet: values.quiet, json: values.json, dataOnStdout: true });

    const listener = new WebSocketListener({
      mode: 'message',
      supportedProtocols: values.protocol ?? [],
    });
    const clients = new Clients();
    // stdout failing (a reader gone: sws listen | head) ends the server.
    const printer = new Printer(text, () => {
      void listener.closeAsync().then(() => closeFront(server));
    });

    listener.on('connectionReceived', ({ socket, request }) => {
      const peer = peerOf(request.socket);
      socket.control.messageType = text ? SocketMessageType.Utf8 : SocketMessageType.Binary;
      clients.add(socket);
      out.event(`client ${peer} connected`, { event: 'connected', peer });
      let received = 0;
      const serving = (async () => {
        for await (const message of socket.messages()) {
          if (echo) await pipeline(message, socket.openMessage(message.messageType));
          else await printer.print(message);
          received++;
        }
      })();
      serving
        .catch(() => {
          // The client broke the protocol or went away mid-message: its close code says which.
          socket.close();
        })
        .then(() => socket.whenClosed())
        .then(({ code, reason }) => {
          clients.delete(socket);
          out.event(
            `client ${peer} closed ${code}${reason === '' ? '' : ` "${reason}"`}; ${received} messages received`,
            { event: 'closed', peer, code, reason, received },
          );
        })
        .catch((error: unknown) => {
          out.warn(`internal error: ${String(error)}`);
        });
    });

    const server = createFront({
      tls,
      auth,
      handshakeTimeout: handshakeTimeout(values['handshake-timeout']),
      route: (request, socket, head) => {
        if (!multi && clients.size > 0) {
          refuse(
            socket,
            503,
            'busy: sws listen serves one client at a time (sws listen --multi serves more)',
          );
          return;
        }
        listener.handleUpgrade(request, socket, head);
      },
    });
    const bound = await listenOn(server, host, port);
    const url = `${tls === undefined ? 'ws' : 'wss'}://${host.includes(':') ? `[${host}]` : host}:${bound}/`;
    if (out.json) out.event('', { event: 'listening', url, port: bound });
    else out.info(`listen: ${url}${echo ? ' (echo)' : ''}; Ctrl-C stops`);

    if (!echo) {
      sendInput(text, clients).catch((error: unknown) => {
        out.warn(`cannot read stdin: ${String(error)}`);
      });
    }
    const closed = new Promise<void>((resolve) => server.once('close', resolve));
    onInterrupt(async () => {
      process.stdin.destroy();
      await listener.closeAsync();
      await closeFront(server);
    });
    await closed;
    if (printer.failure !== undefined) throw ioFailure(printer.failure, 'cannot write stdout');
    return ExitCode.Ok;
  },
};

/** The connected clients; waits for one when stdin has something to send. */
class Clients {
  private readonly open = new Set<ServerMessageWebSocket>();
  private arrived: (() => void) | undefined;

  get size(): number {
    return this.open.size;
  }

  add(socket: ServerMessageWebSocket): void {
    this.open.add(socket);
    this.arrived?.();
  }

  delete(socket: ServerMessageWebSocket): void {
    this.open.delete(socket);
  }

  /** The clients connected now, or (when there are none) as soon as one connects. */
  async some(): Promise<ServerMessageWebSocket[]> {
    while (this.open.size === 0) {
      await new Promise<void>((resolve) => (this.arrived = resolve));
      this.arrived = undefined;
    }
    return [...this.open];
  }
}

/** Writes messages to stdout one whole message at a time, so that clients' messages never interleave. */
class Printer {
  private queue: Promise<void> = Promise.resolve();
  /** The error stdout failed with, if it did. */
  failure: unknown;

  constructor(
    private readonly text: boolean,
    private readonly failed: () => void,
  ) {}

  print(message: WebSocketIncomingMessage): Promise<void> {
    const printed = this.queue.then(async () => {
      for await (const section of message) await this.write(section);
      if (this.text) await this.write(NEWLINE);
    });
    this.queue = printed.catch(() => undefined);
    return printed;
  }

  private async write(chunk: Buffer): Promise<void> {
    try {
      await writeStdout(chunk);
    } catch (error) {
      if (this.failure === undefined) {
        this.failure = error;
        this.failed();
      }
      throw error;
    }
  }
}

/** Sends each line (or chunk) of stdin to the connected clients, waiting for one if need be. */
async function sendInput(text: boolean, clients: Clients): Promise<void> {
  const input = text
    ? readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
    : process.stdin;
  for await (const piece of input as AsyncIterable<string | Buffer>) {
    const data = typeof piece === 'string' ? Buffer.from(piece) : piece;
    const targets = await clients.some();
    // A client that leaves meanwhile just misses the message; its close is reported on its own.
    await Promise.all(targets.map((socket) => socket.outputStream.writeAsync(data).catch(() => undefined)));
  }
}
