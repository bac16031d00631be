// `npm run conformance`: runs the whole RFC 6455 conformance suite (Autobahn categories 1–7, 9, 10, and
// 12 and 13 for permessage-deflate) against our server and our client, message and stream variants,
// prints one line per case and a summary per category, and writes the report to docs/conformance.json.
//
//   node build/test/conformance/run.js [--quick] [--side server|client] [--variant message|stream]
//        [--case 6.4] [--concurrency 8] [--out docs/conformance.json] [--failures-only] [--testee ws]
//
// `--testee ws` runs the same cases against the ws library (message variant) as a reference, and writes
// its report to .conformance/ws.json.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { format, resolveConfig } from 'prettier';

import { CATEGORY_NAMES, type Profile, type Side, type Variant } from './cases.js';
import { Harness, planRuns, runAll, summarize, TIMING, type CaseResult } from './suite.js';
import { ourTestee, type Testee } from './testee.js';
import { wsTestee } from './ws-testee.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    side: { type: 'string' },
    variant: { type: 'string' },
    case: { type: 'string', multiple: true },
    concurrency: { type: 'string', default: '8' },
    out: { type: 'string' },
    'failures-only': { type: 'boolean', default: false },
    testee: { type: 'string', default: 'stream-websocket' },
  },
});

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const profile: Profile = values.quick ? 'quick' : 'full';
const testees: Record<string, Testee> = { 'stream-websocket': ourTestee, ws: wsTestee };
const testee = testees[values.testee];
if (testee === undefined)
  throw new Error(`unknown testee '${values.testee}': ${Object.keys(testees).join(', ')}`);
const sides: Side[] = values.side === undefined ? ['server', 'client'] : [values.side as Side];
const variants: Variant[] = values.variant === undefined ? [...testee.variants] : [values.variant as Variant];
const prefixes = values.case ?? [];
const concurrency = Math.max(1, Number(values.concurrency));
const out = path.resolve(
  repositoryRoot,
  values.out ?? (testee === ourTestee ? 'docs/conformance.json' : `.conformance/${testee.name}.json`),
);

const runs = planRuns(profile, sides, variants).filter(
  (run) =>
    prefixes.length === 0 ||
    prefixes.some(
      (prefix) =>
        run.kase.id === prefix ||
        run.kase.id.startsWith(`${prefix}.`) ||
        run.kase.id.startsWith(`${prefix}/`),
    ),
);

const pad = (text: string, width: number): string => (text.length >= width ? `${text} ` : text.padEnd(width));

function line(result: CaseResult): string {
  return `${pad(result.id, 22)}${pad(`${result.side}/${result.variant}`, 16)}${pad(result.verdict, 15)}${result.detail}`;
}

const started = performance.now();
console.log(
  `RFC 6455 conformance of ${testee.name} (${profile}): ${runs.length} runs — ${new Set(runs.map((run) => run.kase.id)).size} cases × ${sides.join('+')} × ${variants.join('+')}`,
);
console.log('');

const harness = await Harness.start(TIMING[profile], testee);
let results: CaseResult[];
try {
  // Lines are printed in table order as soon as every earlier run has finished.
  const done = new Map<number, CaseResult>();
  let printed = 0;
  results = await runAll(harness, runs, concurrency, (result, index) => {
    done.set(index, result);
    while (done.has(printed)) {
      const next = done.get(printed)!;
      done.delete(printed);
      printed++;
      if (!values['failures-only'] || next.verdict === 'FAILED' || next.verdict === 'NON-STRICT')
        console.log(line(next));
    }
  });
} finally {
  await harness.stop();
}

const summary = summarize(results);
console.log('\nSummary per category (message and stream variants together):\n');
console.log(
  `${pad('category', 26)}${pad('side', 8)}${pad('OK', 7)}${pad('NON-STRICT', 12)}${pad('FAILED', 8)}INFORMATIONAL`,
);
for (const row of summary) {
  console.log(
    `${pad(`${row.category} ${row.name}`, 26)}${pad(row.side, 8)}${pad(String(row.ok), 7)}${pad(String(row.nonStrict), 12)}${pad(String(row.failed), 8)}${row.informational}`,
  );
}
const count = (verdict: string): number => results.filter((result) => result.verdict === verdict).length;
const totals = {
  runs: results.length,
  ok: count('OK'),
  nonStrict: count('NON-STRICT'),
  failed: count('FAILED'),
  informational: count('INFORMATIONAL'),
};
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `\n${totals.runs} runs in ${seconds} s: ${totals.ok} OK, ${totals.nonStrict} NON-STRICT, ${totals.failed} FAILED, ${totals.informational} INFORMATIONAL`,
);

/** The report lists each case once, with its runs (side, variant, verdict, detail). */
function groupByCase(all: readonly CaseResult[]): unknown[] {
  const cases = new Map<
    string,
    {
      id: string;
      category: string;
      origin: string;
      description: string;
      runs: { side: string; variant: string; verdict: string; detail: string; durationMs: number }[];
    }
  >();
  for (const result of all) {
    let entry = cases.get(result.id);
    if (entry === undefined) {
      entry = {
        id: result.id,
        category: result.category,
        origin: result.origin,
        description: result.description,
        runs: [],
      };
      cases.set(result.id, entry);
    }
    entry.runs.push({
      side: result.side,
      variant: result.variant,
      verdict: result.verdict,
      detail: result.detail,
      durationMs: result.durationMs,
    });
  }
  return [...cases.values()];
}

const report = {
  suite:
    'stream-websocket RFC 6455 and RFC 7692 conformance (Autobahn|Testsuite categories 1-7, 9, 10, 12, 13)',
  testee: testee.name,
  generated: new Date().toISOString(),
  node: process.version,
  profile,
  categories: CATEGORY_NAMES,
  totals,
  summary,
  cases: groupByCase(results),
};
await mkdir(path.dirname(out), { recursive: true });
const json = JSON.stringify(report, null, 2);
const config = (await resolveConfig(out)) ?? {};
await writeFile(out, await format(json, { ...config, filepath: out }));
console.log(`Report written to ${path.relative(process.cwd(), out)}`);

process.exitCode = totals.failed + totals.nonStrict > 0 ? 1 : 0;
