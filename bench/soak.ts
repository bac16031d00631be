// Soak: a WebSocketListener in a process of its own holds N concurrent connections (default 1000) whose
// clients (this process) echo small messages for a fixed time, one message in flight per connection.
// Reports echo round trips per second, round-trip latency (p50, p99), and the server's RSS, heap and
// active handles (process.getActiveResourcesInfo()) idle, at the start and at the end of the load, and
// after every client closed: a server that leaks grows between start and end, or does not come back.
// Run alone: node build/bench/soak.js [--json] [--connections N] [--seconds S] [--size BYTES]

import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import type { MessageWebSocket as MessageWebSocketType } from '../src/index.js';
import { IpcPeer, withTimeout, type FailedMessage } from './lib/ipc-peer.js';
import { environment, formatNumber, formatReports, type BenchReport, type ReportRow } from './lib/report.js';

const HOST = '127.0.0.1';
const MiB = 1024 * 1024;
const SCRIPT = fileURLToPath(import.meta.url);

interface ServerStats {
  kind: 'stats';
  label: string;
  rss: number;
  heapUsed: number;
  /** process.getActiveResourcesInfo().length, without the IPC pipe to the parent. */
  handles: number;
  /** Of those, TCP sockets. */
  sockets: number;
  /** The handles by type, e.g. "TCPSocketWrap×1000, Timeout×1". */
  kinds: string;
  /** Connections the listener holds open. */
  connections: number;
  /** Messages the server echoed since it started. */
  echoed: number;
}

type ServerMessage = { kind: 'listening'; port: number } | ServerStats | { kind: 'closed' };

