// Runs conformance cases: sets up the testees (our echo servers and clients) and the raw peer, plays
// each case's script over loopback with bounded waits, judges it, and runs many cases in small
// concurrent batches. Shared by the reporter (run.ts) and the node:test wrapper.

import { setTimeout as sleep } from 'node:timers/promises';

import {
  buildCases,
  CATEGORY_NAMES,
  type ConformanceCase,
  Op,
  type Profile,
  type Side,
  type Variant,
} from './cases.js';
import { compressedPayload } from './compression-cases.js';
import { judge, roundTripPayload, type Observation, type Verdict } from './judge.js';
import { connectRawClient, encodeFrames, type RawPeer, RawServerHub, splitWrites } from './raw-peer.js';
import { ourTestee, type Testee, type TesteeConnection, type TesteeServerHandle } from './testee.js';

export interface Timing {
  /** How long to wait for the expected echoes and pongs (non-9.x cases). */
  replyTimeoutMs: number;
  /** How long to wait for a close frame, a FIN, or the testee's 'closed' event. */
  closeWaitMs: number;
}

export const TIMING: Record<Profile, Timing> = {
  quick: { replyTimeoutMs: 2_000, closeWaitMs: 2_000 },
  full: { replyTimeoutMs: 2_000, closeWaitMs: 2_000 },
};

/** One case played against one testee: our server or our client, message or stream variant. */
export interface CaseRun {
  kase: ConformanceCase;
  side: Side;
  variant: Variant;
}

export interface CaseResult {
  id: string;
  category: string;
  side: Side;
  variant: Variant;
  origin: 'autobahn' | 'extra';
  description: string;
  verdict: Verdict;
  detail: string;
  durationMs: number;
}

export function runKey(run: { kase: { id: string }; side: Side; variant: Variant }): string {
  return `${run.kase.id} ${run.side}/${run.variant}`;
}

/** Every (case, side, variant) the table asks for. */
export function planRuns(
  profile: Profile,
  sides: readonly Side[] = ['server', 'client'],
  variants: readonly Variant[] = ourTestee.variants,
): CaseRun[] {
  const runs: CaseRun[] = [];
  for (const kase of buildCases(profile)) {
    for (const side of sides) {
      for (const variant of variants) {
        if (kase.variants !== undefined && !kase.variants.includes(variant)) continue;
        runs.push({ kase, side, variant });
      }
    }
  }
  return runs;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`${what} within ${ms} ms`));
      }, ms);
    }),
  ]).finally(() => {
    clearTimeout(timer);
  });
}

/** Sum of the pauses a case makes: its bound grows with them. */
function pausesOf(kase: ConformanceCase): number {
  let total = 0;
  for (const step of kase.steps) {
    if (step.kind === 'pause') total += step.ms;
    if (step.kind === 'send' && (step.pauseMs ?? 0) > 0) {
      total +=
        (step.pauseMs ?? 0) *
        (splitWrites(encodeFrames(step.frames, 'client'), step.split ?? { kind: 'whole' }).length - 1);
    }
  }
  return total;
}

/** Everything a run needs: the testee servers (one per variant) and the raw server for client runs. */
export class Harness {
  private sequence = 0;

  private constructor(
    private readonly testee: Testee,
    private readonly servers: Map<Variant, TesteeServerHandle>,
    private readonly hub: RawServerHub,
    readonly timing: Timing,
  ) {}

