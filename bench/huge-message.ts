// ONE 8 GiB message each way between two processes over 127.0.0.1 through the README's paths: the
// sender pipes a Readable of 1 MiB chunks into ws.openMessage(Binary), the receiver reads `for await
// (const message of ws.messages())` and `for await (const section of message)`, and both compute the
// SHA-256 of the payload. Raw TCP beside it (pipeline into the socket, for await over it, hashed too).
// Reports MB/s and the peak RSS of each side, which must stay far below the message's size (target:
// < 100 MiB). ws cannot run this workload at all (see the notes printed with the report).
// Run alone: node build/bench/huge-message.js [--json] [--rounds N] [--size-mib N] [--chunk-kib N]
//   [--only TEXT] [--contenders ours,tcp] [--cpu-prof-dir DIR]   (--size-mib 8192, 8 GiB, by default)

import { Buffer, constants as bufferConstants } from 'node:buffer';
import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import type { MessageWebSocket, ServerMessageWebSocket } from '../src/index.js';
import type { Samples } from './lib/harness.js';
import { chunkSource } from './lib/chunk-source.js';
import type { FailedMessage } from './lib/ipc-peer.js';
import {
  describe,
  HOST,
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
} from './lib/processes.js';
import {
  buildRows,
  environment,
  formatNumber,
  formatReports,
  type BenchReport,
  type Contender,
} from './lib/report.js';

/** 'up': client → server (masked frames); 'down': server → client. */
type Direction = 'up' | 'down';
type Role = 'server' | 'client';
type ContenderId = 'ours' | 'tcp';
const CONTENDER_IDS: readonly ContenderId[] = ['ours', 'tcp'];

interface ChildConfig {
  role: Role;
  contender: ContenderId;
  direction: Direction;
  totalBytes: number;
  chunkBytes: number;
  port: number;
}

type ChildMessage =
  | { kind: 'listening'; port: number }
  | { kind: 'connected' }
  /** sha256: hex, of what the source produced (sender) or of the message that arrived (receiver). */
  | { kind: 'sent'; sha256: string }
  | { kind: 'received'; bytes: number; messages: number; sha256: string }
  /** Peaks: RSS from the kernel; the V8 heap and Buffer memory as sampled every 20 ms. */
  | { kind: 'rss'; maxRssBytes: number; heapBytes: number; arrayBufferBytes: number };

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
      return true;
    case 'sent':
      return typeof value.sha256 === 'string';
    case 'received':
      return (
        typeof value.bytes === 'number' &&
        typeof value.messages === 'number' &&
        typeof value.sha256 === 'string'
      );
    case 'rss':
      return (
        typeof value.maxRssBytes === 'number' &&
        typeof value.heapBytes === 'number' &&
        typeof value.arrayBufferBytes === 'number'
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
    CONTENDER_IDS.some((id) => id === value.contender) &&
    (value.direction === 'up' || value.direction === 'down') &&
    typeof value.totalBytes === 'number' &&
    typeof value.chunkBytes === 'number' &&
    typeof value.port === 'number'
  );
}

// ---------------------------------------------------------------------------------------------------
// The child.

type Fail = (error: unknown) => void;

/** One side of the connection: sends a source as one message, or reads and hashes what arrives. */
interface Side {
  send(source: Readable): Promise<void>;
  /** Reads until the connection ends; `onMessage` gets each complete message's size and SHA-256. */
  receive(onMessage: (bytes: number, sha256: string) => void): Promise<void>;
  /** Resolves if the connection closes before the parent says finish (a failure). */
  readonly closed: Promise<string>;
}

