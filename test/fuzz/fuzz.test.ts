// The CI pass of the fuzzer (`npm run fuzz` is the long one): a fixed seed, about 20,000 inputs over
// every target, each checked and timed as in the long run. A failure prints its counterexample and the
// command that replays it.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeFailure, TARGETS } from './engine.js';

const SEED = 20_240_611;
/** Frame-parser inputs; the other targets get their share, at least 1,500 each. */
const PARSER_RUNS = 12_000;

for (const target of TARGETS) {
  const runs = Math.max(1_500, Math.round(PARSER_RUNS * target.share));
  test(`fuzz ${target.name}: ${runs} inputs from seed ${SEED}`, { timeout: 60_000 }, () => {
    const result = target.run({ runs, seed: SEED });
    if (result.failure !== undefined) assert.fail(describeFailure(result.failure));
    assert.equal(result.runs, runs);
  });
}
