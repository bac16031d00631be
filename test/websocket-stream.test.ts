// Issue 18: WebSocketStream, the WHATWG shape, client and server. The shared scenario (the same body and
// assertions Chromium's native WebSocketStream passes in test/interop/websocket-stream-browser.test.ts),
// then what it leaves out: every way of failing to open or closing uncleanly, close()'s argument rules,
// the Node options, per-message streams, the write contract, and Node stream interop.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ReadableStream } from 'node:stream/web';
import { test } from 'node:test';

import {
  ChainValidationResult,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
  WebSocketStream,
  WebSocketStreamError,
  type ServerWebSocketStream,
  type WebSocketListenerOptions,
  type WebSocketMessageStream,
} from '../src/index.js';
import { Arrivals, MiB } from './helpers/peers.js';
import { createTestPki, pemChain } from './helpers/pki.js';
import { closeFrame, rawWebSocketServer, serverFrame, type Cleanup } from './helpers/raw-server.js';
import { assertScenarioReport } from './helpers/webstream-assertions.js';
import { webSocketStreamScenario } from './helpers/webstream-scenario.js';
import { scenarioServer } from './helpers/webstream-server.js';
import { within } from './helpers/within.js';

const STEP = 10_000;

test('our WebSocketStream against our listener in webstream mode: the scenario Chromium passes too', async (t) => {
  const server = await scenarioServer(t);
  const settings = { base: server.base, text: 'héllo wörld € 😀' };
  const report = await within(
    webSocketStreamScenario(WebSocketStream, WebSocketStreamError, settings, server.hooks),
    60_000,
    'the scenario',
  );
  assertScenarioReport(report, settings, 'ours');
});

interface Pair<Streams extends boolean> {
  client: WebSocketStream<Streams>;
  server: ServerWebSocketStream;
  request: { url: string | undefined; headers: Record<string, string | string[] | undefined> };
}

