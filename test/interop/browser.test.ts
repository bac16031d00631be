// A real browser as the peer: Debian's Chromium, driven by playwright-core, loads a page from a node:http
// server on 127.0.0.1 that also carries a WebSocketListener in 'message' mode (attach(server, '/ws')).
// The page's own `new WebSocket()` exchanges non-ASCII text, every byte value, 16 MiB binary messages
// and close codes with reasons with our ServerMessageWebSocket, in both directions. Checksums of the big
// messages are computed in the page (crypto.subtle SHA-256) and here. A second listener, with
// permessage-deflate (attach(server, '/deflate')), takes the compression Chromium offers by default.
//
// Chromium must be at /usr/bin/chromium (scripts/install-peers.sh installs it): without it this test
// fails, it never skips. Nothing is downloaded: playwright-core only drives the installed browser.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

import {
  SocketMessageType,
  WebSocketListener,
  type WebSocketIncomingMessage,
  type ServerMessageWebSocket,
} from '../../src/index.js';
import { patternChunks, patternSha256 } from './peers/pattern.js';
import { within } from '../helpers/within.js';

const CHROMIUM = '/usr/bin/chromium';
// Compiled to build/test/interop/: the page stays in the source tree.
const PAGE = fileURLToPath(new URL('../../../test/interop/browser/page.html', import.meta.url));
const MIB = 1024 ** 2;
const BIG = 16 * MIB;
const STEP_TIMEOUT = 10_000;
const BIG_TIMEOUT = 30_000;
const TEXT_TO_SERVER = 'héllo wörld € 😀';
const TEXT_TO_BROWSER = 'sérveur → navigateur: ñ 中文 🎉';
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** What the page's peer.next() returns (see page.html). */
type PageMessage =
  | { type: 'text'; text: string }
  | { type: 'binary'; length: number; sha256: string; sum: number; bytes: number[] | null };

/** What the page's close event reported. */
interface PageClose {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** Reads one whole message from a messages() iterator. */
async function nextMessage(
  messages: AsyncIterator<WebSocketIncomingMessage>,
  ms = STEP_TIMEOUT,
): Promise<{ type: SocketMessageType; data: Buffer }> {
  const read = async (): Promise<{ type: SocketMessageType; data: Buffer }> => {
    const next = await messages.next();
    if (next.done === true) throw new Error('the connection closed before a message came');
    const sections: Buffer[] = [];
    for await (const section of next.value) sections.push(section);
    return { type: next.value.messageType, data: Buffer.concat(sections) };
  };
  return within(read(), ms, 'a message from the browser');
}

/** Hashes one message from a messages() iterator, section by section. */
async function hashMessage(
  messages: AsyncIterator<WebSocketIncomingMessage>,
  ms: number,
): Promise<{ type: SocketMessageType; bytes: number; sha256: string }> {
  const read = async (): Promise<{ type: SocketMessageType; bytes: number; sha256: string }> => {
    const next = await messages.next();
    if (next.done === true) throw new Error('the connection closed before a message came');
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const section of next.value) {
      hash.update(section);
      bytes += section.length;
    }
    return { type: next.value.messageType, bytes, sha256: hash.digest('hex') };
  };
  return within(read(), ms, 'a big message from the browser');
}

