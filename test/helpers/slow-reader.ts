// A slow reader in a process of its own, so that its RSS measures one socket: a StreamWebSocket connects
// to --url and reads --total bytes with inputStream.readAsync(buffer, buffer.length, Partial) into one
// buffer of --buffer bytes (Buffer.allocUnsafe: its pages count only once written). It is slow on
// purpose: before each read it lets the socket run until nothing more arrives (bytesReceived unchanged
// over two checks 2 ms apart), so the input fills to whatever the library lets it hold. That is the
// consumer's pace, not a synchronisation: a bounded library holds its high-water mark whatever the pace.
// It prints one JSON line: { highWaterMarks (before and after each read, distinct), growthMiB (peak RSS
// over the RSS before the first read), received }.
// Usage: node build/test/helpers/slow-reader.js --url ws://… --buffer N --total N

import { Buffer } from 'node:buffer';
import { parseArgs } from 'node:util';

import { InputStreamOptions, StreamWebSocket } from '../../src/index.js';
import { untilQuiet } from './until-quiet.js';

const { values } = parseArgs({
  options: { url: { type: 'string' }, buffer: { type: 'string' }, total: { type: 'string' } },
});
const url = values.url ?? '';
const bufferSize = Number(values.buffer);
const total = Number(values.total);

const MiB = 1024 * 1024;
const socket = new StreamWebSocket();
await socket.connectAsync(url);
const buffer = Buffer.allocUnsafe(bufferSize);
const highWaterMarks = new Set<number>([socket.inputStream.readableHighWaterMark]);

const rssBefore = process.memoryUsage.rss();
let peak = rssBefore;
let received = 0;
while (received < total) {
  await untilQuiet(() => socket.information.bytesReceived, 2);
  peak = Math.max(peak, process.memoryUsage.rss());
  const got = await socket.inputStream.readAsync(buffer, buffer.length, InputStreamOptions.Partial);
  highWaterMarks.add(socket.inputStream.readableHighWaterMark);
  peak = Math.max(peak, process.memoryUsage.rss());
  if (got.length === 0) break;
  received += got.length;
}
const maxRss = process.resourceUsage().maxRSS * 1024;
process.stdout.write(
  `${JSON.stringify({
    highWaterMarks: [...highWaterMarks],
    growthMiB: (Math.max(peak, maxRss) - rssBefore) / MiB,
    received,
  })}\n`,
);
socket.close(1000);
await socket.whenClosed();
