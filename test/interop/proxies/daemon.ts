// Runs a real server program (nginx, tinyproxy) in the foreground as a child of the test process, on a
// port of 127.0.0.1 chosen here, with its configuration and logs in a temporary directory. Every wait is
// bounded; a program that is missing, exits early or does not listen in time fails loudly with its
// output and logs. stop() ends it (SIGTERM, then SIGKILL) and removes the directory.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

/** Children not stopped yet: killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Throws unless `file` is an executable: the interop tests never skip a missing peer. */
export function requireExecutable(file: string, debianPackage: string): void {
  try {
    accessSync(file, constants.X_OK);
  } catch {
    throw new Error(
      `${file} is missing: install the Debian package ${debianPackage} (npm test runs scripts/install-peers.sh)`,
    );
  }
}

/** A temporary directory for one server's files. */
export function makeWorkDir(name: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `stream-websocket-${name}-`));
}

/** A port of 127.0.0.1 that was free a moment ago (the OS picks it; the server binds it right after). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

/** True once something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
    socket.setTimeout(1_000, () => {
      done(false);
    });
  });
}

export interface DaemonOptions {
  /** For messages: "nginx", "tinyproxy". */
  name: string;
  file: string;
  args: readonly string[];
  /** The port it listens on (127.0.0.1), known from its configuration. */
  port: number;
  /** Its temporary directory: removed by stop(). */
  dir: string;
  /** Log files whose text goes into failure messages. */
  logs: readonly string[];
}

export interface Daemon {
  readonly name: string;
  readonly port: number;
  readonly dir: string;
  /** The process id (nginx: the master's). */
  readonly pid: number;
  /** stdout and stderr so far, and every log file. */
  describe(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s; removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the program and resolves once it accepts connections on its port. */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const child = spawn(options.file, [...options.args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.dir,
  });
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const running of live) running.kill('SIGKILL');
    });
  }
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      exit ??= `could not start: ${error.message}`;
      live.delete(child);
      resolve();
    });
    child.once('close', (code, signal) => {
      exit ??= `exited with ${code ?? signal ?? '?'}`;
      live.delete(child);
      resolve();
    });
  });

  const describe = (): string => {
    const logs = options.logs.map((file) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        text = '(none)';
      }
      return `--- ${path.basename(file)} ---\n${text.slice(-4000)}`;
    });
    return [
      `${options.name} ${options.args.join(' ')} (${exit ?? 'running'})`,
      `--- output ---\n${output.slice(-4000)}`,
      ...logs,
    ].join('\n');
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exit === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      await rm(options.dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exit !== undefined) {
      const why = describe();
      await stop();
      throw new Error(`${options.name} did not start:\n${why}`);
    }
    if (await accepts(options.port)) break;
    if (Date.now() > deadline) {
      const why = describe();
      await stop();
      throw new Error(
        `${options.name} did not listen on 127.0.0.1:${options.port} within ${READY_TIMEOUT_MS} ms:\n${why}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { name: options.name, port: options.port, dir: options.dir, pid: child.pid!, describe, stop };
}
