// sws demo: the README's first command. A WebSocketListener and a StreamWebSocket client, each in a
// process of its own (forked), stream --size MiB (1 GiB by default) over loopback with the same code as
// sws send and sws serve; the parent shows the progress and prints throughput, each side's peak RSS and
// the sha256 check (exit 1 when the two sides disagree).

import { Buffer } from 'node:buffer';
import { fork, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

import { StreamWebSocket, WebSocketListener } from '../../index.js';
import { COMMON_OPTIONS, operands, parseCommand } from '../args.js';
import { receiveAndCheck, sendAndClose } from '../byte-transfer.js';
import type { Command } from '../command.js';
import { CliError, ExitCode, usageError } from '../errors.js';
import { formatRate } from '../format.js';
import { onInterrupt } from '../interrupt.js';
import { Meter } from '../meter.js';
import { Output } from '../output.js';
import { ProgressBar } from '../progress.js';

const OPTIONS = {
  ...COMMON_OPTIONS,
  size: { type: 'string', default: '1024' },
  'message-size': { type: 'string', default: '1024' },
  // Internal: the forked processes.
  role: { type: 'string' },
  url: { type: 'string' },
} as const;

const USAGE = `Usage: sws demo [--size MiB] [--message-size KiB]

Streams --size MiB (default 1024) from a StreamWebSocket client to a WebSocketListener over
127.0.0.1, each in a process of its own, in messages of --message-size KiB (default 1024). Prints the
throughput, each process's peak RSS (memory stays flat whatever the size) and whether the sha256
of what arrived matches what was sent (exit 1 if not).

  --json         print the results as one JSON line
  -q, --quiet    no progress bar
  -h, --help     this help`;

const MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

interface SideReport {
  type: 'done';
  bytes: number;
  sha256: string;
  seconds: number;
  peakRssMiB: number;
  /** Why the receiving side refused the transfer (a truncated or corrupt stream). */
  error?: string;
}
type ChildMessage = { type: 'listening'; port: number } | { type: 'progress'; bytes: number } | SideReport;

export const demo: Command = {
  name: 'demo',
  summary: 'stream 1 GiB over loopback between two processes: MB/s, peak RSS, sha256',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommand('demo', argv, OPTIONS);
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.Ok;
    }
    operands('demo', positionals, []);
    const mib = Number(values.size);
    const messageKiB = Number(values['message-size']);
    if (!Number.isFinite(mib) || mib <= 0)
      throw usageError(`demo: --size '${values.size}' is not a number of MiB`);
    if (!Number.isInteger(messageKiB) || messageKiB <= 0) {
      throw usageError(`demo: --message-size '${values['message-size']}' is not a number of KiB`);
    }
    const total = Math.round(mib * 1024 * 1024);
    const messageSize = messageKiB * 1024;
    if (values.role === 'listener') return runListener();
    if (values.role === 'client' && values.url !== undefined)
      return runClient(values.url, total, messageSize);
    return runParent(new Output({ quiet: values.quiet, json: values.json }), total, messageSize);
  },
};

