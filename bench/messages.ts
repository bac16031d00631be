// Small messages between two processes over 127.0.0.1: our MessageWebSocket/ServerMessageWebSocket, ws
// (with bufferutil, and with its JS masking under WS_NO_BUFFER_UTIL=1) and raw node:net TCP (64-byte
// records, no framing), interleaved in the same run.
//   - one way: N 64-byte messages client → server and server → client, messages per second;
//   - echo: the client keeps 100 64-byte messages in flight, the server echoes each, the client
//     measures each round trip: round trips per second and the p50/p99 round-trip time.
// Ours receives in each of its two ways, each a row of its own: 'messageReceived' events and the
// messages() iterator; ws and raw TCP run once per workload and round, beside both.
// Each run has a fresh server process and a fresh client process, forked from this file (--child);
// this process orchestrates them over IPC and keeps the clock. Peak RSS of both sides is reported too.
// Run alone: node build/bench/messages.js [--json] [--rounds N] [--warmup N] [--count N]
//   [--echo-count N] [--window N] [--in-flight N] [--only TEXT] [--contenders ours,ws-native,ws-js,tcp]
//   [--ours-send window|await] [--ours-receive events,messages] [--no-await-row] [--cpu-prof-dir DIR]

import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import type { RawData, WebSocket as WsSocket } from 'ws';

import type { MessageWebSocket, ServerMessageWebSocket } from '../src/index.js';
import type { Samples } from './lib/harness.js';
import type { FailedMessage } from './lib/ipc-peer.js';
import {
  checkWsMasking,
  describe,
  HOST,
  isContenderId,
  isRecord,
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
  environment,
  formatNumber,
  formatReports,
  type BenchReport,
  type Contender,
} from './lib/report.js';

const MESSAGE_SIZE = 64;

/** 'up': client → server (masked); 'down': server → client; 'echo': client → server → client. */
type Pattern = 'up' | 'down' | 'echo';
type Role = 'server' | 'client';
/** How ours sends: one `await writeAsync()` at a time, or up to `window` writeAsync() promises pending. */
type OursSend = 'await' | 'window';
/** How ours receives: 'messageReceived' events, or the messages() iterator. */
type OursReceive = 'events' | 'messages';

interface ChildConfig {
  role: Role;
  contender: ContenderId;
  pattern: Pattern;
  /** Messages sent one way, or round trips. */
  count: number;
  /** One way: sends not yet completed, at most; echo: messages in flight. */
  window: number;
  oursSend: OursSend;
  oursReceive: OursReceive;
  /** The client's: the server's port. */
  port: number;
}

/** Child → parent. */
type ChildMessage =
  | { kind: 'listening'; port: number }
  | { kind: 'connected' }
  | { kind: 'sent' }
  | { kind: 'received'; messages: number }
  /** Round-trip times in µs. */
  | { kind: 'echoed'; p50: number; p99: number }
  | { kind: 'rss'; maxRssBytes: number };

interface ParentMessage {
  kind: 'go' | 'finish';
}

function tell(message: ChildMessage | FailedMessage, then?: () => void): void {
  tellParent(message, then);
}

/** The q-quantile of the samples (sorts them in place): the nearest rank. */
function percentile(samples: Float64Array, q: number): number {
  samples.sort();
  return samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
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
      return typeof value.messages === 'number';
    case 'echoed':
      return typeof value.p50 === 'number' && typeof value.p99 === 'number';
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
    (value.pattern === 'up' || value.pattern === 'down' || value.pattern === 'echo') &&
    typeof value.count === 'number' &&
    typeof value.window === 'number' &&
    (value.oursSend === 'await' || value.oursSend === 'window') &&
    (value.oursReceive === 'events' || value.oursReceive === 'messages') &&
    typeof value.port === 'number'
  );
}

// ---------------------------------------------------------------------------------------------------
// The child: one side of one run.

type Done = (error?: Error | null) => void;
type Fail = (error: unknown) => void;

