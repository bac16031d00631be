// What a full `npm run bench` leaves in docs/: benchmarks.md (the combined table of the run with its
// date, machine and notes) and benchmarks.svg (a bar chart of ours ÷ ws + bufferutil per workload, drawn
// by hand: no dependencies). run.ts calls writeBenchmarkDocs() after a run of every bench.

import { cpus, totalmem } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { BASELINE, comparisonTable, formatNumber, type BenchReport } from './lib/report.js';
import { targetsTable, type TargetResult } from './targets.js';

/** The contender the chart compares ours with. */
const CHART_BASELINE = 'ws-native';

/** Columns in this order, whichever bench came first: ours, then ws + bufferutil, ws (JS), raw TCP. */
const COLUMN_ORDER = ['ours', 'ws-native', 'ws-js', 'tcp'];

/** The reports with their contenders in the order above (unknown ones after), for a combined table. */
export function inColumnOrder(reports: readonly BenchReport[]): BenchReport[] {
  const rank = (id: string): number => {
    const index = COLUMN_ORDER.indexOf(id);
    return index < 0 ? COLUMN_ORDER.length : index;
  };
  return reports.map((report) => ({
    ...report,
    contenders: [...report.contenders].sort((a, b) => rank(a.id) - rank(b.id)),
  }));
}

/**
 * Whether a row measures the code the README teaches (pipeline() into a socket's stream, for await and
 * readAsync over one, messageReceived, messages() and openMessage()), rather than a tuned path, a
 * micro-benchmark or a server's footprint.
 */
function isReadmePath(bench: string, workload: string): boolean {
  if (bench === 'transfer') return workload.startsWith('README paths');
  if (bench === 'messages') return workload.includes(' via ');
  return bench === 'huge-message';
}

/** The rows split in two lists of reports: the README paths first, then every other row. */
export function byPaths(reports: readonly BenchReport[]): { readme: BenchReport[]; rest: BenchReport[] } {
  const pick = (readme: boolean): BenchReport[] =>
    reports
      .map((report) => ({
        ...report,
        rows: report.rows.filter((row) => isReadmePath(report.bench, row.workload) === readme),
      }))
      .filter((report) => report.rows.length > 0);
  return { readme: pick(true), rest: pick(false) };
}

/** Rows in these units are better when lower (memory, time); all others when higher. */
const LOWER_IS_BETTER = new Set(['MiB', 'KiB', 'B', 'µs', 'ms', 's']);

export function lowerIsBetter(unit: string): boolean {
  return LOWER_IS_BETTER.has(unit);
}

export interface DocsOptions {
  /** Where docs/ is (default: the repository's, two levels above build/bench/). */
  docsDir?: URL;
  /** Benches that failed in this run, named in the page. */
  failed?: readonly string[];
  /** The whole run's duration in seconds. */
  seconds?: number;
  /** The targets checked against this run. */
  targets?: readonly TargetResult[];
}

/** Writes docs/benchmarks.md (formatted by prettier where it is installed) and docs/benchmarks.svg. */
export async function writeBenchmarkDocs(
  reports: readonly BenchReport[],
  options: DocsOptions = {},
): Promise<string[]> {
  const docsDir = options.docsDir ?? new URL('../../docs/', import.meta.url);
  const date = new Date();
  const markdownFile = fileURLToPath(new URL('benchmarks.md', docsDir));
  const svgFile = fileURLToPath(new URL('benchmarks.svg', docsDir));
  const markdown = await prettify(benchmarksMarkdown(reports, date, options), markdownFile);
  await writeFile(markdownFile, markdown);
  const { readme, rest } = byPaths(reports);
  await writeFile(svgFile, ratioChart([...readme, ...rest], date));
  return [markdownFile, svgFile];
}

/** One line about the machine: cores, CPU, memory, Node. */
export function machineNote(): string {
  const cores = cpus();
  const model = cores[0]?.model.trim() ?? 'unknown CPU';
  const memory = Math.round(totalmem() / 2 ** 30);
  return `${String(cores.length)} cores (${model}), ${String(memory)} GiB RAM, Linux VM, Node ${process.version}`;
}

