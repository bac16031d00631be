// The sws command as users run it, for tests: `node dist/cli/main.js …` (built by `npm run build`, as
// `npm test` does first), run to completion (sws) or as a long-running service printing JSON lines
// (service), and stopped with a signal (stop). killAll() ends whatever is still running.

import { Buffer } from 'node:buffer';
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled to build/test/helpers/sws.js: the repository is three folders up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SWS = path.join(ROOT, 'dist', 'cli', 'main.js');
/** The longest any one command may run before the test gives up on it. */
export const COMMAND_TIMEOUT = 20_000;

const children = new Set<ChildProcess>();

export interface Finished {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  /** What the command reads on stdin (nothing: stdin is closed at once). */
  input?: Buffer | AsyncIterable<Buffer>;
  /** The working directory (default: the test process's). */
  cwd?: string;
}

/** Starts sws with `args`; it is killed by killAll(). */
export function launch(args: string[], cwd?: string): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [SWS, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.stdin.on('error', () => undefined);
  return child;
}

/** Runs sws to completion (killed after COMMAND_TIMEOUT), collecting its output. */
export async function sws(args: string[], options: RunOptions = {}): Promise<Finished> {
  const child = launch(args, options.cwd);
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT);
  const exited = once(child, 'close') as Promise<[number | null]>;
  const { input } = options;
  if (input === undefined) child.stdin.end();
  else if (Buffer.isBuffer(input)) child.stdin.end(input);
  else {
    for await (const chunk of input) {
      if (!child.stdin.write(chunk)) await once(child.stdin, 'drain');
    }
    child.stdin.end();
  }
  const [code] = await exited;
  clearTimeout(timer);
  return { code, stdout: Buffer.concat(stdout), stderr };
}

export type JsonLine = Record<string, unknown>;

/** A long-running sws (serve, bridge, tunnel, listen) started with --json, and the JSON lines it prints. */
export interface Service {
  child: ChildProcessWithoutNullStreams;
  port: number;
  lines: JsonLine[];
  /** The first line (so far or to come) that satisfies `match`. */
  line(match: (line: JsonLine) => boolean): Promise<JsonLine>;
}

export interface ServiceOptions {
  cwd?: string;
  /** Where the JSON lines come: stdout (default), or stderr for commands whose stdout carries data. */
  jsonOn?: 'stdout' | 'stderr';
  /** Leave stdin open for the test to write to (default: closed at once). */
  keepStdin?: boolean;
}

export async function service(args: string[], options: string | ServiceOptions = {}): Promise<Service> {
  const {
    cwd,
    jsonOn = 'stdout',
    keepStdin = false,
  } = typeof options === 'string' ? { cwd: options } : options;
  const child = launch([...args, '--json'], cwd);
  if (!keepStdin) child.stdin.end();
  const lines: JsonLine[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let pending = '';
  child[jsonOn].on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      const text = pending.slice(0, end);
      pending = pending.slice(end + 1);
      // On stderr, JSON lines share the stream with warnings.
      if (jsonOn === 'stderr' && !text.startsWith('{')) continue;
      lines.push(JSON.parse(text) as JsonLine);
      child.emit('json-line');
    }
  });
  const line = (match: (line: JsonLine) => boolean): Promise<JsonLine> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = lines.find(match);
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const exited = (): void => {
        cleanup();
        reject(new Error(`sws ${args.join(' ')} exited: ${stderr}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `no matching line from sws ${args[0]!} in ${COMMAND_TIMEOUT} ms: ${JSON.stringify(lines)}`,
          ),
        );
      }, COMMAND_TIMEOUT);
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('json-line', check);
        child.off('exit', exited);
      };
      if (check()) return;
      child.on('json-line', check);
      child.once('exit', exited);
    });
  const listening = await line((l) => l.event === 'listening');
  return { child, port: listening.port as number, lines, line };
}

export async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, 'exit') as Promise<[number | null]>;
  child.kill(signal);
  const [code] = await exited;
  return code;
}

/** Kills every sws still running. */
export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}
