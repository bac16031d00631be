// permessage-deflate between processes over 127.0.0.1: ours against ws (both with compression on, their
// defaults: window bits 15, memLevel 8, messages of 1 KiB and more compressed), and the memory a
// compressing connection costs a server: ours, ws and Python websockets, each with its defaults and with
// comparable settings.
//   - throughput: N messages one way (JSON-like text, which shrinks 5–10×, and random bytes, which do
//     not), MB/s of payload, and the bytes on the wire per byte of payload;
//   - memory: a server takes 1,000 connections from one client process (ws clients, which offer
//     compression as browsers do), each sending two 4 KiB JSON messages and reading their compressed
//     echoes, so every connection has used both an inflater and a deflater; the server's RSS (from
//     /proc) with 20 such connections open and with 1,020: the difference ÷ 1,000 is one connection.
// Run alone: node build/bench/compression.js [--json] [--rounds N] [--warmup N] [--connections N]
//   [--only TEXT]

import { Buffer } from 'node:buffer';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import type { RawData, WebSocket as WsSocket, PerMessageDeflateOptions as WsDeflateOptions } from 'ws';

import type { MessageWebSocket, PerMessageDeflateOptions, ServerMessageWebSocket } from '../src/index.js';
import type { Samples } from './lib/harness.js';
import type { FailedMessage } from './lib/ipc-peer.js';
import {
  describe,
  HOST,
  isRecord,
  KiB,
  PeerGroup,
  positiveInteger,
  record,
  rotated,
  roundLabel,
  tell as tellParent,
} from './lib/processes.js';
import {
  buildRows,
  environment,
  formatNumber,
  formatReports,
  type BenchReport,
  type Contender,
} from './lib/report.js';

const CONTENDERS: readonly Contender[] = [
  { id: 'ours', label: 'ours' },
  { id: 'ws-native', label: 'ws + bufferutil' },
  { id: 'python', label: 'Python websockets' },
];
type Implementation = 'ours' | 'ws';
type Direction = 'up' | 'down';
type PayloadKind = 'json' | 'random';

/** Compression settings of a server in the memory bench, the same for each implementation. */
type Settings = 'off' | 'defaults' | 'python' | 'no-context';
const SETTINGS: Record<
  Settings,
  { label: string; ours: PerMessageDeflateOptions | false; ws: WsDeflateOptions | false }
> = {
  off: { label: 'compression declined (for reference)', ours: false, ws: false },
  defaults: { label: 'each its defaults', ours: {}, ws: {} },
  python: {
    label: "windows of 12 bits and memLevel 5 (Python's defaults)",
    ours: { serverMaxWindowBits: 12, clientMaxWindowBits: 12, memLevel: 5 },
    ws: { serverMaxWindowBits: 12, clientMaxWindowBits: 12, zlibDeflateOptions: { memLevel: 5 } },
  },
  'no-context': {
    label: 'no context takeover either way',
    ours: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    ws: { serverNoContextTakeover: true, clientNoContextTakeover: true },
  },
};

const PYTHON = '/usr/bin/python3';
const PYTHON_PEER = fileURLToPath(new URL('../../test/interop/peers/python_peer.py', import.meta.url));
const SCRIPT = fileURLToPath(import.meta.url);
const WARM_CONNECTIONS = 20;
const MEMORY_MESSAGE = 4 * KiB;

