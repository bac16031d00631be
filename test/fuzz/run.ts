// `npm run fuzz`: millions of generated inputs through the frame parser, the handshake checks, the
// HTTP-auth challenge parser and the UTF-8 validator, in worker threads (one per core). Every input is
// checked and timed (see targets.ts); a worker that stops making progress is a hang, one that runs out
// of its heap limit is unbounded state; both are reported with the seed that reproduces them.
// Usage: node build/test/fuzz/run.js [--runs N] [--seed S] [--target NAME[,NAME]] [--jobs N] [--batch N]
//   [--hang-ms MS] [--path P]
// --runs counts frame-parser inputs (default 2,000,000); the other targets get their share of it.
// --seed S --target T --path P replays (and shrinks) one counterexample that a run printed.

import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import { describeFailure, TARGETS, type FuzzFailure, type FuzzResult } from './engine.js';

/** One batch of inputs for a worker. */
interface Job {
  id: number;
  target: string;
  seed: number;
  runs: number;
  path?: string | undefined;
}

interface JobDone {
  id: number;
  result: FuzzResult;
  /** The worker's heap after the batch (after a full GC). */
  heapUsed: number;
}

const HEAP_LIMIT_MB = 512;
/** Heap growth of a worker between its first and its last batch that counts as unbounded state. */
const HEAP_GROWTH_LIMIT = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------
// A worker: runs the batches it is sent, one at a time.

function runWorker(): void {
  const port = parentPort;
  if (port === null) throw new Error('not a worker');
  const heartbeat = new Int32Array((workerData as { heartbeat: SharedArrayBuffer }).heartbeat);
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  port.on('message', (job: Job) => {
    const target = TARGETS.find((candidate) => candidate.name === job.target);
    if (target === undefined) throw new Error(`no target ${job.target}`);
    const result = target.run({ runs: job.runs, seed: job.seed, path: job.path, heartbeat });
    gc();
    port.postMessage({ id: job.id, result, heapUsed: process.memoryUsage().heapUsed } satisfies JobDone);
  });
}

// ---------------------------------------------------------------------------------------------------
// The main thread: plans the batches, hands them out, watches for hangs, reports.

interface Options {
  runs: number;
  seed: number;
  targets: string[];
  jobs: number;
  batch: number;
  hangMs: number;
  path: string | undefined;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      target: { type: 'string' },
      jobs: { type: 'string' },
      batch: { type: 'string' },
      'hang-ms': { type: 'string' },
      path: { type: 'string' },
    },
  });
  const integer = (text: string | undefined, name: string, fallback: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text.replaceAll('_', '').replaceAll(',', ''));
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`${name} takes a whole number, not ${text}`);
    return value;
  };
  const names = values.target?.split(',').map((name) => name.trim()) ?? TARGETS.map((target) => target.name);
  const unknown = names.filter((name) => !TARGETS.some((target) => target.name === name));
  if (unknown.length > 0) {
    throw new RangeError(
      `unknown target ${unknown.join(', ')}; there are ${TARGETS.map((t) => t.name).join(', ')}`,
    );
  }
  if (values.path !== undefined && (names.length !== 1 || values.seed === undefined)) {
    throw new RangeError('--path replays one counterexample: give it with --target and --seed');
  }
  return {
    runs: integer(values.runs, '--runs', 2_000_000),
    seed: integer(values.seed, '--seed', (Date.now() ^ (Math.random() * 0x7fff_ffff)) >>> 1),
    targets: names,
    jobs: Math.max(1, integer(values.jobs, '--jobs', Math.min(availableParallelism(), 8))),
    batch: Math.max(1, integer(values.batch, '--batch', 10_000)),
    hangMs: integer(values['hang-ms'], '--hang-ms', 10_000),
    path: values.path,
  };
}