/** One open connection, whatever the contender. */
interface Channel {
  /** Sends one message; `done` once the library lets the next one go (callback, promise, drain). */
  send(payload: Buffer, done: Done): void;
  /**
   * Hands over what arrives: for the WebSocket contenders each call is one whole message; for raw TCP
   * it is whatever the socket read (records are cut by the receiver). A returned promise holds further
   * delivery where the API supports it (ours).
   */
  receive(onData: (data: Buffer) => void | Promise<void>): void;
  readonly messageBased: boolean;
}

interface Endpoint {
  serve(onListening: (port: number) => void): Promise<Channel>;
  connect(port: number): Promise<Channel>;
}

async function oursEndpoint(config: ChildConfig, fail: Fail): Promise<Endpoint> {
  const { MessageWebSocket, WebSocketListener } = await import('../src/index.js');
  const wrap = (socket: MessageWebSocket | ServerMessageWebSocket): Channel => {
    socket.on('closed', ({ code }) => {
      fail(new Error(`the WebSocket closed (${String(code)})`));
    });
    return {
      send(payload, done) {
        socket.outputStream.writeAsync(payload).then(() => {
          done();
        }, done);
      },
      receive(onData) {
        if (config.oursReceive === 'events') {
          socket.on('messageReceived', (event) => onData(event.getData()));
          return;
        }
        const pull = async (): Promise<void> => {
          for await (const message of socket.messages()) {
            const sections: Buffer[] = [];
            for await (const section of message) sections.push(section);
            await onData(sections.length === 1 ? sections[0]! : Buffer.concat(sections));
          }
        };
        pull().catch(fail);
      },
      messageBased: true,
    };
  };
  return {
    async serve(onListening) {
      const listener = new WebSocketListener({ mode: 'message' });
      const channel = new Promise<Channel>((resolve) => {
        listener.once('connectionReceived', ({ socket }) => {
          resolve(wrap(socket));
        });
      });
      await listener.bindServiceNameAsync(0, HOST);
      const port = listener.information.localPort;
      if (port === null) throw new Error('the listener has no port');
      onListening(port);
      return channel;
    },
    async connect(port) {
      const socket = new MessageWebSocket();
      await socket.connectAsync(`ws://${HOST}:${String(port)}/`);
      return wrap(socket);
    },
  };
}

async function wsEndpoint(native: boolean, fail: Fail): Promise<Endpoint> {
  const { WebSocket, WebSocketServer } = await import('ws');
  checkWsMasking(native);
  const wrap = (socket: WsSocket): Channel => {
    socket.on('error', fail);
    socket.on('close', (code: number) => {
      fail(new Error(`the WebSocket closed (${String(code)})`));
    });
    return {
      send(payload, done) {
        socket.send(payload, { binary: true }, done);
      },
      receive(onData) {
        socket.on('message', (data: RawData) => {
          if (!Buffer.isBuffer(data)) throw new Error('ws delivered something other than a Buffer');
          void onData(data);
        });
      },
      messageBased: true,
    };
  };
  return {
    async serve(onListening) {
      const server = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false });
      server.on('error', fail);
      const channel = new Promise<Channel>((resolve) => {
        server.once('connection', (socket) => {
          resolve(wrap(socket));
        });
      });
      await once(server, 'listening');
      onListening((server.address() as AddressInfo).port);
      return channel;
    },
    async connect(port) {
      const socket = new WebSocket(`ws://${HOST}:${String(port)}/`, { perMessageDeflate: false });
      const channel = wrap(socket);
      await once(socket, 'open');
      return channel;
    },
  };
}

function tcpEndpoint(fail: Fail): Endpoint {
  const wrap = (socket: net.Socket): Channel => {
    socket.setNoDelay(true);
    socket.on('error', fail);
    return {
      send(payload, done) {
        socket.write(payload, done);
      },
      receive(onData) {
        socket.on('data', (chunk: Buffer) => {
          void onData(chunk);
        });
      },
      messageBased: false,
    };
  };
  return {
    async serve(onListening) {
      const server = net.createServer();
      server.on('error', fail);
      const channel = new Promise<Channel>((resolve) => {
        server.once('connection', (socket) => {
          resolve(wrap(socket));
        });
      });
      server.listen(0, HOST);
      await once(server, 'listening');
      onListening((server.address() as AddressInfo).port);
      return channel;
    },
    async connect(port) {
      const socket = net.connect(port, HOST);
      const channel = wrap(socket);
      await once(socket, 'connect');
      return channel;
    },
  };
}

