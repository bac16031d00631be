// End-to-end transfer over 127.0.0.1 between two processes: our StreamWebSocket/WebSocketListener, ws
// (with bufferutil, and with its JS masking under WS_NO_BUFFER_UTIL=1) and raw node:net TCP, interleaved
// in the same run. Throughput in MB/s of payload, and the peak RSS of the client and of the server.
// Every transfer runs in a fresh server process and a fresh client process, both forked from this file
// (--child); this process only orchestrates them over IPC and keeps the clock.
// Run alone: node build/bench/transfer.js [--json] [--rounds N] [--warmup N] [--size-mib N]
//   [--only TEXT] [--contenders ours,ws-native,ws-js,tcp] [--cpu-prof-dir DIR]
// --only keeps the workloads whose name contains TEXT; --cpu-prof-dir runs the children under
// node --cpu-prof (profiles named after contender and role) to see where the time goes.

import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import type { RawData, WebSocket as WsSocket } from 'ws';

import type { ServerStreamWebSocket, StreamWebSocket } from '../src/index.js';
import { caseKey, type Samples } from './lib/harness.js';
import { IpcPeer, withTimeout, type FailedMessage } from './lib/ipc-peer.js';
import {
  buildRows,
  comparisonTable,
  environment,
  formatNumber,
  type BenchReport,
  type Contender,
} from './lib/report.js';

const HOST = '127.0.0.1';
const KiB = 1024;
const MiB = 1024 * KiB;

const CONTENDER_IDS = ['ours', 'ws-native', 'ws-js', 'tcp'] as const;
type ContenderId = (typeof CONTENDER_IDS)[number];

const CONTENDERS: readonly Contender[] = [
  { id: 'ours', label: 'ours' },
  { id: 'ws-native', label: 'ws + bufferutil' },
  { id: 'ws-js', label: 'ws (JS)' },
  { id: 'tcp', label: 'raw TCP' },
];

function isContenderId(value: unknown): value is ContenderId {
  return CONTENDER_IDS.some((id) => id === value);
}

/** 'up': the client sends (masked frames); 'down': the server sends (unmasked). */
type Direction = 'up' | 'down';
type Role = 'server' | 'client';

/** What a child process is told on its command line (as JSON after --child). */
interface ChildConfig {
  role: Role;
  contender: ContenderId;
  direction: Direction;
  totalBytes: number;
  /** Bytes per write; for one message, the whole payload. */
  writeSize: number;
  /** The client's: the server's port. */
  port: number;
}

/** Child → parent. */
type ChildMessage =
  | { kind: 'listening'; port: number }
  | { kind: 'connected' }
  | { kind: 'sent' }
  /** messages: null where the receiving API hands out bytes, not messages (ours, TCP). */
  | { kind: 'received'; bytes: number; messages: number | null }
  | { kind: 'rss'; maxRssBytes: number };

/** Parent → child. */
interface ParentMessage {
  kind: 'go' | 'finish';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
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
      return (
        typeof value.bytes === 'number' && (value.messages === null || typeof value.messages === 'number')
      );
    case 'rss':
      return typeof value.maxRssBytes === 'number';
    default:
      return false;
  }
}

function isParentMessage(value: unknown): value is ParentMessage {
  return isRecord(value) && (value.kind === 'go' || value.kind === 'finish');
}

