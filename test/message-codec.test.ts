// The permessage-deflate codecs of a connection, without a socket: MessageInflater (ordering of what it
// reports, backpressure, the limiter's slot, the end of a deflate stream, empty messages, the inflated
// size limit, invalid data) and MessageDeflater (the sync-flush marker, empty messages, context takeover
// or not), checked against node:zlib used directly.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';

import { MessageDeflater } from '../src/connection/message-deflater.js';
import { INFLATE_BATCH, MessageInflater } from '../src/connection/message-inflater.js';
import { ZlibLimiter } from '../src/connection/zlib-limiter.js';
import type { ProtocolError } from '../src/protocol/protocol-error.js';
import { deflateAlone, inflateAlone } from './helpers/deflate-peer.js';
import { within } from './helpers/within.js';

type Event =
  { kind: 'data'; bytes: number } | { kind: 'end' } | { kind: 'drained' } | { kind: 'fail'; code: number };

/** An inflater whose handler records what it reports; `accept` says whether the application wants more. */
function recordingInflater(
  options: { maxMessageSize?: number; noContextTakeover?: boolean } = {},
  limiter = new ZlibLimiter(1),
): {
  inflater: MessageInflater;
  events: Event[];
  sections: Buffer[];
  accept: { more: boolean };
  next: (kind: Event['kind']) => Promise<void>;
} {
  const events: Event[] = [];
  const sections: Buffer[] = [];
  const accept = { more: true };
  let wake: (() => void) | undefined;
  const push = (event: Event): void => {
    events.push(event);
    wake?.();
  };
  const inflater = new MessageInflater(
    {
      data: (section) => {
        sections.push(Buffer.from(section));
        push({ kind: 'data', bytes: section.length });
        return accept.more;
      },
      messageEnd: () => {
        push({ kind: 'end' });
      },
      fail: (violation: ProtocolError) => {
        push({ kind: 'fail', code: violation.closeCode });
      },
      drained: () => {
        push({ kind: 'drained' });
      },
    },
    {
      windowBits: 15,
      noContextTakeover: options.noContextTakeover ?? false,
      maxMessageSize: options.maxMessageSize ?? Infinity,
    },
    limiter,
  );
  const next = (kind: Event['kind']): Promise<void> =>
    within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (events.some((event) => event.kind === kind)) {
            wake = undefined;
            resolve();
          }
        };
        wake = check;
        check();
      }),
      10_000,
      `the inflater's '${kind}'`,
    );
  return { inflater, events, sections, accept, next };
}

