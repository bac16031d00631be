// The judgement of one case, as Autobahn judges: OK when the testee did what RFC 6455 expects,
// NON-STRICT when it did something the RFC tolerates but not the best thing (e.g. failed a connection only
// at the end of an invalid text message instead of at the first invalid byte), FAILED otherwise;
// INFORMATIONAL for cases whose outcome the RFC leaves open.

import { Buffer } from 'node:buffer';

import { type ConformanceCase, Op, type Reply, type Side, type Variant } from './cases.js';
import { compressedPayload } from './compression-cases.js';
import type { PeerEvent } from './raw-peer.js';

export type Verdict = 'OK' | 'NON-STRICT' | 'FAILED' | 'INFORMATIONAL';

/** What one run of a case looked like from the peer (and from the testee's 'closed' event). */
export interface Observation {
  /** Set when the run could not even start (the upgrade failed). */
  setupError?: string;
  events: PeerEvent[];
  violations: string[];
  /** The testee's close frame, and whether it came after the close the peer sends to end a case. */
  close?: { code: number | null; reason: string; writesDone: number; afterOurs: boolean };
  /** Writes the peer made in all. */
  writes: number;
  /** The testee closed its side of the TCP connection (FIN or reset) … */
  tcpEnded: boolean;
  /** … before the peer closed its own (ms since upgrade, for both). */
  tcpEndedAt?: number;
  peerEndedAt?: number;
  socketClosed: boolean;
  socketError?: string;
  /** The testee's 'closed' event, if it fired. */
  closedEvent?: { code: number; reason: string };
  /** Check the code 'closed' reports (stream-websocket's API contract), not only that it fired. */
  checkClosedCode: boolean;
  testeeErrors: string[];
  /** Why the run stopped early, after the upgrade (its overall bound, a testee that never showed up). */
  runError?: string;
}

export interface Judgement {
  verdict: Verdict;
  detail: string;
}

/** The same payload as the peer generates for round trips (9.7, 9.8). */
export function roundTripPayload(opcode: number, size: number): Buffer {
  return opcode === Op.Text ? Buffer.alloc(size, '*') : Buffer.alloc(size, 0xfe);
}

/**
 * The bytes a stream socket may pass on: the data payloads sent, in order, up to the first violation
 * (a frame whose header is invalid contributes nothing, one whose payload turns invalid may contribute a
 * prefix) or the first close frame.
 */
export function streamAllowedBytes(kase: ConformanceCase): Buffer {
  const parts: Buffer[] = [];
  for (const step of kase.steps) {
    if (step.kind === 'roundTrips') {
      for (let index = 0; index < step.count; index++) parts.push(roundTripPayload(step.opcode, step.size));
      continue;
    }
    if (step.kind === 'compressedRoundTrips') {
      for (let index = 0; index < step.count; index++) {
        parts.push(compressedPayload(step.corpus, step.size, index));
      }
      continue;
    }
    if (step.kind !== 'send') continue;
    for (const frame of step.frames) {
      if (frame.opcode === Op.Close || frame.violation === 'header') return Buffer.concat(parts);
      if (frame.opcode <= Op.Binary) parts.push(frame.payload ?? Buffer.alloc(0));
      if (frame.violation === 'payload') return Buffer.concat(parts);
    }
  }
  return Buffer.concat(parts);
}

/** The code of the first close frame the steps send: null for an empty one, undefined for none. */
function firstSentCloseCode(kase: ConformanceCase): number | null | undefined {
  for (const step of kase.steps) {
    if (step.kind !== 'send') continue;
    for (const frame of step.frames) {
      if (frame.opcode !== Op.Close) continue;
      const payload = frame.payload ?? Buffer.alloc(0);
      return payload.length >= 2 ? payload.readUInt16BE(0) : null;
    }
  }
  return undefined;
}

function describeBytes(payload: Buffer): string {
  if (payload.length <= 24) {
    const printable = /^[\x20-\x7e]*$/.test(payload.toString('latin1'));
    return printable ? `'${payload.toString('latin1')}'` : `0x${payload.toString('hex')}`;
  }
  return `${payload.length} B`;
}

export function describeReply(reply: Reply | PeerEvent): string {
  if (reply.kind === 'message') {
    return `${reply.opcode === Op.Text ? 'text' : 'binary'}(${describeBytes(reply.payload)})`;
  }
  if (reply.kind === 'close') return `close(${reply.code ?? 'no code'})`;
  return `${reply.kind}(${describeBytes(reply.payload)})`;
}

