// The server in front of `sws serve` and `sws bridge` (src/cli/upgrade-server.ts) under abuse: bad
// --tls-cert/--tls-key files are one line and exit 2, stalled TLS handshakes are dropped after
// --handshake-timeout, and `sws bridge` answers 502 when its target never accepts (--connect-timeout).
// Spawns the built CLI (dist/, from `npm run build`); 127.0.0.1 only; every wait bounded.

import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { StreamWebSocket, WebErrorStatus, WebSocketError } from '../src/index.js';
import { createTestPki } from './helpers/pki.js';
import { within } from './helpers/within.js';

const SWS = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const WAIT_MS = 10_000;

const pki = await createTestPki();
let work: string;
const files: Record<string, string> = {};
const running = new Set<ChildProcessWithoutNullStreams>();

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'sws-front-'));
  const contents = {
    'leaf.pem': pki.leaf.cert,
    'leaf.key': pki.leaf.key,
    'other.key': pki.client.key,
    'garbage.txt': 'not PEM at all\n',
    'empty.txt': '',
  };
  for (const [name, text] of Object.entries(contents)) {
    files[name] = path.join(work, name);
    await writeFile(files[name], text);
  }
});

after(async () => {
  for (const child of running) child.kill('SIGKILL');
  await rm(work, { recursive: true, force: true });
});

function launch(args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [SWS, ...args], { cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.stdin.end();
  return child;
}

/** Runs sws to its end; its exit code and stderr. */
async function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = launch(args);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const [code] = (await within(once(child, 'close'), WAIT_MS, `sws ${args.join(' ')}`)) as [number | null];
  return { code, stderr };
}

/** Starts a serving sws with --json; resolves with its port once it listens. */
async function start(args: string[]): Promise<number> {
  const child = launch([...args, '--json']);
  let out = '';
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((text) => text.includes('"listening"'));
      if (line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => {
      reject(new Error(`sws exited with ${String(code)}`));
    });
  });
  return within(listening, WAIT_MS, `sws ${args[0] ?? ''} listening`);
}

const COMMANDS = {
  serve: ['serve', '--port', '0', '--dir', '.'],
  bridge: ['bridge', '--listen', '0', '--to', '127.0.0.1:9'],
};

void describe('sws serve / sws bridge: bad --tls-cert or --tls-key', () => {
  const cases: [string, string, string, RegExp][] = [
    ['a key that does not go with the certificate', 'leaf.pem', 'other.key', /does not go with/],
    ['a garbage certificate', 'garbage.txt', 'leaf.key', /--tls-cert .* holds no PEM certificate/],
    ['a garbage key', 'leaf.pem', 'garbage.txt', /--tls-key .* holds no .*private key/],
    ['certificate and key swapped', 'leaf.key', 'leaf.pem', /holds no PEM certificate.*swapped/],
    ['an empty certificate file', 'empty.txt', 'leaf.key', /--tls-cert .* holds no PEM certificate/],
  ];
  for (const [command, args] of Object.entries(COMMANDS)) {
    for (const [what, cert, key, message] of cases) {
      it(`${command}: ${what} is one line and exit 2`, async () => {
        const { code, stderr } = await run([...args, '--tls-cert', files[cert]!, '--tls-key', files[key]!]);
        assert.equal(code, 2, stderr);
        assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
        assert.match(stderr, message);
        assert.doesNotMatch(stderr, /unexpected failure/);
      });
    }
  }
});

void describe('sws serve / sws bridge --tls-cert: stalled TLS handshakes are dropped', () => {
  for (const [command, args] of Object.entries(COMMANDS)) {
    it(`${command}: silent and half-finished handshakes end after --handshake-timeout`, async () => {
      const port = await start([
        ...args,
        '--tls-cert',
        files['leaf.pem']!,
        '--tls-key',
        files['leaf.key']!,
        '--handshake-timeout',
        '0.4',
      ]);
      // A silent client, and one that sent the first bytes of a TLS record and stopped.
      const stalled = [Buffer.alloc(0), Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])].map((bytes) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        if (bytes.length > 0) socket.write(bytes);
        socket.resume();
        return within(once(socket, 'close'), 4_000, 'the stalled handshake is dropped');
      });
      await Promise.all(stalled);
    });
  }
});

void describe('sws bridge --connect-timeout', () => {
  it('a target that never accepts (full accept queue) answers 502 in bounded time', async () => {
    // A listener with a backlog of 0 that never accepts, its queue filled: further SYNs are dropped.
    const holder = spawn('python3', [
      '-c',
      'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\n' +
        'print(s.getsockname()[1],flush=True)\nsys.stdin.read()',
    ]);
    after(() => holder.kill('SIGKILL'));
    const [portLine] = (await within(once(holder.stdout, 'data'), WAIT_MS, 'python listener')) as [Buffer];
    const targetPort = Number(portLine.toString().trim());
    const fillers = Array.from({ length: 4 }, () => {
      const socket = net.connect(targetPort, '127.0.0.1');
      socket.on('error', () => undefined);
      return socket;
    });
    after(() => {
      for (const socket of fillers) socket.destroy();
    });

    const port = await start([
      'bridge',
      '--listen',
      '0',
      '--to',
      `127.0.0.1:${targetPort}`,
      '--connect-timeout',
      '0.5',
    ]);
    const started = Date.now();
    const failure = await within(
      new StreamWebSocket().connectAsync(`ws://127.0.0.1:${port}/`),
      WAIT_MS,
      'the upgrade is answered',
    ).then(
      () => assert.fail('connected'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WebSocketError);
    assert.equal(failure.status, WebErrorStatus.BadGateway, failure.message);
    assert.ok(Date.now() - started < 5_000, 'answered within a few seconds');
  });
});