/** JSON-like text: lines that repeat with small changes, as chat and API traffic do. */
function jsonLike(size: number, seed = 0): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let index = seed; length < size; index++) {
    const line = `{"id":${index},"user":"user-${index % 97}","event":"${index % 3 === 0 ? 'update' : 'view'}","ok":true},\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('').slice(0, size));
}

// ---------------------------------------------------------------------------------------------------
// Children.

type ChildConfig =
  | {
      role: 'sender' | 'receiver';
      side: 'server' | 'client';
      implementation: Implementation;
      kind: PayloadKind;
      size: number;
      count: number;
      port: number;
    }
  | { role: 'memory-server'; implementation: Implementation; settings: Settings }
  | { role: 'memory-clients'; connections: number; port: number; path: string };

type ChildMessage =
  | { kind: 'listening'; port: number }
  | { kind: 'connected' }
  | { kind: 'sent' }
  | { kind: 'received'; messages: number; payloadBytes: number; wireBytes: number }
  | { kind: 'opened'; connections: number; seconds: number }
  | { kind: 'measured'; rss: number };

function tell(message: ChildMessage | FailedMessage, then?: () => void): void {
  tellParent(message, then);
}

function isChildMessage(value: unknown): value is ChildMessage {
  if (!isRecord(value)) return false;
  switch (value.kind) {
    case 'listening':
      return typeof value.port === 'number';
    case 'connected':
    case 'sent':
      return true;
    case 'received':
      return typeof value.messages === 'number' && typeof value.wireBytes === 'number';
    case 'opened':
      return typeof value.connections === 'number';
    case 'measured':
      return typeof value.rss === 'number';
    default:
      return false;
  }
}

/** One open connection of a throughput run, whatever the implementation. */
interface Channel {
  send(payload: Buffer, text: boolean): Promise<void>;
  onMessage(handler: (data: Buffer) => void): void;
  /** Bytes read from TCP so far. */
  wireBytesRead(): number;
}

async function oursChannel(
  side: 'server' | 'client',
  port: number,
  onListening: (port: number) => void,
): Promise<Channel> {
  const { MessageWebSocket, SocketMessageType, WebSocketListener } = await import('../src/index.js');
  const wrap = (socket: MessageWebSocket | ServerMessageWebSocket): Channel => ({
    send: async (payload, text) => {
      socket.control.messageType = text ? SocketMessageType.Utf8 : SocketMessageType.Binary;
      await socket.outputStream.writeAsync(payload);
    },
    onMessage: (handler) => {
      socket.on('messageReceived', (event) => {
        handler(event.getData());
      });
    },
    wireBytesRead: () => socket.information.bytesReceived,
  });
  if (side === 'client') {
    const socket = new MessageWebSocket();
    socket.control.perMessageDeflate = true;
    await socket.connectAsync(`ws://${HOST}:${String(port)}/`);
    return wrap(socket);
  }
  const listener = new WebSocketListener({ mode: 'message', perMessageDeflate: true });
  const connected = new Promise<Channel>((resolve) => {
    listener.once('connectionReceived', ({ socket }) => {
      resolve(wrap(socket));
    });
  });
  await listener.bindServiceNameAsync(0, HOST);
  onListening(listener.information.localPort ?? 0);
  return connected;
}

async function wsChannel(
  side: 'server' | 'client',
  port: number,
  onListening: (port: number) => void,
): Promise<Channel> {
  const { WebSocket, WebSocketServer } = await import('ws');
  const wrap = (socket: WsSocket): Channel => ({
    send: (payload, text) =>
      new Promise((resolve, reject) => {
        socket.send(payload, { binary: !text }, (error) => {
          if (error == null) resolve();
          else reject(error);
        });
      }),
    onMessage: (handler) => {
      socket.on('message', (data: RawData) => {
        handler(data as Buffer);
      });
    },
    // ws keeps the TCP socket in a private field; its byte count is the wire's.
    wireBytesRead: () => (socket as unknown as { _socket: { bytesRead: number } })._socket.bytesRead,
  });
  const options = { maxPayload: 0, perMessageDeflate: true };
  if (side === 'client') {
    const socket = new WebSocket(`ws://${HOST}:${String(port)}/`, options);
    await once(socket, 'open');
    return wrap(socket);
  }
  const server = new WebSocketServer({ host: HOST, port: 0, ...options });
  const connected = new Promise<Channel>((resolve) => {
    server.once('connection', (socket) => {
      resolve(wrap(socket));
    });
  });
  await once(server, 'listening');
  onListening((server.address() as AddressInfo).port);
  return connected;
}

/** Sends `count` payloads with at most `window` sends not yet complete. */
async function sendWindowed(
  channel: Channel,
  count: number,
  window: number,
  payloadOf: (index: number) => Buffer,
  text: boolean,
): Promise<void> {
  const pending = new Set<Promise<void>>();
  for (let index = 0; index < count; index++) {
    const sending: Promise<void> = channel
      .send(payloadOf(index), text)
      .finally(() => pending.delete(sending));
    pending.add(sending);
    if (pending.size >= window) await Promise.race(pending);
  }
  await Promise.all(pending);
}

