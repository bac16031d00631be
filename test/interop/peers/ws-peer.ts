// A real WebSocket peer for the interop tests, built on the `ws` package: the same subcommands, paths and
// output lines as python_peer.py (see README.md beside this file). Run the compiled file with node:
//
//   node build/test/interop/peers/ws-peer.js server [--protocols a,b] [--deflate]
//   node build/test/interop/peers/ws-peer.js client <url> upload <N> <seed> | download | echo <text> | protocol
//                                                   | split-text [<R> <S> [<MS>]] [--protocols a,b] [--deflate]
//
// Limits are off (maxPayload, maxFragments, maxBufferedChunks: 0), permessage-deflate is off unless
// --deflate is given, and without --protocols the server negotiates no subprotocol (python's default;
// plain ws would pick the client's first). Messages it receives are assembled in memory by ws (fine for
// a peer); messages it sends are cut into fragments of random sizes and sent with backpressure, so it
// never holds more than a few MiB of an outgoing message.
import { createHash, type Hash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { fragmentSizes, PatternReader } from './pattern.js';

/** At most this many bytes of an outgoing message wait in ws and the socket. */
const HIGH_WATER = 4 << 20;
const UNLIMITED = { maxPayload: 0, maxFragments: 0, maxBufferedChunks: 0 } as const;

interface Closed {
  code: number;
  reason: string;
}

type Route =
  | { kind: 'echo' }
  | { kind: 'upload' }
  | { kind: 'protocol' }
  | { kind: 'download'; size: number; seed: string }
  | { kind: 'close'; code: number }
  | ({ kind: 'split-text' } & SplitText);

interface SplitText {
  repeat: number;
  step: number;
  pauseMs: number;
}

/** split_text(R) of README.md: 11 UTF-8 bytes per repeat (1 + 2 + 3 + 4 + 1). */
const SPLIT_UNIT = 'aé€😀z';
const SPLIT_REPEAT = 50;
const SPLIT_STEP = 3;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function report(message: string): void {
  process.stderr.write(`ERROR ${message}\n`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function toBuffer(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/** Feeds the bytes of a message into `hash` without joining its fragments; returns the byte count. */
function hashMessage(hash: Hash, data: RawData): number {
  let count = 0;
  for (const piece of Array.isArray(data) ? data : [data]) {
    const bytes = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
    hash.update(bytes);
    count += bytes.length;
  }
  return count;
}

function closeLine({ code, reason }: Closed): string {
  return `CLOSE ${code} ${reason}`;
}

/** Resolves with the code and reason received when `ws` closes (1006 when no close frame came). */
function whenClosed(ws: WebSocket): Promise<Closed> {
  return new Promise((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => {
      resolve({ code, reason: reason.toString('utf8') });
    });
  });
}

/** Sends fragments of one message, waiting whenever more than HIGH_WATER bytes are still unsent. */
class FragmentSender {
  #queued = 0;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(private readonly ws: WebSocket) {}

  async send(data: Buffer, fin: boolean, binary = true): Promise<void> {
    if (this.#error !== undefined) throw this.#error;
    this.#queued += data.length;
    this.ws.send(data, { binary, fin }, (error) => {
      this.#queued -= data.length;
      if (error) this.#error ??= error; // ws may pass null or undefined on success
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    });
    await this.#waitBelow(fin ? 1 : HIGH_WATER + 1);
  }

  async #waitBelow(limit: number): Promise<void> {
    while (this.#queued >= limit && this.#error === undefined) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    if (this.#error !== undefined) throw this.#error;
  }
}

/** Sends ONE binary message of the pattern in random fragments; returns the SHA-256 of what was sent. */
async function sendPattern(ws: WebSocket, size: number, seed: string): Promise<string> {
  const hash = createHash('sha256');
  const sender = new FragmentSender(ws);
  const reader = new PatternReader(size, seed);
  if (size === 0) await sender.send(Buffer.alloc(0), true);
  for (const fragmentSize of fragmentSizes(seed)) {
    if (reader.remaining === 0) break;
    const chunk = reader.read(fragmentSize);
    hash.update(chunk);
    await sender.send(chunk, reader.remaining === 0);
  }
  return hash.digest('hex');
}

/**
 * Sends split_text(repeat) as ONE text message whose frames carry `step` bytes each (the last fewer), so
 * that frame edges cut through multi-byte characters: ws sends a Buffer as it is, whatever the opcode.
 * A pause after each frame but the last puts each in a TCP segment of its own (ws sets TCP_NODELAY).
 */
async function sendSplitText(ws: WebSocket, { repeat, step, pauseMs }: SplitText): Promise<void> {
  if (!Number.isSafeInteger(step) || step < 1) throw new Error('the frame size must be at least 1 byte');
  const data = Buffer.from(SPLIT_UNIT.repeat(repeat), 'utf8');
  const sender = new FragmentSender(ws);
  let offset = 0;
  do {
    const end = Math.min(offset + step, data.length);
    const fin = end === data.length;
    await sender.send(data.subarray(offset, end), fin, false);
    if (pauseMs > 0 && !fin) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    offset = end;
  } while (offset < data.length);
}

/** The <R> <S> [<MS>] arguments of split-text (path segments or command line), or the defaults. */
function splitArgs(values: readonly string[]): SplitText | undefined {
  if (values.length === 0) return { repeat: SPLIT_REPEAT, step: SPLIT_STEP, pauseMs: 0 };
  if (values.length < 2 || values.length > 3 || !values.every((v) => /^\d+$/.test(v))) return undefined;
  const [repeat, step, pauseMs] = values.map(Number);
  return { repeat: repeat!, step: step!, pauseMs: pauseMs ?? 0 };
}

/**
 * Queues the messages `ws` receives from the moment it is created: ws may deliver a message that came with
 * the handshake response before the code awaiting 'open' resumes, and a listener added then would miss it.
 */
class Inbox {
  readonly #messages: { data: RawData; isBinary: boolean }[] = [];
  #closed: Closed | undefined;
  #wake: (() => void) | undefined;

  constructor(ws: WebSocket) {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.#messages.push({ data, isBinary });
      this.#notify();
    });
    ws.once('close', (code: number, reason: Buffer) => {
      this.#closed = { code, reason: reason.toString('utf8') };
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The next message; rejects if the connection closed before one came. */
  async next(): Promise<{ data: RawData; isBinary: boolean }> {
    for (;;) {
      const message = this.#messages.shift();
      if (message !== undefined) return message;
      if (this.#closed !== undefined) {
        const { code, reason } = this.#closed;
        throw new Error(`connection closed (${code} ${reason}) before a message arrived`);
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

function parseProtocols(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(',').filter((p) => p !== '');
}

/** python websockets' default choice: the common protocol with the best client + server rank. */
function selectProtocol(offered: Set<string>, supported: string[] | undefined): string | false {
  if (supported === undefined) return false;
  const client = [...offered];
  let best: string | false = false;
  let bestRank = Infinity;
  for (const [clientIndex, protocol] of client.entries()) {
    const serverIndex = supported.indexOf(protocol);
    if (serverIndex >= 0 && clientIndex + serverIndex < bestRank) {
      best = protocol;
      bestRank = clientIndex + serverIndex;
    }
  }
  return best;
}

// ------------------------------------------------------------------------------------------------ server

function route(url: string | undefined): Route | undefined {
  const parts = (url ?? '/')
    .split('?', 1)[0]!
    .replace(/^\/+|\/+$/g, '')
    .split('/');
  const [head, a, b] = parts;
  if (parts.length === 1 && (head === 'echo' || head === 'upload' || head === 'protocol'))
    return { kind: head };
  if (head === 'download' && parts.length === 3 && /^\d+$/.test(a!)) {
    return { kind: 'download', size: Number(a), seed: b! };
  }
  if (head === 'close' && parts.length === 2 && /^\d+$/.test(a!)) return { kind: 'close', code: Number(a) };
  if (head === 'split-text') {
    const split = splitArgs(parts.slice(1));
    if (split !== undefined) return { kind: 'split-text', ...split };
  }
  return undefined;
}

async function serveConnection(ws: WebSocket, where: Route, path: string): Promise<void> {
  const closed = whenClosed(ws);
  ws.on('error', (error) => {
    report(`${path}: ${messageOf(error)}`);
  });
  switch (where.kind) {
    case 'echo':
      ws.on('message', (data: RawData, isBinary: boolean) => {
        ws.send(toBuffer(data), { binary: isBinary });
      });
      break;
    case 'upload': {
      const hash = createHash('sha256');
      let count = 0;
      ws.binaryType = 'fragments'; // ws joins the fragments of a message into one Buffer otherwise
      ws.on('message', (data: RawData) => {
        count += hashMessage(hash, data);
      });
      const end = await closed;
      out(`UPLOAD ${count} ${hash.digest('hex')}`);
      out(closeLine(end));
      break;
    }
    case 'download':
      try {
        out(`SHA256 ${await sendPattern(ws, where.size, where.seed)}`);
      } catch (error) {
        // Closed by the client before the end: still report how.
        report(`${path}: ${messageOf(error)}`);
        if (ws.readyState === WebSocket.OPEN) ws.terminate();
      }
      out(closeLine(await closed));
      break;
    case 'close':
      ws.close(where.code, 'bye');
      out(closeLine(await closed));
      break;
    case 'protocol':
      ws.send(ws.protocol === '' ? 'none' : ws.protocol);
      break;
    case 'split-text':
      await sendSplitText(ws, where);
      break;
  }
}

async function runServer(protocols: string[] | undefined, deflate: boolean): Promise<number> {
  const server = createServer((_request, response) => {
    response.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
    response.end('WebSocket only\n');
  });
  const wss = new WebSocketServer({
    noServer: true,
    ...UNLIMITED,
    perMessageDeflate: deflate,
    handleProtocols: (offered: Set<string>) => selectProtocol(offered, protocols),
  });
  server.on('upgrade', (request: IncomingMessage, socket, head: Buffer) => {
    const where = route(request.url);
    if (where === undefined) {
      socket.end(
        'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n' +
          'Connection: close\r\n\r\nno such path\n',
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      serveConnection(ws, where, request.url ?? '/').catch((error: unknown) => {
        report(`${request.url ?? '/'}: ${messageOf(error)}`);
        ws.terminate();
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  out(`PORT ${address.port}`);

  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  for (const ws of wss.clients) ws.close(1001, 'going away');
  server.close();
  // Give the closing handshakes a moment, then go, whatever the peers do.
  await new Promise((resolve) => setTimeout(resolve, wss.clients.size > 0 ? 500 : 0));
  for (const ws of wss.clients) ws.terminate();
  return 0;
}

// ------------------------------------------------------------------------------------------------ client

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      resolve();
    });
    ws.once('unexpected-response', (request, response) => {
      out(`STATUS ${response.statusCode ?? 0}`);
      request.destroy();
      reject(new Error(`server rejected WebSocket connection: HTTP ${response.statusCode ?? 0}`));
    });
    ws.once('error', reject);
    ws.once('close', (code: number) => {
      reject(new Error(`closed (${code}) before it opened`));
    });
  });
}

async function runClient(
  url: string,
  command: string,
  args: string[],
  protocols: string[] | undefined,
  deflate: boolean,
): Promise<number> {
  const ws = new WebSocket(url, protocols ?? [], {
    ...UNLIMITED,
    perMessageDeflate: deflate,
    handshakeTimeout: 10_000,
  });
  ws.binaryType = 'fragments'; // ws joins the fragments of a message into one Buffer otherwise
  const inbox = new Inbox(ws);
  const closed = whenClosed(ws);
  let open = false;
  try {
    await opened(ws);
    open = true;
    ws.on('error', (error) => {
      report(messageOf(error));
    });
    if (command === 'upload' && args.length === 2) {
      out(`SHA256 ${await sendPattern(ws, Number(args[0]), args[1]!)}`);
    } else if (command === 'download' && args.length === 0) {
      const { data } = await inbox.next();
      const hash = createHash('sha256');
      const count = hashMessage(hash, data);
      out(`DOWNLOAD ${count} ${hash.digest('hex')}`);
    } else if (command === 'echo' && args.length === 1) {
      ws.send(args[0]!);
      const reply = await inbox.next();
      const text = toBuffer(reply.data);
      if (reply.isBinary) throw new Error(`expected a text message, got ${text.length} bytes of binary`);
      out(`ECHO ${text.toString('utf8')}`);
    } else if (command === 'protocol' && args.length === 0) {
      out(`PROTOCOL ${ws.protocol === '' ? 'none' : ws.protocol}`);
    } else if (command === 'split-text' && splitArgs(args) !== undefined) {
      await sendSplitText(ws, splitArgs(args)!);
      const reply = await inbox.next();
      const text = toBuffer(reply.data);
      if (reply.isBinary) throw new Error(`expected a text message, got ${text.length} bytes of binary`);
      out(`ECHO ${text.toString('utf8')}`);
    } else {
      throw new Error(
        `usage: client <url> upload <N> <seed> | download | echo <text> | protocol | split-text [<R> <S> [<MS>]]`,
      );
    }
    ws.close(1000);
    out(closeLine(await closed));
    return 0;
  } catch (error) {
    report(messageOf(error));
    if (open) {
      if (ws.readyState === WebSocket.OPEN) ws.close(1011);
      out(closeLine(await closed));
    } else {
      ws.terminate();
    }
    return 1;
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { protocols: { type: 'string' }, deflate: { type: 'boolean', default: false } },
  });
  const [role, url, command, ...rest] = positionals;
  const protocols = parseProtocols(values.protocols);
  if (role === 'server' && url === undefined) return runServer(protocols, values.deflate);
  if (role === 'client' && url !== undefined && command !== undefined) {
    return runClient(url, command, rest, protocols, values.deflate);
  }
  report('usage: ws-peer.js server [--protocols a,b] [--deflate] | client <url> <command> [args...]');
  return 2;
}

// `node --test build/test/` runs every .js file under a folder named test, this one included: without
// arguments under the test runner there is nothing to do.
if (process.argv.length === 2 && process.env.NODE_TEST_CONTEXT !== undefined) process.exit(0);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    report(messageOf(error));
    process.exit(1);
  },
);