interface ParentMessage {
  kind: 'stats' | 'finish';
  label?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isServerMessage(value: unknown): value is ServerMessage {
  if (!isRecord(value)) return false;
  if (value.kind === 'listening') return typeof value.port === 'number';
  if (value.kind === 'closed') return true;
  return value.kind === 'stats' && typeof value.rss === 'number' && typeof value.handles === 'number';
}

function isParentMessage(value: unknown): value is ParentMessage {
  return isRecord(value) && (value.kind === 'stats' || value.kind === 'finish');
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message} (${describe(error.cause)})`;
}

// ---------------------------------------------------------------------------------------------------
// The server process: a message-mode listener that echoes every message.

async function runServer(): Promise<void> {
  const { WebSocketListener } = await import('../src/index.js');
  const send = (message: ServerMessage | FailedMessage, then?: () => void): void => {
    if (process.send === undefined) throw new Error('the server needs an IPC channel');
    process.send(message, undefined, {}, () => then?.());
  };
  process.on('disconnect', () => process.exit(1));
  const listener = new WebSocketListener({ mode: 'message', closeTimeout: 5000 });
  let open = 0;
  let echoed = 0;
  listener.on('connectionReceived', ({ socket }) => {
    open++;
    socket.once('closed', () => open--);
    socket.on('messageReceived', async (args) => {
      try {
        socket.control.messageType = args.messageType;
        await socket.outputStream.writeAsync(args.getData());
        echoed++;
      } catch {
        // The client went away; its 'closed' is counted above.
      }
    });
  });
  await listener.bindServiceNameAsync(0, HOST);
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (message: unknown) => {
    if (!isParentMessage(message)) return;
    if (message.kind === 'stats') {
      gc?.();
      // Without the IPC channel to the parent (PipeWrap), which is the bench's, not the server's.
      const resources = process.getActiveResourcesInfo().filter((name) => name !== 'PipeWrap');
      send({
        kind: 'stats',
        label: message.label ?? '',
        rss: process.memoryUsage.rss(),
        heapUsed: process.memoryUsage().heapUsed,
        handles: resources.length,
        sockets: resources.filter((name) => name === 'TCPSocketWrap').length,
        kinds: [...new Set(resources)]
          .map((name) => `${name}×${resources.filter((other) => other === name).length}`)
          .join(', '),
        connections: open,
        echoed,
      });
    } else {
      listener.closeAsync().then(
        () => {
          send({ kind: 'closed' }, () => process.exit(0));
        },
        (error: unknown) => {
          send({ kind: 'failed', message: describe(error) });
        },
      );
    }
  });
  send({ kind: 'listening', port: listener.information.localPort ?? 0 });
}

// ---------------------------------------------------------------------------------------------------
// The client side (this process): N connections, each with one echo in flight at a time.

interface Options {
  json: boolean;
  connections: number;
  seconds: number;
  size: number;
}

/** One connection's ping-pong loop; round trips are recorded while `recording` is set. */
class EchoLoop {
  readonly ws: MessageWebSocketType;
  private sentAt = 0;
  private running = false;
  private inFlight = false;
  private idle: (() => void) | undefined;

  constructor(
    ws: MessageWebSocketType,
    private readonly payload: Buffer,
    private readonly record: (milliseconds: number) => void,
    private readonly fail: (error: unknown) => void,
  ) {
    this.ws = ws;
    ws.on('messageReceived', (args) => {
      let length: number;
      try {
        length = args.getData().length;
      } catch (error) {
        this.fail(error);
        return;
      }
      if (length !== this.payload.length)
        this.fail(new Error(`an echo of ${length} bytes, ${this.payload.length} sent`));
      this.inFlight = false;
      this.record(performance.now() - this.sentAt);
      if (this.running) this.send();
      else this.idle?.();
    });
  }

  start(): void {
    this.running = true;
    this.send();
  }

  /** Stops sending; resolves once the message in flight has come back. */
  stop(): Promise<void> {
    this.running = false;
    if (!this.inFlight) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  private send(): void {
    this.inFlight = true;
    this.sentAt = performance.now();
    this.ws.outputStream.writeAsync(this.payload).catch(this.fail);
  }
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]!;
}

/** A value measured once, as a report cell. */
function single(value: number) {
  return { median: value, q1: value, q3: value, min: value, max: value, samples: 1 };
}

async function runClient(options: Options): Promise<void> {
  const { MessageWebSocket } = await import('../src/index.js');
  const server = new IpcPeer<ServerMessage>('soak server', SCRIPT, isServerMessage, {
    args: ['--child', 'server'],
    env: process.env,
    execArgv: ['--expose-gc'],
  });
  const loops: EchoLoop[] = [];
  const progress = (text: string): void => {
    if (!options.json) process.stderr.write(`${text}\n`);
  };
  const run = async (): Promise<BenchReport> => {
    const { port } = await server.expect('listening');
    const stats = async (label: string): Promise<ServerStats> => {
      const request: ParentMessage = { kind: 'stats', label };
      server.send(request);
      return server.expect('stats');
    };
    const idle = await stats('idle');

    const problems: unknown[] = [];
    const fail = (error: unknown): void => {
      problems.push(error);
    };
    let recording = false;
    let latencies = new Float64Array(1 << 20);
    let count = 0;
    const record = (milliseconds: number): void => {
      if (!recording) return;
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = milliseconds;
    };

    // Connect in batches, as a crowd of clients arriving would (and within the listen backlog).
    const payload = Buffer.alloc(options.size, 0x5a);
    const connectStarted = performance.now();
    for (let start = 0; start < options.connections; start += 100) {
      const batch = Array.from({ length: Math.min(100, options.connections - start) }, async () => {
        const ws = new MessageWebSocket();
        ws.control.connectTimeout = 30_000;
        ws.on('closed', ({ code }) => {
          if (code !== 1000) fail(new Error(`a connection closed with ${code} during the soak`));
        });
        await ws.connectAsync(`ws://${HOST}:${port}/soak`);
        loops.push(new EchoLoop(ws, payload, record, fail));
      });
      await Promise.all(batch);
    }
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    progress(`soak: ${options.connections} connections open in ${connectSeconds.toFixed(1)} s`);

    // Warm up (JIT, socket buffers), then measure.
    for (const loop of loops) loop.start();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const atStart = await stats('start');
    recording = true;
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
    recording = false;
    const seconds = (performance.now() - started) / 1000;
    const measured = count;
    const atEnd = await stats('end');
    await Promise.all(loops.map((loop) => loop.stop()));
    if (problems.length > 0) throw new Error(`the soak failed: ${describe(problems[0])}`);
    progress(`soak: ${measured} round trips in ${seconds.toFixed(1)} s`);

    // Everyone leaves; the server must come back to where it was idle.
    const closes = loops.map((loop) => loop.ws.whenClosed());
    for (const loop of loops) loop.ws.close(1000);
    await Promise.all(closes);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const afterClose = await stats('after close');
    if (problems.length > 0) throw new Error(`the soak failed: ${describe(problems[0])}`);

    const sorted = latencies.subarray(0, measured).sort();
    const perSecond = measured / seconds;
    const workload = `${options.connections} connections, ${options.size}-byte echo`;
    const rows: ReportRow[] = [
      { workload: `${workload}: round trips`, unit: 'msg/s', values: { ours: single(perSecond) } },
      {
        workload: `${workload}: round trip p50`,
        unit: 'ms',
        values: { ours: single(quantile(sorted, 0.5)) },
      },
      {
        workload: `${workload}: round trip p99`,
        unit: 'ms',
        values: { ours: single(quantile(sorted, 0.99)) },
      },
    ];
    const snapshots: [string, ServerStats][] = [
      ['idle', idle],
      [`${options.connections} connections, start of load`, atStart],
      [`${options.connections} connections, end of load`, atEnd],
      ['after every client closed', afterClose],
    ];
    for (const [label, snapshot] of snapshots) {
      rows.push({
        workload: `server RSS, ${label}`,
        unit: 'MiB',
        values: { ours: single(snapshot.rss / MiB) },
      });
    }
    for (const [label, snapshot] of snapshots) {
      rows.push({
        workload: `server heap, ${label}`,
        unit: 'MiB',
        values: { ours: single(snapshot.heapUsed / MiB) },
      });
    }
    for (const [label, snapshot] of snapshots) {
      rows.push({
        workload: `server active handles, ${label}`,
        unit: 'handles',
        values: { ours: single(snapshot.handles) },
      });
    }
    const growth = (atEnd.rss - atStart.rss) / MiB;
    const heapGrowth = (atEnd.heapUsed - atStart.heapUsed) / MiB;
    return {
      bench: 'soak',
      title: `${options.connections} concurrent connections echoing ${options.size}-byte messages for ${options.seconds} s`,
      environment: environment(),
      rounds: 1,
      contenders: [{ id: 'ours', label: 'ours' }],
      rows,
      notes: [
        `The server (a message-mode WebSocketListener echoing with writeAsync) runs in its own process; ` +
          `${options.connections} MessageWebSocket clients in this process each keep one ${options.size}-byte ` +
          'binary message in flight and send the next when the echo arrives. Round trips are timed from ' +
          'writeAsync to the echo, over 127.0.0.1 (both processes share the machine).',
        `Load: connected in ${connectSeconds.toFixed(1)} s (batches of 100), 2 s warm-up, then ` +
          `${seconds.toFixed(1)} s measured (${measured.toLocaleString('en')} round trips).`,
        `Server snapshots after a full GC: RSS ${formatNumber(atStart.rss / MiB)} → ${formatNumber(atEnd.rss / MiB)} MiB ` +
          `(${growth >= 0 ? '+' : ''}${formatNumber(growth)} MiB) and heap ${heapGrowth >= 0 ? '+' : ''}` +
          `${formatNumber(heapGrowth)} MiB over the load; active handles ${atStart.handles} → ${atEnd.handles} ` +
          `(TCP sockets ${atStart.sockets} → ${atEnd.sockets}), ${afterClose.handles} after every client ` +
          `closed (idle: ${idle.handles}); open connections after close: ${afterClose.connections}. Handles ` +
          `by type (process.getActiveResourcesInfo() without the IPC pipe to this process): idle ${idle.kinds}; ` +
          `end of load ${atEnd.kinds}; after close ${afterClose.kinds}.`,
      ],
    };
  };
  try {
    const report = await withTimeout(run(), (options.seconds + 120) * 1000, 'the soak', () => {
      server.kill();
    });
    server.stop({ kind: 'finish' } satisfies ParentMessage);
    await withTimeout(server.exited, 10_000, 'the server exiting', () => {
      server.kill();
    });
    process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatReports([report])}\n`);
  } finally {
    server.kill();
    for (const loop of loops) loop.ws.close();
  }
}

// ---------------------------------------------------------------------------------------------------

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    // Accepted for run.ts, which passes them to every bench; a soak is one long round.
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    size: { type: 'string', default: '64' },
    child: { type: 'string' },
  },
});

function positive(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} takes a positive integer, not ${text}`);
  return value;
}

if (values.child === 'server') {
  await runServer();
} else {
  await runClient({
    json: values.json,
    connections: positive(values.connections, '--connections'),
    seconds: positive(values.seconds, '--seconds'),
    size: positive(values.size, '--size'),
  });
}