/** Our listener ('webstream' mode) and a WebSocketStream client connected to it. */
async function pair<Streams extends boolean = false>(
  t: Cleanup,
  clientOptions: ConstructorParameters<typeof WebSocketStream<Streams>>[1] = {},
  listenerOptions: Omit<WebSocketListenerOptions<'webstream'>, 'mode'> = {},
): Promise<Pair<Streams>> {
  const listener = new WebSocketListener({ ...listenerOptions, mode: 'webstream' });
  const arrivals = new Arrivals<Pair<Streams>['server']>();
  let request: Pair<Streams>['request'] = { url: undefined, headers: {} };
  listener.on('connectionReceived', ({ socket, request: upgrade }) => {
    request = { url: upgrade.url, headers: upgrade.headers };
    arrivals.push(socket);
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(() => within(listener.closeAsync(), 15_000, 'listener.closeAsync()'));
  const client = new WebSocketStream<Streams>(
    `ws://127.0.0.1:${String(listener.information.localPort)}/path?q=1`,
    clientOptions,
  );
  t.after(() => {
    client.close();
  });
  await within(client.opened, STEP, 'opened');
  return { client, server: await arrivals.next(), request };
}

/** What a promise rejected with (fails if it resolved). */
async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  return within(
    promise.then(
      () => assert.fail(`${what} resolved`),
      (error: unknown) => error,
    ),
    STEP,
    what,
  );
}

function asStreamError(error: unknown): WebSocketStreamError {
  assert.ok(error instanceof WebSocketStreamError, `a WebSocketStreamError, not ${String(error)}`);
  return error;
}

// ---- opening -------------------------------------------------------------------------------------------

test('a refused connection rejects opened (no close code) and closed (1006), with status CannotConnect', async () => {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const wss = new WebSocketStream(`ws://127.0.0.1:${String(port)}/`);
  const opened = asStreamError(await rejection(wss.opened, 'opened'));
  const closed = asStreamError(await rejection(wss.closed, 'closed'));
  assert.equal(opened.name, 'WebSocketError');
  assert.equal(opened.closeCode, null);
  assert.equal(closed.closeCode, 1006);
  assert.equal(opened.status, WebErrorStatus.CannotConnect);
  assert.equal(WebSocketError.getStatus(closed), WebErrorStatus.CannotConnect, 'getStatus reads it through');
  assert.ok(opened.cause instanceof WebSocketError);
});

test('an upgrade answered 404 rejects with status NotFound', async (t) => {
  const http = createServer();
  const listener = new WebSocketListener({ mode: 'webstream' });
  listener.on('connectionReceived', () => assert.fail('no connection is expected'));
  listener.attach(http, '/ws');
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(() => new Promise((resolve) => http.close(resolve)));
  const { port } = http.address() as AddressInfo;
  const wss = new WebSocketStream(`ws://127.0.0.1:${String(port)}/elsewhere`);
  assert.equal(asStreamError(await rejection(wss.opened, 'opened')).status, WebErrorStatus.NotFound);
  assert.equal(asStreamError(await rejection(wss.closed, 'closed')).status, WebErrorStatus.NotFound);
});

test('wss: an untrusted certificate fails the connect; the ca option (a Node addition) trusts it', async (t) => {
  const pki = await createTestPki();
  const tls = { key: pki.leaf.key, cert: pemChain(pki.leaf.cert, pki.intermediate.cert) };
  const listener = new WebSocketListener({ mode: 'webstream', tls });
  listener.on('connectionReceived', ({ socket }) => {
    void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => undefined);
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(() => within(listener.closeAsync(), 15_000, 'listener.closeAsync()'));
  const url = `wss://127.0.0.1:${String(listener.information.localPort)}/`;

  const untrusted = new WebSocketStream(url);
  assert.equal(
    asStreamError(await rejection(untrusted.opened, 'opened')).status,
    WebErrorStatus.CertificateIsInvalid,
  );

  const ignoring = new WebSocketStream(url, {
    ignorableServerCertificateErrors: [ChainValidationResult.Untrusted],
  });
  await within(ignoring.opened, STEP, 'opened, ignoring Untrusted');
  assert.deepEqual(ignoring.information.serverCertificateErrors, [ChainValidationResult.Untrusted]);
  ignoring.close();

  const trusting = new WebSocketStream(url, { ca: [pki.root.cert] });
  const { readable, writable } = await within(trusting.opened, STEP, 'opened with the ca option');
  await writable.getWriter().write('over TLS');
  assert.deepEqual(await readable.getReader().read(), { value: 'over TLS', done: false });
  trusting.close({ closeCode: 1000 });
  assert.deepEqual(await within(trusting.closed, STEP, 'closed'), { closeCode: 1000, reason: '' });
});

test('close() during the handshake abandons it: opened and closed reject, status OperationCanceled', async (t) => {
  const held = new Arrivals<true>();
  const { url } = await holdingListener(t, held);
  const wss = new WebSocketStream(url);
  await held.next();
  wss.close({ closeCode: 4000, reason: 'never mind' });
  const opened = asStreamError(await rejection(wss.opened, 'opened'));
  assert.equal(opened.closeCode, null);
  assert.equal(opened.status, WebErrorStatus.OperationCanceled);
  assert.equal(asStreamError(await rejection(wss.closed, 'closed')).closeCode, 1006);
});

test('an AbortSignal aborted before or during the handshake rejects both promises with its reason', async (t) => {
  const already = AbortSignal.abort(new Error('before'));
  const early = new WebSocketStream('ws://127.0.0.1:9/', { signal: already });
  assert.equal(await rejection(early.opened, 'opened'), already.reason);
  assert.equal(await rejection(early.closed, 'closed'), already.reason);

  const held = new Arrivals<true>();
  const { url } = await holdingListener(t, held);
  const controller = new AbortController();
  const during = new WebSocketStream(url, { signal: controller.signal });
  await held.next();
  controller.abort();
  const reason: unknown = controller.signal.reason;
  assert.ok(reason instanceof DOMException && reason.name === 'AbortError');
  assert.equal(await rejection(during.opened, 'opened'), reason);
  assert.equal(await rejection(during.closed, 'closed'), reason);
});

/** A listener whose `authenticate` keeps every upgrade waiting until its client goes away. */
async function holdingListener(t: Cleanup, held: Arrivals<true>): Promise<{ url: string }> {
  const listener = new WebSocketListener({
    mode: 'webstream',
    authenticate: (request) =>
      new Promise<boolean>((resolve) => {
        held.push(true);
        request.socket.once('close', () => {
          resolve(false);
        });
      }),
  });
  listener.on('connectionReceived', () => assert.fail('no connection is expected'));
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(() => within(listener.closeAsync(), 15_000, 'listener.closeAsync()'));
  return { url: `ws://127.0.0.1:${String(listener.information.localPort)}/` };
}

test('the constructor checks its arguments as the explainer does, before any I/O', () => {
  const syntaxError = (make: () => unknown): void => {
    assert.throws(make, (error: unknown) => error instanceof DOMException && error.name === 'SyntaxError');
  };
  syntaxError(() => new WebSocketStream('ftp://127.0.0.1/'));
  syntaxError(() => new WebSocketStream('/relative'));
  syntaxError(() => new WebSocketStream('ws://127.0.0.1/#fragment'));
  syntaxError(() => new WebSocketStream('ws://127.0.0.1/', { protocols: ['chat', 'chat'] }));
  syntaxError(() => new WebSocketStream('ws://127.0.0.1/', { protocols: ['not a token'] }));
  assert.throws(() => new WebSocketStream('ws://127.0.0.1/', { headers: { 'Bad Name': 'x' } }), TypeError);
  assert.throws(
    () => new WebSocketStream('ws://127.0.0.1/', { connectTimeout: -1 }),
    (error: unknown) => error instanceof WebSocketError,
  );
  const http = new WebSocketStream('http://127.0.0.1:9/chat', { signal: AbortSignal.abort() });
  assert.equal(http.url, 'ws://127.0.0.1:9/chat', 'http: stands for ws:');
});

test('headers and subprotocols from the options reach the server; protocol and extensions come with opened', async (t) => {
  const { client, request } = await pair(
    t,
    { protocols: ['v2', 'v1'], headers: [['X-Token', 'abc']] },
    { supportedProtocols: ['v1', 'v2'] },
  );
  const { protocol, extensions } = await client.opened;
  assert.equal(protocol, 'v2');
  assert.equal(extensions, '');
  assert.equal(request.headers['x-token'], 'abc');
  assert.equal(request.url, '/path?q=1');
});

// ---- closing -------------------------------------------------------------------------------------------

test('close() rules: TypeError for a non-dictionary or a code out of range, a reason alone means 1000', async (t) => {
  const { client, server } = await pair(t);
  assert.throws(() => {
    client.close(true as never);
  }, TypeError);
  assert.throws(() => {
    client.close({ closeCode: 70_000 });
  }, TypeError);
  assert.throws(() => {
    client.close({ closeCode: Number.NaN });
  }, TypeError);
  client.close({ reason: 'bye' });
  assert.deepEqual(await within(server.closed, STEP, 'server closed'), { closeCode: 1000, reason: 'bye' });
});

test('WebSocketStreamError: the explainer constructor rules, and abort() with one closes with its code', async (t) => {
  assert.throws(
    () => new WebSocketStreamError('x', { closeCode: 1001 }),
    (error: unknown) => error instanceof DOMException && error.name === 'InvalidAccessError',
  );
  assert.throws(
    () => new WebSocketStreamError('x', { reason: '€'.repeat(42) }),
    (error: unknown) => error instanceof DOMException && error.name === 'SyntaxError',
  );
  const made = new WebSocketStreamError('x', { reason: 'why' });
  assert.deepEqual([made.closeCode, made.reason, made.status], [1000, 'why', WebErrorStatus.Unknown]);

  const { client, server } = await pair(t);
  const { writable } = await client.opened;
  await writable.abort(new WebSocketStreamError('stop', { closeCode: 4321, reason: 'aborted' }));
  assert.deepEqual(await within(server.closed, STEP, 'server closed'), {
    closeCode: 4321,
    reason: 'aborted',
  });
});

test("the peer's close ends the readable after every message before it, and is echoed even if close() comes later", async (t) => {
  const { client, server } = await pair(t);
  const writer = (await server.opened).writable.getWriter();
  await writer.write('one');
  await writer.write('two');
  server.close({ closeCode: 4005, reason: 'server done' });
  const { readable } = await client.opened;
  const reader = readable.getReader();
  // The close frame has arrived by the time the client's closed settles.
  assert.deepEqual(await within(client.closed, STEP, 'client closed'), {
    closeCode: 4005,
    reason: 'server done',
  });
  client.close({ closeCode: 4999 });
  assert.deepEqual(await reader.read(), { value: 'one', done: false });
  assert.deepEqual(await reader.read(), { value: 'two', done: false });
  assert.equal((await reader.read()).done, true);
  assert.deepEqual(await within(server.closed, STEP, 'server closed'), { closeCode: 4005, reason: '' });
});

test("the writer's close() closes without a code and settles once the closing handshake is over", async (t) => {
  const { client, server } = await pair(t);
  const { writable } = await client.opened;
  await within(writable.getWriter().close(), STEP, 'writer.close()');
  assert.deepEqual(await server.closed, { closeCode: 1005, reason: '' });
  assert.deepEqual(await client.closed, { closeCode: 1005, reason: '' });
});

/**
 * A raw server that sends `bytes` after the handshake and then, unless told to wait, drops the TCP
 * connection without a close frame. Returns our client.
 */
async function rawPeer(
  t: Cleanup,
  bytes: Buffer,
  then: 'drop' | 'wait',
  options: { messageStreams?: boolean } = {},
): Promise<WebSocketStream<boolean>> {
  const raw = await rawWebSocketServer(t, (connection) => {
    connection.send(bytes);
    if (then === 'drop') connection.socket.destroy();
  });
  const client = new WebSocketStream<boolean>(raw.url, options);
  await within(client.opened, STEP, 'opened');
  return client;
}

test('a connection lost in the middle of a message errors the readable (never a clean end), rejects closed with 1006', async (t) => {
  const half = serverFrame(0x2, Buffer.alloc(MiB)).subarray(0, MiB / 2);
  const client = await rawPeer(t, Buffer.concat([serverFrame(0x1, Buffer.from('complete')), half]), 'drop');
  const { readable, writable } = await client.opened;
  const reader = readable.getReader();
  assert.deepEqual(await reader.read(), { value: 'complete', done: false });
  const readError = asStreamError(await rejection(reader.read(), 'the read of the cut message'));
  const closed = asStreamError(await rejection(client.closed, 'closed'));
  assert.equal(readError, closed, 'one error for the streams and closed');
  assert.equal(closed.closeCode, 1006);
  assert.ok(
    [WebErrorStatus.ConnectionAborted, WebErrorStatus.ConnectionReset].includes(closed.status as 9 | 10),
    `status ${String(closed.status)}`,
  );
  assert.equal(await rejection(writable.getWriter().write('late'), 'write'), closed);
});

test('with messageStreams, a message cut short errors its own readable and then the outer one', async (t) => {
  const half = serverFrame(0x2, Buffer.alloc(MiB)).subarray(0, MiB / 2);
  const client = await rawPeer(t, half, 'drop', { messageStreams: true });
  const reader = (await client.opened).readable.getReader();
  const next = await reader.read();
  assert.equal(next.done, false);
  const message = next.value as WebSocketMessageStream;
  let received = 0;
  const cut = await rejection(
    (async () => {
      for await (const section of message.readable) received += section.byteLength;
    })(),
    'reading the cut message',
  );
  assert.ok(received < MiB, `${received} bytes`);
  assert.equal(asStreamError(cut).closeCode, 1006);
  assert.equal(await rejection(reader.read(), 'the next message'), cut);
});

test('a protocol violation by the peer fails the connection: 1002 in the error, readable errored', async (t) => {
  // RSV1 set without an extension that defines it.
  const client = await rawPeer(t, Buffer.from([0xc1, 0x01, 0x61]), 'wait');
  const { readable } = await client.opened;
  const error = asStreamError(await rejection(readable.getReader().read(), 'read'));
  assert.equal(error.closeCode, 1002);
  assert.equal(await rejection(client.closed, 'closed'), error);
});

test("a close frame in the middle of a message: the message's read fails, closed rejects", async (t) => {
  const start = serverFrame(0x2, Buffer.alloc(100), false);
  const client = await rawPeer(t, Buffer.concat([start, closeFrame(1000, 'cut')]), 'wait');
  const { readable } = await client.opened;
  const error = asStreamError(await rejection(readable.getReader().read(), 'read'));
  assert.equal(await rejection(client.closed, 'closed'), error);
});

test('maxMessageSize (a Node addition) bounds whole messages: 1009 beyond it, the readable errors', async (t) => {
  const { client, server } = await pair(t, { maxMessageSize: 1024 });
  await (await server.opened).writable.getWriter().write(new Uint8Array(1025));
  const { readable } = await client.opened;
  const error = asStreamError(await rejection(readable.getReader().read(), 'read'));
  assert.equal(error.closeCode, 1009);
});

// ---- data ----------------------------------------------------------------------------------------------

test('a write resolves once the data is taken: the buffer may be refilled at once (Core v2 write contract)', async (t) => {
  const { client, server } = await pair(t);
  const reader = (await server.opened).readable.getReader();
  const reading = (async () => {
    const firstBytes: number[] = [];
    for (let count = 0; count < 2; count++) {
      const { value } = await reader.read();
      assert.ok(value instanceof Uint8Array && value.length === 4 * MiB);
      assert.ok(
        value.every((byte) => byte === value[0]),
        'one fill per message',
      );
      firstBytes.push(value[0]!);
    }
    return firstBytes;
  })();
  const writer = (await client.opened).writable.getWriter();
  const buffer = new Uint8Array(4 * MiB).fill(1);
  await writer.write(buffer);
  buffer.fill(2);
  await writer.write(buffer);
  buffer.fill(3);
  assert.deepEqual(await within(reading, STEP, 'the server reading'), [1, 2]);
});

/** A ReadableStream of `size` pseudo-random bytes in chunks of up to 64 KiB, hashed as it is read. */
function generated(
  size: number,
  hash = createHash('sha256'),
): { stream: ReadableStream<Uint8Array>; digest: () => string } {
  const chunk = new Uint8Array(64 * 1024);
  let produced = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull: (controller) => {
        if (produced === size) {
          controller.close();
          return;
        }
        const length = Math.min(chunk.length, size - produced);
        for (let index = 0; index < length; index += 4096) chunk[index] = (produced + index) % 251;
        const piece = chunk.slice(0, length);
        hash.update(piece);
        produced += length;
        controller.enqueue(piece);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, digest: () => hash.digest('hex') };
}

async function digestOf(message: WebSocketMessageStream): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const section of message.readable) {
    hash.update(section);
    bytes += section.byteLength;
  }
  return { bytes, sha256: hash.digest('hex') };
}

