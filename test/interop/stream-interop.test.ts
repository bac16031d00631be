// StreamWebSocket and WebSocketListener against real peers we did not write: the `ws` package and
// Debian's Python `websockets`, each in its own process. One 1 GiB message that the peer fragments at
// random sizes is downloaded by our client and uploaded to our listener, sha256-verified, while this
// process's peak RSS stays far below the message size.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { StreamWebSocket, WebSocketListener, type ServerStreamWebSocket } from '../../src/index.js';
import { patternChunks, patternSha256 } from './peers/pattern.js';
import { lineValue, parseClose, runPeer, startPeer, type Peer, type PeerKind } from './peers/spawn-peer.js';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
/** Generous: a library that assembled the message would need more than 1 GiB. */
const PEAK_RSS_LIMIT = 400 * MIB;
const TRANSFER_TIMEOUT = 240_000;

function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

function rate(bytes: number, started: number): string {
  return `${(bytes / 1e6 / ((performance.now() - started) / 1000)).toFixed(0)} MB/s`;
}

/** Hashes an inputStream until it ends (or until `limit` bytes); rejects if the stream fails. */
async function hashInput(
  socket: { inputStream: AsyncIterable<Buffer> },
  limit = Infinity,
): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const section of socket.inputStream) {
    hash.update(section);
    bytes += section.length;
    if (bytes >= limit) break;
  }
  return { bytes, sha256: hash.digest('hex') };
}

for (const kind of ['ws', 'python'] as const satisfies readonly PeerKind[]) {
  void describe(`against the ${kind} peer`, { timeout: TRANSFER_TIMEOUT * 2 }, () => {
    let server: Peer;
    let base: string;
    const listener = new WebSocketListener({ supportedProtocols: ['files.v1'] });
    const arrivals: ((socket: ServerStreamWebSocket) => void)[] = [];
    listener.on('connectionReceived', ({ socket }) => arrivals.shift()?.(socket));
    const nextServerSocket = (): Promise<ServerStreamWebSocket> =>
      new Promise((resolve) => arrivals.push(resolve));

    before(async () => {
      server = await startPeer(kind, ['server', '--protocols', 'chat,files.v1']);
      base = `ws://127.0.0.1:${String(server.port)}`;
      await listener.bindServiceNameAsync(0, '127.0.0.1');
    });
    after(async () => {
      await server.stop();
      await listener.closeAsync();
    });

    it('our client: echo, subprotocol, and the close code the server chose', async () => {
      const echo = new StreamWebSocket();
      await echo.connectAsync(`${base}/echo`);
      await echo.outputStream.writeAsync(Buffer.from('ping über alles'));
      const got = await echo.inputStream.readAsync(new Uint8Array(64), 64, 1);
      assert.equal(got.toString(), 'ping über alles');
      echo.close(1000, 'thanks');
      assert.equal((await echo.whenClosed()).code, 1000);

      const negotiated = new StreamWebSocket();
      negotiated.control.supportedProtocols.push('x-unknown', 'files.v1');
      await negotiated.connectAsync(`${base}/protocol`);
      assert.equal(negotiated.information.protocol, 'files.v1');
      const announced = await negotiated.inputStream.readAsync(new Uint8Array(64), 64, 1);
      assert.equal(announced.toString(), 'files.v1', 'the peer agrees on the subprotocol');
      negotiated.close(1000);

      const closing = new StreamWebSocket();
      await closing.connectAsync(`${base}/close/4001`);
      assert.deepEqual(await closing.whenClosed(), { code: 4001, reason: 'bye' });
      assert.deepEqual(
        parseClose(await server.waitForLine('CLOSE ')),
        { code: 4001, reason: '' },
        'our echo',
      );
      assert.equal((await hashInput(closing)).bytes, 0, 'a clean close ends the input stream');
    });

    it('our client uploads through outputStream; the peer hashes every message', async () => {
      const size = 64 * MIB;
      const client = new StreamWebSocket();
      await client.connectAsync(`${base}/upload`);
      for (const chunk of patternChunks(size, 'up')) await client.outputStream.writeAsync(chunk);
      client.close(1000, 'uploaded');
      await client.whenClosed();
      assert.equal(
        await server.waitForLine('UPLOAD ', 60_000),
        `UPLOAD ${size} ${patternSha256(size, 'up')}`,
      );
      assert.deepEqual(parseClose(await server.waitForLine('CLOSE ')), { code: 1000, reason: 'uploaded' });
    });

    it('our client downloads ONE 1 GiB message fragmented at random sizes, in bounded memory', async (t) => {
      const client = new StreamWebSocket();
      const started = performance.now();
      await client.connectAsync(`${base}/download/${GIB}/${kind}-down`);
      // The peer keeps the connection open after the message: read exactly its bytes, then close.
      const { bytes, sha256 } = await hashInput(client, GIB);
      t.diagnostic(`${rate(bytes, started)}, peak RSS ${(peakRss() / MIB).toFixed(0)} MiB`);
      client.close(1000, 'got it');
      assert.equal(bytes, GIB);
      assert.equal(await server.waitForLine('SHA256 ', TRANSFER_TIMEOUT), `SHA256 ${sha256}`);
      assert.deepEqual(parseClose(await server.waitForLine('CLOSE ')), { code: 1000, reason: 'got it' });
      assert.equal(sha256, patternSha256(GIB, `${kind}-down`));
      assert.ok(peakRss() < PEAK_RSS_LIMIT, `peak RSS ${(peakRss() / MIB).toFixed(0)} MiB`);
    });

    it('the peer client uploads ONE 1 GiB message to our listener, in bounded memory', async (t) => {
      const started = performance.now();
      const arrived = nextServerSocket();
      const url = `ws://127.0.0.1:${String(listener.information.localPort)}/in`;
      const upload = runPeer(kind, ['client', url, 'upload', String(GIB), `${kind}-up`], TRANSFER_TIMEOUT);
      const socket = await arrived;
      const closed = socket.whenClosed();
      const { bytes, sha256 } = await hashInput(socket);
      t.diagnostic(`${rate(bytes, started)}, peak RSS ${(peakRss() / MIB).toFixed(0)} MiB`);
      const run = await upload;
      assert.equal(run.code, 0, run.stderr);
      assert.equal(bytes, GIB);
      assert.equal(lineValue(run.lines, 'SHA256'), sha256);
      assert.equal(sha256, patternSha256(GIB, `${kind}-up`));
      assert.equal((await closed).code, 1000);
      assert.ok(peakRss() < PEAK_RSS_LIMIT, `peak RSS ${(peakRss() / MIB).toFixed(0)} MiB`);
    });
  });
}
