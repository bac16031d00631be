// The RFC 6455 and RFC 7692 conformance suite (Autobahn categories 1–7, 9, 10, and 12 and 13 for
// permessage-deflate) as node:test tests, so that CI enforces it: every case against our server and our
// client, in the message and stream variants, must be OK (or INFORMATIONAL). A NON-STRICT or FAILED case
// fails its test with the judgement's detail. Runs the 'quick' profile (smaller 9.x sizes, fragment
// splits capped at 16 positions, 5 messages per 12.x and 13.x case): all runs are scheduled at once in
// small concurrent batches, and each test waits for its own results.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { buildCases, CATEGORY_NAMES, type Side } from './cases.js';
import { Harness, planRuns, runAll, runKey, TIMING, type CaseResult } from './suite.js';
import { wsTestee } from './ws-testee.js';

const CONCURRENCY = 8;
const runs = planRuns('quick');

/** One settled-later result per run, in the order of `runs`. */
const pending = new Map<
  string,
  { promise: Promise<CaseResult>; resolve: (result: CaseResult) => void; reject: (error: Error) => void }
>();
for (const run of runs) {
  let resolve!: (result: CaseResult) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<CaseResult>((resolveResult, rejectResult) => {
    resolve = resolveResult;
    reject = rejectResult;
  });
  // Rejections are reported by the test that awaits them.
  promise.catch(() => undefined);
  pending.set(runKey(run), { promise, resolve, reject });
}

let harness: Harness | undefined;
let finished: Promise<unknown> = Promise.resolve();

before(async () => {
  try {
    harness = await Harness.start(TIMING.quick);
  } catch (error) {
    for (const entry of pending.values())
      entry.reject(error instanceof Error ? error : new Error(String(error)));
    return;
  }
  finished = runAll(harness, runs, CONCURRENCY, (result, index) => {
    pending.get(runKey(runs[index]!))?.resolve(result);
  }).catch((error: unknown) => {
    for (const entry of pending.values())
      entry.reject(error instanceof Error ? error : new Error(String(error)));
  });
});

after(async () => {
  await finished;
  await harness?.stop();
});

/** The runs of each case and side, grouped by category, in table order. */
const byCategory = new Map<string, Map<string, { id: string; side: Side; keys: string[] }>>();
for (const run of runs) {
  let cases = byCategory.get(run.kase.category);
  if (cases === undefined) {
    cases = new Map();
    byCategory.set(run.kase.category, cases);
  }
  const caseKey = `${run.kase.id} ${run.side}`;
  let entry = cases.get(caseKey);
  if (entry === undefined) {
    entry = { id: run.kase.id, side: run.side, keys: [] };
    cases.set(caseKey, entry);
  }
  entry.keys.push(runKey(run));
}

for (const [category, cases] of byCategory) {
  describe(`${category} ${CATEGORY_NAMES[category] ?? ''}`, () => {
    for (const { id, side, keys } of cases.values()) {
      it(`${id} against our ${side}`, async () => {
        const results = await Promise.all(keys.map((key) => pending.get(key)!.promise));
        const bad = results.filter(
          (result) => result.verdict === 'FAILED' || result.verdict === 'NON-STRICT',
        );
        assert.deepEqual(
          bad.map((result) => `${result.variant}: ${result.verdict} — ${result.detail}`),
          [],
          `${id} (${results[0]?.description ?? ''}) against our ${side}`,
        );
      });
    }
  });
}

// The judgement must be able to tell good from tolerated behaviour: ws, which passes Autobahn, echoes a
// message that precedes a violation or a close (OK), and validates UTF-8 only at the end of a message
// (NON-STRICT on the fail-fast cases).
describe('the harness, calibrated against ws', () => {
  it('judges ws as Autobahn does: OK on 3.2, 5.15, 7.1.1; NON-STRICT on the fail-fast 6.4.1 and 6.20.1', async () => {
    const expected: Record<string, string> = {
      '1.1.2': 'OK',
      '3.2': 'OK',
      '5.15': 'OK',
      '7.1.1': 'OK',
      '6.4.1': 'NON-STRICT',
      '6.20.1': 'NON-STRICT',
    };
    const calibration = await Harness.start(TIMING.quick, wsTestee);
    try {
      const calibrationRuns = buildCases('quick')
        .filter((kase) => kase.id in expected)
        .flatMap((kase) =>
          (['server', 'client'] as const).map((side) => ({ kase, side, variant: 'message' as const })),
        );
      const results = await runAll(calibration, calibrationRuns, CONCURRENCY);
      assert.deepEqual(
        Object.fromEntries(results.map((result) => [`${result.id} ${result.side}`, result.verdict])),
        Object.fromEntries(
          calibrationRuns.map((run) => [`${run.kase.id} ${run.side}`, expected[run.kase.id]]),
        ),
      );
    } finally {
      await calibration.stop();
    }
  });
});