test('messageStreams: a 64 MiB message streams each way as ONE message, checked by SHA-256', async (t) => {
  const { client, server } = await pair(t, { messageStreams: true }, { messageStreams: true });
  const size = 64 * MiB;
  const up = generated(size);
  const clientWriter = (await client.opened).writable.getWriter();
  const serverReader = (await server.opened).readable.getReader();
  const [, received] = await Promise.all([
    clientWriter.write(up.stream),
    serverReader.read().then(({ value }) => digestOf(value as WebSocketMessageStream)),
  ]);
  assert.deepEqual(received, { bytes: size, sha256: up.digest() });

  const down = generated(size);
  const serverWriter = (await server.opened).writable.getWriter();
  const clientReader = (await client.opened).readable.getReader();
  const [, got] = await Promise.all([
    serverWriter.write({ type: 'binary', readable: down.stream }),
    clientReader.read().then(({ value }) => {
      assert.equal(value?.type, 'binary');
      return digestOf(value);
    }),
  ]);
  assert.deepEqual(got, { bytes: size, sha256: down.digest() });
});

async function textOf(message: WebSocketMessageStream): Promise<string> {
  const sections: Uint8Array[] = [];
  for await (const section of message.readable) sections.push(section);
  return Buffer.concat(sections).toString('utf8');
}