void describe('MessageInflater', () => {
  test('reports the end of a message only after all its data, and takes input again only after that end', async () => {
    const { inflater, events, sections, next } = recordingInflater();
    const data = randomBytes(3 * INFLATE_BATCH);
    const compressed = deflateAlone(data);
    inflater.startMessage(false);
    assert.equal(inflater.write(compressed.subarray(0, 10)), true, 'a small section is taken');
    assert.equal(inflater.write(compressed.subarray(10)), false, 'more than a batch waits: stop reading');
    inflater.end();
    await next('end');
    const end = events.findIndex((event) => event.kind === 'end');
    assert.ok(
      events.slice(0, end).every((event) => event.kind === 'data'),
      `only data before the end: ${JSON.stringify(events.slice(0, end + 1).filter((event) => event.kind !== 'data'))}`,
    );
    assert.deepEqual(Buffer.concat(sections), data);
    await next('drained');
    assert.deepEqual(events.slice(end), [{ kind: 'end' }, { kind: 'drained' }]);
  });

  test('pauses with the application, holding no zlib slot, and resumes where it stopped', async () => {
    const limiter = new ZlibLimiter(1);
    const { inflater, events, sections, accept, next } = recordingInflater({}, limiter);
    const data = Buffer.alloc(8 * 1024 * 1024, 0x61);
    inflater.startMessage(true);
    accept.more = false;
    inflater.write(deflateAlone(data));
    inflater.end();
    await next('data');
    assert.equal(limiter.active, 0, 'no slot held while the output waits');
    const before = sections.length;
    accept.more = true;
    inflater.resumeOutput();
    await next('end');
    assert.ok(sections.length > before);
    assert.deepEqual(Buffer.concat(sections), data);
    assert.equal(events.filter((event) => event.kind === 'fail').length, 0);
  });

  test('ignores what follows a final deflate block, and starts the next message afresh', async () => {
    const { inflater, events, sections, next } = recordingInflater();
    inflater.startMessage(false);
    inflater.write(
      Buffer.concat([zlib.deflateRawSync(Buffer.from('one')), Buffer.from('garbage after the end')]),
    );
    inflater.end();
    await next('end');
    assert.equal(Buffer.concat(sections).toString(), 'one');
    events.length = 0;
    sections.length = 0;
    inflater.startMessage(false);
    inflater.write(deflateAlone(Buffer.from('two')));
    inflater.end();
    await next('end');
    assert.equal(Buffer.concat(sections).toString(), 'two');
  });

  test('an empty compressed message ends without data and leaves the context as it was', async () => {
    const { inflater, events, sections, next } = recordingInflater();
    const peer = zlib.createDeflateRaw();
    const compress = (text: string): Promise<Buffer> =>
      new Promise((resolve) => {
        const pieces: Buffer[] = [];
        peer.on('data', (piece: Buffer) => pieces.push(piece));
        peer.write(Buffer.from(text));
        peer.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          peer.removeAllListeners('data');
          const output = Buffer.concat(pieces);
          resolve(output.subarray(0, output.length - 4));
        });
      });
    for (const text of ['context', '', 'context again']) {
      events.length = 0;
      sections.length = 0;
      inflater.startMessage(true);
      inflater.write(text === '' ? Buffer.alloc(0) : await compress(text));
      inflater.end();
      await next('end');
      assert.equal(Buffer.concat(sections).toString(), text);
    }
    peer.close();
  });

  test('fails with 1009 before handing out more than the limit, and 1007 on data that is not deflate', async () => {
    const limited = recordingInflater({ maxMessageSize: 100_000 });
    limited.inflater.startMessage(false);
    limited.inflater.write(deflateAlone(Buffer.alloc(1_000_000)));
    limited.inflater.end();
    await limited.next('fail');
    assert.deepEqual(limited.events.at(-1), { kind: 'fail', code: 1009 });
    assert.ok(limited.sections.reduce((sum, section) => sum + section.length, 0) <= 100_000);

    const invalid = recordingInflater();
    invalid.inflater.startMessage(false);
    invalid.inflater.write(Buffer.from([0xff, 0xff, 0xff]));
    invalid.inflater.end();
    await invalid.next('fail');
    assert.deepEqual(invalid.events.at(-1), { kind: 'fail', code: 1007 });
  });
});

void describe('MessageDeflater', () => {
  test('strips the sync-flush marker from the final section only, and compresses an empty message to 00', async () => {
    const deflater = new MessageDeflater({ windowBits: 15, memLevel: 8, noContextTakeover: true });
    const first = await deflater.deflate(Buffer.from('first part, '), false);
    assert.deepEqual(first.subarray(-4), Buffer.from([0, 0, 0xff, 0xff]));
    const last = await deflater.deflate(Buffer.from('last part'), true);
    assert.notDeepEqual(last.subarray(-4), Buffer.from([0, 0, 0xff, 0xff]));
    assert.equal(inflateAlone(Buffer.concat([first, last])).toString(), 'first part, last part');
    assert.deepEqual(await deflater.deflate(Buffer.alloc(0), true), Buffer.of(0));
    // A message ended by an empty section: the marker is already out, one byte opens the empty block.
    const opened = await deflater.deflate(Buffer.from('abc'), false);
    const ended = await deflater.deflate(Buffer.alloc(0), true);
    assert.deepEqual(ended, Buffer.of(0));
    assert.equal(inflateAlone(Buffer.concat([opened, ended])).toString(), 'abc');
    deflater.close();
  });

  test('with context takeover later messages refer back; without, each one inflates alone', async () => {
    const text = Buffer.from('a sentence long enough to be worth a back-reference, repeated. '.repeat(4));
    const keeping = new MessageDeflater({ windowBits: 15, memLevel: 8, noContextTakeover: false });
    const resetting = new MessageDeflater({ windowBits: 15, memLevel: 8, noContextTakeover: true });
    const kept = [await keeping.deflate(text, true), await keeping.deflate(text, true)];
    const reset = [await resetting.deflate(text, true), await resetting.deflate(text, true)];
    assert.ok(kept[1]!.length < kept[0]!.length / 4, `${kept[1]!.length} bytes for the repeat`);
    for (const message of reset) assert.deepEqual(inflateAlone(message), text);
    keeping.close();
    resetting.close();
  });

  test('a section waiting for its turn fails once the deflater is closed', async () => {
    const deflater = new MessageDeflater({ windowBits: 15, memLevel: 8, noContextTakeover: false });
    const running = deflater.deflate(randomBytes(1 << 20), false);
    const waiting = deflater.deflate(Buffer.from('x'), true);
    deflater.close();
    await assert.rejects(Promise.all([running, waiting]), /closed/);
  });
});