/** A 31-bit seed per batch, derived from the run's seed (printed with each failure). */
function batchSeed(seed: number, target: number, batch: number): number {
  let hash = (seed ^ Math.imul(target + 1, 0x9e37_79b1) ^ Math.imul(batch + 1, 0x85eb_ca6b)) >>> 0;
  hash = Math.imul(hash ^ (hash >>> 16), 0x7feb_352d) >>> 0;
  hash = Math.imul(hash ^ (hash >>> 15), 0x846c_a68b) >>> 0;
  return (hash ^ (hash >>> 16)) >>> 1;
}

function plan(options: Options): Job[] {
  const jobs: Job[] = [];
  if (options.path !== undefined) {
    return [{ id: 0, target: options.targets[0]!, seed: options.seed, runs: 1, path: options.path }];
  }
  // Interleaved by batch so that every target makes progress from the start.
  const perTarget = options.targets.map((name) => {
    const index = TARGETS.findIndex((target) => target.name === name);
    const total = Math.max(1, Math.round(options.runs * TARGETS[index]!.share));
    return { name, index, total, batches: Math.ceil(total / options.batch) };
  });
  const most = Math.max(...perTarget.map((entry) => entry.batches));
  for (let batch = 0; batch < most; batch++) {
    for (const entry of perTarget) {
      if (batch >= entry.batches) continue;
      const runs = Math.min(options.batch, entry.total - batch * options.batch);
      jobs.push({
        id: jobs.length,
        target: entry.name,
        seed: batchSeed(options.seed, entry.index, batch),
        runs,
      });
    }
  }
  return jobs;
}

interface Tally {
  runs: number;
  cpuMs: number;
  slowestMs: number;
  batches: number;
}

interface Slot {
  worker: Worker;
  heartbeat: Int32Array;
  job: Job | undefined;
  lastBeat: number;
  lastChange: number;
  /** Heap after its first and its latest batch. */
  firstHeap: number | undefined;
  lastHeap: number;
}

