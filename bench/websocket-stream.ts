// WebSocketStream clients side by side: ours and undici's (the WHATWG shape, as undici exports it), each
// reading from the same `ws` server in a process of its own. The slow reader takes one message every
// 2 ms while the server sends 1 GiB of 1 MiB messages as fast as its socket takes them: a client whose
// readable applies backpressure down to TCP holds a few MiB, one that does not holds what the server
// could push meanwhile (undici issue #5503). The fast reader reads 1 GiB of 64 KiB messages as fast as it
// can: throughput. Peak RSS is process.resourceUsage().maxRSS, Node itself included.
// Run alone: node build/bench/websocket-stream.js [--json] [--rounds N] [--contenders ours,undici]

import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import type { Samples } from './lib/harness.js';
import { MiB, KiB, peakRss, record, rotated, roundLabel } from './lib/processes.js';
import {
  buildRows,
  environment,
  formatNumber,
  formatReports,
  type BenchReport,
  type Contender,
} from './lib/report.js';

const GiB = 1024 * MiB;
const CONTENDERS: readonly Contender[] = [
  { id: 'ours', label: 'ours' },
  { id: 'undici', label: 'undici' },
];

interface Workload {
  name: string;
  messageSize: number;
  total: number;
  /** Milliseconds the reader waits before each read; 0 reads as fast as it can. */
  paceMs: number;
}

const WORKLOADS: readonly Workload[] = [
  {
    name: 'slow reader: 1 GiB of 1 MiB messages, one read every 2 ms',
    messageSize: MiB,
    total: GiB,
    paceMs: 2,
  },
  { name: 'fast reader: 1 GiB of 64 KiB messages', messageSize: 64 * KiB, total: GiB, paceMs: 0 },
];

interface ReaderResult {
  peakRss: number;
  seconds: number;
  bytes: number;
}

// ---- children --------------------------------------------------------------------------------------

/** A `ws` server: sends `count` messages of `size` bytes to its first client, each once the socket took the last. */
async function serve(count: number, size: number): Promise<void> {
  const { WebSocketServer } = await import('ws');
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  server.once('connection', (socket) => {
    const message = Buffer.alloc(size, 0x5a);
    void (async () => {
      for (let index = 0; index < count; index++) {
        await new Promise<void>((resolve, reject) => {
          socket.send(message, (error) => {
            // ws passes null, not undefined, when the send went well.
            if (error instanceof Error) reject(error);
            else resolve();
          });
        });
      }
      socket.close(1000);
      await once(socket, 'close');
      process.stdout.write(`${JSON.stringify({ peakRss: peakRss() })}\n`);
      server.close();
    })();
  });
  process.stdout.write(`PORT ${String((server.address() as AddressInfo).port)}\n`);
}

interface ReadableMessages {
  readable: ReadableStream<string | Uint8Array | ArrayBuffer>;
}

async function read(contender: string, url: string, total: number, paceMs: number): Promise<void> {
  const { WebSocketStream } =
    contender === 'undici' ? await import('undici') : await import('../src/index.js');
  const wss = new WebSocketStream(url);
  const { readable } = (await wss.opened) as unknown as ReadableMessages;
  const reader = readable.getReader();
  const started = performance.now();
  let bytes = 0;
  while (bytes < total) {
    if (paceMs > 0) await delay(paceMs);
    const next = await reader.read();
    if (next.done) break;
    bytes += typeof next.value === 'string' ? Buffer.byteLength(next.value) : next.value.byteLength;
  }
  const seconds = (performance.now() - started) / 1000;
  await wss.closed;
  const result: ReaderResult = { peakRss: peakRss(), seconds, bytes };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---- parent ----------------------------------------------------------------------------------------

/** Runs this file as a child with `args`; resolves with the stdout lines matching `pattern`, in order. */
function child(args: readonly string[]): {
  lines: (pattern: RegExp, count: number) => Promise<string[]>;
  kill: () => void;
} {
  const process_ = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  let stdout = '';
  process_.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    process_.emit('stdout-changed');
  });
  return {
    lines: (pattern, count) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const found = stdout.split('\n').filter((line) => pattern.test(line));
          if (found.length < count) return;
          process_.off('stdout-changed', check);
          process_.off('exit', exited);
          resolve(found.slice(0, count));
        };
        const exited = (code: number | null): void => {
          reject(new Error(`a child (${args.join(' ')}) exited with ${String(code)}`));
        };
        process_.on('stdout-changed', check);
        process_.once('exit', exited);
        check();
      }),
    kill: () => process_.kill('SIGKILL'),
  };
}

