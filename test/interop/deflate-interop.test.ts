// permessage-deflate against peers we did not write (issue 17): the `ws` package, with permessage-deflate
// on and each of its parameters in turn, as server and as client, and Debian's Python `websockets` with
// its default compression (window bits 12, memLevel 5 on its server), both ways. Messages go through an
// echo, so each one is compressed by one side and inflated by the other in both directions: text and
// binary, compressible (JSON-like) and random, of 0 B, 1 B, 64 KiB and 16 MiB. The extensions each side
// reports must agree, and a compressible message must travel compressed.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';

import {
  WebSocket as WsSocket,
  WebSocketServer,
  type PerMessageDeflateOptions as WsDeflateOptions,
} from 'ws';

import {
  MessageWebSocket,
  SocketMessageType,
  type WebSocketIncomingMessage,
  type PerMessageDeflateOptions,
  type ServerMessageWebSocket,
} from '../../src/index.js';
import { echoMessages, KiB, listen, MiB, toBuffer } from '../helpers/peers.js';
import type { Cleanup } from '../helpers/raw-server.js';
import { within } from '../helpers/within.js';
import { lineValue, runPeer, startPeer } from './peers/spawn-peer.js';

const STEP_TIMEOUT = 30_000;

interface TestMessage {
  name: string;
  type: SocketMessageType;
  data: Buffer;
  compressible: boolean;
}