  /** Starts the testee's echo servers (one per variant) and the raw server its clients connect to. */
  static async start(timing: Timing, testee: Testee = ourTestee): Promise<Harness> {
    const servers = new Map<Variant, TesteeServerHandle>();
    for (const variant of testee.variants) servers.set(variant, await testee.startServer(variant));
    return new Harness(testee, servers, await RawServerHub.start(), timing);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.servers.values()].map((server) => server.stop()));
    await this.hub.close();
  }

  /** Plays one case and judges it; never throws. */
  async run(run: CaseRun): Promise<CaseResult> {
    const started = performance.now();
    const { kase } = run;
    const bound =
      (kase.timeoutMs ?? this.timing.replyTimeoutMs) + pausesOf(kase) + 3 * this.timing.closeWaitMs + 2_000;
    const state: { peer?: RawPeer; testee?: TesteeConnection } = {};
    let observation: Observation;
    try {
      observation = await withTimeout(
        this.play(run, state, started + bound),
        bound,
        'the case did not finish',
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (state.peer === undefined) {
        observation = { ...emptyObservation(), setupError: message };
      } else {
        observation = this.observe(state.peer, state.testee);
        observation.runError = message;
      }
    } finally {
      state.peer?.destroy();
    }
    const { verdict, detail } = judge(kase, run.side, run.variant, observation);
    return {
      id: kase.id,
      category: kase.category,
      side: run.side,
      variant: run.variant,
      origin: kase.origin,
      description: kase.description,
      verdict,
      detail,
      durationMs: Math.round(performance.now() - started),
    };
  }

  private async play(
    run: CaseRun,
    state: { peer?: RawPeer; testee?: TesteeConnection },
    deadline: number,
  ): Promise<Observation> {
    const path = `/conformance/${++this.sequence}/${encodeURIComponent(run.kase.id)}`;
    const connectMs = 5_000;
    let peer: RawPeer;
    let testee: TesteeConnection;
    if (run.side === 'server') {
      const server = this.servers.get(run.variant)!;
      const arriving = server.connection(path);
      try {
        peer = await connectRawClient(server.port, path, connectMs, run.kase.deflate?.offer);
      } catch (error) {
        server.forget(path);
        throw error;
      }
      state.peer = peer;
      testee = await withTimeout(arriving, connectMs, 'the server did not hand out the connection');
    } else {
      const arriving = this.hub.expect(path, connectMs, run.kase.deflate?.answer);
      const connecting = this.testee.connectClient(run.variant, `ws://127.0.0.1:${this.hub.port}${path}`);
      // A rejected connect is reported through `arriving` timing out; keep it from going unhandled.
      connecting.catch(() => undefined);
      peer = await arriving;
      state.peer = peer;
      testee = await withTimeout(connecting, connectMs, 'connectAsync did not complete');
    }
    state.testee = testee;
    await this.script(run, peer, deadline);
    await this.finish(run, peer, deadline);
    const observation = this.observe(peer, testee);
    const closed = await Promise.race([testee.closed, sleep(this.timing.closeWaitMs).then(() => undefined)]);
    if (closed !== undefined) observation.closedEvent = { code: closed.code, reason: closed.reason };
    else testee.abort();
    return observation;
  }

  /** The case's steps; stops as soon as the testee sent its close frame or dropped the connection. */
  private async script(run: CaseRun, peer: RawPeer, deadline: number): Promise<void> {
    const remaining = (): number => Math.max(0, deadline - performance.now());
    for (const step of run.kase.steps) {
      if (peer.isTesteeGone()) return;
      if (step.kind === 'pause') {
        await peer.waitFor(() => peer.isTesteeGone(), step.ms);
      } else if (step.kind === 'send') {
        const writes = splitWrites(encodeFrames(step.frames, peer.role), step.split ?? { kind: 'whole' });
        for (const [index, bytes] of writes.entries()) {
          if (index > 0 && (step.pauseMs ?? 0) > 0) await sleep(step.pauseMs);
          if (peer.isTesteeGone()) return;
          await peer.write(bytes);
        }
        if (step.frames.some((frame) => frame.opcode === Op.Close)) peer.closeSent = true;
      } else {
        // Round trips: each message after the echo of the one before, compressed or not.
        let expectedBytes = 0;
        for (let index = 1; index <= step.count; index++) {
          if (peer.isTesteeGone()) return;
          let bytes: Buffer;
          if (step.kind === 'roundTrips') {
            const payload = roundTripPayload(step.opcode, step.size);
            bytes = encodeFrames([{ opcode: step.opcode, payload }], peer.role).bytes;
            expectedBytes += payload.length;
          } else {
            const payload = compressedPayload(step.corpus, step.size, index - 1);
            bytes = peer.compressedMessage(step.opcode, payload, step.fragmentSize);
            expectedBytes += payload.length;
          }
          await peer.write(bytes);
          const echoed = (): boolean =>
            run.variant === 'message'
              ? peer.events.filter((event) => event.kind === 'message').length >= index
              : echoedBytes(peer) >= expectedBytes;
          if (!(await peer.waitFor(() => peer.isTesteeGone() || echoed(), remaining()))) return;
        }
      }
    }
  }

  /** Waits for the expected replies, then carries out the closing handshake the ending calls for. */
  private async finish(run: CaseRun, peer: RawPeer, deadline: number): Promise<void> {
    const { timing } = this;
    const { expect } = run.kase;
    const remaining = (): number => Math.max(0, deadline - performance.now());
    if (expect.ending.kind === 'normal') {
      const messages = expect.replies.filter((reply) => reply.kind === 'message');
      const pongs = expect.replies.length - messages.length;
      const bytes = messages.reduce((sum, reply) => sum + reply.payload.length, 0);
      const complete = (): boolean => {
        const replies = peer.replies;
        if (run.variant === 'message') return replies.length >= expect.replies.length;
        return echoedBytes(peer) >= bytes && replies.filter((event) => event.kind === 'pong').length >= pongs;
      };
      const replyWait = run.kase.timeoutMs ?? timing.replyTimeoutMs;
      await peer.waitFor(() => peer.isTesteeGone() || complete(), Math.min(remaining(), replyWait));
      // Unexpected replies, or a late failure, come before the answer to a ping sent now.
      if (!peer.isTesteeGone()) await peer.barrier(Math.min(remaining(), replyWait));
      if (!peer.isTesteeGone() && !peer.closeSent) peer.sendClose(1000);
    }
    // The testee's close frame (in answer, or failing the connection), or its FIN.
    await peer.waitFor(
      () => peer.close !== undefined || peer.tcpEnded,
      Math.min(remaining(), timing.closeWaitMs),
    );
    if (peer.close !== undefined && !peer.closeSent) peer.sendClose(peer.close.code);
    if (run.side === 'server') {
      // The server closes TCP first (§7.1.1); then the peer, as a client, closes its side.
      await peer.waitFor(() => peer.tcpEnded, Math.min(remaining(), timing.closeWaitMs));
      peer.end();
    } else {
      // The peer is the server: it closes TCP once the close frames are exchanged.
      if (peer.close === undefined)
        await peer.waitFor(() => peer.tcpEnded, Math.min(remaining(), timing.closeWaitMs));
      peer.end();
    }
    await peer.waitFor(() => peer.socketClosed, Math.min(remaining(), timing.closeWaitMs));
  }

  private observe(peer: RawPeer, testee: TesteeConnection | undefined): Observation {
    const close = peer.close;
    const observation: Observation = {
      events: [...peer.events],
      violations: [...peer.violations],
      writes: peer.writesDone,
      tcpEnded: peer.tcpEnded,
      socketClosed: peer.socketClosed,
      testeeErrors: [...(testee?.errors ?? [])],
      checkClosedCode: this.testee.reportsCloseCode,
    };
    if (close !== undefined) {
      observation.close = {
        code: close.code,
        reason: close.reason,
        writesDone: close.writesDone,
        afterOurs: close.afterOurClose,
      };
    }
    if (peer.tcpEndedAt !== undefined) observation.tcpEndedAt = peer.tcpEndedAt;
    if (peer.endedByUs !== undefined) observation.peerEndedAt = peer.endedByUs;
    if (peer.socketError !== undefined) observation.socketError = peer.socketError;
    return observation;
  }
}

