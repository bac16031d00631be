// End-to-end transfer over 127.0.0.1 between two processes: our StreamWebSocket/WebSocketListener, ws
// (with bufferutil, and with its JS masking under WS_NO_BUFFER_UTIL=1) and raw node:net TCP, interleaved
// in the same run. Throughput in MB/s of payload, and the peak RSS of the client and of the server.
// Two groups of workloads: readme-paths (the code the README teaches: pipeline() into outputStream, for
// await or readAsync over inputStream; ws as its users write it) and fast-paths (awaited writeAsync,
// 'data' listeners). Every transfer runs in a fresh server process and a fresh client process, both
// forked from this file (--child); this process only orchestrates them over IPC and keeps the clock.
// Run alone: node build/bench/transfer.js [--json] [--rounds N] [--warmup N] [--size-mib N]
//   [--only TEXT] [--contenders ours,ws-native,ws-js,tcp] [--cpu-prof-dir DIR]
// --only keeps the workloads whose group (readme-paths, fast-paths) or name contains TEXT;
// --cpu-prof-dir runs the children under node --cpu-prof (profiles named after contender and role).

import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import type { Samples } from './lib/harness.js';
import type { FailedMessage } from './lib/ipc-peer.js';
import { chunkSource } from './lib/chunk-source.js';
import {
  CONTENDER_IDS,
  describe,
  isContenderId,
  isRecord,
  KiB,
  MiB,
  parseContenders,
  peakRss,
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
  comparisonTable,
  environment,
  formatNumber,
  type BenchReport,
  type Contender,
} from './lib/report.js';
import {
  loadEndpoint,
  WS_HIGH_WATER_MARK,
  type Connection,
  type Fail,
  type ReceiveStyle,
} from './lib/transfer-endpoints.js';

/** 'up': the client sends (masked frames); 'down': the server sends (unmasked). */
type Direction = 'up' | 'down';
type Role = 'server' | 'client';
/** 'each': one awaited write after the other (the tuned path); 'stream': the users' path. */
type SendStyle = 'each' | 'stream';

const RECEIVE_STYLES: readonly ReceiveStyle[] = ['events', 'iterate', 'read-async'];

/** How one transfer sends and receives; the same for both processes of a run. */
interface Paths {
  send: SendStyle;
  receive: ReceiveStyle;
  /** The reused buffer's size for readAsync. */
  readBufferBytes: number;
}

/** What a child process is told on its command line (as JSON after --child). */
interface ChildConfig extends Paths {
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
  /** CPU seconds since connected, in user space and in the kernel: what the transfer cost this side. */
  | { kind: 'rss'; maxRssBytes: number; userSeconds: number; systemSeconds: number };

/** Parent → child. */
interface ParentMessage {
  kind: 'go' | 'finish';
}

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
      return (
        typeof value.bytes === 'number' && (value.messages === null || typeof value.messages === 'number')
      );
    case 'rss':
      return (
        typeof value.maxRssBytes === 'number' &&
        typeof value.userSeconds === 'number' &&
        typeof value.systemSeconds === 'number'
      );
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
    (value.send === 'each' || value.send === 'stream') &&
    RECEIVE_STYLES.some((style) => style === value.receive) &&
    typeof value.readBufferBytes === 'number' &&
    typeof value.port === 'number'
  );
}

// ---------------------------------------------------------------------------------------------------
// The child: one side of one transfer.

/** One write's worth of random bytes: a random MiB, repeated up to the write size. */
function makePayload(writeSize: number): Buffer {
  const block = randomFillSync(Buffer.allocUnsafe(Math.min(writeSize, MiB)));
  if (writeSize === block.length) return block;
  const payload = Buffer.allocUnsafe(writeSize);
  for (let offset = 0; offset < writeSize; offset += block.length) block.copy(payload, offset);
  return payload;
}

