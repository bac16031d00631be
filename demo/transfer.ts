// npm run demo: streams 1 GiB from a StreamWebSocket client (a child process) to a WebSocketListener over
// loopback, and prints throughput, each side's peak RSS and the sha256 check.
//   node build/demo/transfer.js [--size MiB] [--write-size KiB]

import { Buffer } from 'node:buffer';
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { StreamWebSocket, WebSocketListener } from '../src/index.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1024' },
    'write-size': { type: 'string', default: '1024' },
    client: { type: 'string' },
  },
});
const totalBytes = Number(values.size) * 1024 * 1024;
const writeSize = Number(values['write-size']) * 1024;

interface ClientReport {
  sha256: string;
  seconds: number;
  peakRssMiB: number;
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);

/** Deterministic, non-repeating-looking data: a counter stamped into a block from the CSPRNG. */
function* pattern(total: number, size: number): Generator<Buffer> {
  const block = Buffer.alloc(size);
  for (let index = 0; index < size; index += 4) block.writeUInt32LE((index * 2654435761) >>> 0, index);
  for (let sent = 0, counter = 0; sent < total; sent += size, counter++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(size, total - sent)));
    chunk.writeUInt32LE(counter, 0);
    yield chunk;
  }
}

async function runClient(url: string): Promise<void> {
  const socket = new StreamWebSocket();
  await socket.connectAsync(url);
  const hash = createHash('sha256');
  const started = performance.now();
  for (const chunk of pattern(totalBytes, writeSize)) {
    hash.update(chunk);
    await socket.outputStream.writeAsync(chunk);
  }
  const seconds = (performance.now() - started) / 1000;
  socket.close(1000, 'all sent');
  await socket.whenClosed();
  const report: ClientReport = {
    sha256: hash.digest('hex'),
    seconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  process.send?.(report);
}

async function runServer(): Promise<void> {
  const listener = new WebSocketListener();
  const received = new Promise<{ sha256: string; bytes: number; seconds: number }>((resolve, reject) => {
    listener.on('connectionReceived', ({ socket }) => {
      const hash = createHash('sha256');
      let bytes = 0;
      const started = performance.now();
      socket.inputStream.on('data', (section: Buffer) => {
        hash.update(section);
        bytes += section.length;
      });
      socket.inputStream.on('end', () => {
        resolve({ sha256: hash.digest('hex'), bytes, seconds: (performance.now() - started) / 1000 });
      });
      socket.inputStream.on('error', reject);
    });
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  const url = `ws://127.0.0.1:${String(listener.information.localPort)}/upload`;
  console.log(`Streaming ${mib(totalBytes)} MiB in ${writeSize / 1024} KiB messages: client → ${url}`);
  const child = fork(fileURLToPath(import.meta.url), [
    '--client',
    url,
    '--size',
    values.size,
    '--write-size',
    values['write-size'],
  ]);
  const [report] = (await once(child, 'message')) as [ClientReport];
  const server = await received;
  await listener.closeAsync();
  const rate = (server.bytes / 1e6 / server.seconds).toFixed(0);
  console.log(`received ${mib(server.bytes)} MiB in ${server.seconds.toFixed(2)} s: ${rate} MB/s`);
  console.log(
    `peak RSS: server ${mib(process.resourceUsage().maxRSS * 1024)} MiB, client ${report.peakRssMiB.toFixed(0)} MiB`,
  );
  const match = server.sha256 === report.sha256 && server.bytes === totalBytes;
  console.log(`sha256 ${server.sha256} ${match ? 'matches' : `DIFFERS from the client's ${report.sha256}`}`);
  if (!match) process.exitCode = 1;
}

if (values.client !== undefined) await runClient(values.client);
else await runServer();
