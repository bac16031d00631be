// Frame-parsing throughput in MB/s of payload, as a server receives it: a stream of masked frames cut
// into 64 KiB chunks, fed to our FrameParser and to ws's Receiver (with its JS unmask, and with
// bufferutil). Both unmask in place, so an input is either re-parsed in its other form (hot) or
// copied afresh before each run (cold).
// Run alone: node build/bench/parser.js [--json] [--rounds N] [--warmup N]

import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import type { Writable } from 'node:stream';

import { FrameParser, type FrameParserHandler } from '../src/protocol/frame-parser.js';
import { frameHeaderLength, writeFrameHeader } from '../src/protocol/frame-writer.js';
import { Opcode } from '../src/protocol/opcodes.js';
import { runInterleaved, type Case, type Trial } from './lib/harness.js';
import { buildRows, emitReport, environment, parseBenchArgs, type Contender } from './lib/report.js';
import { loadWsVariants, type WsVariant } from './lib/ws-variants.js';

const options = parseBenchArgs();
const { js, native } = loadWsVariants();

const contenders: Contender[] = [
  { id: 'ours', label: 'ours' },
  { id: js.id, label: js.label },
  { id: native.id, label: native.label },
];

/** What a socket typically hands over per 'data' event. */
const CHUNK_SIZE = 64 * 1024;

interface Workload {
  name: string;
  opcode: typeof Opcode.Binary | typeof Opcode.Text;
  messageSize: number;
  /** Messages in the input. */
  messages: number;
  /**
   * Hot: the input (about 1 MiB) stays in cache and each run parses it `passes` times over. Unmasking
   * in place turns it into its unmasked form and back, which costs the same each time.
   * Cold: one pass over a fresh copy of a large input made before the clock starts (out of L2), as
   * when a parser falls behind a fast socket.
   */
  passes: number;
  cold: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const workloads: Workload[] = [
  {
    name: '64 B binary msgs',
    opcode: Opcode.Binary,
    messageSize: 64,
    messages: 8 * KiB,
    passes: 8,
    cold: false,
  },
  {
    name: '16 KiB binary msgs',
    opcode: Opcode.Binary,
    messageSize: 16 * KiB,
    messages: 64,
    passes: 32,
    cold: false,
  },
  {
    name: '1 MiB binary msgs',
    opcode: Opcode.Binary,
    messageSize: MiB,
    messages: 1,
    passes: 32,
    cold: false,
  },
  {
    name: '16 KiB ASCII text msgs',
    opcode: Opcode.Text,
    messageSize: 16 * KiB,
    messages: 64,
    passes: 16,
    cold: false,
  },
  {
    name: '1 MiB binary msgs, cold input',
    opcode: Opcode.Binary,
    messageSize: MiB,
    messages: 32,
    passes: 1,
    cold: true,
  },
];

/** Printable ASCII of `size` bytes: masked under a key below 0x80 it is still ASCII, so valid UTF-8. */
function textPayload(size: number): Buffer {
  const pattern = 'The quick brown fox jumps over the lazy dog; 0123456789 {"key": [1, 2, 3]} ';
  return Buffer.from(pattern.repeat(Math.ceil(size / pattern.length)).slice(0, size), 'latin1');
}

/** The whole input: every message as one masked frame with its own random, non-zero key. */
function buildStream(workload: Workload): Buffer {
  const text = workload.opcode === Opcode.Text;
  const payload = text ? textPayload(workload.messageSize) : Buffer.alloc(0);
  const frameLength = frameHeaderLength(workload.messageSize, true) + workload.messageSize;
  const stream = Buffer.allocUnsafe(frameLength * workload.messages);
  const maskKey = Buffer.alloc(4);
  let position = 0;
  for (let message = 0; message < workload.messages; message++) {
    randomFillSync(maskKey);
    // ws skips unmasking under an all-zero key; a real client's key is random.
    maskKey[0] = maskKey[0]! | 1;
    // Text stays valid UTF-8 in both its masked and its unmasked form (see textPayload).
    if (text) for (let i = 0; i < 4; i++) maskKey[i] = maskKey[i]! & 0x7f;
    position += writeFrameHeader(stream, position, {
      fin: true,
      opcode: workload.opcode,
      payloadLength: workload.messageSize,
      maskKey,
    });
    const body = stream.subarray(position, position + workload.messageSize);
    if (text) payload.copy(body);
    else randomFillSync(body);
    // Masked by a plain loop here, so the input does not depend on the code under test.
    for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ maskKey[i & 3]!;
    position += workload.messageSize;
  }
  return stream;
}

/** Socket-sized chunks: views of the input, or of a fresh copy of it for a cold run. */
function chunksOf(stream: Buffer, copy: boolean): Buffer[] {
  const source = copy ? Buffer.from(stream) : stream;
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < source.length; offset += CHUNK_SIZE) {
    chunks.push(source.subarray(offset, offset + CHUNK_SIZE));
  }
  return chunks;
}

