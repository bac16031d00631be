// Runs one benchmark file in its own Node process (fresh heap and JIT, nothing else running in it) and
// reads back the report it prints with --json.

import { spawn } from 'node:child_process';

import { isBenchReport, type BenchReport } from './report.js';

export interface ChildOptions {
  /** Further arguments after --json (e.g. --rounds 5). */
  args?: readonly string[];
  /** Node flags for the child (none by default). */
  nodeFlags?: readonly string[];
  /** The child is killed after this long. Default 120 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Spawns `node <script> --json`; its stderr passes through, its stdout must be one JSON report. */
export function runBenchChild(script: string, options: ChildOptions = {}): Promise<BenchReport> {
  const nodeFlags = options.nodeFlags ?? [];
  const args = [...nodeFlags, script, '--json', ...(options.args ?? [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: options.timeoutMs ?? 120_000,
      env: options.env ?? process.env,
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        const how = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
        reject(new Error(`${script} failed (${how})`));
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8').trim();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        reject(
          new Error(`${script} printed something other than JSON: ${text.slice(0, 200)}`, { cause: error }),
        );
        return;
      }
      if (isBenchReport(parsed)) resolve(parsed);
      else reject(new Error(`${script} printed JSON that is not a bench report`));
    });
  });
}
