// Self-test of the interop harness (test/interop/peers/): each peer talks to itself and to the other,
// and every hash it prints equals the pattern hash computed here. If this fails, the peers are wrong, not
// the library; the interop tests of the library rely on them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  BLOCK_SIZE,
  fragmentSizes,
  PatternReader,
  patternBlock,
  patternChunks,
  patternFragments,
  patternSha256,
} from './peers/pattern.js';
import { lineValue, parseClose, runPeer, startPeer, type Peer, type PeerKind } from './peers/spawn-peer.js';

const MIB = 1 << 20;
const SIXTEEN_MIB = 16 * MIB;
const TIMEOUT = 60_000;

void describe('pattern', () => {
  void it('is pinned: these hashes are the scheme of README.md (python_peer.py computes the same)', () => {
    assert.equal(
      patternSha256(SIXTEEN_MIB, '42'),
      'b03fbf26c71bd9c3bbe6be8c862ff2b35cfc9e0295a8893d823392a1c0180ad8',
    );
    assert.equal(patternSha256(0, 'x'), createHash('sha256').digest('hex'));
  });

  void it('gives the same bytes however it is cut', () => {
    const size = 3 * BLOCK_SIZE + 12345;
    const whole = Buffer.concat([...patternChunks(size, 's')]);
    assert.equal(whole.length, size);
    assert.deepEqual(Buffer.concat([...patternFragments(size, 's')]), whole);
    const reader = new PatternReader(size, 's');
    const pieces: Buffer[] = [];
    for (const n of [1, 7, BLOCK_SIZE - 8, 2, BLOCK_SIZE * 2, 1 << 30]) pieces.push(reader.read(n));
    assert.equal(reader.remaining, 0);
    assert.equal(reader.read(10).length, 0);
    assert.deepEqual(Buffer.concat(pieces), whole);
  });

  void it('differs from block to block and from seed to seed', () => {
    assert.notDeepEqual(patternBlock('s', 0), patternBlock('s', 1));
    assert.deepEqual(patternBlock('s', 1).subarray(8), patternBlock('s', 0).subarray(8));
    assert.notDeepEqual(patternBlock('s', 0).subarray(8), patternBlock('t', 0).subarray(8));
  });

  void it('draws fragment sizes between 1 byte and 1 MiB, small and large', () => {
    const sizes: number[] = [];
    for (const size of fragmentSizes('7')) {
      sizes.push(size);
      if (sizes.length === 10_000) break;
    }
    assert.ok(sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= BLOCK_SIZE));
    assert.ok(sizes.some((n) => n < 126));
    assert.ok(sizes.some((n) => n > 65535));
  });
});

async function client(kind: PeerKind, url: string, ...args: string[]): Promise<readonly string[]> {
  const run = await runPeer(kind, ['client', url, ...args], TIMEOUT);
  assert.equal(run.code, 0, `${kind} client ${args.join(' ')} failed:\n${run.stderr}`);
  return run.lines;
}

