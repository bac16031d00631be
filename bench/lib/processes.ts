// What the benchmarks whose contenders run in processes of their own share (transfer, messages,
// huge-message, idle): the contenders and their labels, the child's side of the IPC conversation,
// spawning children with the right environment, and the bookkeeping of interleaved rounds.

import { createRequire } from 'node:module';
import path from 'node:path';

import { caseKey, type Samples } from './harness.js';
import { IpcPeer, withTimeout, type FailedMessage, type PeerMessage } from './ipc-peer.js';
import type { Contender } from './report.js';

export const HOST = '127.0.0.1';
export const KiB = 1024;
export const MiB = 1024 * KiB;

export const CONTENDER_IDS = ['ours', 'ws-native', 'ws-js', 'tcp'] as const;
export type ContenderId = (typeof CONTENDER_IDS)[number];

/** The same ids and labels as transfer.ts, so that run.ts puts them in the same columns. */
export const CONTENDERS: readonly Contender[] = [
  { id: 'ours', label: 'ours' },
  { id: 'ws-native', label: 'ws + bufferutil' },
  { id: 'ws-js', label: 'ws (JS)' },
  { id: 'tcp', label: 'raw TCP' },
];

export function isContenderId(value: unknown): value is ContenderId {
  return CONTENDER_IDS.some((id) => id === value);
}

/** A comma-separated list of contender ids (all of `allowed` when absent), in the table's order. */
export function parseContenders(
  text: string | undefined,
  allowed: readonly ContenderId[] = CONTENDER_IDS,
): Contender[] {
  const ids = text === undefined ? [...allowed] : text.split(',').map((id) => id.trim());
  const unknown = ids.filter((id) => !allowed.some((known) => known === id));
  if (unknown.length > 0) {
    throw new RangeError(`unknown contender ${unknown.join(', ')}; there are ${allowed.join(', ')}`);
  }
  return CONTENDERS.filter((contender) => ids.includes(contender.id));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message} (${describe(error.cause)})`;
}

export function positiveInteger(
  text: string | undefined,
  name: string,
  fallback: number,
  allowZero = false,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new RangeError(`${name} takes a ${allowZero ? 'non-negative' : 'positive'} integer, not ${text}`);
  }
  return value;
}

// ---- the child's side ----------------------------------------------------------------------------------

/** Sends a message to the parent; `then` runs once it is on its way. */
export function tell(message: PeerMessage | FailedMessage, then?: () => void): void {
  if (process.send === undefined) throw new Error('a --child process needs an IPC channel');
  process.send(message, undefined, {}, () => then?.());
}

/** The peak RSS of this process so far, in bytes. */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * KiB;
}

/** Which ws/lib/buffer-util.js chose, seen from the modules ws has loaded (call after importing ws). */
export function checkWsMasking(native: boolean): void {
  const require = createRequire(import.meta.url);
  const loaded = Object.keys(require.cache);
  const bufferUtil = `${path.sep}bufferutil${path.sep}`;
  const addon = loaded.some((key) => key.includes(bufferUtil) && key.endsWith('.node'));
  const anyBufferUtil = loaded.some((key) => key.includes(bufferUtil));
  if (native && !addon) throw new Error('ws did not load the bufferutil addon');
  if (!native && anyBufferUtil) throw new Error('ws loaded bufferutil despite WS_NO_BUFFER_UTIL=1');
}

// ---- the parent's side ---------------------------------------------------------------------------------

/** ws decides its masking at load time: both processes of a ws (JS) run go without bufferutil. */
export function childEnv(contender: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (contender === 'ws-js') env.WS_NO_BUFFER_UTIL = '1';
  else delete env.WS_NO_BUFFER_UTIL;
  return env;
}

export interface SpawnOptions<M extends PeerMessage> {
  /** For messages and profile names, e.g. "ours server". */
  name: string;
  /** The bench file; it is run with --child <config as JSON>. */
  script: string;
  config: object;
  isMessage: (value: unknown) => value is M;
  contender: string;
  /** Node flags (e.g. --expose-gc). */
  execArgv?: readonly string[];
  /** Runs the child under --cpu-prof, its profile written there. */
  cpuProfDir?: string | undefined;
}

/** Children of one run: spawned through it, all killed when the run ends, however it ends. */
export class PeerGroup {
  private readonly kills: (() => void)[] = [];

  spawn<M extends PeerMessage>(options: SpawnOptions<M>): IpcPeer<M> {
    const profile =
      options.cpuProfDir === undefined
        ? []
        : [
            '--cpu-prof',
            `--cpu-prof-dir=${options.cpuProfDir}`,
            `--cpu-prof-name=${options.name.replaceAll(' ', '-')}-${String(Date.now())}.cpuprofile`,
          ];
    const peer = new IpcPeer(options.name, options.script, options.isMessage, {
      args: ['--child', JSON.stringify(options.config)],
      env: childEnv(options.contender),
      execArgv: [...(options.execArgv ?? []), ...profile],
    });
    this.kills.push(() => {
      peer.kill();
    });
    return peer;
  }

  killAll(): void {
    for (const kill of this.kills) kill();
  }

  /** Runs `body` with a fresh group, killing its children afterwards and after `limitMs`. */
  static async run<T>(limitMs: number, what: string, body: (group: PeerGroup) => Promise<T>): Promise<T> {
    const group = new PeerGroup();
    try {
      return await withTimeout(body(group), limitMs, what, () => {
        group.killAll();
      });
    } finally {
      group.killAll();
    }
  }
}

/** The contenders in the order of a round: rotated by the round number, as lib/harness.ts does. */
export function rotated<T>(items: readonly T[], round: number): T[] {
  const shift = ((round % items.length) + items.length) % items.length;
  return items.map((_item, index) => items[(index + shift) % items.length]!);
}

/** "warm-up 1", "round 2": for progress lines. */
export function roundLabel(round: number, warmup: number): string {
  return round < 0 ? `warm-up ${String(round + warmup + 1)}` : `round ${String(round + 1)}`;
}

/** Adds a sample for a row and a contender. */
export function record(samples: Samples, row: string, contender: string, value: number): void {
  const key = caseKey(row, contender);
  const list = samples.get(key);
  if (list === undefined) samples.set(key, [value]);
  else list.push(value);
}