void describe('a real browser (Chromium) against our listener in message mode', { timeout: 180_000 }, () => {
  let server: Server | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let url: string;
  const listener = new WebSocketListener({ mode: 'message' });
  const compressing = new WebSocketListener({ mode: 'message', perMessageDeflate: { threshold: 0 } });
  const arrivals: ((socket: ServerMessageWebSocket) => void)[] = [];
  for (const each of [listener, compressing]) {
    each.on('connectionReceived', ({ socket }) => {
      const take = arrivals.shift();
      if (take === undefined) socket.close(4000, 'nobody expected this connection');
      else take(socket);
    });
  }

  /** Calls window.peer[method](...args) in the page and returns its result. */
  async function call<T>(method: string, ...args: (string | number | number[])[]): Promise<T> {
    const result: unknown = await page.evaluate(
      ([name, params]) => {
        const peer = (globalThis as unknown as { peer: Record<string, (...a: unknown[]) => unknown> }).peer;
        return peer[name]!(...params);
      },
      [method, args] as const,
    );
    return result as T;
  }

  /** Opens a WebSocket from the page (to `path`); resolves with its id and our side of it. */
  async function open(path = 'ws'): Promise<{ id: number; socket: ServerMessageWebSocket }> {
    const arrived = new Promise<ServerMessageWebSocket>((resolve) => arrivals.push(resolve));
    const id = await call<number>('connect', `${url.replace(/^http/, 'ws')}${path}`, STEP_TIMEOUT);
    return { id, socket: await within(arrived, STEP_TIMEOUT, 'our side of the connection') };
  }

  before(async () => {
    // Loud, never a skip: the browser is part of the test environment.
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: install Debian's chromium (scripts/install-peers.sh); this test does not skip`,
    );
    const html = readFileSync(PAGE);
    const http = createServer((request, response) => {
      if (request.method === 'GET' && (request.url === '/' || request.url === '/page.html')) {
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        response.end(html);
      } else {
        response.writeHead(404, { 'Content-Type': 'text/plain' });
        response.end('not found\n');
      }
    });
    server = http;
    listener.attach(http, '/ws');
    compressing.attach(http, '/deflate');
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, '127.0.0.1', resolve);
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;

    // launch() gives the browser a fresh temporary profile of its own and removes it at close().
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        '--disable-dev-shm-usage',
      ],
      timeout: 30_000,
    });
    context = await browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(BIG_TIMEOUT);
    const response = await page.goto(url, { timeout: STEP_TIMEOUT });
    assert.equal(response?.status(), 200);
    assert.equal(
      await page.evaluate(() => typeof (globalThis as unknown as { peer?: object }).peer),
      'object',
    );
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
    await listener.closeAsync();
    await compressing.closeAsync();
    const http = server;
    if (http !== undefined) {
      http.closeAllConnections();
      await new Promise<void>((resolve) => {
        http.close(() => {
          resolve();
        });
      });
    }
  });

  void it('exchanges non-ASCII text and every byte value, both ways', async () => {
    const { id, socket } = await open();
    const messages = socket.messages();

    await call('sendText', id, TEXT_TO_SERVER);
    const text = await nextMessage(messages);
    assert.equal(text.type, SocketMessageType.Utf8);
    assert.equal(text.data.toString('utf8'), TEXT_TO_SERVER);

    socket.control.messageType = SocketMessageType.Utf8;
    await socket.outputStream.writeAsync(Buffer.from(TEXT_TO_BROWSER, 'utf8'));
    assert.deepEqual(await call<PageMessage>('next', id, STEP_TIMEOUT), {
      type: 'text',
      text: TEXT_TO_BROWSER,
    });

    await call('sendBytes', id, [...ALL_BYTES]);
    const binary = await nextMessage(messages);
    assert.equal(binary.type, SocketMessageType.Binary);
    assert.deepEqual(binary.data, ALL_BYTES);

    const reversed = Buffer.from(ALL_BYTES).reverse();
    socket.control.messageType = SocketMessageType.Binary;
    await socket.outputStream.writeAsync(reversed);
    const got = await call<PageMessage>('next', id, STEP_TIMEOUT);
    assert.equal(got.type, 'binary');
    assert.deepEqual(got.bytes, [...reversed]);

    // A text message sent in fragments that cut characters: the browser must join them.
    socket.control.messageType = SocketMessageType.Utf8;
    const split = Buffer.from(TEXT_TO_SERVER.repeat(3), 'utf8');
    for (let offset = 0; offset < split.length; offset += 3) {
      const frame = split.subarray(offset, offset + 3);
      if (offset + 3 >= split.length) await socket.sendFinalFrameAsync(frame);
      else await socket.sendNonfinalFrameAsync(frame);
    }
    assert.deepEqual(await call<PageMessage>('next', id, STEP_TIMEOUT), {
      type: 'text',
      text: TEXT_TO_SERVER.repeat(3),
    });

    const closed = socket.whenClosed();
    await call<PageClose>('close', id, 1000, 'done', STEP_TIMEOUT);
    assert.deepEqual(await within(closed, STEP_TIMEOUT, 'closed'), { code: 1000, reason: 'done' });
  });

  void it('moves a 16 MiB binary message each way, checksummed on both sides', async (t) => {
    const { id, socket } = await open();
    const messages = socket.messages();

    // Server → browser: ONE message of 16 fragments through openMessage(), with backpressure.
    let started = performance.now();
    const seed = 'browser-down';
    const [, down] = await Promise.all([
      within(
        pipeline(patternChunks(BIG, seed), socket.openMessage(SocketMessageType.Binary)),
        BIG_TIMEOUT,
        'sending 16 MiB',
      ),
      call<PageMessage>('next', id, BIG_TIMEOUT),
    ]);
    t.diagnostic(`server → browser: ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(down.type, 'binary');
    assert.equal(down.length, BIG);
    assert.equal(down.sha256, patternSha256(BIG, seed));
    let sum = 0;
    for (const chunk of patternChunks(BIG, seed)) for (const byte of chunk) sum = (sum + byte) % 2 ** 32;
    assert.equal(down.sum, sum, 'sum of the bytes, computed in the page');

    // Browser → server: 16 MiB of the page's random bytes, hashed in the page and here.
    started = performance.now();
    const [pageSha256, up] = await Promise.all([
      call<string>('sendRandom', id, BIG, BIG_TIMEOUT),
      hashMessage(messages, BIG_TIMEOUT),
    ]);
    t.diagnostic(`browser → server: ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(up.type, SocketMessageType.Binary);
    assert.equal(up.bytes, BIG);
    assert.equal(up.sha256, pageSha256);

    const closed = socket.whenClosed();
    await call<PageClose>('close', id, 1000, '', STEP_TIMEOUT);
    assert.equal((await within(closed, STEP_TIMEOUT, 'closed')).code, 1000);
  });

  void it("the browser closes with 4001 'browser bye': our closed event has both", async () => {
    const { id, socket } = await open();
    const closedEvent = new Promise<{ code: number; reason: string }>((resolve) => {
      socket.once('closed', resolve);
    });
    const pageClose = await call<PageClose>('close', id, 4001, 'browser bye', STEP_TIMEOUT);
    assert.deepEqual(await within(closedEvent, STEP_TIMEOUT, 'closed'), {
      code: 4001,
      reason: 'browser bye',
    });
    // Our close frame echoes the code (RFC 6455 §5.5.1), and the close was clean.
    assert.equal(pageClose.code, 4001);
    assert.equal(pageClose.wasClean, true);
  });

  void it("our server closes with 4002 'server bye': the page's close event has both", async () => {
    const { id, socket } = await open();
    const closed = socket.whenClosed();
    socket.close(4002, 'server bye');
    assert.deepEqual(await call<PageClose>('closed', id, STEP_TIMEOUT), {
      code: 4002,
      reason: 'server bye',
      wasClean: true,
    });
    // Chromium answers with the code it received.
    assert.equal((await within(closed, STEP_TIMEOUT, 'closed')).code, 4002);
  });

  void it('takes the permessage-deflate Chromium offers, and exchanges text and binary of 0 B, 1 B, 64 KiB and 16 MiB, compressible and random, each way', async (t) => {
    const { id, socket } = await open('deflate');
    assert.equal(socket.information.extensions, 'permessage-deflate');
    assert.equal(await call<string>('extensions', id), 'permessage-deflate');
    const messages = socket.messages();
    const bytesOnWire = { sent: 0, received: 0, payload: 0 };
    for (const size of [0, 1, 64 * 1024, BIG]) {
      for (const type of ['text', 'binary'] as const) {
        for (const kind of ['compressible', 'random'] as const) {
          const what = `${type} ${size} B ${kind}`;
          const messageType = type === 'text' ? SocketMessageType.Utf8 : SocketMessageType.Binary;
          const before = {
            sent: socket.information.bytesSent,
            received: socket.information.bytesReceived,
          };
          const [pageSha256, up] = await Promise.all([
            call<string>('sendGenerated', id, type, kind, size, BIG_TIMEOUT),
            hashMessage(messages, BIG_TIMEOUT),
          ]);
          assert.deepEqual(
            up,
            { type: messageType, bytes: size, sha256: pageSha256 },
            `browser → server: ${what}`,
          );

          const data = generated(type, kind, size);
          socket.control.messageType = messageType;
          const [, down] = await Promise.all([
            within(socket.outputStream.writeAsync(data), BIG_TIMEOUT, `sending ${what}`),
            call<PageMessage>('nextDigest', id, BIG_TIMEOUT),
          ]);
          assert.deepEqual(
            down,
            { type, length: size, sha256: createHash('sha256').update(data).digest('hex') },
            `server → browser: ${what}`,
          );
          if (kind === 'compressible') {
            bytesOnWire.sent += socket.information.bytesSent - before.sent;
            bytesOnWire.received += socket.information.bytesReceived - before.received;
            bytesOnWire.payload += size;
          }
        }
      }
    }
    t.diagnostic(
      `compressible messages: ${bytesOnWire.payload} bytes each way, ${bytesOnWire.received} received and ${bytesOnWire.sent} sent on the wire`,
    );
    assert.ok(bytesOnWire.received * 4 < bytesOnWire.payload, 'the browser compressed');
    assert.ok(bytesOnWire.sent * 4 < bytesOnWire.payload, 'our server compressed');

    const closed = socket.whenClosed();
    await call<PageClose>('close', id, 1000, '', STEP_TIMEOUT);
    assert.equal((await within(closed, STEP_TIMEOUT, 'closed')).code, 1000);
  });
});

/** What the page sends for sendGenerated, made here: JSON-like lines, or random base64 text / bytes. */
function generated(type: 'text' | 'binary', kind: 'compressible' | 'random', size: number): Buffer {
  if (kind === 'random') {
    return type === 'binary'
      ? randomBytes(size)
      : Buffer.from(randomBytes(size).toString('base64').slice(0, size));
  }
  const lines: string[] = [];
  let length = 0;
  for (let index = 0; length < size; index++) {
    const line = `{"id":${index},"user":"user-${index % 97}","event":"update","ok":true},\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('').slice(0, size));
}
