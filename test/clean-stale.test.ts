// scripts/clean-stale.js, which `npm run compile` and `npm run build` run after tsc instead of deleting
// the output folder first: outputs of deleted sources go, everything a live run may be using stays.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
// Compiled to build/test/clean-stale.test.js: the repository is two folders up.
const SCRIPT = fileURLToPath(new URL('../../scripts/clean-stale.js', import.meta.url));

/** Creates each file (with parent folders) under root. */
async function files(root: string, paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), '');
  }
}

/** Every file under root, as sorted relative paths. */
async function listed(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
    .sort();
}

test('clean-stale removes the outputs of deleted sources and keeps the rest of the build', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'clean-stale-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await files(root, ['src/kept.ts', 'src/api/kept.ts', 'test/kept.test.ts']);
  await files(root, [
    'build/src/kept.js',
    'build/src/kept.js.map',
    'build/src/api/kept.js',
    'build/test/kept.test.js',
    // A test's scratch file is not tsc's: it stays.
    'build/test/scratch.txt',
    // Outputs of sources that are gone.
    'build/src/removed.js',
    'build/src/removed.js.map',
    'build/src/removed.d.ts',
    'build/src/removed.d.ts.map',
    'build/src/gone/deep.js',
    'build/test/removed.test.js',
  ]);

  await run(process.execPath, [SCRIPT, join(root, 'build'), root]);

  assert.deepEqual(await listed(join(root, 'build')), [
    'src/api/kept.js',
    'src/kept.js',
    'src/kept.js.map',
    'test/kept.test.js',
    'test/scratch.txt',
  ]);
  // The folder whose every output was stale is gone too; the output folder itself stays.
  assert.deepEqual((await readdir(join(root, 'build', 'src'))).sort(), ['api', 'kept.js', 'kept.js.map']);
});

test('clean-stale maps a build of src/ alone (dist) onto src/', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'clean-stale-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await files(root, ['src/index.ts', 'dist/index.js', 'dist/index.d.ts', 'dist/old.js', 'dist/old.d.ts']);

  await run(process.execPath, [SCRIPT, join(root, 'dist'), join(root, 'src')]);

  assert.deepEqual(await listed(join(root, 'dist')), ['index.d.ts', 'index.js']);
});

test('clean-stale on a folder that does not exist yet does nothing', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'clean-stale-'));
  t.after(() => rm(root, { recursive: true, force: true }));

  await run(process.execPath, [SCRIPT, join(root, 'build'), root]);

  assert.deepEqual(await readdir(root), []);
});