async function sendAll(connection: Connection, payload: Buffer, config: ChildConfig): Promise<void> {
  if (config.send === 'stream') {
    await connection.stream(chunkSource(payload, config.totalBytes));
    return;
  }
  for (let sent = 0; sent < config.totalBytes; sent += payload.length) {
    const left = config.totalBytes - sent;
    await connection.write(left >= payload.length ? payload : payload.subarray(0, left));
  }
}

function countReceived(connection: Connection, config: ChildConfig, fail: Fail): void {
  const expectedMessages = Math.ceil(config.totalBytes / config.writeSize);
  let bytes = 0;
  let messages = 0;
  let done = false;
  const options = { style: config.receive, readBufferBytes: config.readBufferBytes };
  connection.receive(options, (length, messageEnded) => {
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
  const cpuAtConnect = process.cpuUsage();
  // The parent speaks only once this side is connected.
  process.on('message', (message: unknown) => {
    if (!isParentMessage(message)) {
      fail(new Error(`unexpected message ${JSON.stringify(message)}`));
    } else if (message.kind === 'go') {
      if (payload === undefined) {
        fail(new Error('told to send, but this side does not send'));
        return;
      }
      sendAll(connection, payload, config).then(() => {
        tell({ kind: 'sent' });
      }, fail);
    } else {
      // No closing handshake: the transfer is over, and the peer is told to exit at the same time.
      finishing = true;
      const cpu = process.cpuUsage(cpuAtConnect);
      const usage = { userSeconds: cpu.user / 1e6, systemSeconds: cpu.system / 1e6 };
      tell({ kind: 'rss', maxRssBytes: peakRss(), ...usage }, () => process.exit(0));
    }
  });

  tell({ kind: 'connected' });
}

// ---------------------------------------------------------------------------------------------------
// The parent: workloads × contenders, interleaved rounds, the report.

type Group = 'readme-paths' | 'fast-paths';

interface Workload extends Paths {
  name: string;
  group: Group;
  direction: Direction;
  writeSize: number;
  /** The contenders this workload runs (all selected ones when absent). */
  contenders?: readonly ContenderId[];
}

interface TransferResult {
  seconds: number;
  clientRss: number;
  serverRss: number;
  /** "1.23 s (0.45 user)": CPU time of each side. */
  clientCpu: string;
  serverCpu: string;
  /** CPU seconds of both processes together. */
  cpuSeconds: number;
}

interface ParentOptions {
  json: boolean;
  rounds: number;
  warmup: number;
  sizeMiB: number;
  only: string | undefined;
  contenders: Contender[];
  cpuProfDir: string | undefined;
}

const SCRIPT = fileURLToPath(import.meta.url);

function transfer(
  workload: Workload,
  contender: ContenderId,
  options: ParentOptions,
  totalBytes: number,
): Promise<TransferResult> {
  const base = {
    contender,
    direction: workload.direction,
    totalBytes,
    writeSize: workload.writeSize,
    send: workload.send,
    receive: workload.receive,
    readBufferBytes: workload.readBufferBytes,
  };
  // Generous: a slow contender on a busy machine, not a hang.
  const limitMs = 30_000 + (60_000 * totalBytes) / (1024 * MiB);
  return PeerGroup.run(limitMs, `${contender} on ${workload.name}`, async (group) => {
    const spawn = (role: Role, port: number) =>
      group.spawn({
        name: `${contender} ${role}`,
        script: SCRIPT,
        config: { ...base, role, port } satisfies ChildConfig,
        isMessage: isChildMessage,
        contender,
        cpuProfDir: options.cpuProfDir,
      });
    const server = spawn('server', 0);
    const { port } = await server.expect('listening');
    const client = spawn('client', port);
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
    return {
      seconds,
      clientRss: clientRss.maxRssBytes,
      serverRss: serverRss.maxRssBytes,
      clientCpu: cpuTime(clientRss),
      serverCpu: cpuTime(serverRss),
      cpuSeconds: [clientRss, serverRss].reduce(
        (sum, side) => sum + side.userSeconds + side.systemSeconds,
        0,
      ),
    };
  });
}

function cpuTime(usage: { userSeconds: number; systemSeconds: number }): string {
  const total = usage.userSeconds + usage.systemSeconds;
  return `${total.toFixed(2)} s (${usage.userSeconds.toFixed(2)} user)`;
}

function sizeLabel(mebibytes: number): string {
  return mebibytes % 1024 === 0 ? `${String(mebibytes / 1024)} GiB` : `${String(mebibytes)} MiB`;
}

function cpuRow(workload: Workload): string {
  return `${workload.name}: CPU time, both sides`;
}

function rssRow(workload: Workload, role: Role): string {
  return `${workload.name}: peak RSS, ${role}`;
}

/** The README-path rows first, then the fast paths the table has always had. */
function allWorkloads(size: string, totalBytes: number): Workload[] {
  const arrow = (direction: Direction): string =>
    direction === 'up' ? 'client → server' : 'server → client';
  const writes = (writeSize: number): string =>
    writeSize === MiB ? '1 MiB' : `${String(writeSize / KiB)} KiB`;
  // ws (JS) is left out of the README rows: they are about ours against ws as most run it, and TCP.
  const readmeContenders: readonly ContenderId[] = ['ours', 'ws-native', 'tcp'];
  const readme: Workload[] = [];
  for (const writeSize of [64 * KiB, MiB]) {
    for (const direction of ['up', 'down'] as const) {
      readme.push({
        name: `README paths: ${size} in ${writes(writeSize)} writes, ${arrow(direction)}, pipeline → for await`,
        group: 'readme-paths',
        direction,
        writeSize,
        send: 'stream',
        receive: 'iterate',
        readBufferBytes: 0,
        contenders: readmeContenders,
      });
    }
  }
  for (const readBufferBytes of [64 * KiB, MiB]) {
    for (const direction of ['up', 'down'] as const) {
      readme.push({
        name: `README paths: ${size} in 1 MiB writes, ${arrow(direction)}, pipeline → readAsync, ${writes(readBufferBytes)} buffer`,
        group: 'readme-paths',
        direction,
        writeSize: MiB,
        send: 'stream',
        receive: 'read-async',
        readBufferBytes,
        contenders: readmeContenders,
      });
    }
  }
  const fast = (name: string, direction: Direction, writeSize: number): Workload => ({
    name,
    group: 'fast-paths',
    direction,
    writeSize,
    send: 'each',
    receive: 'events',
    readBufferBytes: 0,
  });
  return [
    ...readme,
    fast(`${size} in 1 MiB writes, client → server`, 'up', MiB),
    fast(`${size} in 1 MiB writes, server → client`, 'down', MiB),
    fast(`${size} in 64 KiB writes, client → server`, 'up', 64 * KiB),
    fast(`${size} in 64 KiB writes, server → client`, 'down', 64 * KiB),
    fast(`one ${size} message, client → server`, 'up', totalBytes),
  ];
}

function notes(size: string, elapsed: number): string[] {
  return [
    'MB/s = 10^6 payload bytes/s, timed by the parent from the "go" it sends the sender until the ' +
      'receiver reports the last byte (two IPC hops, well under 1 ms). Each transfer runs in a fresh ' +
      'server process and a fresh client process; the parent only orchestrates.',
    'README paths (group readme-paths): the sender streams a Readable (object mode, one chunk ahead, ' +
      'as Readable.from(generator)) that yields one random chunk (crypto.randomFillSync, made ' +
      'before the clock starts) again and again. Ours: `await pipeline(source, socket.outputStream, { ' +
      'end: false })`, each chunk one binary message; the receiver reads `for await (const section of ' +
      'socket.inputStream)` or, in the readAsync rows, `await inputStream.readAsync(buffer, ' +
      'buffer.length, InputStreamOptions.Partial)` into one reused buffer until a 0-length result. ws ' +
      `+ bufferutil as its users write it: \`for await (const chunk of source)\`, ws.send(chunk) while ` +
      `ws.bufferedAmount is below ${String(WS_HIGH_WATER_MARK / MiB)} MiB, else awaiting that send's ` +
      "callback; the receiver its 'message' event (the same in the readAsync rows: ws has no other way " +
      'to read). Raw TCP: `await pipeline(source, socket, { end: false })` and `for await (const chunk ' +
      'of socket)` (also in the readAsync rows). ws (JS) does not run these rows.',
    'Fast paths (the rows without "README paths"): senders write one random chunk over and over, ' +
      'awaiting each write: ours `await outputStream.writeAsync(chunk)` (resolves once the socket can ' +
      'take more), ws `await new Promise((r) => ws.send(chunk, r))` (resolves once the socket has ' +
      "written the frame), raw TCP socket.write() and 'drain'. Ours reads the server's or client's " +
      "inputStream ('data' events), ws its 'message' events, raw TCP 'data' events.",
    'CPU time = user + system seconds of the client and the server process together, from connected ' +
      'until the end (process.cpuUsage()): what a transfer costs, steadier than MB/s on a shared machine ' +
      '(fewer cycles for the others), though page faults of the receiver count in it (see the README).',
    'Receivers count bytes (ws: also messages) and check the totals; nothing is hashed (the ' +
      'huge-message bench hashes).',
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
  ];
}

async function runParent(options: ParentOptions): Promise<void> {
  const totalBytes = options.sizeMiB * MiB;
  const size = sizeLabel(options.sizeMiB);
  const only = options.only;
  const workloads = allWorkloads(size, totalBytes).filter(
    (w) => only === undefined || w.group.includes(only) || w.name.includes(only),
  );
  if (workloads.length === 0) throw new RangeError(`no workload matches --only ${String(only)}`);
  const runsOn = (workload: Workload, contender: Contender): boolean =>
    workload.contenders?.some((id) => id === contender.id) ?? true;
  // Columns only for contenders that run at least one of these workloads.
  const contenders = options.contenders.filter((contender) =>
    workloads.some((workload) => runsOn(workload, contender)),
  );
  const env = environment();
  const started = performance.now();

  const throughput: Samples = new Map();
  const rss: Samples = new Map();
  const cpu: Samples = new Map();
  // As lib/harness.ts runs its cases: workloads in order, contenders rotated by the round number.
  for (let round = -options.warmup; round < options.rounds; round++) {
    for (const workload of workloads) {
      const runs = contenders.filter((contender) => runsOn(workload, contender));
      for (const contender of rotated(runs, round)) {
        if (!isContenderId(contender.id)) continue;
        const result = await transfer(workload, contender.id, options, totalBytes);
        const rate = totalBytes / result.seconds;
        if (!options.json) {
          process.stderr.write(
            `${roundLabel(round, options.warmup)} · ${workload.name} · ${contender.label}: ` +
              `${formatNumber(rate / 1e6)} MB/s, peak RSS client ${formatNumber(result.clientRss / MiB)} MiB, ` +
              `server ${formatNumber(result.serverRss / MiB)} MiB; CPU client ${result.clientCpu}, ` +
              `server ${result.serverCpu}\n`,
          );
        }
        if (round < 0) continue;
        record(throughput, workload.name, contender.id, rate);
        record(cpu, cpuRow(workload), contender.id, result.cpuSeconds);
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
      ...buildRows(cpu, workloads.map(cpuRow), contenders, 's', 1),
      ...buildRows(
        rss,
        workloads.flatMap((workload) => [rssRow(workload, 'client'), rssRow(workload, 'server')]),
        contenders,
        'MiB',
        MiB,
      ),
    ],
    notes: notes(size, elapsed),
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
    'CPU time of both processes (lower is better):',
    '',
    comparisonTable([subset('s')]),
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
    rounds: positiveInteger(values.rounds, '--rounds', 5),
    warmup: positiveInteger(values.warmup, '--warmup', 0, true),
    sizeMiB: positiveInteger(values['size-mib'], '--size-mib', 1024),
    only: values.only,
    contenders: parseContenders(values.contenders, CONTENDER_IDS),
    cpuProfDir: values['cpu-prof-dir'] === undefined ? undefined : path.resolve(values['cpu-prof-dir']),
  });
}
