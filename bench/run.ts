// Entry point of `npm run bench`: runs each benchmark in its own child process, one after another, and
// prints one Markdown table comparing ours with the other contenders.
// Usage: node build/bench/run.js [--json] [--rounds N] [--warmup N] [bench name ...]
// To add a benchmark (e.g. an end-to-end transfer between processes: ours vs ws vs raw TCP), write
// bench/<name>.ts that prints a BenchReport with --json (see lib/report.ts) and list it below.

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { runBenchChild } from './lib/child.js';
import { formatReports, type BenchReport } from './lib/report.js';

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
for (const bench of selected) {
  const script = fileURLToPath(new URL(bench.file, import.meta.url));
  const started = Date.now();
  process.stderr.write(`bench ${bench.name}: ${bench.description} ... `);
  try {
    reports.push(await runBenchChild(script, { args: passOn, timeoutMs: bench.timeoutMs }));
    process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (error) {
    process.stderr.write(`failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}

if (reports.length > 0) {
  process.stdout.write(
    values.json ? `${JSON.stringify(reports, null, 2)}\n` : `\n${formatReports(reports)}\n`,
  );
}