function describeList(replies: readonly (Reply | PeerEvent)[]): string {
  if (replies.length === 0) return 'nothing';
  if (replies.length > 4) {
    return `${replies.length} replies [${replies.slice(0, 3).map(describeReply).join(', ')}, …]`;
  }
  return `[${replies.map(describeReply).join(', ')}]`;
}

function sameReply(observed: PeerEvent, expected: Reply): boolean {
  if (observed.kind === 'close' || observed.kind !== expected.kind) return false;
  if (observed.kind === 'message' && expected.kind === 'message' && observed.opcode !== expected.opcode)
    return false;
  return observed.payload.equals(expected.payload);
}

/** The message variant compares the replies exactly, in order. */
function messageRepliesMatch(observed: PeerEvent[], expected: readonly Reply[]): boolean {
  return (
    observed.length === expected.length &&
    observed.every((event, index) => sameReply(event, expected[index]!))
  );
}

/**
 * The stream variant has no message boundaries: the pongs must match in order, and the echoed bytes must
 * be at least the expected ones and no more than a prefix of what the peer sent before the violation.
 */
function streamRepliesMatch(observed: PeerEvent[], expected: readonly Reply[], allowed: Buffer): boolean {
  const pongs = observed.flatMap((event) => (event.kind === 'pong' ? [event] : []));
  const expectedPongs = expected.filter((reply) => reply.kind === 'pong');
  if (pongs.length !== expectedPongs.length) return false;
  if (!pongs.every((event, index) => event.payload.equals(expectedPongs[index]!.payload))) return false;
  const data = Buffer.concat(observed.flatMap((event) => (event.kind === 'message' ? [event.payload] : [])));
  const expectedLength = expected.reduce(
    (sum, reply) => sum + (reply.kind === 'message' ? reply.payload.length : 0),
    0,
  );
  return (
    data.length >= expectedLength &&
    data.length <= allowed.length &&
    allowed.subarray(0, data.length).equals(data)
  );
}

function describeStream(observed: PeerEvent[]): string {
  const pongs = observed.filter((event) => event.kind === 'pong').length;
  const bytes = observed.reduce(
    (sum, event) => sum + (event.kind === 'message' ? event.payload.length : 0),
    0,
  );
  return `${bytes} echoed bytes and ${pongs} pong(s)`;
}

function expectedStream(expected: readonly Reply[]): string {
  const pongs = expected.filter((reply) => reply.kind === 'pong').length;
  const bytes = expected.reduce(
    (sum, reply) => sum + (reply.kind === 'message' ? reply.payload.length : 0),
    0,
  );
  return `${bytes} bytes and ${pongs} pong(s)`;
}

const RANK: Record<Verdict, number> = { OK: 0, INFORMATIONAL: 0, 'NON-STRICT': 1, FAILED: 2 };

