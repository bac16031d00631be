// Idle connections: what each open, quiet WebSocket costs the server. A server process (ours: a
// WebSocketListener; ws: a WebSocketServer; raw TCP: a node:http server that answers the upgrade with 101
// and keeps the socket, the floor of Node itself) takes N connections from one or two client processes
// that open them with a plain TCP socket and a handshake request, then hold them without sending
// anything. The server measures its RSS and V8 heap (after gc()) with a few warm-up connections open
// and again with N more: (after − before) / N is the cost of one connection.
// Run alone: node build/bench/idle.js [--json] [--rounds N] [--connections N] [--client-processes 1|2]
//   [--contenders ours,ws-native,tcp]

import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import type { Samples } from './lib/harness.js';
import type { FailedMessage } from './lib/ipc-peer.js';
import {
  checkWsMasking,
  describe,
  HOST,
  isContenderId,
  isRecord,
  KiB,
  parseContenders,
  PeerGroup,
  positiveInteger,
  record,
  rotated,
  roundLabel,
  tell as tellParent,
  type ContenderId,
} from './lib/processes.js';
import {
  buildRows,
  environment,
  formatNumber,
  formatReports,
  type BenchReport,
  type Contender,
} from './lib/report.js';

/** Connections open before the first measurement: the code paths are loaded and warm by then. */
const BASE_CONNECTIONS = 100;
/** Handshakes a client process has in progress at once. */
const CONCURRENT_HANDSHAKES = 200;
/** File descriptors a process needs beyond its sockets (stdio, IPC, epoll, libuv, loaded files). */
const FD_MARGIN = 100;
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

type Role = 'server' | 'client';

interface ChildConfig {
  role: Role;
  contender: ContenderId;
  /** The client's: connections to open, and the server's port. */
  connections: number;
  port: number;
}

type ChildMessage =
  | { kind: 'listening'; port: number }
  /** The server: its memory after gc(), and the connections it holds. */
  | { kind: 'measured'; rss: number; heapUsed: number; external: number; connections: number }
  /** A client: all its connections are open (101 received). */
  | { kind: 'opened'; connections: number };

interface ParentMessage {
  kind: 'measure' | 'finish';
}

function tell(message: ChildMessage | FailedMessage, then?: () => void): void {
  tellParent(message, then);
}

function isChildMessage(value: unknown): value is ChildMessage {
  if (!isRecord(value)) return false;
  switch (value.kind) {
    case 'listening':
      return typeof value.port === 'number';
    case 'measured':
      return (
        typeof value.rss === 'number' &&
        typeof value.heapUsed === 'number' &&
        typeof value.external === 'number' &&
        typeof value.connections === 'number'
      );
    case 'opened':
      return typeof value.connections === 'number';
    default:
      return false;
  }
}

function isParentMessage(value: unknown): value is ParentMessage {
  return isRecord(value) && (value.kind === 'measure' || value.kind === 'finish');
}

function isChildConfig(value: unknown): value is ChildConfig {
  return (
    isRecord(value) &&
    (value.role === 'server' || value.role === 'client') &&
    isContenderId(value.contender) &&
    typeof value.connections === 'number' &&
    typeof value.port === 'number'
  );
}

// ---------------------------------------------------------------------------------------------------
// The server.

type Fail = (error: unknown) => void;

/** Starts the contender's server; `onConnection` is called for each accepted WebSocket. */
async function serve(contender: ContenderId, onConnection: () => void, fail: Fail): Promise<number> {
  switch (contender) {
    case 'ours': {
      const { WebSocketListener } = await import('../src/index.js');
      // The defaults, as an application gets them (keep-alive pings after 30 s of quiet included).
      const listener = new WebSocketListener();
      listener.on('connectionReceived', () => {
        onConnection();
      });
      await listener.bindServiceNameAsync(0, HOST);
      const port = listener.information.localPort;
      if (port === null) throw new Error('the listener has no port');
      return port;
    }
    case 'ws-native':
    case 'ws-js': {
      const { WebSocketServer } = await import('ws');
      checkWsMasking(contender === 'ws-native');
      const server = new WebSocketServer({ host: HOST, port: 0 });
      server.on('error', fail);
      server.on('connection', (socket) => {
        // As any application must: an 'error' nobody listens to would end the process.
        socket.on('error', ignore);
        onConnection();
      });
      await once(server, 'listening');
      return (server.address() as AddressInfo).port;
    }
    case 'tcp': {
      const server = http.createServer();
      server.on('error', fail);
      server.on('upgrade', (request: http.IncomingMessage, socket: net.Socket) => {
        const key = request.headers['sec-websocket-key'] ?? '';
        const accept = createHash('sha1').update(`${key}${WEBSOCKET_GUID}`).digest('base64');
        socket.on('error', ignore);
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        onConnection();
      });
      server.listen(0, HOST);
      await once(server, 'listening');
      return (server.address() as AddressInfo).port;
    }
  }
}

function ignore(): void {
  // Idle connections; errors at the end (the clients going away) do not matter.
}