/** Only the contender's own code is loaded, so that each process's RSS is its own. */
function loadEndpoint(config: ChildConfig, fail: Fail): Promise<Endpoint> {
  switch (config.contender) {
    case 'ours':
      return oursEndpoint(config, fail);
    case 'ws-native':
      return wsEndpoint(true, fail);
    case 'ws-js':
      return wsEndpoint(false, fail);
    case 'tcp':
      return Promise.resolve(tcpEndpoint(fail));
  }
}

/**
 * Sends `count` messages keeping at most `window` of them not yet completed: the next one goes as soon
 * as an earlier one completes. `next(index)` gives the payload of each.
 */
function sendWindowed(
  channel: Channel,
  count: number,
  window: number,
  next: (index: number) => Buffer,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let completed = 0;
    let failed = false;
    let filling = false;
    const onDone: Done = (error) => {
      if (failed) return;
      if (error !== undefined && error !== null) {
        failed = true;
        reject(error);
        return;
      }
      completed++;
      if (completed === count) resolve();
      else fill();
    };
    const fill = (): void => {
      // A completion reported from inside send() lets the loop below carry on instead of recursing.
      if (filling) return;
      filling = true;
      while (!failed && sent < count && sent - completed < window) {
        const payload = next(sent);
        sent++;
        channel.send(payload, onDone);
      }
      filling = false;
    };
    fill();
  });
}

/** Ours, the way its API reads most simply: one `await outputStream.writeAsync()` after the other. */
async function sendAwaitingEach(channel: Channel, count: number, payload: Buffer): Promise<void> {
  for (let index = 0; index < count; index++) {
    await new Promise<void>((resolve, reject) => {
      channel.send(payload, (error) => {
        if (error === undefined || error === null) resolve();
        else reject(error);
      });
    });
  }
}

/**
 * Cuts what arrives into 64-byte records: a message is one (and must be 64 bytes); a raw TCP chunk
 * holds any number, the last one perhaps split with the next chunk.
 */
class RecordCutter {
  private readonly partial = Buffer.allocUnsafe(MESSAGE_SIZE);
  private partialLength = 0;

  constructor(private readonly messageBased: boolean) {}

  /** Calls onRecord for each complete record (the buffer is valid during the call only). */
  cut(data: Buffer, onRecord: (record: Buffer) => void): void {
    if (this.messageBased) {
      if (data.length !== MESSAGE_SIZE) throw new Error(`a message of ${String(data.length)} bytes arrived`);
      onRecord(data);
      return;
    }
    let offset = 0;
    if (this.partialLength > 0) {
      const take = Math.min(MESSAGE_SIZE - this.partialLength, data.length);
      data.copy(this.partial, this.partialLength, 0, take);
      this.partialLength += take;
      offset = take;
      if (this.partialLength < MESSAGE_SIZE) return;
      this.partialLength = 0;
      onRecord(this.partial);
    }
    for (; offset + MESSAGE_SIZE <= data.length; offset += MESSAGE_SIZE) {
      onRecord(data.subarray(offset, offset + MESSAGE_SIZE));
    }
    if (offset < data.length) {
      data.copy(this.partial, 0, offset);
      this.partialLength = data.length - offset;
    }
  }
}

/** The one-way receiver: counts messages (raw TCP: bytes / 64) and reports when all have come. */
function countMessages(channel: Channel, count: number, fail: Fail): void {
  let messages = 0;
  let bytes = 0;
  channel.receive((data) => {
    bytes += data.length;
    if (channel.messageBased) {
      if (data.length !== MESSAGE_SIZE) fail(new Error(`a message of ${String(data.length)} bytes arrived`));
      messages++;
    } else {
      messages = Math.floor(bytes / MESSAGE_SIZE);
    }
    if (messages < count) return;
    if (messages > count || bytes !== count * MESSAGE_SIZE) {
      fail(new Error(`received ${String(messages)} messages (${String(bytes)} bytes) of ${String(count)}`));
    } else {
      tell({ kind: 'received', messages });
    }
  });
}

