// Our WebSocketStream client against servers we did not write: the `ws` package and Debian's Python
// `websockets` (each in its own process, test/interop/peers). Text and bytes echoed, the server's close
// code and reason, a refused path, and — with messageStreams — one 64 MiB message each way, fragmented
// by the peer at random sizes on the way down, SHA-256-checked on both sides.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ReadableStream } from 'node:stream/web';

import { WebErrorStatus, WebSocketStream, WebSocketStreamError } from '../../src/index.js';
import { within } from '../helpers/within.js';
import { patternChunks, patternSha256 } from './peers/pattern.js';
import { lineValue, parseClose, startPeer, type Peer, type PeerKind } from './peers/spawn-peer.js';

const MIB = 1024 ** 2;
const SIZE = 64 * MIB;
const STEP = 10_000;

for (const kind of ['ws', 'python'] as const satisfies readonly PeerKind[]) {
  void describe(`WebSocketStream against the ${kind} server`, { timeout: 180_000 }, () => {
    let server: Peer;
    let base: string;

    before(async () => {
      server = await startPeer(kind, ['server', '--protocols', 'chat,files.v1']);
      base = `ws://127.0.0.1:${String(server.port)}`;
    });
    after(() => server.stop());

    void it('echoes text and bytes, takes the subprotocol, and closes cleanly with a code and a reason', async () => {
      const wss = new WebSocketStream(`${base}/echo`, { protocols: ['files.v1'] });
      const { readable, writable, protocol } = await within(wss.opened, STEP, 'opened');
      assert.equal(protocol, 'files.v1');
      const writer = writable.getWriter();
      const reader = readable.getReader();
      const bytes = Uint8Array.from({ length: 256 }, (_unused, index) => index);
      await writer.write('héllo wörld € 😀');
      await writer.write(bytes);
      assert.deepEqual(await reader.read(), { value: 'héllo wörld € 😀', done: false });
      assert.deepEqual(await reader.read(), { value: bytes, done: false });
      wss.close({ closeCode: 4001, reason: 'done' });
      const closed = await within(wss.closed, STEP, 'closed');
      assert.equal(closed.closeCode, 4001, 'the server echoes the code');
      assert.equal((await reader.read()).done, true);
    });

    void it("resolves closed with the server's close code and reason", async () => {
      const wss = new WebSocketStream(`${base}/close/4123`);
      const { readable } = await within(wss.opened, STEP, 'opened');
      assert.deepEqual(await within(wss.closed, STEP, 'closed'), { closeCode: 4123, reason: 'bye' });
      assert.equal((await readable.getReader().read()).done, true);
      assert.deepEqual(parseClose(await server.waitForLine('CLOSE ')), { code: 4123, reason: '' });
    });

    void it('rejects opened with NotFound when the server refuses the path', async () => {
      const wss = new WebSocketStream(`${base}/nowhere`);
      const error = await within(
        wss.opened.then(
          () => assert.fail('opened'),
          (failure: unknown) => failure,
        ),
        STEP,
        'opened',
      );
      assert.ok(error instanceof WebSocketStreamError);
      assert.equal(error.status, WebErrorStatus.NotFound);
    });

    void it('messageStreams: downloads one 64 MiB message the server fragments at random sizes', async () => {
      const wss = new WebSocketStream(`${base}/download/${String(SIZE)}/7`, { messageStreams: true });
      const reader = (await within(wss.opened, STEP, 'opened')).readable.getReader();
      const next = await within(reader.read(), STEP, 'the message');
      assert.equal(next.done, false);
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const section of next.value.readable) {
        hash.update(section);
        bytes += section.byteLength;
      }
      assert.equal(bytes, SIZE);
      assert.equal(hash.digest('hex'), patternSha256(SIZE, '7'));
      assert.equal(lineValue([await server.waitForLine('SHA256 ')], 'SHA256'), patternSha256(SIZE, '7'));
      wss.close({ closeCode: 1000 });
      await within(wss.closed, STEP, 'closed');
    });

    void it('writes one 64 MiB message from a ReadableStream, fragment by fragment', async () => {
      const wss = new WebSocketStream(`${base}/upload`);
      const { writable } = await within(wss.opened, STEP, 'opened');
      const writer = writable.getWriter();
      await within(writer.write(ReadableStream.from(patternChunks(SIZE, '9'))), 60_000, 'the upload');
      await within(writer.close(), STEP, 'writer.close()');
      assert.equal(await server.waitForLine('UPLOAD '), `UPLOAD ${String(SIZE)} ${patternSha256(SIZE, '9')}`);
      assert.deepEqual(await wss.closed, { closeCode: 1005, reason: '' });
    });
  });
}
