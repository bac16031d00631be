// Runs a fuzz target with fast-check: a fixed number of inputs from a seed, each checked and timed, the
// first failure shrunk to a small counterexample that `--seed S --path P` replays.

import { performance } from 'node:perf_hooks';

import fc from 'fast-check';

import {
  authorizationTarget,
  challengesTarget,
  clientRequestTarget,
  closePayloadTarget,
  frameParserTarget,
  serverResponseTarget,
  utf8Target,
  type FuzzTarget,
} from './targets.js';

export interface FuzzOptions {
  runs: number;
  seed: number;
  /** Replays one counterexample of an earlier run (with its seed). */
  path?: string | undefined;
  /** Incremented before every input (shared with a watchdog that spots a hang). */
  heartbeat?: Int32Array | undefined;
}

export interface FuzzFailure {
  target: string;
  seed: number;
  path: string | null;
  error: string;
  counterexample: string;
}

export interface FuzzResult {
  target: string;
  runs: number;
  elapsedMs: number;
  /** The longest any single input took, in ms. */
  slowestMs: number;
  failure: FuzzFailure | undefined;
}

/** Counterexamples are shown up to this many characters. */
const SHOWN = 3000;

export function runTarget<T>(target: FuzzTarget<T>, options: FuzzOptions): FuzzResult {
  let slowest = 0;
  const timed = (input: T): number => {
    const started = performance.now();
    target.check(input);
    return performance.now() - started;
  };
  const predicate = (input: T): void => {
    if (options.heartbeat !== undefined) Atomics.add(options.heartbeat, 0, 1);
    let elapsed = timed(input);
    const budget = target.budgetMs(input);
    // A GC pause or a busy machine is not the input's fault: measure twice more and keep the best.
    for (let attempt = 0; attempt < 2 && elapsed > budget; attempt++)
      elapsed = Math.min(elapsed, timed(input));
    if (elapsed > budget)
      throw new Error(`slow input: ${elapsed.toFixed(1)} ms, over its budget of ${budget.toFixed(1)} ms`);
    slowest = Math.max(slowest, elapsed);
  };
  const started = performance.now();
  const details = fc.check(fc.property(target.arbitrary, predicate), {
    numRuns: options.runs,
    seed: options.seed,
    ...(options.path === undefined ? {} : { path: options.path }),
  });
  const elapsedMs = performance.now() - started;
  let failure: FuzzFailure | undefined;
  if (details.failed) {
    const error = details.errorInstance;
    // Long runs of one character (a whitespace bomb, a filled payload) are shown as a count.
    const shown = fc
      .stringify(details.counterexample)
      .replace(
        /(\\u[0-9a-f]{4}|\\x[0-9a-f]{2}|\\.|.)\1{15,}/gsu,
        (run: string, unit: string) => `${unit}⟨×${run.length / unit.length}⟩`,
      );
    failure = {
      target: target.name,
      seed: details.seed,
      path: details.counterexamplePath,
      error: error instanceof Error ? error.message : String(error),
      counterexample: shown.length > SHOWN ? `${shown.slice(0, SHOWN)}… (${shown.length} characters)` : shown,
    };
  }
  return { target: target.name, runs: details.numRuns, elapsedMs, slowestMs: slowest, failure };
}

/** A target with its input type bound, so that targets of different types share one list. */
export interface NamedTarget {
  name: string;
  /** Inputs per frame-parser input in a default run. */
  share: number;
  run(options: FuzzOptions): FuzzResult;
}

function named<T>(target: FuzzTarget<T>): NamedTarget {
  return { name: target.name, share: target.share, run: (options) => runTarget(target, options) };
}

export const TARGETS: readonly NamedTarget[] = [
  named(frameParserTarget),
  named(clientRequestTarget),
  named(serverResponseTarget),
  named(challengesTarget),
  named(authorizationTarget),
  named(utf8Target),
  named(closePayloadTarget),
];

/** How to run one failure again. */
export function replayCommand(failure: FuzzFailure): string {
  const path = failure.path === null ? '' : ` --path ${failure.path}`;
  return `npm run fuzz -- --target ${failure.target} --seed ${failure.seed}${path}`;
}

export function describeFailure(failure: FuzzFailure): string {
  return [
    `${failure.target}: ${failure.error}`,
    `  counterexample: ${failure.counterexample}`,
    `  replay: ${replayCommand(failure)}`,
  ].join('\n');
}
