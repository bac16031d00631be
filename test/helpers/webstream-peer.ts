// One side of a WebSocketStream transfer in a process of its own, so that its RSS measures that side
// alone. Each role prints `PORT <n>` (servers) and, when done, one JSON line { growthMiB (peak RSS over
// the RSS once connected), bytes, sha256 }.
//   serve-flood --messages N --size S   a 'webstream' listener that writes N binary messages of S bytes
//                                       to its first connection through the writable, then closes (1000)
//   serve-sink                          a 'webstream' listener with messageStreams that hashes the first
//                                       message of its first connection, section by section
//   slow-read --url U --total N         a client that reads N bytes of whole messages, letting the socket
//                                       run until nothing more arrives before each read (until-quiet.ts)
//   send-huge --url U --size N          a client that writes ONE message of N bytes from a ReadableStream
//                                       generated as it is read, then closes (1000)

import { createHash } from 'node:crypto';
import { ReadableStream } from 'node:stream/web';
import { parseArgs } from 'node:util';

import {
  WebSocketListener,
  WebSocketStream,
  type ServerWebSocketStream,
  type WebSocketMessageStream,
} from '../../src/index.js';
import { untilQuiet } from './until-quiet.js';

const MiB = 1024 * 1024;
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    messages: { type: 'string' },
    size: { type: 'string' },
    total: { type: 'string' },
  },
});

class PeakRss {
  private readonly before = process.memoryUsage.rss();
  private peak = this.before;

  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }

  growthMiB(): number {
    this.sample();
    return (Math.max(this.peak, process.resourceUsage().maxRSS * 1024) - this.before) / MiB;
  }
}

function report(rss: PeakRss, bytes: number, sha256 = ''): void {
  process.stdout.write(`${JSON.stringify({ growthMiB: rss.growthMiB(), bytes, sha256 })}\n`);
}

/** A listener in 'webstream' mode whose first connection is handed to `serve`. */
async function serveFirst(
  messageStreams: boolean,
  serve: (socket: ServerWebSocketStream) => Promise<void>,
): Promise<void> {
  const listener = new WebSocketListener({ mode: 'webstream', messageStreams });
  listener.once('connectionReceived', ({ socket }) => {
    serve(socket)
      .then(() => listener.closeAsync())
      .catch((error: unknown) => {
        process.stderr.write(`${String(error)}\n`);
        process.exit(1);
      });
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  process.stdout.write(`PORT ${String(listener.information.localPort)}\n`);
}

async function serveFlood(count: number, size: number): Promise<void> {
  await serveFirst(false, async (socket) => {
    const rss = new PeakRss();
    const writer = (await socket.opened).writable.getWriter();
    const message = new Uint8Array(size);
    for (let index = 0; index < count; index++) {
      message[0] = index & 0xff;
      await writer.write(message);
      if (index % 16 === 0) rss.sample();
    }
    socket.close({ closeCode: 1000 });
    await socket.closed;
    report(rss, count * size);
  });
}

async function serveSink(): Promise<void> {
  await serveFirst(true, async (socket) => {
    const rss = new PeakRss();
    const reader = (await socket.opened).readable.getReader();
    const { value } = await reader.read();
    const message = value as WebSocketMessageStream;
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const section of message.readable) {
      hash.update(section);
      bytes += section.byteLength;
      if ((bytes & (64 * MiB - 1)) < section.byteLength) rss.sample();
    }
    await socket.closed;
    report(rss, bytes, hash.digest('hex'));
  });
}

async function slowRead(url: string, total: number): Promise<void> {
  const wss = new WebSocketStream(url);
  const reader = (await wss.opened).readable.getReader();
  const rss = new PeakRss();
  let received = 0;
  while (received < total) {
    // Lets bytes arrive until they stop: the reader has fallen as far behind as the socket allows.
    await untilQuiet(() => wss.information.bytesReceived, 2);
    rss.sample();
    const next = await reader.read();
    if (next.done) break;
    received += next.value.length;
  }
  await wss.closed;
  report(rss, received);
}

async function sendHuge(url: string, size: number): Promise<void> {
  const wss = new WebSocketStream(url);
  const writer = (await wss.opened).writable.getWriter();
  const rss = new PeakRss();
  const hash = createHash('sha256');
  const chunk = new Uint8Array(256 * 1024);
  let produced = 0;
  const source = new ReadableStream<Uint8Array>(
    {
      pull: (controller) => {
        if (produced === size) {
          controller.close();
          return;
        }
        const piece = chunk.subarray(0, Math.min(chunk.length, size - produced));
        new DataView(piece.buffer).setFloat64(0, produced);
        hash.update(piece);
        produced += piece.length;
        if ((produced & (64 * MiB - 1)) === 0) rss.sample();
        controller.enqueue(piece);
      },
    },
    { highWaterMark: 0 },
  );
  await writer.write(source);
  wss.close({ closeCode: 1000 });
  await wss.closed;
  report(rss, produced, hash.digest('hex'));
}

const [role] = positionals;
if (role === 'serve-flood') await serveFlood(Number(values.messages), Number(values.size));
else if (role === 'serve-sink') await serveSink();
else if (role === 'slow-read') await slowRead(values.url ?? '', Number(values.total));
else if (role === 'send-huge') await sendHuge(values.url ?? '', Number(values.size));
else throw new Error(`unknown role ${String(role)}`);
