// Removes compiled files whose TypeScript source is gone, after tsc has written the rest in place.
// `npm run compile` and `npm run build` used to delete build/ (dist/) first, which broke any run still
// using it (a bench forking its children from build/bench/, a test suite in another shell). tsc rewrites
// the outputs of every existing source, so only outputs of deleted or renamed sources can be stale.
// Usage: node scripts/clean-stale.js <outDir> <rootDir>   (as in the tsconfig: build . or dist src)

import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';

/** What tsc emits for a source file x.ts: x.js, x.js.map, x.d.ts, x.d.ts.map. */
const COMPILED = /\.(?:js|js\.map|d\.ts|d\.ts\.map)$/;

const [outDir, rootDir] = process.argv.slice(2);
if (outDir === undefined || rootDir === undefined) {
  process.stderr.write('usage: node scripts/clean-stale.js <outDir> <rootDir>\n');
  process.exit(2);
}

async function exists(file) {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** Cleans one directory of outDir; returns whether it is empty afterwards. */
async function clean(relative) {
  let entries;
  try {
    entries = await readdir(path.join(outDir, relative), { withFileTypes: true });
  } catch {
    // No output directory yet: nothing can be stale.
    return false;
  }
  let kept = 0;
  for (const entry of entries) {
    const child = path.join(relative, entry.name);
    if (entry.isDirectory()) {
      if (await clean(child)) await rmdir(path.join(outDir, child));
      else kept++;
      continue;
    }
    // Only tsc's own outputs: any other file there (a test's scratch file) is not ours to judge.
    if (!COMPILED.test(entry.name)) {
      kept++;
      continue;
    }
    const source = path.join(rootDir, child.replace(COMPILED, '.ts'));
    if (await exists(source)) kept++;
    else await rm(path.join(outDir, child));
  }
  return kept === 0 && relative !== '';
}

await clean('');