/** The README's paths: pipeline(source, ws.openMessage(Binary)); for await over messages() and each. */
async function oursSide(config: ChildConfig): Promise<Side> {
  const { MessageWebSocket, SocketMessageType, WebSocketListener } = await import('../src/index.js');
  let socket: MessageWebSocket | ServerMessageWebSocket;
  if (config.role === 'client') {
    socket = new MessageWebSocket();
    await socket.connectAsync(`ws://${HOST}:${String(config.port)}/`);
  } else {
    const listener = new WebSocketListener({ mode: 'message' });
    const accepted = new Promise<ServerMessageWebSocket>((resolve) => {
      listener.once('connectionReceived', ({ socket: server }) => {
        resolve(server);
      });
    });
    await listener.bindServiceNameAsync(0, HOST);
    const port = listener.information.localPort;
    if (port === null) throw new Error('the listener has no port');
    tell({ kind: 'listening', port });
    socket = await accepted;
  }
  const open = socket;
  return {
    async send(source) {
      await pipeline(source, open.openMessage(SocketMessageType.Binary));
    },
    async receive(onMessage) {
      for await (const message of open.messages()) {
        const hash = createHash('sha256');
        let bytes = 0;
        for await (const section of message) {
          hash.update(section);
          bytes += section.length;
        }
        onMessage(bytes, hash.digest('hex'));
      }
    },
    closed: new Promise((resolve) => {
      open.on('closed', ({ code }) => {
        resolve(`the WebSocket closed (${String(code)})`);
      });
    }),
  };
}

/** Raw TCP the same way: pipeline(source, socket); for await over the socket, totalBytes a message. */
async function tcpSide(config: ChildConfig): Promise<Side> {
  let socket: net.Socket;
  if (config.role === 'client') {
    socket = net.connect(config.port, HOST);
    await once(socket, 'connect');
  } else {
    const server = net.createServer();
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    server.listen(0, HOST);
    await once(server, 'listening');
    tell({ kind: 'listening', port: (server.address() as AddressInfo).port });
    [socket] = await accepted;
  }
  socket.setNoDelay(true);
  const open = socket;
  return {
    async send(source) {
      await pipeline(source, open, { end: false });
    },
    async receive(onMessage) {
      let hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of open) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
        if (bytes < config.totalBytes) continue;
        onMessage(bytes, hash.digest('hex'));
        hash = createHash('sha256');
        bytes = 0;
      }
    },
    closed: new Promise((resolve) => {
      open.on('close', () => {
        resolve('the socket closed');
      });
    }),
  };
}

async function runChild(config: ChildConfig): Promise<void> {
  let finishing = false;
  const fail: Fail = (error) => {
    if (!finishing) tell({ kind: 'failed', message: `${config.role}: ${describe(error)}` });
  };
  process.on('disconnect', () => process.exit(1));

  const sending = (config.role === 'client') === (config.direction === 'up');
  const chunk = sending ? randomFillSync(Buffer.allocUnsafe(config.chunkBytes)) : undefined;
  const side = config.contender === 'ours' ? await oursSide(config) : await tcpSide(config);
  side.closed.then(fail, fail);
  if (!sending) {
    let messages = 0;
    side
      .receive((bytes, sha256) => {
        messages++;
        tell({ kind: 'received', bytes, messages, sha256 });
      })
      .then(() => {
        fail(new Error('the connection ended'));
      }, fail);
  }
  // Where the RSS goes: the V8 heap, or Buffers (socket chunks and payload) not yet collected.
  let heapBytes = 0;
  let arrayBufferBytes = 0;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    heapBytes = Math.max(heapBytes, usage.heapTotal);
    arrayBufferBytes = Math.max(arrayBufferBytes, usage.arrayBuffers);
  }, 20);

  process.on('message', (message: unknown) => {
    if (!isParentMessage(message)) {
      fail(new Error(`unexpected message ${JSON.stringify(message)}`));
    } else if (message.kind === 'go') {
      if (chunk === undefined) {
        fail(new Error('told to send, but this side does not send'));
        return;
      }
      // The sender hashes what its source produces, as it produces it.
      const hash = createHash('sha256');
      const source = chunkSource(chunk, config.totalBytes, (piece) => hash.update(piece));
      side.send(source).then(() => {
        tell({ kind: 'sent', sha256: hash.digest('hex') });
      }, fail);
    } else {
      finishing = true;
      clearInterval(sampler);
      tell({ kind: 'rss', maxRssBytes: peakRss(), heapBytes, arrayBufferBytes }, () => process.exit(0));
    }
  });
  tell({ kind: 'connected' });
}

