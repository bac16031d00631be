// Timing harness for micro-benchmarks: interleaved rounds over (workload, contender) cases, untimed
// preparation before every timed run, and the statistics (median, min, max) reported per case.

import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** One timed run: `run` is measured; `check` (untimed, after it) throws if the work was not done. */
export interface Trial {
  run(): void;
  check?(): void;
}

export interface Case {
  workload: string;
  contender: string;
  /** Bytes one run processes; throughput is bytes / seconds. */
  bytes: number;
  /** Untimed: builds fresh input for one run (e.g. a copy of data the run mutates in place). */
  prepare(): Trial;
}

export interface Summary {
  median: number;
  /** Quartiles: half the samples lie between q1 and q3. */
  q1: number;
  q3: number;
  min: number;
  max: number;
  samples: number;
}

export interface RoundOptions {
  rounds: number;
  warmup: number;
  /** Called before each round (warm-up rounds are numbered from -warmup). */
  onRound?: (round: number) => void;
}

/** Throughput samples (bytes per second) keyed by caseKey(workload, contender). */
export type Samples = Map<string, number[]>;

export function caseKey(workload: string, contender: string): string {
  return `${workload}\u0000${contender}`;
}

/**
 * Runs every case once per round. Within a round the workloads go in order and, for each workload, the
 * contenders go in an order rotated by the round number, so no contender always runs first (cold) or
 * right after another one's garbage. Warm-up rounds are run the same way and discarded.
 */
export async function runInterleaved(cases: readonly Case[], options: RoundOptions): Promise<Samples> {
  const byWorkload = new Map<string, Case[]>();
  for (const benchCase of cases) {
    const group = byWorkload.get(benchCase.workload) ?? [];
    group.push(benchCase);
    byWorkload.set(benchCase.workload, group);
  }
  const samples: Samples = new Map();
  for (let round = -options.warmup; round < options.rounds; round++) {
    options.onRound?.(round);
    for (const group of byWorkload.values()) {
      const shift = ((round % group.length) + group.length) % group.length;
      for (let index = 0; index < group.length; index++) {
        const benchCase = group[(index + shift) % group.length]!;
        const seconds = await timeOnce(benchCase);
        if (round < 0) continue;
        const key = caseKey(benchCase.workload, benchCase.contender);
        const list = samples.get(key) ?? [];
        list.push(benchCase.bytes / seconds);
        samples.set(key, list);
      }
    }
  }
  return samples;
}

async function timeOnce(benchCase: Case): Promise<number> {
  const trial = benchCase.prepare();
  // Let pending ticks, immediates and GC tasks (of the previous run, or of prepare) run untimed.
  // No forced gc() here: a full collection after every instance of a class has died lets V8 drop
  // that class's maps and deoptimise the code built on them, so each run would start cold.
  await yieldToEventLoop();
  const start = performance.now();
  trial.run();
  const elapsed = performance.now() - start;
  trial.check?.();
  return elapsed / 1000;
}

/**
 * How many repetitions of `run(times)` take about `targetMs`: doubles `times` until a run lasts a
 * tenth of the target, then scales. Doubles as a warm-up for the code under test.
 */
export function calibrate(run: (times: number) => void, targetMs: number): number {
  let times = 1;
  for (;;) {
    const start = performance.now();
    run(times);
    const elapsed = performance.now() - start;
    if (elapsed >= targetMs / 10 || times >= 2 ** 30) {
      return Math.max(1, Math.round((times * targetMs) / Math.max(elapsed, 1e-3)));
    }
    times *= 2;
  }
}

/** The q-quantile (0 ≤ q ≤ 1) of values, interpolating linearly between neighbours. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Median, min and max of samples, each divided by `scale` (e.g. 1e9 for GB/s). */
export function summarize(values: readonly number[], scale: number): Summary {
  return {
    median: median(values) / scale,
    q1: quantile(values, 0.25) / scale,
    q3: quantile(values, 0.75) / scale,
    min: Math.min(...values) / scale,
    max: Math.max(...values) / scale,
    samples: values.length,
  };
}
