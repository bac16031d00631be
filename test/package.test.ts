// The published package as a user gets it: `npm pack` the repository (dist/ must be built first, as
// `npm test` does), install the tarball into an empty ESM project and import 'stream-websocket' there,
// and require() it from CommonJS where Node can load an ES module that way (20.19, 22.12 and newer).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
// Compiled to build/test/package.test.js: the repository is two folders up.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIMEOUT = 60_000;
const REQUIRED_EXPORTS = ['StreamWebSocket', 'WebSocketListener', 'WebSocketError', 'WebErrorStatus'];

/** Node versions whose require() loads ES modules without a flag: 20.19+, 22.12+, 23 and newer. */
function nodeCanRequireEsm(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 23 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

/** npm, the same one that runs `npm test` when there is one (npm_execpath), else the one on PATH. */
async function npm(args: string[], cwd: string): Promise<string> {
  const npmCli = process.env.npm_execpath;
  const [file, prefix] = npmCli?.endsWith('.js') ? [process.execPath, [npmCli]] : ['npm', []];
  try {
    const { stdout } = await run(file, [...prefix, ...args], {
      cwd,
      timeout: TIMEOUT,
      maxBuffer: 64 << 20,
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    return stdout;
  } catch (error) {
    const { stderr = '', stdout = '' } = error as { stderr?: string; stdout?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}\n${stdout}\n${stderr}`, { cause: error });
  }
}

void describe('the npm package', { timeout: 3 * TIMEOUT }, () => {
  let packDir: string;
  let appDir: string;
  let pack: PackResult;

  before(async () => {
    packDir = await mkdtemp(join(tmpdir(), 'sws-pack-'));
    appDir = await mkdtemp(join(tmpdir(), 'sws-app-'));
    const out = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], ROOT);
    // npm may print lifecycle or warning text before the JSON array.
    const parsed = JSON.parse(out.slice(out.indexOf('['))) as PackResult[];
    assert.equal(parsed.length, 1, out);
    pack = parsed[0]!;
  });

  after(async () => {
    await Promise.all([packDir, appDir].map((dir) => rm(dir, { recursive: true, force: true })));
  });

  void it('contains the built library with its types, and no sources, tests or build output', () => {
    const paths = pack.files.map((f) => f.path);
    assert.ok(
      paths.includes('dist/index.js'),
      `no dist/index.js (run npm run build first): ${paths.join(', ')}`,
    );
    assert.ok(paths.includes('dist/index.d.ts'), `no dist/index.d.ts: ${paths.join(', ')}`);
    assert.ok(paths.includes('package.json'));
    assert.ok(paths.includes('README.md'));
    const stray = paths.filter(
      (p) => !p.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE', 'LICENSE.md'].includes(p),
    );
    assert.deepEqual(stray, [], 'files outside dist/');
    const leaked = paths.filter((p) =>
      /(^|\/)(test|src|build|bench|node_modules)\//.test(p.slice('dist/'.length)),
    );
    assert.deepEqual(leaked, [], 'test, source or build files inside the package');
  });

  void it('installs into an empty ESM project and exports the public API', async () => {
    await writeFile(
      join(appDir, 'package.json'),
      JSON.stringify({ name: 'sws-package-check', private: true, type: 'module' }),
    );
    await npm(
      ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(packDir, pack.filename)],
      appDir,
    );
    const check = [
      "import * as sws from 'stream-websocket';",
      "import { createRequire } from 'node:module';",
      "const pkg = createRequire(import.meta.url)('stream-websocket/package.json');",
      'console.log(JSON.stringify({ name: pkg.name, exports: Object.keys(sws).sort(),',
      '  kinds: Object.fromEntries(Object.entries(sws).map(([k, v]) => [k, typeof v])) }));',
    ].join('\n');
    await writeFile(join(appDir, 'check.mjs'), check);
    const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: appDir, timeout: TIMEOUT });
    const result = JSON.parse(stdout) as { name: string; exports: string[]; kinds: Record<string, string> };
    assert.equal(result.name, 'stream-websocket');
    for (const name of REQUIRED_EXPORTS) {
      assert.ok(
        result.exports.includes(name),
        `'${name}' is not exported; exports: ${result.exports.join(', ')}`,
      );
    }
    assert.equal(result.kinds.StreamWebSocket, 'function');
    assert.equal(result.kinds.WebSocketListener, 'function');
    assert.equal(result.kinds.WebSocketError, 'function');
    assert.equal(result.kinds.WebErrorStatus, 'object');
  });

  void it('require() from CommonJS loads the same module where Node can, and fails clearly where not', async () => {
    // `node -e` runs CommonJS, whatever the project's "type".
    const script = [
      "const sws = require('stream-websocket');",
      "import('stream-websocket').then((esm) => console.log(JSON.stringify({",
      '  same: esm.StreamWebSocket === sws.StreamWebSocket && esm.WebSocketError === sws.WebSocketError,',
      '  exports: Object.keys(sws).sort() })));',
    ].join('\n');
    const outcome = await run(process.execPath, ['-e', script], { cwd: appDir, timeout: TIMEOUT }).then(
      ({ stdout, stderr }) => ({ ok: true as const, stdout, stderr }),
      (error: unknown) => ({ ok: false as const, stderr: (error as { stderr?: string }).stderr ?? '' }),
    );
    if (!nodeCanRequireEsm(process.versions.node)) {
      assert.ok(!outcome.ok, `Node ${process.version} cannot require() an ES module, yet it worked`);
      assert.match(outcome.stderr, /ERR_REQUIRE_ESM/, 'the error says why');
      return;
    }
    assert.ok(
      outcome.ok,
      `require('stream-websocket') failed on Node ${process.version}:\n${outcome.stderr}`,
    );
    const result = JSON.parse(outcome.stdout) as { same: boolean; exports: string[] };
    assert.ok(result.same, 'require() and import give the one module, not two copies');
    for (const name of REQUIRED_EXPORTS)
      assert.ok(result.exports.includes(name), `'${name}' is not exported`);
  });
});