export function judge(
  kase: ConformanceCase,
  side: Side,
  variant: Variant,
  observation: Observation,
): Judgement {
  const problems: { level: 'NON-STRICT' | 'FAILED'; text: string }[] = [];
  const fail = (text: string): void => {
    problems.push({ level: 'FAILED', text });
  };
  const nonStrict = (text: string): void => {
    problems.push({ level: 'NON-STRICT', text });
  };
  const { expect } = kase;

  if (observation.setupError !== undefined) {
    return { verdict: 'FAILED', detail: `setup: ${observation.setupError}` };
  }
  if (observation.runError !== undefined) fail(observation.runError);
  for (const violation of observation.violations) fail(`the testee sent ${violation}`);
  for (const error of observation.testeeErrors) fail(`testee API: ${error}`);

  // What came back before the close frame.
  const closeIndex = observation.events.findIndex((event) => event.kind === 'close');
  const beforeClose = closeIndex < 0 ? observation.events : observation.events.slice(0, closeIndex);
  const pings = beforeClose.filter((event) => event.kind === 'ping');
  if (pings.length > 0) fail(`the testee sent ${pings.length} unsolicited ping(s)`);
  const replies = beforeClose.filter((event) => event.kind !== 'ping');
  const candidates: { level: 'OK' | 'NON-STRICT'; replies: Reply[] }[] = [
    { level: 'OK', replies: expect.replies },
    ...(expect.nonStrict ?? []).map((list) => ({ level: 'NON-STRICT' as const, replies: list })),
  ];
  const allowed = streamAllowedBytes(kase);
  const matched = candidates.find((candidate) =>
    variant === 'message'
      ? messageRepliesMatch(replies, candidate.replies)
      : streamRepliesMatch(replies, candidate.replies, allowed),
  );
  const got = variant === 'message' ? describeList(replies) : describeStream(replies);
  const wanted = variant === 'message' ? describeList(expect.replies) : expectedStream(expect.replies);
  if (matched === undefined) fail(`replies: got ${got}, expected ${wanted}`);
  else if (matched.level === 'NON-STRICT') nonStrict(`replies: got ${got}, expected ${wanted}`);

  // The close frame.
  const { close } = observation;
  const ending = expect.ending;
  const codeText = (code: number | null): string =>
    code === null ? 'an empty close frame' : `close code ${code}`;
  switch (ending.kind) {
    case 'normal':
      if (close === undefined) {
        fail(
          observation.tcpEnded
            ? 'the testee dropped TCP without answering our close frame'
            : 'no close frame in answer to ours',
        );
      } else if (!close.afterOurs) {
        fail(
          `the testee closed the connection itself with ${codeText(close.code)}${close.reason === '' ? '' : ` ('${close.reason}')`}`,
        );
      } else if (close.code !== null && close.code !== 1000) {
        fail(`our close 1000 was answered with ${codeText(close.code)}`);
      }
      break;
    case 'closeReply':
      if (close === undefined) {
        fail(
          observation.tcpEnded
            ? 'the testee dropped TCP without answering our close frame'
            : 'no close frame in answer to ours',
        );
      } else if (!ending.codes.includes(close.code)) {
        fail(
          `our close frame was answered with ${codeText(close.code)}, expected ${ending.codes.map(codeText).join(' or ')}`,
        );
      }
      break;
    case 'fail':
      if (close === undefined) {
        if (observation.tcpEnded) nonStrict('the testee dropped TCP without sending a close frame');
        else fail(`the connection was not failed (expected close code ${ending.codes.join(' or ')})`);
      } else if (close.code !== null && ending.codes.includes(close.code)) {
        // The right code.
      } else if (close.code !== null && (ending.nonStrictCodes ?? []).includes(close.code)) {
        nonStrict(`failed with close code ${close.code}; ${ending.codes.join(' or ')} is the better code`);
      } else {
        fail(`failed with ${codeText(close.code)}, expected close code ${ending.codes.join(' or ')}`);
      }
      if (
        close !== undefined &&
        ending.failFastAfterWrite !== undefined &&
        close.writesDone > ending.failFastAfterWrite
      ) {
        nonStrict(
          `not fail-fast: the close frame came after write ${close.writesDone}; the invalid byte was in write ${ending.failFastAfterWrite}`,
        );
      }
      break;
  }

  // The TCP connection: the server closes it first (§7.1.1); a client waits for the server.
  if (side === 'server') {
    if (!observation.tcpEnded)
      fail('the server did not close the TCP connection after the closing handshake');
  } else {
    if (!observation.socketClosed) fail('the client did not close its side of TCP after the server closed');
    const clientFirst =
      observation.tcpEndedAt !== undefined &&
      (observation.peerEndedAt === undefined || observation.tcpEndedAt < observation.peerEndedAt);
    if (clientFirst && ending.kind !== 'fail' && close !== undefined) {
      nonStrict('the client closed TCP before the server did after a clean closing handshake (§7.1.1)');
    }
  }
  if (observation.socketError !== undefined && observation.socketError !== 'ECONNRESET') {
    fail(`socket error ${observation.socketError}`);
  }

  // The testee's own report of the end, in 'closed'.
  const reported = observation.closedEvent;
  if (reported === undefined) {
    fail("the testee's 'closed' event did not fire");
  } else {
    let want: number | undefined;
    if (ending.kind === 'normal') want = 1000;
    else if (ending.kind === 'closeReply') want = firstSentCloseCode(kase) ?? 1005;
    else want = close?.code ?? undefined;
    if (observation.checkClosedCode && want !== undefined && reported.code !== want) {
      fail(`'closed' reported code ${reported.code}, expected ${want}`);
    }
  }

  const worst = problems.reduce<Verdict>(
    (verdict, problem) => (RANK[problem.level] > RANK[verdict] ? problem.level : verdict),
    'OK',
  );
  const summary =
    problems.length > 0
      ? problems.map((problem) => `${problem.level === 'FAILED' ? '✗' : '~'} ${problem.text}`).join('; ')
      : `${got}; ${close === undefined ? 'no close frame' : codeText(close.code)}; 'closed' ${reported?.code ?? '-'}`;
  if (expect.informational !== undefined) {
    return {
      verdict: 'INFORMATIONAL',
      detail: `${worst === 'OK' ? 'as expected' : `would be ${worst}`}: ${summary}`,
    };
  }
  return { verdict: worst, detail: summary };
}
