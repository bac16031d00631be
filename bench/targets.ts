// The performance targets of issue 16, checked against the rows of one `npm run bench` run: each target
// names the bench and the row it reads (by the parts of the row's name), the figure (ours ÷ a contender,
// or ours alone), and the bound. run.ts prints the result as a table; docs/benchmarks.md shows it too.

import { formatNumber, markdownTable, type BenchReport, type ReportRow } from './lib/report.js';

interface Target {
  /** What is asked, as the table says it. */
  goal: string;
  bench: string;
  /** Every part appears in the row's name (an RSS or latency row only if a part asks for it). */
  row: readonly string[];
  /** ours ÷ this contender; ours alone when absent. */
  against?: 'ws-native' | 'tcp';
  atLeast?: number;
  atMost?: number;
  /** The unit of a bound on ours alone (the row's). */
  unit?: string;
}

const up = 'client → server';
const down = 'server → client';
const readme = 'README paths:';

export const TARGETS: readonly Target[] = [
  {
    goal: 'README path, client → server (masked), 64 KiB writes: pipeline → for await',
    bench: 'transfer',
    row: [readme, '64 KiB writes', up, 'for await'],
    against: 'ws-native',
    atLeast: 1.2,
  },
  {
    goal: 'README path, client → server (masked), 1 MiB writes: pipeline → for await',
    bench: 'transfer',
    row: [readme, '1 MiB writes', up, 'for await'],
    against: 'ws-native',
    atLeast: 1.2,
  },
  {
    goal: 'README path, server → client, 1 MiB writes: pipeline → for await',
    bench: 'transfer',
    row: [readme, '1 MiB writes', down, 'for await'],
    against: 'tcp',
    atLeast: 0.95,
  },
  {
    goal: 'README path, server → client, 64 KiB writes: pipeline → for await',
    bench: 'transfer',
    row: [readme, '64 KiB writes', down, 'for await'],
    against: 'ws-native',
    atLeast: 1,
  },
  ...[up, down].flatMap((direction) =>
    ['64 KiB buffer', '1 MiB buffer'].map((buffer): Target => ({
      goal: `README path, ${direction}: readAsync loop, ${buffer}`,
      bench: 'transfer',
      row: [readme, direction, `readAsync, ${buffer}`],
      against: 'ws-native',
      atLeast: 1,
    })),
  ),
  ...[up, down].flatMap((direction) =>
    ['client', 'server'].map((side): Target => ({
      goal: `ONE huge message ${direction} (openMessage → messages(), SHA-256 both sides): peak RSS, ${side}`,
      bench: 'huge-message',
      row: [direction, `peak RSS, ${side}`],
      atMost: 100,
      unit: 'MiB',
    })),
  ),
  ...["'messageReceived'", 'messages()'].flatMap((api): Target[] => [
    ...[up, down].map((direction): Target => ({
      goal: `64 B messages ${direction}, ours via ${api}`,
      bench: 'messages',
      row: ['64 B messages', direction, `via ${api}`],
      against: 'ws-native',
      atLeast: 1,
    })),
    {
      goal: `64 B echo, ours via ${api}`,
      bench: 'messages',
      row: ['echo', `via ${api}`],
      against: 'ws-native',
      atLeast: 1,
    },
    {
      goal: `64 B echo, ours via ${api}: round trip p99 no worse`,
      bench: 'messages',
      row: ['echo', `via ${api}`, 'round trip p99'],
      against: 'ws-native',
      atMost: 1,
    },
  ]),
  {
    goal: 'Idle connections: server RSS per connection',
    bench: 'idle',
    row: ['RSS per connection'],
    against: 'ws-native',
    atMost: 1,
  },
  {
    goal: 'Idle connections: server V8 heap per connection',
    bench: 'idle',
    row: ['heap per connection'],
    against: 'ws-native',
    atMost: 1,
  },
];

/** Parts of a row's name that only some rows have: a target asks for them explicitly. */
const SPECIAL_ROWS = [': peak RSS', ': round trip', ': CPU time'];

function findRow(reports: readonly BenchReport[], target: Target): ReportRow | undefined {
  const report = reports.find((candidate) => candidate.bench === target.bench);
  return report?.rows.find(
    (row) =>
      target.row.every((part) => row.workload.includes(part)) &&
      SPECIAL_ROWS.every(
        (special) =>
          !row.workload.includes(special) || target.row.some((part) => part.includes(special.slice(2))),
      ),
  );
}

export interface TargetResult {
  goal: string;
  /** E.g. "≥ 1.2× ws + bufferutil", "< 100 MiB". */
  bound: string;
  /** The figure, or '—' when the row was not measured in this run. */
  measured: string;
  /** undefined when not measured. */
  met: boolean | undefined;
}

const LABELS = { 'ws-native': 'ws + bufferutil', tcp: 'raw TCP' } as const;

export function checkTargets(reports: readonly BenchReport[]): TargetResult[] {
  return TARGETS.map((target) => {
    const row = findRow(reports, target);
    const ours = row?.values.ours?.median;
    const theirs = target.against === undefined ? 1 : row?.values[target.against]?.median;
    const suffix = target.against === undefined ? ` ${target.unit ?? ''}` : `× ${LABELS[target.against]}`;
    const bound =
      target.atLeast !== undefined
        ? `≥ ${String(target.atLeast)}${suffix}`
        : target.against === undefined
          ? `< ${String(target.atMost)}${suffix}`
          : `≤ ${String(target.atMost)}${suffix}`;
    if (ours === undefined || theirs === undefined)
      return { goal: target.goal, bound, measured: '—', met: undefined };
    const figure = ours / theirs;
    const met =
      target.atLeast !== undefined
        ? figure >= target.atLeast
        : target.against === undefined
          ? figure < (target.atMost ?? Infinity)
          : figure <= (target.atMost ?? Infinity);
    const measured =
      target.against === undefined
        ? `${formatNumber(figure)} ${row?.unit ?? ''}`
        : `${formatNumber(figure)}×`;
    return { goal: target.goal, bound, measured, met };
  });
}

/** The targets as a Markdown table: goal, bound, measured, met. */
export function targetsTable(results: readonly TargetResult[]): string {
  return markdownTable(
    ['target', 'bound', 'measured', 'met'],
    results.map((result) => [
      result.goal,
      result.bound,
      result.measured,
      result.met === undefined ? 'not measured' : result.met ? 'yes' : 'NO',
    ]),
  );
}