function isChildConfig(value: unknown): value is ChildConfig {
  return (
    isRecord(value) &&
    (value.role === 'server' || value.role === 'client') &&
    isContenderId(value.contender) &&
    (value.direction === 'up' || value.direction === 'down') &&
    typeof value.totalBytes === 'number' &&
    typeof value.writeSize === 'number' &&
    typeof value.port === 'number'
  );
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message} (${describe(error.cause)})`;
}

// ---------------------------------------------------------------------------------------------------
// The child: one side of one transfer.

/** One open connection, whatever the contender. */
interface Connection {
  /** Sends a chunk (one message where there are messages); resolves when the next may be sent. */
  write(chunk: Buffer): Promise<void>;
  /** Starts reading: `onData` gets each section's length, and whether it ended a message. */
  receive(onData: (length: number, messageEnded: boolean) => void): void;
  /** Whether receive() reports message ends (ws delivers whole messages). */
  readonly countsMessages: boolean;
}

interface Endpoint {
  /** Binds a port (reported to onListening) and resolves with the first connection. */
  serve(onListening: (port: number) => void): Promise<Connection>;
  connect(port: number): Promise<Connection>;
}

type Fail = (error: unknown) => void;

async function oursEndpoint(fail: Fail): Promise<Endpoint> {
  const { StreamWebSocket, WebSocketListener } = await import('../src/index.js');
  const wrap = (socket: StreamWebSocket | ServerStreamWebSocket): Connection => ({
    async write(chunk) {
      await socket.outputStream.writeAsync(chunk);
    },
    receive(onData) {
      socket.inputStream.on('data', (section: Buffer) => {
        onData(section.length, false);
      });
      socket.inputStream.on('error', fail);
      socket.inputStream.on('end', () => {
        fail(new Error('the input stream ended'));
      });
    },
    countsMessages: false,
  });
  return {
    async serve(onListening) {
      const listener = new WebSocketListener();
      const connection = new Promise<Connection>((resolve) => {
        listener.once('connectionReceived', ({ socket }) => {
          resolve(wrap(socket));
        });
      });
      await listener.bindServiceNameAsync(0, HOST);
      const port = listener.information.localPort;
      if (port === null) throw new Error('the listener has no port');
      onListening(port);
      return connection;
    },
    async connect(port) {
      const socket = new StreamWebSocket();
      await socket.connectAsync(`ws://${HOST}:${String(port)}/`);
      return wrap(socket);
    },
  };
}

/** Which ws/lib/buffer-util.js chose, seen from the modules ws has loaded. */
function checkWsMasking(native: boolean): void {
  const require = createRequire(import.meta.url);
  const loaded = Object.keys(require.cache);
  const addon = loaded.some(
    (key) => key.includes(`${path.sep}bufferutil${path.sep}`) && key.endsWith('.node'),
  );
  const anyBufferUtil = loaded.some((key) => key.includes(`${path.sep}bufferutil${path.sep}`));
  if (native && !addon) throw new Error('ws did not load the bufferutil addon');
  if (!native && anyBufferUtil) throw new Error('ws loaded bufferutil despite WS_NO_BUFFER_UTIL=1');
}

async function wsEndpoint(native: boolean, fail: Fail): Promise<Endpoint> {
  const { WebSocket, WebSocketServer } = await import('ws');
  checkWsMasking(native);
  // 0 lifts each limit: ws (8.23) refuses messages over 100 MiB, over 16 384 fragments or over 262 144
  // buffered socket chunks by default, and the one-message workload exceeds the first.
  const limits = { maxPayload: 0, maxFragments: 0, maxBufferedChunks: 0, perMessageDeflate: false };
  const wrap = (socket: WsSocket): Connection => {
    socket.on('error', fail);
    return {
      write: (chunk) =>
        new Promise((resolve, reject) => {
          socket.send(chunk, { binary: true }, (error) => {
            // Node hands write callbacks null, not undefined, on success.
            if (error instanceof Error) reject(error);
            else resolve();
          });
        }),
      receive(onData) {
        socket.on('message', (data: RawData) => {
          onData(rawLength(data), true);
        });
      },
      countsMessages: true,
    };
  };
  return {
    async serve(onListening) {
      const server = new WebSocketServer({ host: HOST, port: 0, ...limits });
      server.on('error', fail);
      const connection = new Promise<Connection>((resolve) => {
        server.once('connection', (socket) => {
          resolve(wrap(socket));
        });
      });
      await once(server, 'listening');
      onListening((server.address() as AddressInfo).port);
      return connection;
    },
    async connect(port) {
      const socket = new WebSocket(`ws://${HOST}:${String(port)}/`, limits);
      const connection = wrap(socket);
      await once(socket, 'open');
      return connection;
    },
  };
}

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data.byteLength;
}