/** The echo server: sends back every message as it comes (ours: waiting for the write, backpressure). */
function echoBack(channel: Channel, fail: Fail): void {
  channel.receive(
    (data) =>
      new Promise<void>((resolve) => {
        channel.send(data, (error) => {
          if (error !== undefined && error !== null) fail(error);
          resolve();
        });
      }),
  );
}

/**
 * The echo client: keeps `inFlight` messages out, each carrying its index; a message's round trip runs
 * from its send() call until its echo arrives. Resolves with the round-trip times in µs.
 */
function runEchoes(channel: Channel, count: number, inFlight: number, fail: Fail): Promise<Float64Array> {
  const sentAt = new Float64Array(count);
  const rtts = new Float64Array(count);
  const cutter = new RecordCutter(channel.messageBased);
  let sent = 0;
  let received = 0;
  return new Promise((resolve) => {
    const sendNext = (): void => {
      // A fresh buffer each time: a library may still hold the previous one when the next is written.
      const payload = Buffer.allocUnsafe(MESSAGE_SIZE).fill(0x5a);
      payload.writeUInt32LE(sent, 0);
      sentAt[sent] = performance.now();
      sent++;
      channel.send(payload, (error) => {
        if (error !== undefined && error !== null) fail(error);
      });
    };
    channel.receive((data) => {
      cutter.cut(data, (echo) => {
        const index = echo.readUInt32LE(0);
        if (index !== received) {
          fail(new Error(`echo ${String(index)} arrived where ${String(received)} was expected`));
          return;
        }
        rtts[index] = (performance.now() - sentAt[index]!) * 1000;
        received++;
        if (sent < count) sendNext();
        else if (received === count) resolve(rtts);
      });
    });
    for (let index = 0; index < Math.min(inFlight, count); index++) sendNext();
  });
}

/** One way: the sender's part once told to go. */
function sendAll(channel: Channel, config: ChildConfig): Promise<void> {
  const payload = Buffer.alloc(MESSAGE_SIZE, 0x5a);
  if (config.contender === 'ours' && config.oursSend === 'await') {
    return sendAwaitingEach(channel, config.count, payload);
  }
  return sendWindowed(channel, config.count, config.window, () => payload);
}

async function runChild(config: ChildConfig): Promise<void> {
  let finishing = false;
  const fail: Fail = (error) => {
    if (!finishing) tell({ kind: 'failed', message: `${config.role}: ${describe(error)}` });
  };
  process.on('disconnect', () => process.exit(1));

  const endpoint = await loadEndpoint(config, fail);
  const channel =
    config.role === 'server'
      ? await endpoint.serve((port) => {
          tell({ kind: 'listening', port });
        })
      : await endpoint.connect(config.port);

  const sending =
    config.pattern === 'echo'
      ? config.role === 'client'
      : (config.role === 'client') === (config.pattern === 'up');
  if (config.pattern === 'echo' && config.role === 'server') echoBack(channel, fail);
  else if (config.pattern !== 'echo' && !sending) countMessages(channel, config.count, fail);

  process.on('message', (message: unknown) => {
    if (!isParentMessage(message)) {
      fail(new Error(`unexpected message ${JSON.stringify(message)}`));
    } else if (message.kind === 'go') {
      if (!sending) {
        fail(new Error('told to go, but this side does not send'));
      } else if (config.pattern === 'echo') {
        runEchoes(channel, config.count, config.window, fail).then((rtts) => {
          tell({ kind: 'echoed', p50: percentile(rtts, 0.5), p99: percentile(rtts, 0.99) });
        }, fail);
      } else {
        sendAll(channel, config).then(() => {
          tell({ kind: 'sent' });
        }, fail);
      }
    } else {
      // No closing handshake: the run is over, and the peer is told to exit at the same time.
      finishing = true;
      tell({ kind: 'rss', maxRssBytes: peakRss() }, () => process.exit(0));
    }
  });

  tell({ kind: 'connected' });
}

// ---------------------------------------------------------------------------------------------------
// The parent.