async function runThroughputChild(
  config: Extract<ChildConfig, { role: 'sender' | 'receiver' }>,
): Promise<void> {
  const open = config.implementation === 'ours' ? oursChannel : wsChannel;
  const channel = await open(config.side, config.port, (port) => {
    tell({ kind: 'listening', port });
  });
  const text = config.kind === 'json';
  // Sixteen different payloads, taken in turn: no message is a copy of the one before.
  const payloads = Array.from({ length: 16 }, (_unused, index) =>
    text ? jsonLike(config.size, index * 1000) : randomBytes(config.size),
  );
  if (config.role === 'receiver') {
    let messages = 0;
    let payloadBytes = 0;
    channel.onMessage((data) => {
      messages++;
      payloadBytes += data.length;
      if (messages === config.count) {
        tell({ kind: 'received', messages, payloadBytes, wireBytes: channel.wireBytesRead() });
      }
    });
  }
  process.on('message', (message: unknown) => {
    if (isRecord(message) && message.kind === 'go') {
      sendWindowed(channel, config.count, 16, (index) => payloads[index % payloads.length]!, text).then(
        () => {
          tell({ kind: 'sent' });
        },
        (error: unknown) => {
          tell({ kind: 'failed', message: describe(error) });
        },
      );
    } else if (isRecord(message) && message.kind === 'finish') {
      process.exit(0);
    }
  });
  tell({ kind: 'connected' });
}

/** An echo server with compression as the settings say. */
async function runMemoryServer(config: Extract<ChildConfig, { role: 'memory-server' }>): Promise<void> {
  const settings = SETTINGS[config.settings];
  if (config.implementation === 'ours') {
    const { WebSocketListener } = await import('../src/index.js');
    const listener = new WebSocketListener({ mode: 'message', perMessageDeflate: settings.ours });
    listener.on('connectionReceived', ({ socket }) => {
      socket.on('messageReceived', async (event) => {
        socket.control.messageType = event.messageType;
        await socket.outputStream.writeAsync(event.getData());
      });
    });
    await listener.bindServiceNameAsync(0, HOST);
    tell({ kind: 'listening', port: listener.information.localPort ?? 0 });
  } else {
    const { WebSocketServer } = await import('ws');
    const server = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: settings.ws });
    server.on('connection', (socket) => {
      socket.on('error', () => undefined);
      socket.on('message', (data: RawData, isBinary: boolean) => {
        socket.send(data as Buffer, { binary: isBinary });
      });
    });
    await once(server, 'listening');
    tell({ kind: 'listening', port: (server.address() as AddressInfo).port });
  }
  process.on('message', (message: unknown) => {
    if (isRecord(message) && message.kind === 'measure')
      tell({ kind: 'measured', rss: process.memoryUsage.rss() });
    if (isRecord(message) && message.kind === 'finish') process.exit(0);
  });
}

/** Opens connections (ws clients offering compression), each echoing two JSON messages, and keeps them. */
async function runMemoryClients(config: Extract<ChildConfig, { role: 'memory-clients' }>): Promise<void> {
  const { WebSocket } = await import('ws');
  const sockets: WsSocket[] = [];
  const started = performance.now();
  const one = async (index: number): Promise<void> => {
    const socket = new WebSocket(`ws://${HOST}:${String(config.port)}${config.path}`, {
      perMessageDeflate: true,
    });
    sockets.push(socket);
    await once(socket, 'open');
    for (let message = 0; message < 2; message++) {
      const echoed = once(socket, 'message');
      socket.send(jsonLike(MEMORY_MESSAGE, index * 10 + message), { binary: false });
      await echoed;
    }
  };
  // All at once: the server inflates and deflates for every one of them concurrently.
  await Promise.all(Array.from({ length: config.connections }, (_unused, index) => one(index)));
  tell({ kind: 'opened', connections: sockets.length, seconds: (performance.now() - started) / 1000 });
  process.on('message', (message: unknown) => {
    if (isRecord(message) && message.kind === 'finish') process.exit(0);
  });
}

// ---------------------------------------------------------------------------------------------------
// The parent.

interface ThroughputWorkload {
  name: string;
  kind: PayloadKind;
  size: number;
  count: number;
  direction: Direction;
}

