// The target of a decompression bomb, in a process of its own so that its RSS measures what the library
// holds for one connection. It prints `PORT <n>` (listener modes) and, once the bomb's connection is done,
// one JSON line: { received (payload bytes the application got), code (the close code, listener modes),
// growthMiB (peak RSS over the RSS when the connection opened) }. Afterwards a listener keeps serving:
// later connections get their messages echoed.
//
//   node build/test/helpers/deflate-bomb-target.js listener-whole        (defaults: FullMessage, 16 MiB)
//   node build/test/helpers/deflate-bomb-target.js listener-messages --limit N  (messages(), limit raised)
//   node build/test/helpers/deflate-bomb-target.js client-stream --url ws://… --total N  (inputStream)

import { parseArgs } from 'node:util';

import { StreamWebSocket, WebSocketListener } from '../../src/index.js';
import { echoMessages } from './peers.js';

const MiB = 1024 * 1024;
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { limit: { type: 'string' }, url: { type: 'string' }, total: { type: 'string' } },
});
const mode = positionals[0];

let baseline = 0;
let peak = 0;
function sample(): void {
  peak = Math.max(peak, process.memoryUsage.rss());
}
function report(fields: Record<string, number>): void {
  sample();
  const growth = Math.max(peak, process.resourceUsage().maxRSS * 1024) - baseline;
  process.stdout.write(`${JSON.stringify({ ...fields, growthMiB: growth / MiB })}\n`);
}

if (mode === 'client-stream') {
  const socket = new StreamWebSocket();
  socket.control.perMessageDeflate = true;
  await socket.connectAsync(values.url ?? '');
  baseline = process.memoryUsage.rss();
  const total = Number(values.total);
  let received = 0;
  for await (const section of socket.inputStream) {
    received += section.length;
    sample();
    if (received >= total) break;
  }
  report({ received });
  socket.close(1000);
  await socket.whenClosed();
} else {
  const limit = values.limit === undefined ? {} : { maxMessageSize: Number(values.limit) };
  const listener = new WebSocketListener({ mode: 'message', perMessageDeflate: true, ...limit });
  let first = true;
  listener.on('connectionReceived', ({ socket }) => {
    if (!first) {
      echoMessages(socket);
      return;
    }
    first = false;
    baseline = process.memoryUsage.rss();
    peak = baseline;
    let received = 0;
    if (mode === 'listener-messages') {
      void (async () => {
        for await (const message of socket.messages()) {
          for await (const section of message) {
            received += section.length;
            sample();
          }
          report({ received });
        }
      })().catch(() => undefined);
    } else {
      socket.on('messageReceived', (event) => {
        sample();
        received += event.getData().length;
      });
      socket.on('closed', ({ code }) => {
        report({ received, code });
      });
    }
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  process.stdout.write(`PORT ${String(listener.information.localPort)}\n`);
}