interface Workload {
  /** The row's name without the receiving API (see rowName). */
  name: string;
  pattern: Pattern;
  count: number;
  window: number;
  /** Only ours runs it, sending with one await per write (and receiving with events). */
  oursAwaitRow: boolean;
}

/** How ours receives in a row, as the row says it. */
const RECEIVE_LABELS: Record<OursReceive, string> = {
  events: "ours via 'messageReceived'",
  messages: 'ours via messages()',
};

/** A row: the workload, and for ours the receiving API (ws and raw TCP run once for all of them). */
function rowName(workload: Workload, receive: OursReceive): string {
  return workload.oursAwaitRow ? workload.name : `${workload.name}, ${RECEIVE_LABELS[receive]}`;
}

interface RunResult {
  seconds: number;
  clientRss: number;
  serverRss: number;
  /** Echo only, µs. */
  p50?: number;
  p99?: number;
}

interface ParentOptions {
  json: boolean;
  rounds: number;
  warmup: number;
  count: number;
  echoCount: number;
  window: number;
  inFlight: number;
  only: string | undefined;
  contenders: Contender[];
  oursSend: OursSend;
  oursReceive: readonly OursReceive[];
  awaitRow: boolean;
  cpuProfDir: string | undefined;
}

const SCRIPT = fileURLToPath(import.meta.url);

async function runOnce(
  workload: Workload,
  contender: ContenderId,
  oursReceive: OursReceive,
  options: ParentOptions,
): Promise<RunResult> {
  const base = {
    contender,
    pattern: workload.pattern,
    count: workload.count,
    window: workload.window,
    oursSend: workload.oursAwaitRow ? 'await' : options.oursSend,
    oursReceive,
  } as const;
  const what = `${contender} on ${rowName(workload, oursReceive)}`;
  // Generous: a slow contender on a busy machine, not a hang.
  const limitMs = 60_000 + workload.count / 5;
  return PeerGroup.run(limitMs, what, async (group) => {
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

    const go: ParentMessage = { kind: 'go' };
    const finish: ParentMessage = { kind: 'finish' };
    let result: Omit<RunResult, 'clientRss' | 'serverRss'>;
    if (workload.pattern === 'echo') {
      const start = performance.now();
      client.send(go);
      const echoed = await client.expect('echoed');
      result = { seconds: (performance.now() - start) / 1000, p50: echoed.p50, p99: echoed.p99 };
    } else {
      const [sender, receiver] = workload.pattern === 'up' ? [client, server] : [server, client];
      const start = performance.now();
      sender.send(go);
      const received = await receiver.expect('received');
      result = { seconds: (performance.now() - start) / 1000 };
      await sender.expect('sent');
      if (received.messages !== workload.count) throw new Error(`${String(received.messages)} arrived`);
    }
    client.stop(finish);
    server.stop(finish);
    const [clientRss, serverRss] = await Promise.all([client.expect('rss'), server.expect('rss')]);
    await Promise.all([client.exited, server.exited]);
    return { ...result, clientRss: clientRss.maxRssBytes, serverRss: serverRss.maxRssBytes };
  });
}

function thousands(count: number): string {
  return count % 1_000_000 === 0 ? `${String(count / 1_000_000)}M` : `${String(count / 1000)}k`;
}

function rssRow(row: string, role: Role): string {
  return `${row}: peak RSS, ${role}`;
}

/** One run of a round: a contender, and for ours the receiving API. */
interface Run {
  contender: Contender;
  receive: OursReceive;
}

