// Starts the interop peers (python_peer.py under Debian's /usr/bin/python3, ws-peer.js under this node)
// as child processes for the tests, collects their stdout lines and stops them. Every wait is bounded:
// a peer that does not answer in time fails the test loudly, with its stdout and stderr in the error.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type PeerKind = 'python' | 'ws';

export interface PeerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Peer {
  /** The port a `server` peer listens on (127.0.0.1); undefined for a client. */
  readonly port: number | undefined;
  /** Every stdout line so far, in order, without the newline. */
  readonly lines: readonly string[];
  /** Everything the peer wrote to stderr so far. */
  readonly stderr: string;
  /**
   * The first stdout line starting with `prefix` that no earlier waitForLine call returned, as soon as it
   * is there. Rejects if the peer exits or `timeoutMs` passes first.
   */
  waitForLine(prefix: string, timeoutMs?: number): Promise<string>;
  /** Resolves when the peer exits (rejects after `timeoutMs`). */
  waitForExit(timeoutMs?: number): Promise<PeerExit>;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** How long a server may take to print `PORT <n>` (default 10 s). */
  startTimeoutMs?: number;
}

const PYTHON = '/usr/bin/python3';
const DEFAULT_WAIT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
// Compiled to build/test/interop/peers/: the .py file stays in the source tree, ws-peer.js sits beside us.
const PYTHON_PEER = fileURLToPath(new URL('../../../../test/interop/peers/python_peer.py', import.meta.url));
const WS_PEER = fileURLToPath(new URL('./ws-peer.js', import.meta.url));

