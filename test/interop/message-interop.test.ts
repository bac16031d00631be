// MessageWebSocket and WebSocketListener in 'message' mode against real peers we did not write: the `ws`
// package and Debian's Python `websockets`, each in its own process. Text and binary messages both ways,
// a text message whose frames cut through multi-byte characters (whole and in PartialMessage pieces),
// the peer's close code, a 256 MiB fragmented message through messages() in bounded memory, and the
// peers' clients against an echo server and an upload sink built on ServerMessageWebSocket.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import {
  MessageWebSocket,
  MessageWebSocketReceiveMode,
  SocketMessageType,
  WebSocketListener,
  type MessageWebSocketMessageReceivedEventArgs,
  type ServerMessageWebSocket,
} from '../../src/index.js';
import { patternSha256 } from './peers/pattern.js';
import { lineValue, parseClose, runPeer, startPeer, type Peer, type PeerKind } from './peers/spawn-peer.js';
import { within } from '../helpers/within.js';

const MIB = 1024 ** 2;
const DOWNLOAD_SIZE = 256 * MIB;
const UPLOAD_SIZE = 64 * MIB;
/** A library that assembled the 256 MiB message would need more than this. */
const PEAK_RSS_LIMIT = 200 * MIB;
const STEP_TIMEOUT = 10_000;
const TRANSFER_TIMEOUT = 45_000;

/** split_text(R) of peers/README.md: what the peers' /split-text and `split-text` send, by default R = 50. */
const splitText = (repeat = 50): string => 'aé€😀z'.repeat(repeat);
const SPLIT_TEXT = splitText();
const SPLIT_BYTES = Buffer.from(SPLIT_TEXT, 'utf8');
const NON_ASCII = 'héllo wörld € 😀 中文 ✓';
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

function rate(bytes: number, started: number): string {
  return `${(bytes / 1e6 / ((performance.now() - started) / 1000)).toFixed(0)} MB/s`;
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(0)} MiB`;
}

/** Queues every messageReceived event of a socket from the moment it is created, for next(). */
class Received {
  readonly #events: MessageWebSocketMessageReceivedEventArgs[] = [];
  #wake: (() => void) | undefined;

  constructor(socket: MessageWebSocket) {
    socket.on('messageReceived', (event) => {
      this.#events.push(event);
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    });
  }

  async next(timeoutMs = STEP_TIMEOUT): Promise<MessageWebSocketMessageReceivedEventArgs> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = this.#events.shift();
      if (event !== undefined) return event;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no messageReceived event within ${timeoutMs} ms`);
      await within(
        new Promise<void>((resolve) => (this.#wake = resolve)),
        left,
        'a messageReceived event',
      ).catch(() => undefined);
    }
  }
}

/** A connected client message socket with its event queue; text by default. */
async function connect(
  url: string,
  receiveMode: MessageWebSocketReceiveMode = MessageWebSocketReceiveMode.FullMessage,
): Promise<{ socket: MessageWebSocket; received: Received }> {
  const socket = new MessageWebSocket();
  socket.control.messageType = SocketMessageType.Utf8;
  socket.control.receiveMode = receiveMode;
  const received = new Received(socket);
  await within(socket.connectAsync(url), STEP_TIMEOUT, `the connection to ${url}`);
  return { socket, received };
}

async function closeNormally(socket: MessageWebSocket): Promise<void> {
  socket.close(1000, 'done');
  assert.deepEqual(await within(socket.whenClosed(), STEP_TIMEOUT, 'the close'), {
    code: 1000,
    reason: 'done',
  });
}

/** Echoes every message with its type; in PartialMessage mode piece by piece, as frames. */
function serveEcho(socket: ServerMessageWebSocket, receiveMode: MessageWebSocketReceiveMode): void {
  socket.control.receiveMode = receiveMode;
  socket.on('messageReceived', async (event) => {
    socket.control.messageType = event.messageType;
    if (receiveMode === MessageWebSocketReceiveMode.FullMessage) {
      await socket.outputStream.writeAsync(event.getData());
    } else if (event.isMessageComplete) {
      await socket.sendFinalFrameAsync(event.getData());
    } else {
      await socket.sendNonfinalFrameAsync(event.getData());
    }
  });
}

interface UploadResult {
  messages: number;
  bytes: number;
  sha256: string;
  closed: { code: number; reason: string };
}

/** Hashes every message through messages(), section by section, until the peer closes. */
async function serveUpload(socket: ServerMessageWebSocket): Promise<UploadResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  let messages = 0;
  for await (const message of socket.messages()) {
    messages++;
    for await (const section of message) {
      hash.update(section);
      bytes += section.length;
    }
  }
  return { messages, bytes, sha256: hash.digest('hex'), closed: await socket.whenClosed() };
}