function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for process ${String(pid)}`);
  return Number(match[1]) * KiB;
}

async function throughputRun(
  workload: ThroughputWorkload,
  implementation: Implementation,
): Promise<{ seconds: number; wireRatio: number }> {
  return PeerGroup.run(300_000, `${implementation} on ${workload.name}`, async (group) => {
    const serverSends = workload.direction === 'down';
    const spawnChild = (side: 'server' | 'client', port: number) =>
      group.spawn({
        name: `${implementation} ${side}`,
        script: SCRIPT,
        config: {
          role: (side === 'server') === serverSends ? 'sender' : 'receiver',
          side,
          implementation,
          kind: workload.kind,
          size: workload.size,
          count: workload.count,
          port,
        } satisfies ChildConfig,
        isMessage: isChildMessage,
        contender: implementation === 'ours' ? 'ours' : 'ws-native',
      });
    const server = spawnChild('server', 0);
    const { port } = await server.expect('listening');
    const client = spawnChild('client', port);
    await Promise.all([server.expect('connected'), client.expect('connected')]);
    const [sender, receiver] = serverSends ? [server, client] : [client, server];
    const started = performance.now();
    sender.send({ kind: 'go' });
    const received = await receiver.expect('received');
    const seconds = (performance.now() - started) / 1000;
    await sender.expect('sent');
    client.stop({ kind: 'finish' });
    server.stop({ kind: 'finish' });
    await Promise.all([client.exited, server.exited]);
    return { seconds, wireRatio: received.wireBytes / received.payloadBytes };
  });
}

/** The Python websockets echo server of the interop tests, with its default compression. */
async function startPython(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(PYTHON, [PYTHON_PEER, 'server', '--deflate'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /^PORT (\d+)$/m.exec(output);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once('exit', () => {
      reject(new Error('the Python server exited'));
    });
  });
  return { child, port };
}

/** RSS per connection of one server, and how long the 1,000 connections took to open and echo. */
async function memoryRun(
  contender: string,
  settings: Settings,
  connections: number,
): Promise<{ perConnection: number; seconds: number }> {
  return PeerGroup.run(300_000, `${contender} memory (${settings})`, async (group) => {
    let port: number;
    let path = '/';
    let python: ChildProcess | undefined;
    /** The server's RSS now: read from /proc for Python, asked of a Node server (the same figure). */
    let resident: () => Promise<number>;
    if (contender === 'python') {
      const started = await startPython();
      python = started.child;
      port = started.port;
      path = '/echo';
      const pid = python.pid!;
      resident = () => Promise.resolve(residentBytes(pid));
    } else {
      const server = group.spawn({
        name: `${contender} server`,
        script: SCRIPT,
        config: {
          role: 'memory-server',
          implementation: contender === 'ours' ? 'ours' : 'ws',
          settings,
        } satisfies ChildConfig,
        isMessage: isChildMessage,
        contender,
      });
      ({ port } = await server.expect('listening'));
      resident = async () => {
        server.send({ kind: 'measure' });
        return (await server.expect('measured')).rss;
      };
    }
    try {
      const open = async (count: number): Promise<number> => {
        const clients = group.spawn({
          name: 'clients',
          script: SCRIPT,
          config: { role: 'memory-clients', connections: count, port, path } satisfies ChildConfig,
          isMessage: isChildMessage,
          contender: 'ws-native',
        });
        return (await clients.expect('opened')).seconds;
      };
      await open(WARM_CONNECTIONS);
      const before = await resident();
      const seconds = await open(connections);
      const after = await resident();
      return { perConnection: (after - before) / connections, seconds };
    } finally {
      python?.kill('SIGKILL');
    }
  });
}

interface ParentOptions {
  json: boolean;
  rounds: number;
  warmup: number;
  connections: number;
  only: string | undefined;
}

async function runParent(options: ParentOptions): Promise<void> {
  const throughput = (
    [
      {
        name: 'JSON-like text in 16 KiB messages, client → server',
        kind: 'json',
        size: 16 * KiB,
        count: 4096,
        direction: 'up',
      },
      {
        name: 'JSON-like text in 16 KiB messages, server → client',
        kind: 'json',
        size: 16 * KiB,
        count: 4096,
        direction: 'down',
      },
      {
        name: 'JSON-like text in 1 KiB messages, client → server',
        kind: 'json',
        size: KiB,
        count: 20_000,
        direction: 'up',
      },
      {
        name: 'random bytes in 64 KiB messages, client → server',
        kind: 'random',
        size: 64 * KiB,
        count: 512,
        direction: 'up',
      },
    ] satisfies ThroughputWorkload[]
  ).filter((workload) => options.only === undefined || workload.name.includes(options.only));
  const memory = (Object.keys(SETTINGS) as Settings[]).filter(
    (settings) => options.only === undefined || `memory ${settings}`.includes(options.only),
  );
  const rates: Samples = new Map();
  const ratios: Samples = new Map();
  const perConnection: Samples = new Map();
  const openSeconds: Samples = new Map();
  const env = environment();
  const started = performance.now();
  const memoryRow = (settings: Settings): string =>
    `${String(options.connections)} compressing connections, ${SETTINGS[settings].label}: server RSS per connection`;
  const openRow = (settings: Settings): string =>
    `${String(options.connections)} compressing connections, ${SETTINGS[settings].label}: time to open and echo`;

  for (let round = -options.warmup; round < options.rounds; round++) {
    for (const workload of throughput) {
      for (const implementation of rotated(['ours', 'ws'] as const, round)) {
        const result = await throughputRun(workload, implementation);
        const rate = (workload.size * workload.count) / result.seconds;
        const id = implementation === 'ours' ? 'ours' : 'ws-native';
        process.stderr.write(
          `${roundLabel(round, options.warmup)} · ${workload.name} · ${id}: ${formatNumber(rate / 1e6)} MB/s, ` +
            `${formatNumber(result.wireRatio)} wire bytes per payload byte\n`,
        );
        if (round < 0) continue;
        record(rates, workload.name, id, rate);
        record(ratios, `${workload.name}: wire bytes per payload byte`, id, result.wireRatio);
      }
    }
    for (const settings of memory) {
      // Python websockets runs with its own defaults only (its peer script takes no settings): the row of
      // the same settings.
      const contenders = settings === 'python' ? ['ours', 'ws-native', 'python'] : ['ours', 'ws-native'];
      for (const contender of rotated(contenders, round)) {
        const result = await memoryRun(contender, settings, options.connections);
        process.stderr.write(
          `${roundLabel(round, options.warmup)} · memory, ${settings} · ${contender}: ` +
            `${formatNumber(result.perConnection / KiB)} KiB per connection, ${formatNumber(result.seconds)} s\n`,
        );
        if (round < 0) continue;
        record(perConnection, memoryRow(settings), contender, result.perConnection);
        record(openSeconds, openRow(settings), contender, result.seconds * 1000);
      }
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  const report: BenchReport = {
    bench: 'compression',
    title: 'permessage-deflate: throughput and memory per connection',
    environment: env,
    rounds: options.rounds,
    contenders: [...CONTENDERS],
    rows: [
      ...buildRows(
        rates,
        throughput.map((workload) => workload.name),
        CONTENDERS,
        'MB/s',
        1e6,
      ),
      ...buildRows(
        ratios,
        throughput.map((workload) => `${workload.name}: wire bytes per payload byte`),
        CONTENDERS,
        '×',
        1,
      ),
      ...buildRows(perConnection, memory.map(memoryRow), CONTENDERS, 'KiB', KiB),
      ...buildRows(openSeconds, memory.map(openRow), CONTENDERS, 'ms', 1),
    ],
    notes: [
      'Throughput: MB/s of payload from the "go" to the receiver counting the last message, with at most 16 ' +
        'sends in flight; a fresh client and server process per run; both sides with permessage-deflate ' +
        'on and their defaults (ours: `perMessageDeflate: true`; ws: `perMessageDeflate: true`): window ' +
        'bits 15, memLevel 8, context takeover, messages from 1 KiB compressed. Sixteen different payloads ' +
        "are sent in turn. Wire bytes per payload byte: the receiver's TCP bytes ÷ payload bytes.",
      `Memory: a server (ours: a WebSocketListener in message mode echoing; ws: a WebSocketServer echoing; ` +
        'Python: websockets 10.4 with compression="deflate", the interop peer) takes ' +
        `${String(WARM_CONNECTIONS)} connections, then ${String(options.connections)} more, all at once, from ` +
        'a client process of ws clients (which offer permessage-deflate as browsers do); each sends two ' +
        `${String(MEMORY_MESSAGE / KiB)} KiB JSON messages and reads the compressed echoes. RSS from ` +
        '/proc/<pid>/status before and after the second batch; lower is better. Python websockets runs with ' +
        'its own defaults (server and client windows of 12 bits, memLevel 5), shown in that row.',
      'Time to open and echo: the client process opening the connections and doing its echoes, all at ' +
        'once: the zlib work of 1,000 connections queued on the thread pool (ours and ws bound it to 10 ' +
        'operations at a time).',
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
    only: { type: 'string' },
    child: { type: 'string' },
  },
});

if (values.child !== undefined) {
  const config = JSON.parse(values.child) as ChildConfig;
  process.on('disconnect', () => process.exit(1));
  const fail = (error: unknown): void => {
    tell({ kind: 'failed', message: describe(error) });
  };
  if (config.role === 'memory-server') await runMemoryServer(config).catch(fail);
  else if (config.role === 'memory-clients') await runMemoryClients(config).catch(fail);
  else await runThroughputChild(config).catch(fail);
} else {
  await runParent({
    json: values.json,
    rounds: positiveInteger(values.rounds, '--rounds', 3),
    warmup: positiveInteger(values.warmup, '--warmup', 0, true),
    connections: positiveInteger(values.connections, '--connections', 1000),
    only: values.only,
  });
}