async function runParent(out: Output, total: number, messageSize: number): Promise<number> {
  const children: ChildProcess[] = [];
  onInterrupt(() => {
    for (const child of children) child.kill('SIGINT');
  });
  const spawn = (args: string[]): ChildProcess => {
    const child = fork(MAIN, ['demo', ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    return child;
  };
  try {
    const listener = spawn(['--role', 'listener']);
    const { port } = await next(listener, 'listening', 'the listener');
    const url = `ws://127.0.0.1:${port}/demo`;
    out.info(
      `Streaming ${formatMiB(total)} MiB in ${messageSize / 1024} KiB messages: a client process → a listener process at ${url}`,
    );
    let received = 0;
    listener.on('message', (message: ChildMessage) => {
      if (message.type === 'progress') received = message.bytes;
    });
    const bar = ProgressBar.start({ label: 'demo', total, bytes: () => received }, out.quiet);
    const client = spawn([
      '--role',
      'client',
      '--url',
      url,
      '--size',
      String(total / 1024 / 1024),
      '--message-size',
      String(messageSize / 1024),
    ]);
    const [server, sender] = await Promise.all([
      next(listener, 'done', 'the listener'),
      next(client, 'done', 'the client'),
    ]).finally(() => bar?.stop());
    if (server.error !== undefined) out.warn(`the listener refused the transfer: ${server.error}`);
    const match =
      server.error === undefined &&
      server.sha256 === sender.sha256 &&
      server.bytes === total &&
      sender.bytes === total;
    const rate = server.bytes / server.seconds;
    if (out.json) {
      out.event('', {
        event: 'demo',
        ok: match,
        bytes: server.bytes,
        seconds: Number(server.seconds.toFixed(3)),
        megabytesPerSecond: Number((rate / 1e6).toFixed(1)),
        listenerPeakRssMiB: Math.round(server.peakRssMiB),
        clientPeakRssMiB: Math.round(sender.peakRssMiB),
        sha256: server.sha256,
        clientSha256: sender.sha256,
      });
    } else {
      process.stdout.write(
        [
          `received ${formatMiB(server.bytes)} MiB in ${server.seconds.toFixed(2)} s: ${formatRate(rate)}`,
          `peak RSS: listener ${server.peakRssMiB.toFixed(0)} MiB, client ${sender.peakRssMiB.toFixed(0)} MiB`,
          `sha256 ${server.sha256} ${match ? 'matches' : `DIFFERS from the client's ${sender.sha256}`}`,
          '',
        ].join('\n'),
      );
    }
    return match ? ExitCode.Ok : ExitCode.Failure;
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

/** The listener process: receives one transfer with the code of `sws serve` and reports it. */
async function runListener(): Promise<number> {
  const listener = new WebSocketListener();
  let meter: Meter | undefined;
  const done = new Promise<SideReport>((resolve) => {
    listener.once('connectionReceived', ({ socket }) => {
      const discard = new Writable({
        write(_chunk: Buffer, _encoding, callback) {
          callback();
        },
      });
      const measured = new Meter();
      meter = measured;
      receiveAndCheck(socket, discard, measured).then(
        () => {
          resolve(report(measured));
        },
        (error: unknown) => {
          resolve({ ...report(measured), error: error instanceof Error ? error.message : String(error) });
        },
      );
    });
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  send({ type: 'listening', port: listener.information.localPort! });
  const progress = setInterval(() => {
    send({ type: 'progress', bytes: meter?.bytes ?? 0 });
  }, 100);
  const result = await done;
  clearInterval(progress);
  send(result);
  await listener.closeAsync();
  return ExitCode.Ok;
}

/** The client process: sends generated data with the code of `sws send`. */
async function runClient(url: string, total: number, messageSize: number): Promise<number> {
  const socket = new StreamWebSocket();
  await socket.connectAsync(url);
  socket.inputStream.resume();
  const meter = new Meter();
  await sendAndClose(socket, pattern(total, messageSize), meter);
  send(report(meter));
  return ExitCode.Ok;
}

/** Data that is not all alike and costs nothing to make: a block with a counter stamped into each copy. */
function* pattern(total: number, size: number): Generator<Buffer> {
  const block = Buffer.alloc(size);
  for (let index = 0; index + 4 <= size; index += 4) block.writeUInt32LE((index * 2654435761) >>> 0, index);
  for (let sent = 0, counter = 0; sent < total; sent += size, counter++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(size, total - sent)));
    if (chunk.length >= 4) chunk.writeUInt32LE(counter, 0);
    yield chunk;
  }
}

function report(meter: Meter): SideReport {
  return {
    type: 'done',
    bytes: meter.bytes,
    sha256: meter.sha256,
    seconds: meter.seconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** The child's next message of a type; rejects if the child exits first. */
function next<T extends ChildMessage['type']>(
  child: ChildProcess,
  type: T,
  who: string,
): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ChildMessage): void => {
      if (message.type !== type) return;
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolve(message as Extract<ChildMessage, { type: T }>);
    };
    const onExit = (code: number | null): void => {
      child.off('message', onMessage);
      reject(new CliError(ExitCode.Failure, `${who} process failed (exit ${code ?? 'by signal'})`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function formatMiB(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}
