// nginx (Debian's /usr/sbin/nginx) as a reverse proxy in front of WebSocketListeners, for the interop
// tests. The configuration is generated into a temporary directory: pid, logs and temp paths inside it,
// one worker, 127.0.0.1 only. The WebSocket location block is the one README.md shows ("Behind nginx");
// the test checks that README.md still contains it, so the documented block is the tested one.

import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { freePort, makeWorkDir, requireExecutable, startDaemon, type Daemon } from './daemon.js';

export const NGINX = '/usr/sbin/nginx';

/**
 * The location block for a WebSocket backend, as README.md shows it (`websocketLocation('/ws/',
 * 'http://127.0.0.1:8080')`): HTTP/1.1 to the backend with the hop-by-hop Upgrade and Connection headers
 * passed on, the original Host, and an hour before nginx drops a quiet connection.
 */
export function websocketLocation(location: string, backend: string, extra: readonly string[] = []): string {
  return [
    `location ${location} {`,
    ...extra.map((line) => `    ${line}`),
    `    proxy_pass ${backend};`,
    '    proxy_http_version 1.1;',
    '    proxy_set_header Upgrade $http_upgrade;',
    '    proxy_set_header Connection "upgrade";',
    '    proxy_set_header Host $host;',
    '    proxy_read_timeout 3600s;',
    '    proxy_send_timeout 3600s;',
    '}',
  ].join('\n');
}

/** The auth_basic lines README.md shows for a password-protected location. */
export function basicAuthLines(htpasswdFile: string): string[] {
  return ['auth_basic "WebSocket";', `auth_basic_user_file ${htpasswdFile};`];
}

/** An htpasswd line for `user`, the password hashed with `openssl passwd -apr1` (nginx reads apr1-MD5). */
export async function htpasswdLine(user: string, password: string): Promise<string> {
  const { stdout } = await promisify(execFile)('openssl', ['passwd', '-apr1', password]);
  return `${user}:${stdout.trim()}\n`;
}

export interface NginxServer extends Daemon {
  /** The generated nginx.conf, for messages. */
  readonly config: string;
  /** The pid of its one worker process (the one that relays the connections). */
  workerPid(): Promise<number>;
}

/**
 * Starts nginx on a free port of 127.0.0.1 serving `locations` (rendered location blocks; use
 * `websocketLocation`). `files` are written into its directory first (e.g. an htpasswd file);
 * `locations` gets that directory's path to refer to them.
 */
export async function startNginx(
  locations: (dir: string) => readonly string[],
  files: Readonly<Record<string, string>> = {},
): Promise<NginxServer> {
  requireExecutable(NGINX, 'nginx');
  for (let attempt = 1; ; attempt++) {
    const dir = await makeWorkDir('nginx');
    const port = await freePort();
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
    for (const temp of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      await mkdir(path.join(dir, 'temp', temp), { recursive: true });
    }
    const indent = (block: string): string =>
      block
        .split('\n')
        .map((line) => `        ${line}`)
        .join('\n');
    const config = [
      // Workers run as `nobody` when the master is root; they must read files in this 0700 directory.
      ...(process.getuid?.() === 0 ? ['user root;'] : []),
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log info;`,
      'events {',
      '    worker_connections 256;',
      '}',
      'http {',
      `    access_log ${dir}/access.log;`,
      `    client_body_temp_path ${dir}/temp/client_body;`,
      `    proxy_temp_path ${dir}/temp/proxy;`,
      `    fastcgi_temp_path ${dir}/temp/fastcgi;`,
      `    uwsgi_temp_path ${dir}/temp/uwsgi;`,
      `    scgi_temp_path ${dir}/temp/scgi;`,
      '    server {',
      `        listen 127.0.0.1:${port};`,
      ...locations(dir).map(indent),
      '    }',
      '}',
      '',
    ].join('\n');
    const file = path.join(dir, 'nginx.conf');
    await writeFile(file, config);
    try {
      const daemon = await startDaemon({
        name: 'nginx',
        file: NGINX,
        // -e: the error log before the configuration is read (else the compiled-in /var/log/nginx path).
        args: ['-e', `${dir}/error.log`, '-c', file, '-p', dir, '-g', 'daemon off;'],
        port,
        dir,
        logs: [path.join(dir, 'error.log')],
      });
      return {
        ...daemon,
        config,
        describe: () => `${daemon.describe()}\n--- nginx.conf ---\n${config}`,
        workerPid: () => workerOf(daemon.pid),
      };
    } catch (error) {
      // Another process took the port between freePort() and nginx's bind: try another one.
      if (attempt < 3 && String(error).includes('Address already in use')) continue;
      throw error;
    }
  }
}

async function workerOf(masterPid: number): Promise<number> {
  const children = await readFile(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8');
  const worker = Number(children.trim().split(/\s+/)[0]);
  if (!Number.isInteger(worker) || worker <= 0) throw new Error(`nginx ${masterPid} has no worker`);
  return worker;
}

/** The peak resident set size of a process (VmHWM), in bytes. */
export async function peakRssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmHWM for process ${pid}`);
  return Number(match[1]) * 1024;
}
