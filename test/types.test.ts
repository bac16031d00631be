// The published types as a strict TypeScript user gets them: tsc compiles test/types/ against dist/*.d.ts
// (built by `npm run build`, as `npm test` does) with strict, exactOptionalPropertyTypes and
// noUncheckedIndexedAccess. public-api.ts must compile; misuse.ts holds mistakes, each under a
// `@ts-expect-error`, so the run fails if any of them compiles.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
// Compiled to build/test/types.test.js: the repository is two folders up.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

void test('the published .d.ts: public use compiles, misuse does not, under the strictest settings', async () => {
  assert.ok(existsSync(join(ROOT, 'dist/index.d.ts')), 'no dist/index.d.ts: run npm run build first');
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const outcome = await run(process.execPath, [tsc, '-p', join(ROOT, 'test/types/tsconfig.json')], {
    cwd: ROOT,
    timeout: 120_000,
  }).then(
    () => '',
    (error: unknown) => {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      return `${stdout}${stderr}` || String(error);
    },
  );
  assert.equal(outcome, '', `tsc found problems in the published types:\n${outcome}`);
});