for (const kind of ['python', 'ws'] as const) {
  void describe(`${kind} peer against itself`, { timeout: TIMEOUT }, () => {
    let server: Peer;
    let url: string;
    before(async () => {
      server = await startPeer(kind, ['server', '--protocols', 'chat,files.v1']);
      url = `ws://127.0.0.1:${server.port ?? 0}`;
    });
    after(async () => {
      await server.stop();
    });

    void it('echoes a text message', async () => {
      const lines = await client(kind, `${url}/echo`, 'echo', 'héllo wörld ✓');
      assert.equal(lineValue(lines, 'ECHO'), 'héllo wörld ✓');
      assert.deepEqual(parseClose(lines.at(-1)!), { code: 1000, reason: '' });
    });

    void it('uploads 16 MiB as one fragmented message, hashes equal', async () => {
      const expected = patternSha256(SIXTEEN_MIB, 'up');
      const lines = await client(kind, `${url}/upload`, 'upload', String(SIXTEEN_MIB), 'up');
      assert.equal(lineValue(lines, 'SHA256'), expected);
      assert.equal(await server.waitForLine('UPLOAD '), `UPLOAD ${SIXTEEN_MIB} ${expected}`);
      assert.deepEqual(parseClose(await server.waitForLine('CLOSE ')), { code: 1000, reason: '' });
    });

    void it('downloads 16 MiB as one fragmented message, hashes equal', async () => {
      const expected = patternSha256(SIXTEEN_MIB, 'down');
      const lines = await client(kind, `${url}/download/${SIXTEEN_MIB}/down`, 'download');
      assert.equal(lineValue(lines, 'DOWNLOAD'), `${SIXTEEN_MIB} ${expected}`);
      assert.equal(await server.waitForLine('SHA256 '), `SHA256 ${expected}`);
      await server.waitForLine('CLOSE ');
    });

    void it('sends an empty message for a 0-byte download', async () => {
      const lines = await client(kind, `${url}/download/0/z`, 'download');
      assert.equal(lineValue(lines, 'DOWNLOAD'), `0 ${patternSha256(0, 'z')}`);
      await server.waitForLine('SHA256 ');
      await server.waitForLine('CLOSE ');
    });

    void it('closes with the code asked for', async () => {
      const run = await runPeer(kind, ['client', `${url}/close/4001`, 'download'], TIMEOUT);
      assert.equal(run.code, 1);
      assert.deepEqual(parseClose(run.lines.at(-1)!), { code: 4001, reason: 'bye' });
      assert.deepEqual(parseClose(await server.waitForLine('CLOSE ')), { code: 4001, reason: 'bye' });
    });

    void it('negotiates a subprotocol, or none', async () => {
      let lines = await client(kind, `${url}/protocol`, 'protocol', '--protocols', 'files.v1,other');
      assert.equal(lineValue(lines, 'PROTOCOL'), 'files.v1');
      lines = await client(kind, `${url}/protocol`, 'download', '--protocols', 'other,chat');
      assert.equal(lineValue(lines, 'DOWNLOAD')?.split(' ')[0], '4'); // the text "chat"
      lines = await client(kind, `${url}/protocol`, 'protocol');
      assert.equal(lineValue(lines, 'PROTOCOL'), 'none');
    });

    void it('refuses an unknown path with HTTP 404', async () => {
      const run = await runPeer(kind, ['client', `${url}/nowhere`, 'protocol'], TIMEOUT);
      assert.equal(run.code, 1);
      assert.equal(lineValue(run.lines, 'STATUS'), '404');
    });
  });
}

void describe('python and ws peers against each other', { timeout: TIMEOUT }, () => {
  const servers = new Map<PeerKind, Peer>();
  before(async () => {
    servers.set('python', await startPeer('python', ['server']));
    servers.set('ws', await startPeer('ws', ['server']));
  });
  after(async () => {
    await Promise.all([...servers.values()].map((peer) => peer.stop()));
  });

  for (const [from, to] of [
    ['python', 'ws'],
    ['ws', 'python'],
  ] as const) {
    void it(`${from} client uploads 16 MiB to the ${to} server`, async () => {
      const server = servers.get(to)!;
      const expected = patternSha256(SIXTEEN_MIB, `${from}-up`);
      const lines = await client(
        from,
        `ws://127.0.0.1:${server.port ?? 0}/upload`,
        'upload',
        String(SIXTEEN_MIB),
        `${from}-up`,
      );
      assert.equal(lineValue(lines, 'SHA256'), expected);
      assert.equal(await server.waitForLine('UPLOAD '), `UPLOAD ${SIXTEEN_MIB} ${expected}`);
      await server.waitForLine('CLOSE ');
    });

    void it(`${from} client downloads 16 MiB from the ${to} server`, async () => {
      const server = servers.get(to)!;
      const expected = patternSha256(SIXTEEN_MIB, `${from}-down`);
      const url = `ws://127.0.0.1:${server.port ?? 0}/download/${SIXTEEN_MIB}/${from}-down`;
      const lines = await client(from, url, 'download');
      assert.equal(lineValue(lines, 'DOWNLOAD'), `${SIXTEEN_MIB} ${expected}`);
      assert.equal(await server.waitForLine('SHA256 '), `SHA256 ${expected}`);
      await server.waitForLine('CLOSE ');
    });

    void it(`${from} client and ${to} server echo through permessage-deflate`, async () => {
      const peer = await startPeer(to, ['server', '--deflate']);
      try {
        const lines = await client(
          from,
          `ws://127.0.0.1:${peer.port ?? 0}/echo`,
          'echo',
          'zip zip zip',
          '--deflate',
        );
        assert.equal(lineValue(lines, 'ECHO'), 'zip zip zip');
      } finally {
        await peer.stop();
      }
    });
  }
});