function tcpEndpoint(fail: Fail): Endpoint {
  const wrap = (socket: net.Socket): Connection => {
    socket.setNoDelay(true);
    socket.on('error', fail);
    return {
      async write(chunk) {
        if (!socket.write(chunk)) await once(socket, 'drain');
      },
      receive(onData) {
        socket.on('data', (chunk: Buffer) => {
          onData(chunk.length, false);
        });
      },
      countsMessages: false,
    };
  };
  return {
    async serve(onListening) {
      const server = net.createServer();
      server.on('error', fail);
      const connection = new Promise<Connection>((resolve) => {
        server.once('connection', (socket) => {
          resolve(wrap(socket));
        });
      });
      server.listen(0, HOST);
      await once(server, 'listening');
      onListening((server.address() as AddressInfo).port);
      return connection;
    },
    async connect(port) {
      const socket = net.connect(port, HOST);
      const connection = wrap(socket);
      await once(socket, 'connect');
      return connection;
    },
  };
}

/** Only the contender's own code is loaded, so that each process's RSS is its own. */
function loadEndpoint(contender: ContenderId, fail: Fail): Promise<Endpoint> {
  switch (contender) {
    case 'ours':
      return oursEndpoint(fail);
    case 'ws-native':
      return wsEndpoint(true, fail);
    case 'ws-js':
      return wsEndpoint(false, fail);
    case 'tcp':
      return Promise.resolve(tcpEndpoint(fail));
  }
}

/** One write's worth of random bytes: a random MiB, repeated up to the write size. */
function makePayload(writeSize: number): Buffer {
  const block = randomFillSync(Buffer.allocUnsafe(Math.min(writeSize, MiB)));
  if (writeSize === block.length) return block;
  const payload = Buffer.allocUnsafe(writeSize);
  for (let offset = 0; offset < writeSize; offset += block.length) block.copy(payload, offset);
  return payload;
}

async function sendAll(connection: Connection, payload: Buffer, totalBytes: number): Promise<void> {
  for (let sent = 0; sent < totalBytes; sent += payload.length) {
    const left = totalBytes - sent;
    await connection.write(left >= payload.length ? payload : payload.subarray(0, left));
  }
}

function tell(message: ChildMessage | FailedMessage, then?: () => void): void {
  if (process.send === undefined) throw new Error('a --child process needs an IPC channel');
  process.send(message, undefined, {}, () => then?.());
}

function countReceived(connection: Connection, config: ChildConfig, fail: Fail): void {
  const expectedMessages = Math.ceil(config.totalBytes / config.writeSize);
  let bytes = 0;
  let messages = 0;
  let done = false;
  connection.receive((length, messageEnded) => {
    bytes += length;
    if (messageEnded) messages++;
    if (done) {
      if (length > 0) fail(new Error(`received more than the ${String(config.totalBytes)} bytes sent`));
      return;
    }
    if (bytes < config.totalBytes) return;
    done = true;
    if (bytes !== config.totalBytes) {
      fail(new Error(`received ${String(bytes)} bytes, ${String(config.totalBytes)} were sent`));
    } else if (connection.countsMessages && messages !== expectedMessages) {
      fail(new Error(`received ${String(messages)} messages, ${String(expectedMessages)} were sent`));
    } else {
      tell({ kind: 'received', bytes, messages: connection.countsMessages ? messages : null });
    }
  });
}

