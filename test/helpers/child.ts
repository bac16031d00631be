// A helper script of test/helpers/ run in a process of its own (to measure its memory alone, or to
// survive its crash), killed after the test. Its stdout is read line by line.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { Cleanup } from './raw-server.js';
import { within } from './within.js';

export interface HelperProcess {
  child: ChildProcessWithoutNullStreams;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** The first stdout line (so far or to come) that matches `pattern`; rejects if it exits first. */
  line(pattern: RegExp, ms: number, what: string): Promise<RegExpExecArray>;
}

/** Starts `node build/test/helpers/<name>.js ...args`. */
export function startHelper(t: Cleanup, name: string, args: readonly string[]): HelperProcess {
  const script = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
  t.after(() => {
    child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    child.emit('stdout-changed');
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const line = (pattern: RegExp, ms: number, what: string): Promise<RegExpExecArray> => {
    let cleanup = (): void => undefined;
    const found = new Promise<RegExpExecArray>((resolve, reject) => {
      const check = (): void => {
        for (const text of stdout.split('\n').slice(0, -1)) {
          const match = pattern.exec(text);
          if (match !== null) {
            resolve(match);
            return;
          }
        }
      };
      const exited = (): void => {
        reject(new Error(`${name} exited (${String(child.exitCode)}) before ${what}: ${stderr}`));
      };
      child.on('stdout-changed', check);
      child.once('close', exited);
      cleanup = () => {
        child.off('stdout-changed', check);
        child.off('close', exited);
      };
      check();
    });
    return within(found, ms, what).finally(cleanup);
  };
  return { child, stderr: () => stderr, line };
}