test('messageStreams: a text message of strings, and moving on before the end of a message skips its rest', async (t) => {
  const { client, server } = await pair(t, { messageStreams: true });
  const writer = (await server.opened).writable.getWriter();
  const parts = ReadableStream.from<string>(['né', 'e ', '€']);
  await writer.write({ type: 'text', readable: parts });
  await writer.write(new Uint8Array(3 * MiB));
  await writer.write('after');
  const reader = (await client.opened).readable.getReader();
  const text = (await reader.read()).value!;
  assert.equal(text.type, 'text');
  assert.equal(await textOf(text), 'née €');
  const big = (await reader.read()).value!;
  const bigReader = big.readable.getReader();
  assert.equal((await bigReader.read()).done, false);
  const after = (await reader.read()).value!;
  const skipped = await rejection(bigReader.read(), 'reading the skipped message');
  assert.ok(skipped instanceof DOMException && skipped.name === 'AbortError', String(skipped));
  assert.equal(await textOf(after), 'after');
});

test('a source stream that fails mid-message: its error rejects the write, the peer gets 1011, never a short message', async (t) => {
  const { client, server } = await pair(t, {}, { messageStreams: true });
  let sent = false;
  const failing = new ReadableStream<Uint8Array>({
    pull: (controller) => {
      if (sent) {
        controller.error(new Error('disk on fire'));
        return;
      }
      sent = true;
      controller.enqueue(new Uint8Array(1000));
    },
  });
  const serverReader = (await server.opened).readable.getReader();
  const writeError = await rejection((await client.opened).writable.getWriter().write(failing), 'write');
  assert.equal((writeError as Error).message, 'disk on fire');
  const message = (await serverReader.read()).value as WebSocketMessageStream;
  await rejection(digestOf(message), 'the cut message on the server');
  assert.equal(
    (
      (await within(
        server.closed.catch((error: unknown) => error),
        STEP,
        'server closed',
      )) as { closeCode: number }
    ).closeCode,
    1011,
  );
});