for (const kind of ['python', 'ws'] as const satisfies readonly PeerKind[]) {
  void describe(`message sockets against the ${kind} peer`, { timeout: 120_000 }, () => {
    let server: Peer;
    let base: string;
    let ours: string;
    const listener = new WebSocketListener({ mode: 'message' });
    const uploads: Promise<UploadResult>[] = [];
    const failures: unknown[] = [];
    listener.on('connectionReceived', ({ socket, request }) => {
      const path = request.url ?? '/';
      if (path === '/echo') serveEcho(socket, MessageWebSocketReceiveMode.FullMessage);
      else if (path === '/echo-pieces') serveEcho(socket, MessageWebSocketReceiveMode.PartialMessage);
      else if (path === '/upload') {
        const upload = serveUpload(socket);
        upload.catch((error: unknown) => failures.push(error));
        uploads.push(upload);
      } else socket.close(4404, `no such path ${path}`);
    });

    before(async () => {
      server = await startPeer(kind, ['server']);
      base = `ws://127.0.0.1:${String(server.port)}`;
      await listener.bindServiceNameAsync(0, '127.0.0.1');
      ours = `ws://127.0.0.1:${String(listener.information.localPort)}`;
    });
    after(async () => {
      await server.stop();
      await listener.closeAsync();
    });

    void it('our client: non-ASCII text and all 256 byte values come back with their type', async () => {
      const { socket, received } = await connect(`${base}/echo`);
      await socket.outputStream.writeAsync(Buffer.from(NON_ASCII, 'utf8'));
      const text = await received.next();
      assert.equal(text.messageType, SocketMessageType.Utf8);
      assert.equal(text.isMessageComplete, true);
      assert.equal(text.getText(), NON_ASCII);

      socket.control.messageType = SocketMessageType.Binary;
      await socket.outputStream.writeAsync(ALL_BYTES);
      const binary = await received.next();
      assert.equal(binary.messageType, SocketMessageType.Binary);
      assert.deepEqual(binary.getData(), ALL_BYTES);

      // A text message sent in frames that cut characters, by our side this time.
      socket.control.messageType = SocketMessageType.Utf8;
      for (let offset = 0; offset < SPLIT_BYTES.length; offset += 5) {
        const frame = SPLIT_BYTES.subarray(offset, offset + 5);
        if (offset + 5 >= SPLIT_BYTES.length) await socket.sendFinalFrameAsync(frame);
        else await socket.sendNonfinalFrameAsync(frame);
      }
      const split = await received.next();
      assert.equal(split.messageType, SocketMessageType.Utf8);
      assert.equal(split.getText(), SPLIT_TEXT);
      await closeNormally(socket);
    });

    void it('our client: /split-text (frames cut through characters) arrives whole in FullMessage mode', async () => {
      for (const path of ['/split-text', '/split-text/50/1', '/split-text/50/7']) {
        const { socket, received } = await connect(`${base}${path}`);
        const event = await received.next();
        assert.equal(event.messageType, SocketMessageType.Utf8, path);
        assert.equal(event.isMessageComplete, true, path);
        assert.equal(event.getText(), SPLIT_TEXT, path);
        assert.deepEqual(event.getData(), SPLIT_BYTES, path);
        await closeNormally(socket);
      }
    });

    void it('our client: /split-text in PartialMessage mode, pieces in order, complete only at the end', async (t) => {
      // [path, repeat, paced]: paced frames (2 ms apart) arrive one by one, so pieces end inside characters.
      const cases = [
        ['/split-text', 50, false],
        ['/split-text/50/1', 50, false],
        ['/split-text/12/3/2', 12, true],
        ['/split-text/6/1/2', 6, true],
      ] as const;
      for (const [path, repeat, paced] of cases) {
        const text = splitText(repeat);
        const bytes = Buffer.from(text, 'utf8');
        const { socket, received } = await connect(
          `${base}${path}`,
          MessageWebSocketReceiveMode.PartialMessage,
        );
        const pieces: MessageWebSocketMessageReceivedEventArgs[] = [];
        for (;;) {
          const piece = await received.next();
          pieces.push(piece);
          if (piece.isMessageComplete) break;
        }
        const sizes = pieces.map((piece) => piece.getData().length);
        t.diagnostic(`${path}: ${pieces.length} piece(s) of ${sizes.slice(0, 12).join(', ')}…`);
        assert.ok(pieces.every((piece) => piece.messageType === SocketMessageType.Utf8));
        assert.deepEqual(
          pieces.map((piece) => piece.isMessageComplete),
          pieces.map((_, i) => i === pieces.length - 1),
          path,
        );
        assert.deepEqual(Buffer.concat(pieces.map((piece) => piece.getData())), bytes, path);
        if (paced) {
          // One piece per frame at most, and many of them end inside a character.
          assert.ok(pieces.length > bytes.length / 6, `${path}: only ${pieces.length} pieces`);
        }
        // getText() of a piece carries a character cut at the piece's edge over to the next piece.
        const texts = pieces.map((piece) => piece.getText());
        assert.ok(
          texts.every((piece) => !piece.includes('\uFFFD')),
          `${path}: no replacement characters`,
        );
        assert.equal(texts.join(''), text, path);
        await closeNormally(socket);
      }
    });

    void it('our client: /close/4001 reports the code and reason in closed', async () => {
      const socket = new MessageWebSocket();
      const closedEvent = new Promise<{ code: number; reason: string }>((resolve) => {
        socket.once('closed', resolve);
      });
      await within(socket.connectAsync(`${base}/close/4001`), STEP_TIMEOUT, 'the connection');
      assert.deepEqual(await within(closedEvent, STEP_TIMEOUT, 'closed'), { code: 4001, reason: 'bye' });
      assert.equal(parseClose(await server.waitForLine('CLOSE ')).code, 4001, 'our close frame echoes 4001');
    });

    void it(`our client: messages() takes ONE fragmented ${mib(DOWNLOAD_SIZE)} message in bounded memory`, async (t) => {
      const seed = `${kind}-message-down`;
      const started = performance.now();
      const socket = new MessageWebSocket();
      await within(socket.connectAsync(`${base}/download/${DOWNLOAD_SIZE}/${seed}`), STEP_TIMEOUT, 'connect');
      const hash = createHash('sha256');
      let bytes = 0;
      let sections = 0;
      let type: SocketMessageType | undefined;
      const download = async (): Promise<void> => {
        for await (const message of socket.messages()) {
          type = message.messageType;
          for await (const section of message) {
            hash.update(section);
            bytes += section.length;
            sections++;
          }
          break; // the peer keeps the connection open after its one message
        }
      };
      await within(download(), TRANSFER_TIMEOUT, 'the download');
      t.diagnostic(`${rate(bytes, started)}, ${sections} sections, peak RSS ${mib(peakRss())}`);
      socket.close(1000, 'got it');
      assert.equal(type, SocketMessageType.Binary);
      assert.equal(bytes, DOWNLOAD_SIZE);
      const sha256 = hash.digest('hex');
      assert.equal(await server.waitForLine('SHA256 ', TRANSFER_TIMEOUT), `SHA256 ${sha256}`);
      assert.equal(sha256, patternSha256(DOWNLOAD_SIZE, seed));
      assert.deepEqual(parseClose(await server.waitForLine('CLOSE ')), { code: 1000, reason: 'got it' });
      assert.deepEqual(await within(socket.whenClosed(), STEP_TIMEOUT, 'closed'), {
        code: 1000,
        reason: 'got it',
      });
      assert.ok(peakRss() < PEAK_RSS_LIMIT, `peak RSS ${mib(peakRss())}`);
    });

    void it('the peer echo client gets its non-ASCII text back from our listener', async () => {
      const run = await runPeer(kind, ['client', `${ours}/echo`, 'echo', NON_ASCII], STEP_TIMEOUT * 2);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(lineValue(run.lines, 'ECHO'), NON_ASCII);
      assert.deepEqual(parseClose(run.lines.at(-1)!), { code: 1000, reason: '' });
    });

    void it('the peer split-text client gets its text back, from FullMessage and PartialMessage echoes', async () => {
      for (const path of ['/echo', '/echo-pieces']) {
        for (const args of [[], ['50', '1'], ['50', '4']]) {
          const run = await runPeer(
            kind,
            ['client', `${ours}${path}`, 'split-text', ...args],
            STEP_TIMEOUT * 2,
          );
          const what = `${path} split-text ${args.join(' ')}`;
          assert.equal(run.code, 0, `${what}\n${run.stderr}`);
          assert.equal(lineValue(run.lines, 'ECHO'), SPLIT_TEXT, what);
          assert.deepEqual(parseClose(run.lines.at(-1)!), { code: 1000, reason: '' }, what);
        }
      }
    });

    void it(`the peer uploads ONE ${mib(UPLOAD_SIZE)} message; our listener hashes it through messages()`, async (t) => {
      const seed = `${kind}-message-up`;
      const started = performance.now();
      const before = uploads.length;
      const run = await runPeer(
        kind,
        ['client', `${ours}/upload`, 'upload', String(UPLOAD_SIZE), seed],
        TRANSFER_TIMEOUT,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(uploads.length, before + 1, 'one connection');
      const result = await within(uploads[before]!, STEP_TIMEOUT, 'the end of the upload');
      t.diagnostic(`${rate(result.bytes, started)}, peak RSS ${mib(peakRss())}`);
      assert.deepEqual(failures, []);
      assert.equal(result.messages, 1);
      assert.equal(result.bytes, UPLOAD_SIZE);
      assert.equal(lineValue(run.lines, 'SHA256'), result.sha256);
      assert.equal(result.sha256, patternSha256(UPLOAD_SIZE, seed));
      assert.deepEqual(result.closed, { code: 1000, reason: '' });
    });
  });
}