export function benchmarksMarkdown(
  reports: readonly BenchReport[],
  date: Date,
  options: DocsOptions = {},
): string {
  const day = date.toISOString().slice(0, 10);
  const lines = [
    '# Benchmarks',
    '',
    `Measured by \`npm run bench\` on ${day}, on ${machineNote()}. Every figure comes from that one ` +
      'run: in each benchmark the contenders take turns (interleaved rounds, the order rotated every ' +
      'round), each transfer between a client process and a server process of its own; a cell is the ' +
      'median of the rounds given in the notes. Ratios are ours ÷ the other contender: above 1× ours is ' +
      'faster, except in rows of MiB, KiB, µs and s (memory, latency, CPU time), where lower is better ' +
      'and below 1× favours ours.',
    '',
    `![ours ÷ ws + bufferutil per workload](benchmarks.svg)`,
    '',
    ...pathTables(reports, '##'),
  ];
  if (options.failed !== undefined && options.failed.length > 0) {
    lines.push(`Failed in this run (not in the table): ${options.failed.join(', ')}.`, '');
  }
  if (options.seconds !== undefined) {
    lines.push(`The whole run took ${(options.seconds / 60).toFixed(1)} minutes.`, '');
  }
  if (options.targets !== undefined && options.targets.length > 0) {
    lines.push(
      '## Targets',
      '',
      'The goals of issue 16 ("the paths users write are the fast paths"), read from the rows above: ' +
        'the README paths against ws as its users write it, the memory of one huge message and of ' +
        'idle connections. What limits a missed one is said in the README, section Performance.',
      '',
      targetsTable(options.targets),
      '',
    );
  }
  lines.push('## How each benchmark measures', '');
  for (const report of reports) {
    lines.push(
      `**${report.bench}** (${report.title}): medians of ${String(report.rounds)} interleaved round${report.rounds === 1 ? '' : 's'}.`,
      '',
    );
    for (const note of report.notes) lines.push(`- ${note}`);
    lines.push('');
  }
  const environments = [...new Set(reports.map((report) => report.environment))];
  lines.push(`Environment as each bench saw it: ${environments.join('; ')}.`, '');
  return lines.join('\n');
}

/** The README-path rows, then the others, each table under a heading of the given level. */
export function pathTables(reports: readonly BenchReport[], heading: string): string[] {
  const { readme, rest } = byPaths(inColumnOrder(reports));
  const lines: string[] = [];
  if (readme.length > 0) {
    lines.push(
      `${heading} The README paths`,
      '',
      'The code the README teaches, as its users write it: `pipeline()` into `outputStream` and ' +
        '`openMessage()`, `for await` and `readAsync` over `inputStream`, `messageReceived` and ' +
        '`messages()`; ws as its users write it (`send()` with a `bufferedAmount` check, `on(' +
        "'message')`).",
      '',
      comparisonTable(readme),
      '',
    );
  }
  if (rest.length > 0) {
    lines.push(
      `${heading} Fast paths, micro-benchmarks and footprint`,
      '',
      'Awaited `writeAsync` and `data` listeners, masking and parsing alone, idle connections, a soak.',
      '',
      comparisonTable(rest),
      '',
    );
  }
  return lines;
}

/** Formats Markdown the way the repository's prettier config does, so that `npm run lint` passes. */
async function prettify(text: string, file: string): Promise<string> {
  try {
    const prettier = await import('prettier');
    const config = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(text, { ...config, filepath: file });
  } catch {
    // Without prettier (a production install) the page is still valid Markdown.
    return text;
  }
}

interface Bar {
  label: string;
  ratio: number;
  better: boolean;
  lowerIsBetter: boolean;
}

function bars(reports: readonly BenchReport[]): Bar[] {
  const result: Bar[] = [];
  for (const report of reports) {
    for (const row of report.rows) {
      const ours = row.values[BASELINE];
      const theirs = row.values[CHART_BASELINE];
      if (ours === undefined || theirs === undefined || !(theirs.median > 0) || !(ours.median > 0)) continue;
      const ratio = ours.median / theirs.median;
      const lower = lowerIsBetter(row.unit);
      result.push({
        label: `${report.bench}: ${row.workload}`,
        ratio,
        better: lower ? ratio <= 1 : ratio >= 1,
        lowerIsBetter: lower,
      });
    }
  }
  return result;
}