test('close() while a message streams from a source that stalls: the write rejects and the source is cancelled', async (t) => {
  const { client, server } = await pair(t, {}, { messageStreams: true });
  let cancelledWith: unknown;
  const stalling = new ReadableStream<Uint8Array>({
    start: (controller) => {
      controller.enqueue(new Uint8Array(10));
    },
    cancel: (reason) => {
      cancelledWith = reason;
    },
  });
  const writing = (await client.opened).writable.getWriter().write(stalling);
  const started = await within((await server.opened).readable.getReader().read(), STEP, 'the message begins');
  assert.equal(started.done, false);
  client.close({ closeCode: 1000 });
  const error = await rejection(writing, 'the write of the stalled message');
  assert.ok(error instanceof DOMException, 'a DOMException');
  assert.equal(error.name, 'InvalidStateError');
  assert.equal(cancelledWith, error, 'the source is cancelled with the same error');
  assert.deepEqual(await client.closed, { closeCode: 1000, reason: '' });
  // The server saw a message begin and never end: never a short message that looks complete.
  asStreamError(await rejection(server.closed, 'server closed'));
});

test('Node stream interop: Readable.fromWeb over the readable, Writable.fromWeb over the writable, Readable.toWeb as one message', async (t) => {
  const { client, server } = await pair(t);
  const { readable: serverReadable, writable: serverWritable } = await server.opened;
  void serverReadable.pipeTo(serverWritable).catch(() => undefined);
  const { readable, writable } = await client.opened;

  const received = Readable.fromWeb(readable, { objectMode: true });
  const sink = Writable.fromWeb(writable, { objectMode: true });
  await pipeline(Readable.from(['text', Buffer.from('bytes')]), sink, { end: false });
  const file = Readable.toWeb(Readable.from([Buffer.from('one '), Buffer.from('message')]));
  await new Promise<void>((resolve, reject) => {
    sink.write(file, (error) => {
      if (error === undefined || error === null) resolve();
      else reject(error);
    });
  });
  const messages: unknown[] = [];
  for await (const message of received as AsyncIterable<string | Uint8Array>) {
    messages.push(typeof message === 'string' ? message : Buffer.from(message).toString());
    if (messages.length === 3) break;
  }
  assert.deepEqual(messages, ['text', 'bytes', 'one message']);
});