function echoedBytes(peer: RawPeer): number {
  let bytes = 0;
  for (const event of peer.events) if (event.kind === 'message') bytes += event.payload.length;
  return bytes;
}

function emptyObservation(): Observation {
  return {
    events: [],
    violations: [],
    writes: 0,
    tcpEnded: false,
    socketClosed: false,
    testeeErrors: [],
    checkClosedCode: false,
  };
}

/** Runs every run, `concurrency` at a time; results come back in the order of `runs`. */
export async function runAll(
  harness: Harness,
  runs: readonly CaseRun[],
  concurrency: number,
  onResult?: (result: CaseResult, index: number) => void,
): Promise<CaseResult[]> {
  const results = new Array<CaseResult>(runs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < runs.length) {
      const index = next++;
      const result = await harness.run(runs[index]!);
      results[index] = result;
      onResult?.(result, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, runs.length) }, worker));
  return results;
}

export interface CategorySummary {
  category: string;
  name: string;
  side: Side;
  ok: number;
  nonStrict: number;
  failed: number;
  informational: number;
}

/** Counts per category and side (both variants together), in category order. */
export function summarize(results: readonly CaseResult[]): CategorySummary[] {
  const rows = new Map<string, CategorySummary>();
  for (const result of results) {
    const key = `${result.category}|${result.side}`;
    let row = rows.get(key);
    if (row === undefined) {
      row = {
        category: result.category,
        name: CATEGORY_NAMES[result.category] ?? '',
        side: result.side,
        ok: 0,
        nonStrict: 0,
        failed: 0,
        informational: 0,
      };
      rows.set(key, row);
    }
    if (result.verdict === 'OK') row.ok++;
    else if (result.verdict === 'NON-STRICT') row.nonStrict++;
    else if (result.verdict === 'FAILED') row.failed++;
    else row.informational++;
  }
  return [...rows.values()].sort(
    (a, b) => Number(a.category) - Number(b.category) || a.side.localeCompare(b.side),
  );
}