async function runParent(options: ParentOptions): Promise<void> {
  const n = thousands(options.count);
  const allWorkloads: Workload[] = [
    {
      name: `${n} × 64 B messages, client → server`,
      pattern: 'up',
      count: options.count,
      window: options.window,
      oursAwaitRow: false,
    },
    {
      name: `${n} × 64 B messages, server → client`,
      pattern: 'down',
      count: options.count,
      window: options.window,
      oursAwaitRow: false,
    },
    {
      name: `64 B echo, ${String(options.inFlight)} in flight`,
      pattern: 'echo',
      count: options.echoCount,
      window: options.inFlight,
      oursAwaitRow: false,
    },
  ];
  if (options.awaitRow) {
    allWorkloads.push({
      name: `${n} × 64 B messages, client → server, ours awaiting each write`,
      pattern: 'up',
      count: options.count,
      window: 1,
      oursAwaitRow: true,
    });
  }
  const only = options.only;
  const workloads = only === undefined ? allWorkloads : allWorkloads.filter((w) => w.name.includes(only));
  if (workloads.length === 0) throw new RangeError(`no workload matches --only ${String(only)}`);
  /** The rows of a workload: one per receiving API of ours (one for the await row). */
  const rowsOf = (workload: Workload): string[] =>
    workload.oursAwaitRow
      ? [workload.name]
      : options.oursReceive.map((receive) => rowName(workload, receive));
  /** A round's runs of a workload: ours once per receiving API, the others once. */
  const runsOf = (workload: Workload): Run[] => {
    if (workload.oursAwaitRow) {
      return options.contenders
        .filter((contender) => contender.id === 'ours')
        .map((contender) => ({ contender, receive: 'events' }));
    }
    return options.contenders.flatMap((contender) =>
      contender.id === 'ours'
        ? options.oursReceive.map((receive) => ({ contender, receive }))
        : [{ contender, receive: options.oursReceive[0] ?? 'events' }],
    );
  };
  const env = environment();
  const started = performance.now();

  const rates: Samples = new Map();
  const latency: Samples = new Map();
  const rss: Samples = new Map();
  const latencyRow = (row: string, which: string): string => `${row}: round trip ${which}`;

  for (let round = -options.warmup; round < options.rounds; round++) {
    for (const workload of workloads) {
      for (const { contender, receive } of rotated(runsOf(workload), round)) {
        if (!isContenderId(contender.id)) continue;
        const result = await runOnce(workload, contender.id, receive, options);
        const rate = workload.count / result.seconds;
        const label = contender.id === 'ours' ? rowName(workload, receive) : workload.name;
        if (!options.json) {
          const latencies =
            result.p50 === undefined || result.p99 === undefined
              ? ''
              : `, round trip p50 ${formatNumber(result.p50)} µs, p99 ${formatNumber(result.p99)} µs`;
          process.stderr.write(
            `${roundLabel(round, options.warmup)} · ${label} · ${contender.label}: ` +
              `${formatNumber(rate / 1000)}k msg/s${latencies}, peak RSS client ` +
              `${formatNumber(result.clientRss / MiB)} MiB, server ${formatNumber(result.serverRss / MiB)} MiB\n`,
          );
        }
        if (round < 0) continue;
        // Ours fills its own row; ws and raw TCP fill every row of the workload.
        const rows = contender.id === 'ours' ? [rowName(workload, receive)] : rowsOf(workload);
        for (const row of rows) {
          record(rates, row, contender.id, rate);
          if (result.p50 !== undefined) record(latency, latencyRow(row, 'p50'), contender.id, result.p50);
          if (result.p99 !== undefined) record(latency, latencyRow(row, 'p99'), contender.id, result.p99);
          record(rss, rssRow(row, 'client'), contender.id, result.clientRss);
          record(rss, rssRow(row, 'server'), contender.id, result.serverRss);
        }
      }
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  const echo = workloads.filter((workload) => workload.pattern === 'echo');
  const sendApi =
    options.oursSend === 'window'
      ? `outputStream.writeAsync(payload) with up to ${String(options.window)} of its promises pending ` +
        '(the next write starts when one settles)'
      : 'one await outputStream.writeAsync(payload) after the other';

  const report: BenchReport = {
    bench: 'messages',
    title: '64-byte messages between two processes over 127.0.0.1',
    environment: env,
    rounds: options.rounds,
    contenders: options.contenders,
    rows: [
      ...buildRows(rates, workloads.flatMap(rowsOf), options.contenders, 'k msg/s', 1000),
      ...buildRows(
        latency,
        echo.flatMap(rowsOf).flatMap((row) => [latencyRow(row, 'p50'), latencyRow(row, 'p99')]),
        options.contenders,
        'µs',
        1,
      ),
      ...buildRows(
        rss,
        workloads
          .filter((workload) => !workload.oursAwaitRow)
          .flatMap(rowsOf)
          .flatMap((row) => [rssRow(row, 'client'), rssRow(row, 'server')]),
        options.contenders,
        'MiB',
        MiB,
      ),
    ],
    notes: [
      'k msg/s = thousands of 64-byte messages (echo: round trips) per second, timed by the parent from ' +
        'the "go" it sends until the receiver (echo: the client) reports the last one. Each run has a ' +
        'fresh server process and a fresh client process. No permessage-deflate anywhere.',
      `Senders keep a bounded window of sends in flight: ours ${sendApi}; ws ws.send(payload, cb) with ` +
        `up to ${String(options.window)} callbacks pending; raw TCP socket.write(payload, cb) likewise ` +
        '(64-byte records, no framing: the floor). The row "ours awaiting each write" is ours with one ' +
        '`await outputStream.writeAsync(payload)` after the other (one promise round per message).',
      "Receivers: ours in two ways, each in rows of its own: a 'messageReceived' listener calling " +
        'e.getData(), and `for await (const message of ws.messages()) { for await (const section of ' +
        "message) … }` (MessageWebSocket on the client, a WebSocketListener in 'message' mode on the " +
        "server); ws its 'message' event; raw TCP counts bytes. Each checks the count. ws and raw TCP " +
        'run once per workload and round; their figures stand beside both of ours.',
      `Echo: the client keeps ${String(options.inFlight)} messages (each a fresh buffer carrying its ` +
        `index) in flight, ${thousands(options.echoCount)} round trips per run; the server sends every ` +
        'message back as it arrives (ours: its messageReceived handler returns the writeAsync promise, so ' +
        'reading waits for the write; ws: ws.send(data); raw TCP: socket.write(chunk)). A round trip runs ' +
        'from the send call to the arrival of its echo; p50 and p99 are over all round trips of a run, ' +
        'then the median over runs. Lower is better for µs and MiB rows.',
      'Peak RSS = process.resourceUsage().maxRSS of each process (Node itself is about 40–50 MiB of it).',
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
    count: { type: 'string' },
    'echo-count': { type: 'string' },
    window: { type: 'string' },
    'in-flight': { type: 'string' },
    only: { type: 'string' },
    contenders: { type: 'string' },
    'ours-send': { type: 'string' },
    'ours-receive': { type: 'string' },
    'no-await-row': { type: 'boolean', default: false },
    'cpu-prof-dir': { type: 'string' },
    child: { type: 'string' },
  },
});

function oneOf<T extends string>(
  text: string | undefined,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  if (text === undefined) return fallback;
  const choice = choices.find((known) => known === text);
  if (choice === undefined) throw new RangeError(`${name} takes ${choices.join(' or ')}, not ${text}`);
  return choice;
}

/** A comma-separated list of our receiving APIs (both when absent). */
function receiveApis(text: string | undefined): OursReceive[] {
  if (text === undefined) return ['events', 'messages'];
  return text.split(',').map((api) => oneOf(api.trim(), '--ours-receive', ['events', 'messages'], 'events'));
}

if (values.child !== undefined) {
  const config: unknown = JSON.parse(values.child);
  if (!isChildConfig(config)) throw new Error(`not a child configuration: ${values.child}`);
  await runChild(config);
} else {
  await runParent({
    json: values.json,
    rounds: positiveInteger(values.rounds, '--rounds', 3),
    warmup: positiveInteger(values.warmup, '--warmup', 0, true),
    count: positiveInteger(values.count, '--count', 1_000_000),
    echoCount: positiveInteger(values['echo-count'], '--echo-count', 200_000),
    window: positiveInteger(values.window, '--window', 1000),
    inFlight: positiveInteger(values['in-flight'], '--in-flight', 100),
    only: values.only,
    contenders: parseContenders(values.contenders),
    oursSend: oneOf(values['ours-send'], '--ours-send', ['window', 'await'], 'window'),
    oursReceive: receiveApis(values['ours-receive']),
    awaitRow: !values['no-await-row'],
    cpuProfDir: values['cpu-prof-dir'] === undefined ? undefined : path.resolve(values['cpu-prof-dir']),
  });
}
