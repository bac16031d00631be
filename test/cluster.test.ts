// The listener under node:cluster: this test process is the primary; two workers each bind a listener
// on the same port (cluster shares it, handing connections out round-robin) and answer with their pid.
// Many clients connect and both pids answer; then the primary tells the workers to closeAsync() and
// every client sees 1001 (going away).

import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { EchoClient } from './helpers/echo-client.js';
import { within } from './helpers/within.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./helpers/pid-echo-server.js', import.meta.url));
const CLIENTS = 40;

interface WorkerMessage {
  kind: string;
  pid?: number;
  port?: number;
  message?: string;
}

function isWorkerMessage(value: unknown): value is WorkerMessage {
  return typeof value === 'object' && value !== null && 'kind' in value && typeof value.kind === 'string';
}

/** A forked worker, its stderr, and its next message of a kind (rejects if it exits first). */
class ClusterWorker {
  stderr = '';
  private readonly inbox: WorkerMessage[] = [];
  private readonly waiters: {
    kind: string;
    resolve: (message: WorkerMessage) => void;
    reject: (error: Error) => void;
  }[] = [];
  private exit: string | undefined;

  constructor(readonly worker: Worker) {
    worker.process.stderr?.setEncoding('utf8');
    worker.process.stderr?.on('data', (text: string) => (this.stderr += text));
    worker.process.stdout?.resume();
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      const index = this.waiters.findIndex((waiter) => waiter.kind === message.kind);
      if (index >= 0) this.waiters.splice(index, 1)[0]!.resolve(message);
      else this.inbox.push(message);
    });
    worker.on('exit', (code, signal) => {
      this.exit = `worker ${String(worker.process.pid)} exited (code ${String(code)}, signal ${signal}): ${this.stderr}`;
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(this.exit));
    });
  }

  next(kind: string): Promise<WorkerMessage> {
    const index = this.inbox.findIndex((message) => message.kind === kind);
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0]!);
    if (this.exit !== undefined) return Promise.reject(new Error(this.exit));
    return new Promise((resolve, reject) => this.waiters.push({ kind, resolve, reject }));
  }

  get exited(): Promise<void> {
    if (this.worker.isDead()) return Promise.resolve();
    return new Promise((resolve) =>
      this.worker.once('exit', () => {
        resolve();
      }),
    );
  }
}

test(
  'two cluster workers share one port: both serve, and closeAsync() sends every client 1001',
  { timeout: 60_000 },
  async (t) => {
    // silent: the workers' stdout must not mix with this test file's report to the test runner.
    cluster.setupPrimary({ exec: WORKER_SCRIPT, args: [], execArgv: [], silent: true });
    const workers = [new ClusterWorker(cluster.fork()), new ClusterWorker(cluster.fork())];
    t.after(() => {
      for (const { worker } of workers) if (!worker.isDead()) worker.process.kill('SIGKILL');
    });
    const listening = await within(
      Promise.all(workers.map((worker) => worker.next('listening'))),
      15_000,
      'workers listening',
    );
    const ports = new Set(listening.map((message) => message.port));
    assert.equal(ports.size, 1, `the workers listen on one shared port, not ${[...ports].join(' and ')}`);
    const port = listening[0]!.port!;
    const workerPids = new Set(workers.map(({ worker }) => worker.process.pid));
    assert.equal(workerPids.size, 2);

    const clients = await within(
      Promise.all(
        Array.from({ length: CLIENTS }, async (_unused, index) => {
          const ws = new EchoClient();
          await ws.connect(`ws://127.0.0.1:${port}/client/${index}`);
          const text = await ws.ask(`hello ${index}`);
          const match = /^(\d+):hello (\d+)$/.exec(text);
          assert.ok(match !== null, `answer ${text}`);
          assert.equal(Number(match[2]), index);
          return { ws, pid: Number(match[1]) };
        }),
      ),
      20_000,
      `${CLIENTS} clients connected and answered`,
    );
    const served = new Set(clients.map((client) => client.pid));
    assert.deepEqual([...served].sort(), [...workerPids].sort(), 'both workers served clients');
    const perWorker = [...workerPids].map((pid) => clients.filter((client) => client.pid === pid).length);
    assert.ok(
      perWorker.every((count) => count >= CLIENTS / 4),
      `connections per worker: ${perWorker.join(', ')}`,
    );

    // Shutdown: each worker closes its listener; every client sees 1001 from its own worker.
    const closes = clients.map(({ ws }) => ws.whenClosed());
    for (const { worker } of workers) worker.send({ kind: 'close' });
    await within(
      Promise.all(workers.map((worker) => worker.next('closed'))),
      15_000,
      'closeAsync in the workers',
    );
    const infos = await within(Promise.all(closes), 5000, 'every client closed');
    assert.deepEqual(
      infos.map((info) => info.code),
      Array.from({ length: CLIENTS }, () => 1001),
    );
    // With their listeners closed the workers have nothing left to do: they exit once disconnected.
    for (const { worker } of workers) worker.disconnect();
    await within(Promise.all(workers.map((worker) => worker.exited)), 10_000, 'workers exiting');
    for (const { worker } of workers)
      assert.equal(worker.process.exitCode, 0, `worker ${String(worker.process.pid)}`);
  },
);