function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

const POWER_LABELS: Record<number, string> = { [-3]: '⅛×', [-2]: '¼×', [-1]: '½×' };

/**
 * A horizontal bar chart on a log₂ axis: each bar runs from 1× to ours ÷ ws + bufferutil, green where
 * ours is better (faster, or lower for memory and latency), orange where ws is.
 */
export function ratioChart(reports: readonly BenchReport[], date: Date): string {
  const data = bars(reports);
  const font = 12;
  const charWidth = 6.4;
  const rowHeight = 20;
  const labelWidth = Math.ceil(Math.max(200, ...data.map((bar) => bar.label.length * charWidth))) + 16;
  const plotWidth = 460;
  const top = 64;
  // Room between the labels and the plot for the value of a bar that reaches the left edge.
  const left = labelWidth + 44;
  const height = top + Math.max(1, data.length) * rowHeight + 40;
  const width = left + plotWidth + 70;
  const logs = data.map((bar) => Math.log2(bar.ratio));
  const low = Math.min(-2, Math.floor(Math.min(0, ...logs)));
  const high = Math.max(2, Math.ceil(Math.max(0, ...logs)));
  const x = (log: number): number => left + ((log - low) / (high - low)) * plotWidth;
  const one = x(0);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" ` +
      `viewBox="0 0 ${String(width)} ${String(height)}" font-family="Helvetica, Arial, sans-serif" ` +
      `font-size="${String(font)}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">stream-websocket ÷ ws + bufferutil, per workload ` +
      `(npm run bench, ${date.toISOString().slice(0, 10)}, Node ${process.version})</text>`,
    `<text x="12" y="42" fill="#444444">Log scale. Green: ours better; orange: ws better. Rows marked ↓ ` +
      `(memory, latency): lower is better, so there a bar left of 1× favours ours.</text>`,
  ];
  for (let power = low; power <= high; power++) {
    const gx = x(power).toFixed(1);
    const label =
      power >= 0 ? `${String(2 ** power)}×` : (POWER_LABELS[power] ?? `1/${String(2 ** -power)}×`);
    parts.push(
      `<line x1="${gx}" y1="${String(top - 6)}" x2="${gx}" y2="${String(height - 30)}" ` +
        `stroke="${power === 0 ? '#000000' : '#dddddd'}" stroke-width="${power === 0 ? '1.5' : '1'}"/>`,
      `<text x="${gx}" y="${String(height - 14)}" text-anchor="middle" fill="#444444">${label}</text>`,
    );
  }
  data.forEach((bar, index) => {
    const y = top + index * rowHeight;
    const end = x(Math.log2(bar.ratio));
    const from = Math.min(one, end);
    const barWidth = Math.max(1, Math.abs(end - one));
    const color = bar.better ? '#2e9e4f' : '#e07b24';
    const valueX = end >= one ? end + 4 : end - 4;
    const anchor = end >= one ? 'start' : 'end';
    parts.push(
      `<text x="${String(labelWidth - 4)}" y="${String(y + 14)}" text-anchor="end">` +
        `${escapeXml(bar.label)}${bar.lowerIsBetter ? ' ↓' : ''}</text>`,
      `<rect x="${from.toFixed(1)}" y="${String(y + 4)}" width="${barWidth.toFixed(1)}" height="${String(rowHeight - 8)}" fill="${color}"/>`,
      `<text x="${valueX.toFixed(1)}" y="${String(y + 14)}" text-anchor="${anchor}" fill="#222222">` +
        `${formatNumber(bar.ratio)}×</text>`,
    );
  });
  if (data.length === 0) {
    parts.push(`<text x="${String(left)}" y="${String(top + 14)}">no workload ran both ours and ws</text>`);
  }
  parts.push('</svg>', '');
  return parts.join('\n');
}