// ---------------------------------------------------------------------------------------------------
// The parent.

interface Workload {
  name: string;
  direction: Direction;
}

interface RunResult {
  seconds: number;
  clientRss: number;
  serverRss: number;
  /** Sampled peaks: "V8 heap X MiB, Buffers Y MiB" of the client and of the server. */
  clientPeaks: string;
  serverPeaks: string;
}

interface ParentOptions {
  json: boolean;
  rounds: number;
  sizeMiB: number;
  chunkKiB: number;
  only: string | undefined;
  contenders: Contender[];
  cpuProfDir: string | undefined;
}

const SCRIPT = fileURLToPath(import.meta.url);

function runOnce(workload: Workload, contender: ContenderId, options: ParentOptions): Promise<RunResult> {
  const totalBytes = options.sizeMiB * MiB;
  const base = { contender, direction: workload.direction, totalBytes, chunkBytes: options.chunkKiB * KiB };
  // Generous: 100 MB/s would be a failure of its own, not a hang.
  const limitMs = 30_000 + totalBytes / 100_000;
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
    const sent = await sender.expect('sent');
    if (received.messages !== 1 || received.bytes !== totalBytes) {
      throw new Error(`message ${String(received.messages)} had ${String(received.bytes)} bytes`);
    }
    if (received.sha256 !== sent.sha256) {
      throw new Error(`SHA-256 sent ${sent.sha256}, received ${received.sha256}`);
    }
    const finish: ParentMessage = { kind: 'finish' };
    client.stop(finish);
    server.stop(finish);
    const [clientRss, serverRss] = await Promise.all([client.expect('rss'), server.expect('rss')]);
    await Promise.all([client.exited, server.exited]);
    const peaks = (report: { heapBytes: number; arrayBufferBytes: number }): string =>
      `V8 heap ${formatNumber(report.heapBytes / MiB)} MiB, Buffers ${formatNumber(report.arrayBufferBytes / MiB)} MiB`;
    return {
      seconds,
      clientRss: clientRss.maxRssBytes,
      serverRss: serverRss.maxRssBytes,
      clientPeaks: peaks(clientRss),
      serverPeaks: peaks(serverRss),
    };
  });
}

function sizeLabel(mebibytes: number): string {
  return mebibytes % 1024 === 0 ? `${String(mebibytes / 1024)} GiB` : `${String(mebibytes)} MiB`;
}

function rssRow(workload: Workload, role: Role): string {
  return `${workload.name}: peak RSS, ${role}`;
}

