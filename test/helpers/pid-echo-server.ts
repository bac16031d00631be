// A listener process for tests that run several of them (node:cluster workers, backends behind a load
// balancer): it answers each text message with "<pid>:<message>", so a client can tell which process
// served it. Under an IPC channel (a cluster worker, a fork) it reports {kind: 'listening', pid, port}
// and closes its listener (1001 to every client) when sent {kind: 'close'}, replying {kind: 'closed'};
// without one it prints "PORT <n>" and closes on SIGTERM.
// Usage: node build/test/helpers/pid-echo-server.js [--port N] [--naive] [--report-closes]
// --port: default 0 (any free port). --naive: the handler is the README's, with no try/catch around
// getText(), to see whether a misbehaving client can crash the process. --report-closes: prints
// "CLOSED <code> <MiB>" when a connection closes, with the growth of the peak RSS over the RSS once
// listening (for the memory tests: the listener is a default one, so it measures the defaults).

import { Buffer } from 'node:buffer';
import { parseArgs } from 'node:util';

import { SocketMessageType, WebSocketListener } from '../../src/index.js';

interface CloseMessage {
  kind: 'close';
}

function isCloseMessage(value: unknown): value is CloseMessage {
  return typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'close';
}

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    naive: { type: 'boolean', default: false },
    'report-closes': { type: 'boolean', default: false },
  },
});
let rssListening = 0;

const listener = new WebSocketListener({ mode: 'message', closeTimeout: 2000 });
listener.on('connectionReceived', ({ socket }) => {
  socket.control.messageType = SocketMessageType.Utf8;
  if (values['report-closes']) {
    socket.on('closed', ({ code }) => {
      const growth = (process.resourceUsage().maxRSS * 1024 - rssListening) / (1024 * 1024);
      process.stdout.write(`CLOSED ${String(code)} ${growth.toFixed(1)}\n`);
    });
  }
  if (values.naive) {
    socket.on('messageReceived', async (args) => {
      await socket.outputStream.writeAsync(Buffer.from(`${process.pid}:${args.getText()}`));
    });
    return;
  }
  socket.on('messageReceived', async (args) => {
    try {
      await socket.outputStream.writeAsync(Buffer.from(`${process.pid}:${args.getText()}`));
    } catch {
      // The client went away while we answered.
    }
  });
});
await listener.bindServiceNameAsync(Number(values.port), '127.0.0.1');
const port = listener.information.localPort;
rssListening = process.memoryUsage.rss();

async function shutdown(): Promise<void> {
  await listener.closeAsync();
}

if (process.send !== undefined) {
  process.on('message', (message: unknown) => {
    if (!isCloseMessage(message)) return;
    shutdown().then(
      () => process.send?.({ kind: 'closed', pid: process.pid }),
      (error: unknown) => process.send?.({ kind: 'failed', message: String(error) }),
    );
  });
  process.send({ kind: 'listening', pid: process.pid, port });
} else {
  process.on('SIGTERM', () => {
    shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  process.stdout.write(`PORT ${String(port)}\n`);
}