/** Memory after full collections, once what the last connections left behind has settled. */
async function measure(connections: number): Promise<ChildMessage> {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('the server needs --expose-gc');
  for (let pass = 0; pass < 3; pass++) {
    collect();
    await sleep(100);
  }
  const usage = process.memoryUsage();
  return {
    kind: 'measured',
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    external: usage.external,
    connections,
  };
}

async function runServer(config: ChildConfig, fail: Fail): Promise<void> {
  let connections = 0;
  const port = await serve(
    config.contender,
    () => {
      connections++;
    },
    fail,
  );
  process.on('message', (message: unknown) => {
    if (!isParentMessage(message)) {
      fail(new Error(`unexpected message ${JSON.stringify(message)}`));
    } else if (message.kind === 'measure') {
      measure(connections).then(tell, fail);
    } else {
      process.exit(0);
    }
  });
  tell({ kind: 'listening', port });
}

// ---------------------------------------------------------------------------------------------------
// A client: opens connections with a raw handshake and holds them, reading (and dropping) what comes.

function openConnection(port: number, fail: Fail): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    const key = randomBytes(16).toString('base64');
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.off('error', reject);
      if (!head.startsWith('HTTP/1.1 101')) {
        reject(new Error(`the server answered ${head.slice(0, head.indexOf('\r\n'))}`));
        socket.destroy();
        return;
      }
      socket.on('error', fail);
      socket.on('data', ignore);
      resolve(socket);
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.once('connect', () => {
      socket.write(
        `GET / HTTP/1.1\r\nHost: ${HOST}:${String(port)}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  });
}

async function openConnections(config: ChildConfig, fail: Fail): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < config.connections) {
      next++;
      sockets.push(await openConnection(config.port, fail));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_HANDSHAKES, config.connections) }, worker));
  return sockets;
}

async function runClient(config: ChildConfig, fail: Fail): Promise<void> {
  process.on('message', (message: unknown) => {
    if (isParentMessage(message) && message.kind === 'finish') process.exit(0);
  });
  const sockets = await openConnections(config, fail);
  tell({ kind: 'opened', connections: sockets.length });
}

async function runChild(config: ChildConfig): Promise<void> {
  let finishing = false;
  const fail: Fail = (error) => {
    if (!finishing) tell({ kind: 'failed', message: `${config.role}: ${describe(error)}` });
  };
  process.on('disconnect', () => {
    finishing = true;
    process.exit(1);
  });
  if (config.role === 'server') await runServer(config, fail);
  else await runClient(config, fail);
}

// ---------------------------------------------------------------------------------------------------
// The parent.

interface RunResult {
  /** Bytes per connection. */
  rss: number;
  heap: number;
  external: number;
  seconds: number;
}

interface ParentOptions {
  json: boolean;
  rounds: number;
  connections: number;
  clientProcesses: number;
  contenders: Contender[];
}

const SCRIPT = fileURLToPath(import.meta.url);

/** The open-files limit (soft, hard) that the children inherit. */
function fileLimits(): { soft: number; hard: number } {
  const read = (flag: string): number => {
    const text = execFileSync('/bin/sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
    return text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text);
  };
  return { soft: read('-Sn'), hard: read('-Hn') };
}

function runOnce(contender: ContenderId, options: ParentOptions): Promise<RunResult> {
  return PeerGroup.run(
    120_000,
    `${contender} with ${String(options.connections)} idle connections`,
    async (group) => {
      const spawn = (role: Role, connections: number, port: number, name: string) =>
        group.spawn({
          name,
          script: SCRIPT,
          config: { role, contender, connections, port } satisfies ChildConfig,
          isMessage: isChildMessage,
          contender,
          execArgv: role === 'server' ? ['--expose-gc'] : [],
        });
      const server = spawn('server', 0, 0, `${contender} server`);
      const { port } = await server.expect('listening');
      const warmup = spawn('client', BASE_CONNECTIONS, port, `${contender} warm-up client`);
      await warmup.expect('opened');
      server.send({ kind: 'measure' } satisfies ParentMessage);
      const before = await server.expect('measured');

      const started = performance.now();
      const clients = Array.from({ length: options.clientProcesses }, (_unused, index) => {
        const share =
          Math.floor(options.connections / options.clientProcesses) +
          (index < options.connections % options.clientProcesses ? 1 : 0);
        return spawn('client', share, port, `${contender} client ${String(index + 1)}`);
      });
      const opened = await Promise.all(clients.map((client) => client.expect('opened')));
      const seconds = (performance.now() - started) / 1000;
      const count = opened.reduce((sum, message) => sum + message.connections, 0);
      server.send({ kind: 'measure' } satisfies ParentMessage);
      const after = await server.expect('measured');
      if (count !== options.connections || after.connections !== BASE_CONNECTIONS + options.connections) {
        throw new Error(
          `${String(count)} connections opened, the server holds ${String(after.connections)} ` +
            `(expected ${String(BASE_CONNECTIONS)} + ${String(options.connections)})`,
        );
      }
      const finish: ParentMessage = { kind: 'finish' };
      for (const peer of [server, warmup, ...clients]) peer.stop(finish);
      await Promise.all([server, warmup, ...clients].map((peer) => peer.exited));
      return {
        rss: (after.rss - before.rss) / options.connections,
        heap: (after.heapUsed - before.heapUsed) / options.connections,
        external: (after.external - before.external) / options.connections,
        seconds,
      };
    },
  );
}

async function runParent(options: ParentOptions, wanted: number): Promise<void> {
  const contenders = options.contenders;
  const env = environment();
  const started = performance.now();
  const count = options.connections.toLocaleString('en-US');
  const rows = {
    rss: `${count} connections: server RSS per connection`,
    heap: `${count} connections: server V8 heap per connection`,
  };
  const rss: Samples = new Map();
  const heap: Samples = new Map();
  for (let round = 0; round < options.rounds; round++) {
    for (const contender of rotated(contenders, round)) {
      if (!isContenderId(contender.id)) continue;
      const result = await runOnce(contender.id, options);
      if (!options.json) {
        process.stderr.write(
          `${roundLabel(round, 0)} · ${contender.label}: RSS ${formatNumber(result.rss / KiB)} KiB, ` +
            `V8 heap ${formatNumber(result.heap / KiB)} KiB, external ${formatNumber(result.external / KiB)} ` +
            `KiB per connection; ${String(options.connections)} opened in ${result.seconds.toFixed(1)} s\n`,
        );
      }
      record(rss, rows.rss, contender.id, result.rss);
      record(heap, rows.heap, contender.id, result.heap);
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  const limits = fileLimits();
  const reduced =
    options.connections < wanted
      ? `Only ${String(options.connections)} connections instead of ${String(wanted)}: the open-files ` +
        `limit (ulimit -n) is ${String(limits.soft)}, and the server needs one descriptor per connection ` +
        `plus about ${String(FD_MARGIN)}. Raise it (ulimit -n ${String(wanted + BASE_CONNECTIONS + FD_MARGIN)}) for the full count.`
      : `Open-files limit (ulimit -n): ${String(limits.soft)}, enough for ${String(wanted)} connections.`;

  const report: BenchReport = {
    bench: 'idle',
    title: `${count} idle connections held open to a server process`,
    environment: env,
    rounds: options.rounds,
    contenders,
    rows: [
      ...buildRows(rss, [rows.rss], contenders, 'KiB', KiB),
      ...buildRows(heap, [rows.heap], contenders, 'KiB', KiB),
    ],
    notes: [
      `The server (started with --expose-gc) measures process.memoryUsage() after three gc() passes with ` +
        `${String(BASE_CONNECTIONS)} warm-up connections open, then again once ${String(options.connections)} ` +
        `more are open (from ${String(options.clientProcesses)} client process${options.clientProcesses > 1 ? 'es' : ''}, ` +
        `${String(CONCURRENT_HANDSHAKES)} handshakes at a time each): per connection = (after − before) / ` +
        `${String(options.connections)}. Lower is better. RSS includes what the kernel and libuv hold per socket.`,
      'Servers with their defaults: ours a WebSocketListener (stream mode, keep-alive pings after 30 s of ' +
        'quiet, one timer for all connections; the streams of a connection are made on first use), ' +
        "ws a WebSocketServer (client tracking on, an 'error' listener per " +
        'socket); raw TCP a node:http server that answers the upgrade with 101 and keeps the socket (no ' +
        'WebSocket library: the floor of Node itself). Clients are the same for all: a net.Socket and a ' +
        'handshake request written by hand; nothing is sent after the handshake.',
      reduced,
      `Whole run: ${elapsed.toFixed(0)} s.`,
    ],
  };
  process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatReports([report])}\n`);
}

// ---------------------------------------------------------------------------------------------------

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    'client-processes': { type: 'string' },
    contenders: { type: 'string' },
    child: { type: 'string' },
  },
});

if (values.child !== undefined) {
  const config: unknown = JSON.parse(values.child);
  if (!isChildConfig(config)) throw new Error(`not a child configuration: ${values.child}`);
  await runChild(config);
} else {
  const wanted = positiveInteger(values.connections, '--connections', 10_000);
  const clientProcesses = positiveInteger(values['client-processes'], '--client-processes', 2);
  if (clientProcesses > 2) throw new RangeError('--client-processes takes 1 or 2');
  // The server holds every connection; each client process its share (and the warm-up client its own).
  const { soft } = fileLimits();
  const fit = Math.max(1, Math.floor(soft - BASE_CONNECTIONS - FD_MARGIN));
  // ws (JS) differs from ws + bufferutil only in masking, which idle connections never do: on request only.
  const contenders =
    values.contenders === undefined
      ? parseContenders('ours,ws-native,tcp')
      : parseContenders(values.contenders);
  await runParent(
    {
      json: values.json,
      rounds: positiveInteger(values.rounds, '--rounds', 2),
      connections: Math.min(wanted, fit),
      clientProcesses,
      contenders,
    },
    wanted,
  );
}
