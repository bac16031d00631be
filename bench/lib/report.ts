// The results one benchmark hands back (as JSON to run.ts, or as a table when run alone), and the
// Markdown table that puts contenders side by side with the ratios of ours to each of them.

import { arch, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';

import { caseKey, summarize, type Samples, type Summary } from './harness.js';

export interface Contender {
  id: string;
  label: string;
}

export interface ReportRow {
  workload: string;
  unit: string;
  /** Keyed by contender id; a contender that does not apply to a workload is absent. */
  values: Record<string, Summary>;
}

export interface BenchReport {
  bench: string;
  title: string;
  environment: string;
  rounds: number;
  contenders: Contender[];
  rows: ReportRow[];
  notes: string[];
}

/** The contender the ratio columns are taken of. */
export const BASELINE = 'ours';

/** A cell is marked noisy when its interquartile range exceeds this fraction of its median. */
const NOISY_SPREAD = 0.15;

function isNoisy(summary: Summary): boolean {
  return (summary.q3 - summary.q1) / summary.median > NOISY_SPREAD;
}

export function environment(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const load = loadavg()[0] ?? 0;
  return `Node ${process.version} ${arch()}, ${cpus().length}× ${cpu}, load average ${load.toFixed(2)} at start`;
}

/** Turns raw samples into rows: one per workload, in the order given. */
export function buildRows(
  samples: Samples,
  workloads: readonly string[],
  contenders: readonly Contender[],
  unit: string,
  scale: number,
): ReportRow[] {
  return workloads.map((workload) => {
    const values: Record<string, Summary> = {};
    for (const contender of contenders) {
      const list = samples.get(caseKey(workload, contender.id));
      if (list !== undefined && list.length > 0) values[contender.id] = summarize(list, scale);
    }
    return { workload, unit, values };
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** A shallow check of a report read back from a child process. */
export function isBenchReport(value: unknown): value is BenchReport {
  return (
    isRecord(value) &&
    typeof value.bench === 'string' &&
    typeof value.environment === 'string' &&
    typeof value.rounds === 'number' &&
    typeof value.title === 'string' &&
    Array.isArray(value.contenders) &&
    Array.isArray(value.rows) &&
    Array.isArray(value.notes)
  );
}

/** Three significant digits, without exponent notation. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  const rule = `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * One table over several reports: a column per contender (in order of first appearance), then a ratio
 * column "ours ÷ X" for every other contender. Workloads are prefixed with their bench's name when the
 * table holds more than one bench.
 */
export function comparisonTable(reports: readonly BenchReport[]): string {
  const contenders: Contender[] = [];
  for (const report of reports) {
    for (const contender of report.contenders) {
      if (!contenders.some((known) => known.id === contender.id)) contenders.push(contender);
    }
  }
  const others = contenders.filter((contender) => contender.id !== BASELINE);
  const hasBaseline = contenders.length !== others.length;
  const header = [
    'workload',
    ...contenders.map((contender) => contender.label),
    ...(hasBaseline ? others.map((contender) => `ours ÷ ${contender.label}`) : []),
  ];
  const rows: string[][] = [];
  let noisy = false;
  for (const report of reports) {
    for (const row of report.rows) {
      const workload = reports.length > 1 ? `${report.bench}: ${row.workload}` : row.workload;
      const cells: string[] = [];
      for (const contender of contenders) {
        const value = row.values[contender.id];
        if (value === undefined) {
          cells.push('—');
          continue;
        }
        const mark = isNoisy(value) ? ' ~' : '';
        if (mark !== '') noisy = true;
        cells.push(`${formatNumber(value.median)} ${row.unit}${mark}`);
      }
      const ours = row.values[BASELINE];
      const ratios = hasBaseline
        ? others.map((contender) => {
            const theirs = row.values[contender.id];
            return ours === undefined || theirs === undefined
              ? '—'
              : `${formatNumber(ours.median / theirs.median)}×`;
          })
        : [];
      rows.push([workload, ...cells, ...ratios]);
    }
  }
  const table = markdownTable(header, rows);
  const footnote =
    `\n\n~ noisy: the middle half of its samples spans more than ${NOISY_SPREAD * 100}% of the median ` +
    '(other processes competing for the CPU?).';
  return noisy ? table + footnote : table;
}

/** Reports as text: title, table, the number of rounds, and notes. */
export function formatReports(reports: readonly BenchReport[]): string {
  const parts: string[] = [];
  const first = reports[0];
  if (first !== undefined) parts.push(`Environment: ${first.environment}`, '');
  parts.push(comparisonTable(reports), '');
  for (const report of reports) {
    parts.push(`${report.bench} (${report.title}): medians of ${report.rounds} interleaved rounds.`);
    for (const note of report.notes) parts.push(`- ${note}`);
    parts.push('');
  }
  return parts.join('\n').trimEnd();
}

export interface BenchOptions {
  json: boolean;
  rounds: number | undefined;
  warmup: number | undefined;
}

/** The command line every bench file accepts: --json, --rounds N, --warmup N. */
export function parseBenchArgs(argv: readonly string[] = process.argv.slice(2)): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      json: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
    },
  });
  return {
    json: values.json,
    rounds: positiveInteger(values.rounds, '--rounds'),
    warmup: positiveInteger(values.warmup, '--warmup', true),
  };
}

function positiveInteger(text: string | undefined, name: string, allowZero = false): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new RangeError(`${name} takes a ${allowZero ? 'non-negative' : 'positive'} integer, not ${text}`);
  }
  return value;
}

/** Prints a bench's report: JSON for run.ts, a table for a person. */
export function emitReport(report: BenchReport, options: BenchOptions): void {
  process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatReports([report])}\n`);
}