/** Peers not stopped yet: killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function command(kind: PeerKind): [string, string[]] {
  if (kind === 'python') {
    for (const file of [PYTHON, PYTHON_PEER]) {
      if (!existsSync(file))
        throw new Error(`python peer: ${file} is missing (run scripts/install-peers.sh)`);
    }
    return [PYTHON, [PYTHON_PEER]];
  }
  if (!existsSync(WS_PEER))
    throw new Error(`ws peer: ${WS_PEER} is missing (compile with tsc -p tsconfig.json)`);
  return [process.execPath, [WS_PEER]];
}

function peerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
  delete env.NODE_TEST_CONTEXT; // set by node --test for its children; a peer is not a test file
  return env;
}

class PeerProcess implements Peer {
  port: number | undefined;
  readonly lines: string[] = [];
  stderr = '';
  readonly #child: ChildProcess;
  readonly #name: string;
  readonly #claimed = new Set<number>();
  readonly #exited: Promise<PeerExit>;
  #exit: PeerExit | undefined;
  #partial = '';
  #changed: (() => void)[] = [];

  constructor(kind: PeerKind, args: string[]) {
    const [file, prefix] = command(kind);
    this.#name = `${kind} peer (${args.join(' ')})`;
    this.#child = spawn(file, [...prefix, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: peerEnv(),
    });
    this.#child.stdout!.setEncoding('utf8');
    this.#child.stderr!.setEncoding('utf8');
    this.#child.stdout!.on('data', (text: string) => {
      const parts = (this.#partial + text).split('\n');
      this.#partial = parts.pop()!;
      for (const line of parts) this.lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
      this.#notify();
    });
    this.#child.stderr!.on('data', (text: string) => {
      this.stderr += text;
    });
    this.#exited = new Promise((resolve) => {
      this.#child.once('error', (error) => {
        this.stderr += `spawn failed: ${error.message}\n`;
        this.#exit ??= { code: null, signal: null };
        resolve(this.#exit);
        this.#notify();
      });
      this.#child.once('close', (code, signal) => {
        live.delete(this.#child);
        if (this.#partial !== '') this.lines.push(this.#partial);
        this.#partial = '';
        this.#exit ??= { code, signal };
        resolve(this.#exit);
        this.#notify();
      });
    });
    live.add(this.#child);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const child of live) child.kill('SIGKILL');
      });
    }
  }

  #notify(): void {
    const waiters = this.#changed;
    this.#changed = [];
    for (const wake of waiters) wake();
  }

  #describe(why: string): Error {
    const exit =
      this.#exit === undefined ? 'running' : `exited ${this.#exit.code ?? this.#exit.signal ?? '?'}`;
    return new Error(
      `${this.#name}: ${why} (${exit})\n--- stdout ---\n${this.lines.join('\n')}\n--- stderr ---\n${this.stderr}`,
    );
  }

  /** Waits until `found()` returns a value, the peer exits, or the time is up. */
  async #until<T>(found: () => T | undefined, why: string, timeoutMs: number, orExit = false): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = found();
      if (value !== undefined) return value;
      if (this.#exit !== undefined && !orExit) throw this.#describe(`exited before ${why}`);
      const left = deadline - Date.now();
      if (left <= 0) throw this.#describe(`timed out after ${timeoutMs} ms waiting for ${why}`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#changed.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  waitForLine(prefix: string, timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    return this.#until(
      () => {
        const index = this.lines.findIndex((line, i) => !this.#claimed.has(i) && line.startsWith(prefix));
        if (index < 0) return undefined;
        this.#claimed.add(index);
        return this.lines[index];
      },
      `a line starting with ${JSON.stringify(prefix)}`,
      timeoutMs,
    );
  }

  waitForExit(timeoutMs = DEFAULT_WAIT_MS): Promise<PeerExit> {
    return this.#until(() => this.#exit, 'its exit', timeoutMs, true);
  }

  async stop(): Promise<void> {
    if (this.#exit !== undefined) {
      live.delete(this.#child);
      return;
    }
    this.#child.kill('SIGTERM');
    try {
      await this.waitForExit(STOP_GRACE_MS);
    } catch {
      this.#child.kill('SIGKILL');
      await this.waitForExit(STOP_GRACE_MS);
    }
    await this.#exited;
    live.delete(this.#child);
  }
}

/**
 * Starts a peer: `args` are its command line (see README.md), e.g. `['server', '--protocols', 'a,b']` or
 * `['client', url, 'upload', '1048576', '7']`. For a server, resolves once it printed `PORT <n>`.
 * Always `stop()` it (e.g. in `t.after`), also after a client exited on its own.
 */
export async function startPeer(kind: PeerKind, args: string[], options: StartOptions = {}): Promise<Peer> {
  const peer = new PeerProcess(kind, args);
  if (args[0] === 'server') {
    try {
      const line = await peer.waitForLine('PORT ', options.startTimeoutMs ?? 10_000);
      peer.port = Number(line.slice('PORT '.length));
    } catch (error) {
      await peer.stop();
      throw error;
    }
  }
  return peer;
}

/** The result of a peer that ran to its end. */
export interface PeerRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: readonly string[];
  stderr: string;
}

/** Runs a client peer to its end (killing it after `timeoutMs`, default 60 s) and returns its output. */
export async function runPeer(kind: PeerKind, args: string[], timeoutMs = 60_000): Promise<PeerRun> {
  const peer = await startPeer(kind, args);
  try {
    const { code, signal } = await peer.waitForExit(timeoutMs);
    return { code, signal, lines: [...peer.lines], stderr: peer.stderr };
  } finally {
    await peer.stop();
  }
}

/** Parses a `CLOSE <code> <reason>` line. */
export function parseClose(line: string): { code: number; reason: string } {
  const match = /^CLOSE (\d+) ?(.*)$/s.exec(line);
  if (match === null) throw new Error(`not a CLOSE line: ${JSON.stringify(line)}`);
  return { code: Number(match[1]), reason: match[2]! };
}

/** The value of the first line in `lines` starting with `prefix + ' '`, e.g. lineValue(lines, 'SHA256'). */
export function lineValue(lines: readonly string[], prefix: string): string | undefined {
  const line = lines.find((l) => l.startsWith(`${prefix} `));
  return line?.slice(prefix.length + 1);
}