async function runMain(): Promise<void> {
  const options = parseOptions();
  const jobs = plan(options);
  const total = jobs.reduce((sum, job) => sum + job.runs, 0);
  process.stdout.write(
    `fuzz: seed ${options.seed}, ${total.toLocaleString('en')} inputs over ${options.targets.length} targets, ` +
      `${options.jobs} workers, batches of ${options.batch.toLocaleString('en')}\n`,
  );
  const tallies = new Map<string, Tally>(
    options.targets.map((name) => [name, { runs: 0, cpuMs: 0, slowestMs: 0, batches: 0 }]),
  );
  const failures: { failure: FuzzFailure; job: Job }[] = [];
  const problems: string[] = [];
  const heaps: { first: number; last: number }[] = [];
  const queue = [...jobs];
  const started = performance.now();
  let done = 0;
  let lastReport = started;

  await new Promise<void>((finish) => {
    const slots = new Set<Slot>();
    const next = (slot: Slot): void => {
      const job = queue.shift();
      slot.job = job;
      if (job === undefined) {
        if (slot.firstHeap !== undefined) heaps.push({ first: slot.firstHeap, last: slot.lastHeap });
        slots.delete(slot);
        void slot.worker.terminate();
        if (slots.size === 0) finish();
        return;
      }
      slot.lastChange = performance.now();
      slot.worker.postMessage(job);
    };
    const spawn = (): void => {
      const heartbeat = new SharedArrayBuffer(4);
      const worker = new Worker(new URL(import.meta.url), {
        workerData: { heartbeat },
        resourceLimits: { maxOldGenerationSizeMb: HEAP_LIMIT_MB },
      });
      const slot: Slot = {
        worker,
        heartbeat: new Int32Array(heartbeat),
        job: undefined,
        lastBeat: 0,
        lastChange: performance.now(),
        firstHeap: undefined,
        lastHeap: 0,
      };
      slots.add(slot);
      worker.on('message', (message: JobDone) => {
        const job = slot.job!;
        const tally = tallies.get(job.target)!;
        tally.runs += message.result.runs;
        tally.cpuMs += message.result.elapsedMs;
        tally.slowestMs = Math.max(tally.slowestMs, message.result.slowestMs);
        tally.batches++;
        slot.firstHeap ??= message.heapUsed;
        slot.lastHeap = message.heapUsed;
        if (message.result.failure !== undefined) failures.push({ failure: message.result.failure, job });
        done += job.runs;
        const now = performance.now();
        if (now - lastReport > 5000) {
          lastReport = now;
          const rate = done / ((now - started) / 1000);
          process.stdout.write(
            `  ${done.toLocaleString('en')} / ${total.toLocaleString('en')} inputs, ${Math.round(rate).toLocaleString('en')}/s, ` +
              `${failures.length} failures\n`,
          );
        }
        next(slot);
      });
      worker.on('error', (error) => {
        // Out of heap (unbounded state) or an exception outside the checks: the batch is lost.
        const job = slot.job;
        problems.push(
          `worker died on ${job?.target ?? '?'} (seed ${job?.seed ?? '?'}, ${job?.runs ?? '?'} runs): ${error.message}`,
        );
        slots.delete(slot);
        if (job !== undefined) done += job.runs;
        spawn();
      });
      next(slot);
    };
    for (let index = 0; index < Math.min(options.jobs, jobs.length); index++) spawn();
    if (jobs.length === 0) finish();

    // A worker whose heartbeat does not move is stuck on one input.
    const watchdog = setInterval(() => {
      const now = performance.now();
      for (const slot of slots) {
        const beat = Atomics.load(slot.heartbeat, 0);
        if (beat !== slot.lastBeat) {
          slot.lastBeat = beat;
          slot.lastChange = now;
        } else if (slot.job !== undefined && now - slot.lastChange > options.hangMs) {
          const job = slot.job;
          problems.push(
            `HANG: ${job.target} made no progress for ${options.hangMs} ms ` +
              `(batch seed ${job.seed}; input #${beat} of the worker); replay: ` +
              `npm run fuzz -- --target ${job.target} --seed ${job.seed} --runs ${job.runs}`,
          );
          slots.delete(slot);
          slot.job = undefined;
          done += job.runs;
          void slot.worker.terminate();
          spawn();
        }
      }
    }, 250);
    watchdog.unref();
  });

  const elapsed = (performance.now() - started) / 1000;
  const rows = [...tallies].map(([name, tally]) => [
    name,
    tally.runs.toLocaleString('en'),
    Math.round(tally.runs / (tally.cpuMs / 1000)).toLocaleString('en'),
    tally.slowestMs.toFixed(1),
  ]);
  const header = ['target', 'inputs', 'inputs/s (one worker)', 'slowest input, ms'];
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  const ran = [...tallies.values()].reduce((sum, tally) => sum + tally.runs, 0);
  process.stdout.write(
    [
      '',
      line(header),
      `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
      ...rows.map(line),
      '',
      `${ran.toLocaleString('en')} inputs in ${elapsed.toFixed(1)} s (${Math.round(ran / elapsed).toLocaleString('en')}/s over ` +
        `${options.jobs} workers), seed ${options.seed}`,
      '',
    ].join('\n'),
  );
  const MiB = 1024 * 1024;
  if (heaps.length > 0) {
    const shown = heaps.map(
      (heap) => `${(heap.first / MiB).toFixed(1)} → ${(heap.last / MiB).toFixed(1)} MiB`,
    );
    process.stdout.write(`worker heaps after their first → last batch: ${shown.join(', ')}\n`);
  }
  for (const heap of heaps) {
    if (heap.last - heap.first > HEAP_GROWTH_LIMIT) {
      problems.push(
        `a worker's heap grew from ${(heap.first / MiB).toFixed(1)} to ${(heap.last / MiB).toFixed(1)} MiB`,
      );
    }
  }
  if (failures.length > 0) {
    // One report per target: the first counterexample found for it.
    const seen = new Set<string>();
    for (const { failure } of failures) {
      if (seen.has(failure.target)) continue;
      seen.add(failure.target);
      problems.push(describeFailure(failure));
    }
    problems.push(`${failures.length} failing batches in all`);
  }
  if (problems.length > 0) {
    process.stdout.write(`FAILED:\n${problems.join('\n')}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write('no failures\n');
  }
}

if (isMainThread) await runMain();
else runWorker();