async function runChild(config: ChildConfig): Promise<void> {
  let finishing = false;
  const fail: Fail = (error) => {
    if (!finishing) tell({ kind: 'failed', message: `${config.role}: ${describe(error)}` });
  };
  // Without its parent there is nobody to report to.
  process.on('disconnect', () => process.exit(1));

  const sending = (config.role === 'client') === (config.direction === 'up');
  // Made before the clock starts; the sender's RSS includes it.
  const payload = sending ? makePayload(config.writeSize) : undefined;
  const endpoint = await loadEndpoint(config.contender, fail);

  const connection =
    config.role === 'server'
      ? await endpoint.serve((port) => {
          tell({ kind: 'listening', port });
        })
      : await endpoint.connect(config.port);
  if (!sending) countReceived(connection, config, fail);
  // The parent speaks only once this side is connected.
  process.on('message', (message: unknown) => {
    if (!isParentMessage(message)) {
      fail(new Error(`unexpected message ${JSON.stringify(message)}`));
    } else if (message.kind === 'go') {
      if (payload === undefined) {
        fail(new Error('told to send, but this side does not send'));
        return;
      }
      sendAll(connection, payload, config.totalBytes).then(() => {
        tell({ kind: 'sent' });
      }, fail);
    } else {
      // No closing handshake: the transfer is over, and the peer is told to exit at the same time.
      finishing = true;
      const maxRssBytes = process.resourceUsage().maxRSS * KiB;
      tell({ kind: 'rss', maxRssBytes }, () => process.exit(0));
    }
  });

  tell({ kind: 'connected' });
}

// ---------------------------------------------------------------------------------------------------
// The parent: workloads × contenders, interleaved rounds, the report.

interface Workload {
  name: string;
  direction: Direction;
  writeSize: number;
}

interface TransferResult {
  seconds: number;
  clientRss: number;
  serverRss: number;
}

interface ParentOptions {
  json: boolean;
  rounds: number;
  warmup: number;
  sizeMiB: number;
  only: string | undefined;
  contenders: ContenderId[];
  cpuProfDir: string | undefined;
}

const SCRIPT = fileURLToPath(import.meta.url);

function childEnv(contender: ContenderId): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // ws decides at load time; both processes of a ws (JS) transfer run without bufferutil.
  if (contender === 'ws-js') env.WS_NO_BUFFER_UTIL = '1';
  else delete env.WS_NO_BUFFER_UTIL;
  return env;
}

async function transfer(
  workload: Workload,
  contender: ContenderId,
  options: ParentOptions,
  totalBytes: number,
): Promise<TransferResult> {
  const base = { contender, direction: workload.direction, totalBytes, writeSize: workload.writeSize };
  const spawn = (role: Role, port: number): IpcPeer<ChildMessage> => {
    const config: ChildConfig = { ...base, role, port };
    const execArgv =
      options.cpuProfDir === undefined
        ? []
        : [
            '--cpu-prof',
            `--cpu-prof-dir=${options.cpuProfDir}`,
            `--cpu-prof-name=${contender}-${role}-${String(Date.now())}.cpuprofile`,
          ];
    return new IpcPeer(`${contender} ${role}`, SCRIPT, isChildMessage, {
      args: ['--child', JSON.stringify(config)],
      env: childEnv(contender),
      execArgv,
    });
  };
  const peers: IpcPeer<ChildMessage>[] = [];
  const killAll = (): void => {
    for (const peer of peers) peer.kill();
  };
  const run = async (): Promise<TransferResult> => {
    const server = spawn('server', 0);
    peers.push(server);
    const { port } = await server.expect('listening');
    const client = spawn('client', port);
    peers.push(client);
    await Promise.all([server.expect('connected'), client.expect('connected')]);

    const [sender, receiver] = workload.direction === 'up' ? [client, server] : [server, client];
    const start = performance.now();
    sender.send({ kind: 'go' } satisfies ParentMessage);
    const received = await receiver.expect('received');
    const seconds = (performance.now() - start) / 1000;
    await sender.expect('sent');
    if (received.bytes !== totalBytes) throw new Error(`${String(received.bytes)} bytes arrived`);

    const finish: ParentMessage = { kind: 'finish' };
    sender.stop(finish);
    receiver.stop(finish);
    const [clientRss, serverRss] = await Promise.all([client.expect('rss'), server.expect('rss')]);
    await Promise.all([client.exited, server.exited]);
    return { seconds, clientRss: clientRss.maxRssBytes, serverRss: serverRss.maxRssBytes };
  };
  // Generous: a slow contender on a busy machine, not a hang.
  const limitMs = 30_000 + (60_000 * totalBytes) / (1024 * MiB);
  try {
    return await withTimeout(run(), limitMs, `${contender} on ${workload.name}`, killAll);
  } finally {
    killAll();
  }
}