async function runOnce(
  workload: Workload,
  contender: string,
): Promise<{ reader: ReaderResult; serverRss: number }> {
  const count = String(workload.total / workload.messageSize);
  const server = child(['serve', '--count', count, '--size', String(workload.messageSize)]);
  try {
    const [portLine] = await server.lines(/^PORT \d+$/, 1);
    const url = `ws://127.0.0.1:${portLine!.slice(5)}/`;
    const reader = child([
      'read',
      '--contender',
      contender,
      '--url',
      url,
      '--total',
      String(workload.total),
      '--pace',
      String(workload.paceMs),
    ]);
    try {
      const [readerLine] = await reader.lines(/^\{/, 1);
      const [, serverLine] = await server.lines(/^(PORT|\{)/, 2);
      return {
        reader: JSON.parse(readerLine!) as ReaderResult,
        serverRss: (JSON.parse(serverLine!) as { peakRss: number }).peakRss,
      };
    } finally {
      reader.kill();
    }
  } finally {
    server.kill();
  }
}

async function main(rounds: number, json: boolean, contenders: readonly Contender[]): Promise<void> {
  const env = environment();
  const started = performance.now();
  const throughput: Samples = new Map();
  const rss: Samples = new Map();
  const rssRows: string[] = [];
  const rssRow = (workload: Workload, side: string): string => `${workload.name}: peak RSS, ${side}`;
  for (const workload of WORKLOADS) rssRows.push(rssRow(workload, 'reader'), rssRow(workload, 'ws server'));
  for (let round = 0; round < rounds; round++) {
    for (const workload of WORKLOADS) {
      for (const contender of rotated(contenders, round)) {
        const { reader, serverRss } = await runOnce(workload, contender.id);
        if (reader.bytes !== workload.total) {
          throw new Error(
            `${contender.label} read ${String(reader.bytes)} of ${String(workload.total)} bytes`,
          );
        }
        if (!json) {
          process.stderr.write(
            `${roundLabel(round, 0)} · ${workload.name} · ${contender.label}: ` +
              `${formatNumber(workload.total / reader.seconds / 1e6)} MB/s, peak RSS reader ` +
              `${formatNumber(reader.peakRss / MiB)} MiB, server ${formatNumber(serverRss / MiB)} MiB\n`,
          );
        }
        if (workload.paceMs === 0)
          record(throughput, workload.name, contender.id, workload.total / reader.seconds);
        record(rss, rssRow(workload, 'reader'), contender.id, reader.peakRss);
        record(rss, rssRow(workload, 'ws server'), contender.id, serverRss);
      }
    }
  }
  const report: BenchReport = {
    bench: 'websocket-stream',
    title: 'WebSocketStream readers (ours, undici) of a ws server, each in its own process',
    environment: env,
    rounds,
    contenders: [...contenders],
    rows: [
      ...buildRows(
        throughput,
        WORKLOADS.filter((workload) => workload.paceMs === 0).map((workload) => workload.name),
        contenders,
        'MB/s',
        1e6,
      ),
      ...buildRows(rss, rssRows, contenders, 'MiB', MiB),
    ],
    notes: [
      'The reader: `const { readable } = await new WebSocketStream(url).opened`, then `reader.read()` ' +
        "until 1 GiB has come, waiting 2 ms before each read in the slow case. Ours is this library's " +
        "WebSocketStream (whole messages: each a Uint8Array of its own); undici's is `undici`'s " +
        'WebSocketStream (experimental). The server is a `ws` WebSocketServer that sends each message once ' +
        'the socket took the one before (`send(message, callback)`), so it holds one message at most: its ' +
        'RSS shows where the bytes waited, not what it sent.',
      'The slow reader reads for about 1024 × 2 ms; a reader whose readable does not stop the socket ' +
        'holds what arrived meanwhile (undici issue #5503: no receive-side backpressure); ours stops ' +
        "reading TCP once 1 MiB waits (the connection's queue) beyond the message being read.",
      `Whole run: ${((performance.now() - started) / 1000).toFixed(0)} s.`,
    ],
  };
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : `${formatReports([report])}\n`);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    contenders: { type: 'string' },
    count: { type: 'string' },
    size: { type: 'string' },
    contender: { type: 'string' },
    url: { type: 'string' },
    total: { type: 'string' },
    pace: { type: 'string' },
  },
});
const [role] = positionals;
if (role === 'serve') {
  await serve(Number(values.count), Number(values.size));
} else if (role === 'read') {
  await read(values.contender ?? 'ours', values.url ?? '', Number(values.total), Number(values.pace));
} else {
  const ids = values.contenders?.split(',') ?? CONTENDERS.map((contender) => contender.id);
  await main(
    Number(values.rounds ?? 3),
    values.json,
    CONTENDERS.filter((contender) => ids.includes(contender.id)),
  );
}