function checkCounts(label: string, workload: Workload, messages: number, bytes: number): void {
  const expectedMessages = workload.messages * workload.passes;
  const expectedBytes = expectedMessages * workload.messageSize;
  if (messages !== expectedMessages || bytes !== expectedBytes) {
    throw new Error(
      `${label} on ${workload.name}: ${messages} messages / ${bytes} bytes, ` +
        `expected ${expectedMessages} / ${expectedBytes}`,
    );
  }
}

/**
 * The last parser or receiver of each contender, kept alive between runs as a server's other open
 * connections would keep theirs: once every instance of a class is gone, a full GC may collect the
 * class's maps and deoptimise the code that was optimised for them.
 */
const residents = new Map<string, object>();

/**
 * A handler that only counts what it is given. A class, as a connection would use: its methods are the
 * same functions for every instance, so code optimised for one parser stays valid for the next.
 */
class CountingHandler implements FrameParserHandler {
  messages = 0;
  bytes = 0;
  onMessageStart(): void {
    // Nothing to do: messages are counted as they end.
  }
  onMessageData(section: Buffer): void {
    this.bytes += section.length;
  }
  onMessageEnd(): void {
    this.messages++;
  }
  onPing(): void {
    throw new Error('unexpected ping');
  }
  onPong(): void {
    throw new Error('unexpected pong');
  }
  onClose(): void {
    throw new Error('unexpected close');
  }
}

function oursTrial(workload: Workload, stream: Buffer): Trial {
  const chunks = chunksOf(stream, workload.cold);
  const handler = new CountingHandler();
  let parser: FrameParser | undefined;
  return {
    run() {
      const fresh = new FrameParser(handler, { role: 'server' });
      for (let pass = 0; pass < workload.passes; pass++) {
        for (const chunk of chunks) fresh.push(chunk);
      }
      parser = fresh;
    },
    check: () => {
      if (parser !== undefined) residents.set('ours', parser);
      checkCounts('ours', workload, handler.messages, handler.bytes);
    },
  };
}

/** ws's Receiver fed the way ws's WebSocket feeds it: receiver.write(chunk) per socket chunk. */
function wsTrial(variant: WsVariant, workload: Workload, stream: Buffer): Trial {
  const chunks = chunksOf(stream, workload.cold);
  let messages = 0;
  let bytes = 0;
  let failure: unknown;
  let receiver: Writable | undefined;
  return {
    run() {
      const fresh = new variant.Receiver({ isServer: true });
      fresh.on('message', (data: Buffer) => {
        messages++;
        bytes += data.length;
      });
      fresh.on('error', (error: unknown) => {
        failure = error;
      });
      for (let pass = 0; pass < workload.passes; pass++) {
        for (const chunk of chunks) fresh.write(chunk);
      }
      receiver = fresh;
    },
    check: () => {
      if (receiver !== undefined) residents.set(variant.id, receiver);
      if (failure !== undefined) throw new Error(`${variant.label} failed`, { cause: failure });
      checkCounts(variant.label, workload, messages, bytes);
    },
  };
}

const cases: Case[] = [];
for (const workload of workloads) {
  const stream = buildStream(workload);
  const bytes = workload.messages * workload.passes * workload.messageSize;
  cases.push(
    { workload: workload.name, contender: 'ours', bytes, prepare: () => oursTrial(workload, stream) },
    { workload: workload.name, contender: js.id, bytes, prepare: () => wsTrial(js, workload, stream) },
    {
      workload: workload.name,
      contender: native.id,
      bytes,
      prepare: () => wsTrial(native, workload, stream),
    },
  );
}

const rounds = options.rounds ?? 15;
const samples = await runInterleaved(cases, { rounds, warmup: options.warmup ?? 2 });

emitReport(
  {
    bench: 'parser',
    title: 'server-side parsing of masked frames in 64 KiB chunks',
    environment: environment(),
    rounds,
    contenders,
    rows: buildRows(
      samples,
      workloads.map((workload) => workload.name),
      contenders,
      'MB/s',
      1e6,
    ),
    notes: [
      'MB/s = 10^6 payload bytes/s; each message is one masked frame. Hot rows re-parse an input of ' +
        'about 1 MiB that stays in cache (as a chunk just read from a socket is); the cold row parses ' +
        '32 MiB copied before the clock starts. Per run: ' +
        workloads.map((w) => `${w.name}: ${w.passes} × ${w.messages} msgs`).join('; ') +
        '.',
      'Ours hands each payload section to the handler as a view of the chunk; ws assembles whole ' +
        'messages, so a message that spans chunks is copied once more (concat) before its event.',
      'Handlers only count messages and bytes. Text is UTF-8-validated by both (Buffer isUtf8 in ' +
        'bulk); it is ASCII so that it stays valid in its masked form (mask key bytes below 0x80).',
    ],
  },
  options,
);