function positiveInteger(
  text: string | undefined,
  name: string,
  fallback: number,
  allowZero = false,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new RangeError(`${name} takes a ${allowZero ? 'non-negative' : 'positive'} integer, not ${text}`);
  }
  return value;
}

function parseContenders(text: string | undefined): ContenderId[] {
  if (text === undefined) return [...CONTENDER_IDS];
  const ids = text.split(',').map((id) => id.trim());
  const unknown = ids.filter((id) => !isContenderId(id));
  if (unknown.length > 0) {
    throw new RangeError(`unknown contender ${unknown.join(', ')}; there are ${CONTENDER_IDS.join(', ')}`);
  }
  return ids.filter(isContenderId);
}

function sizeLabel(mebibytes: number): string {
  return mebibytes % 1024 === 0 ? `${String(mebibytes / 1024)} GiB` : `${String(mebibytes)} MiB`;
}

function rssRow(workload: Workload, role: Role): string {
  return `${workload.name}: peak RSS, ${role}`;
}

async function runParent(options: ParentOptions): Promise<void> {
  const totalBytes = options.sizeMiB * MiB;
  const size = sizeLabel(options.sizeMiB);
  const allWorkloads: Workload[] = [
    { name: `${size} in 1 MiB writes, client → server`, direction: 'up', writeSize: MiB },
    { name: `${size} in 1 MiB writes, server → client`, direction: 'down', writeSize: MiB },
    { name: `${size} in 64 KiB writes, client → server`, direction: 'up', writeSize: 64 * KiB },
    { name: `${size} in 64 KiB writes, server → client`, direction: 'down', writeSize: 64 * KiB },
    { name: `one ${size} message, client → server`, direction: 'up', writeSize: totalBytes },
  ];
  const only = options.only;
  const workloads = only === undefined ? allWorkloads : allWorkloads.filter((w) => w.name.includes(only));
  if (workloads.length === 0) throw new RangeError(`no workload matches --only ${String(only)}`);
  const contenders = CONTENDERS.filter((contender) => options.contenders.some((id) => id === contender.id));
  const env = environment();
  const started = performance.now();

  const throughput: Samples = new Map();
  const rss: Samples = new Map();
  const record = (samples: Samples, row: string, contender: string, value: number): void => {
    const key = caseKey(row, contender);
    samples.set(key, [...(samples.get(key) ?? []), value]);
  };

  // As lib/harness.ts runs its cases: workloads in order, contenders rotated by the round number.
  for (let round = -options.warmup; round < options.rounds; round++) {
    for (const workload of workloads) {
      const shift = ((round % contenders.length) + contenders.length) % contenders.length;
      for (let index = 0; index < contenders.length; index++) {
        const contender = contenders[(index + shift) % contenders.length]!;
        if (!isContenderId(contender.id)) continue;
        const result = await transfer(workload, contender.id, options, totalBytes);
        const rate = totalBytes / result.seconds;
        if (!options.json) {
          const which =
            round < 0 ? `warm-up ${String(round + options.warmup + 1)}` : `round ${String(round + 1)}`;
          process.stderr.write(
            `${which} · ${workload.name} · ${contender.label}: ${formatNumber(rate / 1e6)} MB/s, ` +
              `peak RSS client ${formatNumber(result.clientRss / MiB)} MiB, ` +
              `server ${formatNumber(result.serverRss / MiB)} MiB\n`,
          );
        }
        if (round < 0) continue;
        record(throughput, workload.name, contender.id, rate);
        record(rss, rssRow(workload, 'client'), contender.id, result.clientRss);
        record(rss, rssRow(workload, 'server'), contender.id, result.serverRss);
      }
    }
  }
  const elapsed = (performance.now() - started) / 1000;

  const report: BenchReport = {
    bench: 'transfer',
    title: `end-to-end transfer of ${size} over 127.0.0.1, client and server in separate processes`,
    environment: env,
    rounds: options.rounds,
    contenders,
    rows: [
      ...buildRows(
        throughput,
        workloads.map((workload) => workload.name),
        contenders,
        'MB/s',
        1e6,
      ),
      ...buildRows(
        rss,
        workloads.flatMap((workload) => [rssRow(workload, 'client'), rssRow(workload, 'server')]),
        contenders,
        'MiB',
        MiB,
      ),
    ],
    notes: [
      'MB/s = 10^6 payload bytes/s, timed by the parent from the "go" it sends the sender until the ' +
        'receiver reports the last byte (two IPC hops, well under 1 ms). Each transfer runs in a fresh ' +
        'server process and a fresh client process; the parent only orchestrates.',
      'Senders write one random chunk (crypto.randomFillSync, made before the clock starts) over and ' +
        'over, awaiting each write: ours `await outputStream.writeAsync(chunk)` (resolves once the socket ' +
        'can take more), ws `await new Promise((r) => ws.send(chunk, r))` (resolves once the socket has ' +
        "written the frame), raw TCP socket.write() and 'drain'. Receivers count bytes (ws: also " +
        "messages) and check the totals; nothing is hashed. Ours reads the server's or client's " +
        "inputStream ('data' events), ws its 'message' events.",
      'Peak RSS = process.resourceUsage().maxRSS of each process (Node itself is about 40–50 MiB of ' +
        "it; the sender's includes its payload buffer). Lower is better: below 1× in an RSS row means " +
        'ours used less.',
      `One message: our client makes one writeAsync(${size} buffer) (one message, sent as masked ` +
        `frames of 1 MiB); ws sends ws.send(${size} buffer) (one frame, masked into a copy of the ` +
        `whole); raw TCP one socket.write(${size} buffer). ws runs with maxPayload, maxFragments and ` +
        'maxBufferedChunks 0 (no limit) on both sides, so its receiver accepts it: it gathers the whole ' +
        'message before its event, ours streams it.',
      'ws (JS): WS_NO_BUFFER_UTIL=1 in both processes; each ws process checks which masking it loaded. ' +
        'No permessage-deflate anywhere.',
      `Whole run: ${elapsed.toFixed(0)} s.`,
    ],
  };

  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const subset = (unit: string): BenchReport => ({
    ...report,
    rows: report.rows.filter((row) => row.unit === unit),
  });
  const lines = [
    `Environment: ${report.environment}`,
    '',
    'Throughput (higher is better):',
    '',
    comparisonTable([subset('MB/s')]),
    '',
    'Peak RSS of each process (lower is better):',
    '',
    comparisonTable([subset('MiB')]),
    '',
    `${report.bench} (${report.title}): medians of ${String(report.rounds)} interleaved rounds.`,
    ...report.notes.map((note) => `- ${note}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------------

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    'size-mib': { type: 'string' },
    only: { type: 'string' },
    contenders: { type: 'string' },
    'cpu-prof-dir': { type: 'string' },
    child: { type: 'string' },
  },
});

if (values.child !== undefined) {
  const config: unknown = JSON.parse(values.child);
  if (!isChildConfig(config)) throw new Error(`not a child configuration: ${values.child}`);
  await runChild(config);
} else {
  await runParent({
    json: values.json,
    rounds: positiveInteger(values.rounds, '--rounds', 2),
    warmup: positiveInteger(values.warmup, '--warmup', 0, true),
    sizeMiB: positiveInteger(values['size-mib'], '--size-mib', 1024),
    only: values.only,
    contenders: parseContenders(values.contenders),
    cpuProfDir: values['cpu-prof-dir'] === undefined ? undefined : path.resolve(values['cpu-prof-dir']),
  });
}