/** Compressible text: JSON-like lines that repeat with small changes. */
function jsonLike(size: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let index = 0; length < size; index++) {
    const line = `{"id":${index},"user":"user-${index % 97}","event":"update","ok":true},\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('').slice(0, size));
}

/** Random data: bytes for binary, base64 characters for text (valid UTF-8 that barely compresses). */
function random(size: number, type: SocketMessageType): Buffer {
  if (type === SocketMessageType.Binary) return randomBytes(size);
  return Buffer.from(
    randomBytes(Math.ceil((size * 3) / 4) + 3)
      .toString('base64')
      .slice(0, size),
  );
}

function messagesOfSizes(sizes: readonly number[]): TestMessage[] {
  const messages: TestMessage[] = [];
  for (const size of sizes) {
    for (const type of [SocketMessageType.Utf8, SocketMessageType.Binary]) {
      const typeName = type === SocketMessageType.Utf8 ? 'text' : 'binary';
      messages.push({
        name: `${typeName} ${size} B compressible`,
        type,
        data: jsonLike(size),
        compressible: true,
      });
      messages.push({
        name: `${typeName} ${size} B random`,
        type,
        data: random(size, type),
        compressible: false,
      });
    }
  }
  return messages;
}

/** The list: 0 B, 1 B, 64 KiB, 16 MiB of each type and kind. */
const ALL_SIZES = messagesOfSizes([0, 1, 64 * KiB, 16 * MiB]);
/** For the parameter matrix: the same without the 16 MiB ones. */
const SMALL_SIZES = messagesOfSizes([0, 1, 64 * KiB]);

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readWhole(
  messages: AsyncIterator<WebSocketIncomingMessage>,
): Promise<{ type: SocketMessageType; data: Buffer }> {
  const next = await messages.next();
  if (next.done === true) throw new Error('the connection closed before the echo came');
  const sections: Buffer[] = [];
  for await (const section of next.value as AsyncIterable<Buffer>) sections.push(section);
  return { type: next.value.messageType, data: Buffer.concat(sections) };
}

/**
 * Sends each message from our socket and checks the peer's echo. The 16 MiB compressible text must
 * have crossed the wire compressed both ways (our socket counts the bytes on the wire).
 */
async function echoAll(
  socket: MessageWebSocket | ServerMessageWebSocket,
  list: readonly TestMessage[],
): Promise<void> {
  const messages = socket.messages();
  for (const message of list) {
    const sentBefore = socket.information.bytesSent;
    const receivedBefore = socket.information.bytesReceived;
    socket.control.messageType = message.type;
    await within(socket.outputStream.writeAsync(message.data), STEP_TIMEOUT, `sending ${message.name}`);
    const echo = await within(readWhole(messages), STEP_TIMEOUT, `the echo of ${message.name}`);
    assert.equal(echo.type, message.type, message.name);
    assert.equal(echo.data.length, message.data.length, message.name);
    assert.equal(sha256(echo.data), sha256(message.data), message.name);
    if (message.compressible && message.data.length >= 64 * KiB) {
      const sent = socket.information.bytesSent - sentBefore;
      const received = socket.information.bytesReceived - receivedBefore;
      assert.ok(sent * 4 < message.data.length, `${message.name}: ${sent} bytes sent`);
      assert.ok(received * 4 < message.data.length, `${message.name}: ${received} bytes received`);
    }
  }
}

/** A `ws` echo server with these permessage-deflate options, closed after the test. */
async function wsEchoServer(
  t: Cleanup,
  perMessageDeflate: WsDeflateOptions,
): Promise<{ url: string; extensions: Promise<string> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 0, perMessageDeflate });
  let agreed!: (extensions: string) => void;
  const extensions = new Promise<string>((resolve) => (agreed = resolve));
  server.on('connection', (socket) => {
    socket.on('error', () => undefined);
    agreed(socket.extensions);
    socket.on('message', (data, isBinary) => {
      socket.send(toBuffer(data), { binary: isBinary });
    });
  });
  await once(server, 'listening');
  t.after(() => {
    for (const client of server.clients) client.terminate();
    server.close();
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, extensions };
}

/** Sends each message from a `ws` client to our echo listener and checks the echo. */
async function wsClientEcho(
  t: Cleanup,
  url: string,
  perMessageDeflate: WsDeflateOptions,
  list: readonly TestMessage[],
): Promise<WsSocket> {
  const socket = new WsSocket(url, { maxPayload: 0, perMessageDeflate });
  socket.on('error', () => undefined);
  t.after(() => {
    socket.terminate();
  });
  await within(once(socket, 'open'), STEP_TIMEOUT, 'the ws client connecting');
  for (const message of list) {
    const echo = once(socket, 'message') as Promise<[Buffer, boolean]>;
    socket.send(message.data, { binary: message.type === SocketMessageType.Binary });
    const [data, isBinary] = await within(echo, STEP_TIMEOUT, `the echo of ${message.name}`);
    assert.equal(isBinary, message.type === SocketMessageType.Binary, message.name);
    assert.equal(sha256(data), sha256(message.data), message.name);
  }
  return socket;
}

async function ourClient(
  t: Cleanup,
  url: string,
  perMessageDeflate: PerMessageDeflateOptions,
): Promise<MessageWebSocket> {
  const socket = new MessageWebSocket();
  socket.control.perMessageDeflate = perMessageDeflate;
  t.after(() => {
    socket.close();
  });
  await socket.connectAsync(url);
  return socket;
}

/**
 * Every parameter of ws's permessage-deflate, one at a time (threshold 0: even 1 byte is compressed), with
 * the Sec-WebSocket-Extensions our side must end up with: as ws answers our offer (a ws server), and as
 * our listener answers ws's offer (a ws client). ws reports only the extension's name, not its parameters.
 */
const WS_PARAMETERS: readonly {
  name: string;
  options: WsDeflateOptions;
  wsServer: string;
  ourServer: string;
}[] = [
  { name: 'defaults', options: {}, wsServer: 'permessage-deflate', ourServer: 'permessage-deflate' },
  {
    name: 'serverNoContextTakeover',
    options: { serverNoContextTakeover: true },
    wsServer: 'permessage-deflate; server_no_context_takeover',
    ourServer: 'permessage-deflate; server_no_context_takeover',
  },
  {
    name: 'clientNoContextTakeover',
    options: { clientNoContextTakeover: true },
    wsServer: 'permessage-deflate; client_no_context_takeover',
    ourServer: 'permessage-deflate; client_no_context_takeover',
  },
  {
    name: 'serverMaxWindowBits 10',
    options: { serverMaxWindowBits: 10 },
    wsServer: 'permessage-deflate; server_max_window_bits=10',
    ourServer: 'permessage-deflate; server_max_window_bits=10',
  },
  {
    name: 'clientMaxWindowBits 9',
    options: { clientMaxWindowBits: 9 },
    wsServer: 'permessage-deflate; client_max_window_bits=9',
    // ws offers client_max_window_bits=9: a promise our listener takes without answering it.
    ourServer: 'permessage-deflate',
  },
  {
    name: 'both windows 8',
    options: { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    wsServer: 'permessage-deflate; client_max_window_bits=8; server_max_window_bits=8',
    ourServer: 'permessage-deflate; server_max_window_bits=8',
  },
];

/** Our parameters, one at a time, against ws's defaults, with the agreement both ways. */
const OUR_PARAMETERS: readonly { name: string; options: PerMessageDeflateOptions; agreed: string }[] = [
  {
    name: 'serverNoContextTakeover',
    options: { serverNoContextTakeover: true },
    agreed: 'permessage-deflate; server_no_context_takeover',
  },
  {
    name: 'clientNoContextTakeover',
    options: { clientNoContextTakeover: true },
    agreed: 'permessage-deflate; client_no_context_takeover',
  },
  {
    name: 'serverMaxWindowBits 9',
    options: { serverMaxWindowBits: 9 },
    agreed: 'permessage-deflate; server_max_window_bits=9',
  },
  {
    name: 'clientMaxWindowBits 8',
    options: { clientMaxWindowBits: 8 },
    agreed: 'permessage-deflate; client_max_window_bits=8',
  },
  { name: 'memLevel 1', options: { memLevel: 1 }, agreed: 'permessage-deflate' },
];

void describe('permessage-deflate against ws', () => {
  test('our client and a ws server echo every size and kind, compressed both ways', async (t) => {
    const server = await wsEchoServer(t, { threshold: 0 });
    const socket = await ourClient(t, server.url, { threshold: 0 });
    assert.equal(socket.information.extensions, 'permessage-deflate');
    assert.equal(await server.extensions, 'permessage-deflate');
    await echoAll(socket, ALL_SIZES);
  });

  test('a ws client and our listener echo every size and kind, compressed both ways', async (t) => {
    const bound = await listen<'message'>(t, { mode: 'message', perMessageDeflate: { threshold: 0 } });
    bound.listener.on('connectionReceived', ({ socket }) => {
      echoMessages(socket);
    });
    const client = await wsClientEcho(t, bound.url, { threshold: 0 }, ALL_SIZES);
    assert.equal(client.extensions, 'permessage-deflate');
  });

  for (const { name, options, wsServer, ourServer } of WS_PARAMETERS) {
    test(`a ws server with ${name} answers '${wsServer}', and messages go both ways`, async (t) => {
      const server = await wsEchoServer(t, { ...options, threshold: 0 });
      const socket = await ourClient(t, server.url, { threshold: 0 });
      assert.equal(socket.information.extensions, wsServer);
      assert.equal(await server.extensions, 'permessage-deflate');
      await echoAll(socket, SMALL_SIZES);
    });

    test(`a ws client with ${name} gets '${ourServer}' from our listener, and messages go both ways`, async (t) => {
      const bound = await listen<'message'>(t, { mode: 'message', perMessageDeflate: { threshold: 0 } });
      const extensions = new Promise<string>((resolve) => {
        bound.listener.on('connectionReceived', ({ socket }) => {
          echoMessages(socket);
          resolve(socket.information.extensions);
        });
      });
      const client = await wsClientEcho(t, bound.url, { ...options, threshold: 0 }, SMALL_SIZES);
      assert.equal(await extensions, ourServer);
      assert.equal(client.extensions, 'permessage-deflate');
    });
  }

  for (const { name, options, agreed } of OUR_PARAMETERS) {
    test(`our client with ${name} and a ws server agree on '${agreed}', messages both ways`, async (t) => {
      const server = await wsEchoServer(t, { threshold: 0 });
      const socket = await ourClient(t, server.url, { ...options, threshold: 0 });
      assert.equal(socket.information.extensions, agreed);
      await echoAll(socket, SMALL_SIZES);
    });

    test(`our listener with ${name} and a ws client agree on '${agreed}', messages both ways`, async (t) => {
      const bound = await listen<'message'>(t, {
        mode: 'message',
        perMessageDeflate: { ...options, threshold: 0 },
      });
      const extensions = new Promise<string>((resolve) => {
        bound.listener.on('connectionReceived', ({ socket }) => {
          echoMessages(socket);
          resolve(socket.information.extensions);
        });
      });
      await wsClientEcho(t, bound.url, { threshold: 0 }, SMALL_SIZES);
      assert.equal(await extensions, agreed);
    });
  }
});

void describe('permessage-deflate against Python websockets (compression="deflate")', () => {
  test('our client and the Python server echo every size and kind, compressed both ways', async (t) => {
    const peer = await startPeer('python', ['server', '--deflate']);
    t.after(() => peer.stop());
    const socket = await ourClient(t, `ws://127.0.0.1:${peer.port ?? 0}/echo`, { threshold: 0 });
    // Python's server limits both windows to 12 bits by default.
    assert.equal(
      socket.information.extensions,
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
    );
    await echoAll(socket, ALL_SIZES);
  });

  test('the Python client uploads 16 MiB to our listener and echoes text through it, compressed', async (t) => {
    const bound = await listen<'message'>(t, { mode: 'message', perMessageDeflate: { threshold: 0 } });
    const uploads: Promise<{ bytes: number; sha256: string; extensions: string }>[] = [];
    bound.listener.on('connectionReceived', ({ socket, request }) => {
      if (request.url === '/echo') {
        echoMessages(socket);
        return;
      }
      uploads.push(
        (async () => {
          const hash = createHash('sha256');
          let bytes = 0;
          for await (const message of socket.messages()) {
            for await (const section of message) {
              hash.update(section);
              bytes += section.length;
            }
          }
          return { bytes, sha256: hash.digest('hex'), extensions: socket.information.extensions };
        })(),
      );
    });
    const text = jsonLike(2000).toString().replace(/\n/g, ' ');
    const echo = await runPeer(
      'python',
      ['client', `${bound.url}echo`, 'echo', text, '--deflate'],
      STEP_TIMEOUT,
    );
    assert.equal(echo.code, 0, echo.stderr);
    assert.equal(lineValue(echo.lines, 'ECHO'), text);

    const size = 16 * MiB;
    const upload = await runPeer(
      'python',
      ['client', `${bound.url}upload`, 'upload', String(size), 'py', '--deflate'],
      STEP_TIMEOUT,
    );
    assert.equal(upload.code, 0, upload.stderr);
    const received = await within(uploads[0]!, STEP_TIMEOUT, 'the upload');
    assert.deepEqual(received, {
      bytes: size,
      sha256: lineValue(upload.lines, 'SHA256'),
      extensions: 'permessage-deflate',
    });
  });
});
