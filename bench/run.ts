// Entry point of `npm run bench`: runs each benchmark in its own child process, one after another, and
// prints one Markdown table comparing ours with the other contenders.
// Usage: node build/bench/run.js [--json] [--rounds N] [--warmup N] [bench name ...]
// To add a benchmark (e.g. an end-to-end transfer between processes: ours vs ws vs raw TCP), write
// bench/<name>.ts that prints a BenchReport with --json (see lib/report.ts) and list it below.

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { runBenchChild } from './lib/child.js';
import type { BenchReport } from './lib/report.js';
import { pathTables, writeBenchmarkDocs } from './report-docs.js';
import { checkTargets, targetsTable } from './targets.js';

interface BenchEntry {
  name: string;
  /** Compiled file next to this one. */
  file: string;
  description: string;
  /** The child is killed after this long (default: runBenchChild's). */
  timeoutMs?: number;
}

const BENCHES: readonly BenchEntry[] = [
  { name: 'mask', file: 'mask.js', description: 'XOR masking throughput, GB/s' },
  { name: 'parser', file: 'parser.js', description: 'frame parsing as a server, MB/s of payload' },
  {
    name: 'transfer',
    file: 'transfer.js',
    description: 'process to process over 127.0.0.1, MB/s and peak RSS',
    timeoutMs: 3_600_000,
  },
  {
    name: 'messages',
    file: 'messages.js',
    description: '64-byte messages one way and echoed, k msg/s and round-trip µs',
    timeoutMs: 1_800_000,
  },
  {
    name: 'huge-message',
    file: 'huge-message.js',
    description: 'ONE 8 GiB message each way (ours, raw TCP), SHA-256 on both sides, MB/s and peak RSS',
    timeoutMs: 1_800_000,
  },
  {
    name: 'idle',
    file: 'idle.js',
    description: '10,000 idle connections, server memory per connection',
    timeoutMs: 300_000,
  },
  { name: 'soak', file: 'soak.js', description: '1000 connections echo, server growth', timeoutMs: 300_000 },
  {
    name: 'websocket-stream',
    file: 'websocket-stream.js',
    description: 'WebSocketStream readers, ours and undici: slow reader peak RSS, fast reader MB/s',
    timeoutMs: 600_000,
  },
  {
    name: 'compression',
    file: 'compression.js',
    description:
      'permessage-deflate: MB/s against ws, memory per compressing connection against ws and Python',
    timeoutMs: 900_000,
  },
];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
  },
});

const unknown = positionals.filter((name) => !BENCHES.some((bench) => bench.name === name));
if (unknown.length > 0) {
  const known = BENCHES.map((bench) => `  ${bench.name}: ${bench.description}`).join('\n');
  process.stderr.write(`unknown bench ${unknown.join(', ')}; there are:\n${known}\n`);
  process.exit(2);
}
const selected = positionals.length === 0 ? BENCHES : BENCHES.filter((b) => positionals.includes(b.name));

const passOn: string[] = [];
if (values.rounds !== undefined) passOn.push('--rounds', values.rounds);
if (values.warmup !== undefined) passOn.push('--warmup', values.warmup);

// One at a time, so that no two benchmarks compete for the CPU; a failed one does not stop the rest.
const reports: BenchReport[] = [];
const failed: string[] = [];
const runStarted = Date.now();
for (const bench of selected) {
  const script = fileURLToPath(new URL(bench.file, import.meta.url));
  const started = Date.now();
  process.stderr.write(`bench ${bench.name}: ${bench.description} ... `);
  try {
    reports.push(await runBenchChild(script, { args: passOn, timeoutMs: bench.timeoutMs }));
    process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (error) {
    process.stderr.write(`failed: ${error instanceof Error ? error.message : String(error)}\n`);
    failed.push(bench.name);
    process.exitCode = 1;
  }
}

/** How each bench measures: its title, rounds and notes. */
function notes(all: readonly BenchReport[]): string {
  return all
    .map((report) =>
      [
        `${report.bench} (${report.title}): medians of ${String(report.rounds)} interleaved rounds.`,
        ...report.notes.map((note) => `- ${note}`),
      ].join('\n'),
    )
    .join('\n\n');
}

const targets = checkTargets(reports);
if (reports.length > 0) {
  const measured = targets.filter((target) => target.met !== undefined);
  process.stdout.write(
    values.json
      ? `${JSON.stringify({ reports, targets }, null, 2)}\n`
      : `\nEnvironment: ${reports[0]?.environment ?? ''}\n\n${pathTables(reports, '##').join('\n')}\n` +
          `${notes(reports)}\n` +
          (measured.length > 0 ? `\n## Targets (issue 16)\n\n${targetsTable(measured)}\n` : ''),
  );
}

// A run of every bench is the one the docs show: docs/benchmarks.md (the table) and docs/benchmarks.svg.
if (positionals.length === 0 && reports.length > 0) {
  const seconds = (Date.now() - runStarted) / 1000;
  const files = await writeBenchmarkDocs(reports, { failed, seconds, targets });
  process.stderr.write(`wrote ${files.join(' and ')}\n`);
}