async function runParent(options: ParentOptions): Promise<void> {
  const size = sizeLabel(options.sizeMiB);
  const totalBytes = options.sizeMiB * MiB;
  const allWorkloads: Workload[] = [
    { name: `one ${size} message, client → server`, direction: 'up' },
    { name: `one ${size} message, server → client`, direction: 'down' },
  ];
  const only = options.only;
  const workloads = only === undefined ? allWorkloads : allWorkloads.filter((w) => w.name.includes(only));
  if (workloads.length === 0) throw new RangeError(`no workload matches --only ${String(only)}`);
  const contenders = options.contenders;
  const env = environment();
  const started = performance.now();

  const throughput: Samples = new Map();
  const rss: Samples = new Map();
  for (let round = 0; round < options.rounds; round++) {
    for (const workload of workloads) {
      for (const contender of rotated(contenders, round)) {
        const id = CONTENDER_IDS.find((known) => known === contender.id);
        if (id === undefined) continue;
        const result = await runOnce(workload, id, options);
        const rate = totalBytes / result.seconds;
        if (!options.json) {
          process.stderr.write(
            `${roundLabel(round, 0)} · ${workload.name} · ${contender.label}: ${formatNumber(rate / 1e6)} MB/s, ` +
              `peak RSS client ${formatNumber(result.clientRss / MiB)} MiB, ` +
              `server ${formatNumber(result.serverRss / MiB)} MiB (sampled peaks: client ${result.clientPeaks}; ` +
              `server ${result.serverPeaks})\n`,
          );
        }
        record(throughput, workload.name, id, rate);
        record(rss, rssRow(workload, 'client'), id, result.clientRss);
        record(rss, rssRow(workload, 'server'), id, result.serverRss);
      }
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  const maxBuffer = bufferConstants.MAX_LENGTH;
  const maxBufferText =
    maxBuffer % (1024 * MiB) === 0 ? `${String(maxBuffer / (1024 * MiB))} GiB` : `${String(maxBuffer)} bytes`;

  const report: BenchReport = {
    bench: 'huge-message',
    title: `ONE ${size} message each way, client and server in separate processes, SHA-256 on both sides`,
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
      'The README paths. The sender streams one binary message with `await pipeline(source, ' +
        'ws.openMessage(SocketMessageType.Binary))`: the source is a Readable (object mode, one chunk ' +
        `ahead) that yields the same random ${String(options.chunkKiB)} KiB chunk ` +
        `${String(totalBytes / (options.chunkKiB * KiB))} times, hashing each (SHA-256) as it yields it; ` +
        'each chunk goes out as one frame (masked by the client) when the socket can take it. The ' +
        'receiver reads `for await (const message of ws.messages())` and, inside, `for await (const section ' +
        'of message)`, hashing every section (SHA-256) and counting bytes; the parent checks that exactly ' +
        'one message of the full size arrived and that both digests agree. The client is a ' +
        'MessageWebSocket, the server a WebSocketListener in message mode. Peak RSS = ' +
        'process.resourceUsage().maxRSS of each process, Node itself included (target: < 100 MiB each).',
      'Raw TCP the same way, the floor: `await pipeline(source, socket, { end: false })` from the same ' +
        'source, `for await (const chunk of socket)` hashing every chunk, the full size counted as one ' +
        'message.',
      `ws cannot run this: its receiver keeps every fragment of a message until the last one has come and ` +
        'then hands the message over whole. With its default binaryType (nodebuffer, likewise arraybuffer) ' +
        'lib/buffer-util.js concat() copies the fragments into one Buffer.allocUnsafe(total), which throws ' +
        `RangeError (ERR_OUT_OF_RANGE) above buffer.constants.MAX_LENGTH = ${maxBufferText} on Node ` +
        `${process.version}; with binaryType 'fragments' it hands over the array of fragments instead, ` +
        `which still means all ${size} in memory at once (and its default maxPayload, 100 MiB, closes ` +
        'the connection with 1009 long before). ws can send such a message in pieces (send(chunk, { fin: ' +
        'false })), but no ws receiver can take it in bounded memory; the transfer bench shows the cost ' +
        'at 1 GiB (its one-message row: over 2 GiB of RSS on each side of ws).',
      `Rounds: ${String(options.rounds)} (each round moves ${String((2 * options.sizeMiB) / 1024)} GiB). Whole run: ${elapsed.toFixed(0)} s.`,
    ],
  };
  process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatReports([report])}\n`);
}

// ---------------------------------------------------------------------------------------------------

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    // Accepted for run.ts's sake; a warm-up round of 16 GiB is not worth its time.
    warmup: { type: 'string' },
    'size-mib': { type: 'string' },
    'chunk-kib': { type: 'string' },
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
    rounds: positiveInteger(values.rounds, '--rounds', 1),
    sizeMiB: positiveInteger(values['size-mib'], '--size-mib', 8 * 1024),
    chunkKiB: positiveInteger(values['chunk-kib'], '--chunk-kib', 1024),
    only: values.only,
    contenders: parseContenders(values.contenders, CONTENDER_IDS),
    cpuProfDir: values['cpu-prof-dir'] === undefined ? undefined : path.resolve(values['cpu-prof-dir']),
  });
}
