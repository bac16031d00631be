// Several listener processes behind a real nginx (/usr/sbin/nginx, installed by scripts/install-peers.sh)
// acting as a WebSocket load balancer: an upstream of three backends (each answers "<pid>:<message>"),
// proxy_http_version 1.1 with the Upgrade and Connection headers passed on. Clients through nginx reach
// different backends; when one backend is killed, its clients see 1006 and new connections still succeed
// through the others. nginx runs from a generated configuration in a temporary directory (daemon off,
// pid, logs and temp paths all in that directory).

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { EchoClient } from '../helpers/echo-client.js';
import { within } from '../helpers/within.js';

const NGINX = '/usr/sbin/nginx';
// Compiled to build/test/interop/: the backend script is build/test/helpers/pid-echo-server.js.
const BACKEND_SCRIPT = fileURLToPath(new URL('../helpers/pid-echo-server.js', import.meta.url));

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // set by node --test for its children; a backend is not a test file
  return env;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return once(child, 'exit').then(() => undefined);
}

interface Backend {
  child: ChildProcess;
  pid: number;
  port: number;
}

/** Starts one backend listener process and waits for its "PORT <n>" line. */
async function startBackend(t: TestContext): Promise<Backend> {
  const child = spawn(process.execPath, [BACKEND_SCRIPT], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(),
  });
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited(child);
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  let stdout = '';
  const port = await within(
    new Promise<number>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        stdout += text;
        const match = /^PORT (\d+)$/m.exec(stdout);
        if (match !== null) resolve(Number(match[1]));
      });
      child.once('exit', (code) => {
        reject(new Error(`backend exited (${String(code)}) before listening: ${stderr}`));
      });
    }),
    10_000,
    'a backend printing its port',
  );
  return { child, pid: child.pid!, port };
}

/** A port that was free a moment ago (nginx binds it itself). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

async function accepts(port: number): Promise<boolean> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  try {
    await Promise.race([once(socket, 'connect'), delay(500).then(() => Promise.reject(new Error('slow')))]);
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

/** nginx in front of `backends`, from a configuration written to a temporary directory. */
async function startNginx(
  t: TestContext,
  backends: readonly Backend[],
): Promise<{ port: number; errorLog: () => string }> {
  if (!existsSync(NGINX)) {
    throw new Error(
      `${NGINX} is missing: run scripts/install-peers.sh (Debian package nginx); this test never skips`,
    );
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'sws-nginx-balancer-'));
  // nginx's workers drop root for www-data/nobody: they must be able to reach the temp paths.
  chmodSync(dir, 0o755);
  const errorLogPath = path.join(dir, 'error.log');
  const errorLog = (): string => (existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : '');
  const port = await freePort();
  const upstream = backends.map(
    (backend) => `    server 127.0.0.1:${backend.port} max_fails=1 fail_timeout=30s;`,
  );
  const config = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${errorLogPath} info;
events { worker_connections 512; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' close;
  }
  upstream websocket_backends {
${upstream.join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://websocket_backends;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
      proxy_next_upstream error timeout;
    }
  }
}
`;
  const configPath = path.join(dir, 'nginx.conf');
  writeFileSync(configPath, config);
  const child = spawn(NGINX, ['-e', errorLogPath, '-p', dir, '-c', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGQUIT');
      const quit = await Promise.race([exited(child).then(() => true), delay(5000).then(() => false)]);
      if (!quit) child.kill('SIGKILL');
    }
    await exited(child);
    rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nginx exited at start: ${output}\n${errorLog()}`);
    }
    if (await accepts(port)) break;
    if (Date.now() > deadline)
      throw new Error(`nginx did not listen on ${port} within 10 s: ${output}\n${errorLog()}`);
    await delay(50);
  }
  return { port, errorLog };
}

interface Client {
  client: EchoClient;
  pid: number;
}

/** Asks the backend behind `client` for an echo; returns the pid that answered. */
async function ask(client: EchoClient, text: string): Promise<number> {
  const reply = await client.ask(text);
  const match = /^(\d+):(.*)$/s.exec(reply);
  assert.ok(match !== null && match[2] === text, `reply ${reply}`);
  return Number(match[1]);
}

async function connectThrough(port: number, index: number): Promise<Client> {
  const client = new EchoClient();
  await client.connect(`ws://127.0.0.1:${port}/balanced/${index}`);
  return { client, pid: await ask(client, `hello ${index}`) };
}

test(
  'nginx balances WebSocket clients over three listener processes and routes around a dead one',
  { timeout: 90_000 },
  async (t) => {
    const backends = await Promise.all([startBackend(t), startBackend(t), startBackend(t)]);
    const nginx = await startNginx(t, backends);
    const pids = new Set(backends.map((backend) => backend.pid));

    // Round-robin: a dozen clients reach every backend.
    const first: Client[] = [];
    for (let index = 0; index < 12; index++)
      first.push(await within(connectThrough(nginx.port, index), 8000, `client ${index}`));
    const reached = new Set(first.map((client) => client.pid));
    for (const pid of reached) assert.ok(pids.has(pid), `pid ${pid} is one of the backends`);
    assert.ok(reached.size >= 2, `clients reached ${reached.size} backend(s)`);
    assert.equal(reached.size, 3, 'nginx round-robin reached all three backends');

    // One backend dies. Its clients through nginx lose their connection (1006: no close frame came).
    const victim = backends[0];
    victim.child.kill('SIGKILL');
    await exited(victim.child);
    const orphans = first.filter((client) => client.pid === victim.pid);
    const survivors = first.filter((client) => client.pid !== victim.pid);
    assert.ok(orphans.length > 0);
    const orphanCodes = await within(
      Promise.all(orphans.map((client) => client.client.whenClosed())),
      10_000,
      "the dead backend's clients",
    );
    assert.deepEqual(
      orphanCodes.map((info) => info.code),
      orphans.map(() => 1006),
    );
    // The others carry on with their own backend.
    for (const [index, client] of survivors.entries()) {
      assert.equal(await ask(client.client, `still there ${index}`), client.pid);
    }

    // New connections all succeed, through the two backends that are left.
    const second: Client[] = [];
    for (let index = 0; index < 12; index++) {
      second.push(
        await within(connectThrough(nginx.port, 100 + index), 8000, `client ${100 + index} after the kill`),
      );
    }
    const after = new Set(second.map((client) => client.pid));
    assert.ok(!after.has(victim.pid), 'no connection reached the dead backend');
    assert.deepEqual(
      [...after].sort(),
      backends
        .slice(1)
        .map((backend) => backend.pid)
        .sort(),
      'both live backends serve',
    );

    // Closing handshakes pass through nginx both ways.
    const live = [...survivors, ...second];
    const closes = live.map((client) => client.client.whenClosed());
    for (const client of live) client.client.close(1000, 'done');
    const codes = await within(Promise.all(closes), 10_000, 'closing through nginx');
    assert.deepEqual(
      codes.map((info) => info.code),
      live.map(() => 1000),
    );
    assert.doesNotMatch(nginx.errorLog(), /\[(emerg|alert|crit)\]/, 'nginx logged no serious error');
  },
);
