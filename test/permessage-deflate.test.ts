// permessage-deflate (RFC 7692, issue 17) over real sockets, against hand-written peers that compress and
// inflate with node:zlib themselves (test/helpers/deflate-peer.ts): the settings and their checks, the
// negotiation as each side sees it (information.extensions, a handshake that fails on a bad answer, a
// server that declines bad offers), compressed messages received (fragments, context takeover, empty and
// BFINAL messages, window bits 8, every violation and its close code, maxMessageSize counted inflated) and
// sent (RSV1 on the first frame only, never on control frames, the threshold, the write contract, no
// context takeover), and the process-wide bound on zlib work.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';

import {
  HResult,
  MessageWebSocket,
  SocketMessageType,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
  WebSocketStream,
  type PerMessageDeflateOptions,
  type ServerWebSocketStream,
  type ServerMessageWebSocket,
} from '../src/index.js';
import { ZLIB_CONCURRENCY, zlibLimiter, ZlibLimiter } from '../src/connection/zlib-limiter.js';
import {
  ContextDeflater,
  ContextInflater,
  deflateAlone,
  deflateBomb,
  inflateAlone,
} from './helpers/deflate-peer.js';
import { echoMessages, listen, MiB } from './helpers/peers.js';
import { clientFrame, RawClient, type ServerFrame } from './helpers/raw-client.js';
import { rawWebSocketServer, serverFrame, type Cleanup, type RawConnection } from './helpers/raw-server.js';
import { within } from './helpers/within.js';

const RSV1 = 0b100;
const TEXT = 0x1;
const BINARY = 0x2;
const CONTINUATION = 0x0;
const PING = 0x9;
const PONG = 0xa;
/** Replies of the echo listener stay uncompressed (below the threshold), so the tests read them as is. */
const NEVER = Number.MAX_SAFE_INTEGER;

/** Compressible text: JSON-like lines that repeat with small changes. */
function jsonLike(size: number): Buffer {
  let text = '';
  for (let index = 0; text.length < size; index++) {
    text += `{"id":${index},"user":"user-${index % 97}","event":"update","ok":true},\n`;
  }
  return Buffer.from(text.slice(0, size));
}

/** A message-mode listener that echoes every message whole, with its type. */
async function echoListener(
  t: Cleanup,
  perMessageDeflate: boolean | PerMessageDeflateOptions,
  maxMessageSize?: number,
): Promise<{ port: number; next: () => Promise<ServerMessageWebSocket> }> {
  const bound = await listen<'message'>(t, {
    mode: 'message',
    perMessageDeflate,
    ...(maxMessageSize === undefined ? {} : { maxMessageSize }),
  });
  bound.listener.on('connectionReceived', ({ socket }) => {
    echoMessages(socket);
  });
  return bound;
}

/** The data messages among a raw client's frames, joined, with the RSV bits of their first frames. */
function messagesOf(
  frames: readonly Pick<ServerFrame, 'opcode' | 'rsv' | 'payload'>[],
): { opcode: number; rsv: number; payload: Buffer }[] {
  const messages: { opcode: number; rsv: number; parts: Buffer[] }[] = [];
  for (const frame of frames) {
    if (frame.opcode === TEXT || frame.opcode === BINARY) {
      messages.push({ opcode: frame.opcode, rsv: frame.rsv, parts: [frame.payload] });
    } else if (frame.opcode === CONTINUATION) {
      messages.at(-1)!.parts.push(frame.payload);
    }
  }
  return messages.map(({ opcode, rsv, parts }) => ({ opcode, rsv, payload: Buffer.concat(parts) }));
}

/** A raw client offering `extensions`, answering the server's close frame. */
async function rawClient(port: number, extensions = 'permessage-deflate'): Promise<RawClient> {
  return (await RawClient.open(port, '/', undefined, 3000, extensions)).answerClose();
}

/** One compressed message (first frame RSV1) as client frames, cut at the given payload offsets. */
function compressedFrames(opcode: number, payload: Buffer, cuts: number[] = []): Buffer {
  return Buffer.concat(compressedFrameList(opcode, payload, cuts));
}

function compressedFrameList(opcode: number, payload: Buffer, cuts: number[]): Buffer[] {
  const frames: Buffer[] = [];
  let offset = 0;
  const ends = [...cuts, payload.length];
  ends.forEach((end, index) => {
    frames.push(
      clientFrame({
        opcode: index === 0 ? opcode : CONTINUATION,
        rsv: index === 0 ? RSV1 : 0,
        fin: index === ends.length - 1,
        payload: payload.subarray(offset, end),
      }),
    );
    offset = end;
  });
  return frames;
}

function rejectsWith(status: WebErrorStatus, hresult: number, message: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof WebSocketError, String(error));
    assert.equal(error.status, status);
    assert.equal(error.hresult, hresult);
    assert.match(error.message, message);
    return true;
  };
}

void describe('permessage-deflate: settings', () => {
  test('is off by default; control.perMessageDeflate takes true or settings, and refuses anything else (E_INVALIDARG)', () => {
    for (const socket of [new StreamWebSocket(), new MessageWebSocket()]) {
      assert.equal(socket.control.perMessageDeflate, false);
      assert.equal(socket.information.extensions, '');
      socket.control.perMessageDeflate = true;
      assert.equal(socket.control.perMessageDeflate, true);
      const settings = { serverNoContextTakeover: true, clientMaxWindowBits: 10, threshold: 0, memLevel: 4 };
      socket.control.perMessageDeflate = settings;
      settings.clientMaxWindowBits = 99;
      assert.deepEqual(socket.control.perMessageDeflate, { ...settings, clientMaxWindowBits: 10 });
      for (const bad of [
        { serverMaxWindowBits: 16 },
        { clientMaxWindowBits: 7 },
        { memLevel: 0 },
        { level: 9 },
      ]) {
        assert.throws(
          () => {
            socket.control.perMessageDeflate = bad;
          },
          rejectsWith(WebErrorStatus.Unknown, HResult.E_INVALIDARG, /perMessageDeflate/),
        );
      }
    }
  });

  test('is fixed once connectAsync is called (E_ILLEGAL_METHOD_CALL)', async (t) => {
    const { port } = await echoListener(t, true);
    const socket = new MessageWebSocket();
    t.after(() => {
      socket.close();
    });
    await socket.connectAsync(`ws://127.0.0.1:${String(port)}/`);
    assert.throws(
      () => {
        socket.control.perMessageDeflate = true;
      },
      rejectsWith(WebErrorStatus.Unknown, HResult.E_ILLEGAL_METHOD_CALL, /perMessageDeflate/),
    );
  });

  test('a listener refuses invalid settings (E_INVALIDARG)', () => {
    assert.throws(
      () => new WebSocketListener({ perMessageDeflate: { serverMaxWindowBits: 16 } }),
      rejectsWith(WebErrorStatus.Unknown, HResult.E_INVALIDARG, /serverMaxWindowBits/),
    );
  });
});

void describe('permessage-deflate: negotiation', () => {
  test('our client and listener agree, and both report the same information.extensions', async (t) => {
    const bound = await listen<'message'>(t, {
      mode: 'message',
      perMessageDeflate: { serverMaxWindowBits: 12, clientNoContextTakeover: true },
    });
    const client = new MessageWebSocket();
    client.control.perMessageDeflate = { serverNoContextTakeover: true };
    t.after(() => {
      client.close();
    });
    await client.connectAsync(bound.url);
    const server = await bound.next();
    const agreed =
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12';
    assert.equal(client.information.extensions, agreed);
    assert.equal(server.information.extensions, agreed);
  });

  test('it is offered only when the client turns it on, and agreed only when the listener does too', async (t) => {
    const offers: string[] = [];
    const raw = await rawWebSocketServer(t, (connection) => {
      offers.push(/sec-websocket-extensions: *(.*)/i.exec(connection.requestHead)?.[1] ?? '(none)');
    });
    for (const perMessageDeflate of [false, true]) {
      const client = new StreamWebSocket();
      client.control.perMessageDeflate = perMessageDeflate;
      t.after(() => {
        client.close();
      });
      await client.connectAsync(raw.url);
    }
    assert.deepEqual(offers, ['(none)', 'permessage-deflate; client_max_window_bits']);

    for (const [listening, agreed] of [
      [false, ''],
      [true, 'permessage-deflate'],
    ] as const) {
      const bound = await listen(t, { perMessageDeflate: listening });
      const client = new StreamWebSocket();
      client.control.perMessageDeflate = true;
      t.after(() => {
        client.close();
      });
      await client.connectAsync(bound.url);
      assert.equal(client.information.extensions, agreed);
      assert.equal((await bound.next()).information.extensions, agreed);
    }
  });

  test('a WebSocketStream and a webstream listener agree too: opened.extensions on both sides, compressed messages', async (t) => {
    const listener = new WebSocketListener({ mode: 'webstream', perMessageDeflate: true });
    const arrived = new Promise<ServerWebSocketStream>((resolve) => {
      listener.once('connectionReceived', ({ socket }) => {
        resolve(socket);
      });
    });
    await listener.bindServiceNameAsync(0, '127.0.0.1');
    t.after(() => within(listener.closeAsync(), 15_000, 'listener.closeAsync()'));
    const client = new WebSocketStream(`ws://127.0.0.1:${String(listener.information.localPort)}/`, {
      perMessageDeflate: true,
    });
    t.after(() => {
      client.close();
    });
    const opened = await within(client.opened, 5000, 'opened');
    const server = await within(arrived, 5000, 'the server side');
    const serverOpened = await within(server.opened, 5000, "the server's opened");
    assert.equal(opened.extensions, 'permessage-deflate');
    assert.equal(serverOpened.extensions, 'permessage-deflate');
    const text = jsonLike(64 * 1024).toString();
    const writer = opened.writable.getWriter();
    await writer.write(text);
    const reader = serverOpened.readable.getReader();
    const { value } = await within(reader.read(), 5000, 'the message');
    assert.equal(value, text);
    assert.ok(client.information.bytesSent * 5 < text.length, `${client.information.bytesSent} bytes sent`);
  });

  for (const [answer, problem] of [
    [
      'permessage-deflate; server_max_window_bits=16',
      /server_max_window_bits="16" is not a whole number from 8 to 15/,
    ],
    ['permessage-deflate; client_max_window_bits=7', /client_max_window_bits="7"/],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', /given twice/],
    ['permessage-deflate; max_window_bits=10', /unknown parameter max_window_bits/],
    ['permessage-deflate, permessage-deflate', /not offered as such/],
    ['x-webkit-deflate-frame', /not offered as such/],
  ] as const) {
    test(`the client's connect fails with a clear error when the server answers '${answer}'`, async (t) => {
      const raw = await rawWebSocketServer(t, undefined, { extensions: answer });
      const client = new MessageWebSocket();
      client.control.perMessageDeflate = true;
      await assert.rejects(
        client.connectAsync(raw.url),
        rejectsWith(
          WebErrorStatus.ErrorHttpInvalidServerResponse,
          HResult.WININET_E_INVALID_SERVER_RESPONSE,
          problem,
        ),
      );
    });
  }

  test('the server declines offers it cannot take and accepts the first valid one, never failing the upgrade', async (t) => {
    const { port } = await echoListener(t, { threshold: NEVER });
    const cases: [string, string | undefined][] = [
      ['permessage-deflate; server_max_window_bits=16', undefined],
      ['permessage-deflate; client_max_window_bits=0', undefined],
      ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', undefined],
      ['permessage-deflate; unknown', undefined],
      ['permessage-deflate; a="', undefined],
      [
        'x-other, permessage-deflate; server_max_window_bits=99, permessage-deflate; server_max_window_bits=9',
        'permessage-deflate; server_max_window_bits=9',
      ],
    ];
    for (const [offer, expected] of cases) {
      const client = await rawClient(port, offer);
      const answered = /^sec-websocket-extensions: *(.*)$/im.exec(client.responseHead)?.[1];
      assert.equal(answered, expected, offer);
      // The connection works either way: a plain message is echoed.
      client.send(clientFrame({ opcode: TEXT, payload: 'still here' }));
      await client.until(() => messagesOf(client.frames).length === 1, 3000, 'the echo');
      assert.equal(messagesOf(client.frames)[0]!.payload.toString(), 'still here');
      client.destroy();
    }
  });
});

void describe('permessage-deflate: receiving', () => {
  test('a compressed text message in three frames, with a ping between them, is inflated and echoed', async (t) => {
    const { port } = await echoListener(t, { threshold: NEVER });
    const client = await rawClient(port);
    const text = jsonLike(20_000);
    const compressed = deflateAlone(text);
    const [first, second, third] = compressedFrameList(TEXT, compressed, [10, compressed.length - 3]);
    client.send(Buffer.concat([first!, clientFrame({ opcode: PING, payload: 'p' }), second!, third!]));
    await client.until(() => messagesOf(client.frames).length === 1, 5000, 'the echo');
    assert.deepEqual(
      client.frames.map((frame) => frame.opcode),
      [PONG, TEXT],
      'the pong answers the ping before the message it interrupted is complete',
    );
    assert.deepEqual(messagesOf(client.frames)[0], { opcode: TEXT, rsv: 0, payload: text });
    assert.ok(compressed.length * 5 < text.length, `${compressed.length} compressed bytes`);
  });

  test('a large compressed message in many frames, followed at once by two more, is echoed whole and in order', async (t) => {
    const { port } = await echoListener(t, { threshold: NEVER });
    const client = await rawClient(port);
    const large = randomBytes(400 * 1024);
    const compressed = deflateAlone(large);
    const cuts = Array.from(
      { length: Math.floor(compressed.length / 16_384) },
      (_unused, index) => (index + 1) * 16_384,
    );
    client.send(
      Buffer.concat([
        compressedFrames(BINARY, compressed, cuts),
        compressedFrames(TEXT, deflateAlone(Buffer.from('second'))),
        compressedFrames(TEXT, deflateAlone(Buffer.from('third'))),
      ]),
    );
    await client.until(() => messagesOf(client.frames).length === 3, 10_000, 'three echoes');
    assert.deepEqual(
      messagesOf(client.frames).map((message) => message.payload),
      [large, Buffer.from('second'), Buffer.from('third')],
    );
  });

  test('messages that refer back to earlier ones (context takeover) are inflated in order', async (t) => {
    const { port } = await echoListener(t, { threshold: NEVER });
    const client = await rawClient(port);
    const peer = new ContextDeflater();
    t.after(() => {
      peer.close();
    });
    const texts = [jsonLike(3000), jsonLike(3000), Buffer.from('short and new')];
    const sizes: number[] = [];
    for (const text of texts) {
      const compressed = await peer.message(text);
      sizes.push(compressed.length);
      client.send(compressedFrames(BINARY, compressed));
    }
    await client.until(() => messagesOf(client.frames).length === 3, 5000, 'three echoes');
    assert.deepEqual(
      messagesOf(client.frames).map((message) => message.payload),
      texts,
    );
    assert.ok(
      sizes[1]! * 5 < sizes[0]!,
      `the repeated message takes ${sizes[1]!} bytes: references to the first`,
    );
  });

  test('with client_no_context_takeover each message is inflated on its own', async (t) => {
    const { port } = await echoListener(t, { threshold: NEVER });
    const client = await rawClient(port, 'permessage-deflate; client_no_context_takeover');
    assert.match(client.responseHead, /client_no_context_takeover/);
    const texts = [jsonLike(5000), jsonLike(4000), jsonLike(6000)];
    for (const text of texts) client.send(compressedFrames(TEXT, deflateAlone(text)));
    await client.until(() => messagesOf(client.frames).length === 3, 5000, 'three echoes');
    assert.deepEqual(
      messagesOf(client.frames).map((message) => message.payload),
      texts,
    );
  });

  test('an empty compressed message (0x00, or no byte at all) is an empty message, and the context goes on', async (t) => {
    const { port } = await echoListener(t, { threshold: NEVER });
    const client = await rawClient(port);
    const peer = new ContextDeflater();
    t.after(() => {
      peer.close();
    });
    const first = await peer.message(Buffer.from('before'));
    const empty = await peer.message(Buffer.alloc(0));
    const last = await peer.message(Buffer.from('before and after'));
    client.send(compressedFrames(TEXT, first));
    client.send(compressedFrames(TEXT, empty));
    client.send(compressedFrames(BINARY, Buffer.alloc(0)));
    client.send(compressedFrames(TEXT, last));
    await client.until(() => messagesOf(client.frames).length === 4, 5000, 'four echoes');
    assert.deepEqual(
      messagesOf(client.frames).map((message) => message.payload.toString()),
      ['before', '', '', 'before and after'],
    );
  });

  test('a message ending in a final block (BFINAL) is inflated, and the next message starts afresh', async (t) => {
    const { port } = await echoListener(t, { threshold: NEVER });
    const client = await rawClient(port);
    client.send(compressedFrames(TEXT, zlib.deflateRawSync(Buffer.from('final block'))));
    client.send(compressedFrames(TEXT, deflateAlone(Buffer.from('next message'))));
    await client.until(() => messagesOf(client.frames).length === 2, 5000, 'two echoes');
    assert.deepEqual(
      messagesOf(client.frames).map((message) => message.payload.toString()),
      ['final block', 'next message'],
    );
  });

  test('window bits 8 both ways: a match 256 bytes back is inflated, and the reply inflates with an 8-bit window', async (t) => {
    const { port } = await echoListener(t, { threshold: 0 });
    const client = await rawClient(
      port,
      'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8',
    );
    assert.match(client.responseHead, /server_max_window_bits=8/);
    // A fixed-Huffman block by hand: 256 literals, then a match of length 3 at distance 256.
    const literals = Buffer.from(Array.from({ length: 256 }, (_unused, index) => (index * 7) % 128));
    const message = Buffer.concat([literals, literals.subarray(0, 3)]);
    client.send(compressedFrames(BINARY, fixedHuffmanWithFarMatch(literals)));
    // And data with repeats at every distance up to 300, compressed by zlib at 8 bits.
    const repeats = Buffer.from(Array.from({ length: 4000 }, (_unused, index) => ((index % 300) * 13) % 251));
    client.send(compressedFrames(BINARY, deflateAlone(repeats, 8)));
    await client.until(() => messagesOf(client.frames).length === 2, 5000, 'two echoes');
    const replies = messagesOf(client.frames);
    assert.deepEqual(
      replies.map((reply) => reply.rsv),
      [RSV1, RSV1],
    );
    const inflater = new ContextInflater(8);
    t.after(() => {
      inflater.close();
    });
    assert.deepEqual(await inflater.message(replies[0]!.payload), message);
    assert.deepEqual(await inflater.message(replies[1]!.payload), repeats);
  });

  for (const [name, frames, code] of [
    ['data that is not deflate (1007)', compressedFrames(BINARY, Buffer.from([0xff, 0xff, 0xff])), 1007],
    [
      'text that inflates to invalid UTF-8 (1007)',
      compressedFrames(TEXT, deflateAlone(Buffer.from([0x61, 0xc3, 0x28]))),
      1007,
    ],
    [
      'text that inflates to a truncated UTF-8 sequence (1007)',
      compressedFrames(TEXT, deflateAlone(Buffer.from([0x61, 0xe2, 0x82]))),
      1007,
    ],
    [
      'RSV1 on a continuation frame (1002)',
      Buffer.concat([
        clientFrame({ opcode: TEXT, rsv: RSV1, fin: false, payload: deflateAlone(Buffer.from('ab')) }),
        clientFrame({ opcode: CONTINUATION, rsv: RSV1, payload: Buffer.of(0) }),
      ]),
      1002,
    ],
    ['RSV1 on a ping (1002)', clientFrame({ opcode: PING, rsv: RSV1 }), 1002],
  ] as const) {
    test(`fails the connection on ${name}, and the listener serves on`, async (t) => {
      const { port } = await echoListener(t, { threshold: NEVER });
      const client = await rawClient(port);
      client.send(frames);
      assert.equal(await client.closeCode(5000), code);
      const next = await rawClient(port);
      next.send(compressedFrames(TEXT, deflateAlone(Buffer.from('fine'))));
      await next.until(() => messagesOf(next.frames).length === 1, 5000, 'the echo');
      next.destroy();
    });
  }

  test('maxMessageSize counts inflated bytes: a message inflating to the limit passes, one byte more is 1009', async (t) => {
    const limit = 64 * 1024;
    const { port } = await echoListener(t, { threshold: NEVER }, limit);
    const client = await rawClient(port);
    const atLimit = deflateAlone(Buffer.alloc(limit, 0x61));
    assert.ok(atLimit.length < 200, 'a small compressed payload');
    client.send(compressedFrames(TEXT, atLimit));
    await client.until(() => messagesOf(client.frames).length === 1, 5000, 'the echo');
    assert.equal(messagesOf(client.frames)[0]!.payload.length, limit);
    client.send(compressedFrames(TEXT, deflateAlone(Buffer.alloc(limit + 1, 0x61))));
    assert.equal(await client.closeCode(5000), 1009);
  });

  test('a stream listener with maxMessageSize refuses a bomb with 1009 before handing out more than the limit', async (t) => {
    const limit = 4 * MiB;
    const bound = await listen(t, { perMessageDeflate: true, maxMessageSize: limit });
    const client = await rawClient(bound.port);
    const server = await bound.next();
    let received = 0;
    const reading = (async () => {
      for await (const section of server.inputStream) received += section.length;
    })().catch((error: unknown) => error);
    client.send(compressedFrames(BINARY, deflateBomb(1024)));
    assert.equal(await client.closeCode(10_000), 1009);
    const failure = await within(reading, 5000, 'the reader');
    assert.ok(failure instanceof WebSocketError, String(failure));
    assert.ok(received <= limit, `${received} bytes were handed out`);
  });
});

void describe('permessage-deflate: sending', () => {
  async function connectTo(
    t: Cleanup,
    extensions: string,
    settings: PerMessageDeflateOptions = {},
  ): Promise<{ socket: MessageWebSocket; peer: RawConnection }> {
    const raw = await rawWebSocketServer(t, undefined, { extensions });
    const socket = new MessageWebSocket();
    socket.control.perMessageDeflate = settings;
    t.after(() => {
      socket.close();
    });
    await socket.connectAsync(raw.url);
    return { socket, peer: await raw.connection };
  }

  function until(peer: RawConnection, condition: () => boolean, what: string): Promise<void> {
    return within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!condition()) return;
          peer.socket.off('data', check);
          resolve();
        };
        peer.socket.on('data', check);
        setImmediate(check);
      }),
      5000,
      what,
    );
  }

  test('RSV1 marks the first frame of a compressed message only; pongs and small messages stay plain', async (t) => {
    const { socket, peer } = await connectTo(t, 'permessage-deflate', { threshold: 100 });
    const big = jsonLike(50_000);
    socket.control.messageType = SocketMessageType.Utf8;
    await socket.outputStream.writeAsync(big);
    await socket.outputStream.writeAsync(Buffer.from('small'));
    peer.send(serverFrame(PING, Buffer.from('p')));
    const writer = socket.openMessage(SocketMessageType.Binary);
    for (const part of [jsonLike(1000), jsonLike(10), Buffer.alloc(0)]) {
      await new Promise<void>((resolve, reject) => {
        writer.write(part, (error) => {
          if (error == null) resolve();
          else reject(error);
        });
      });
    }
    await new Promise<void>((resolve) => writer.end(resolve));
    await until(
      peer,
      () =>
        peer.frames.some((frame) => frame.opcode === PONG) &&
        peer.frames.filter((frame) => frame.fin && frame.opcode !== PONG).length >= 3,
      'three messages and the pong',
    );
    const frames = peer.frames;
    assert.ok(frames.some((frame) => frame.opcode === PONG && frame.rsv === 0));
    const data = frames.filter((frame) => frame.opcode !== PONG);
    assert.deepEqual(
      data.map((frame) => [frame.opcode, frame.rsv, frame.fin]),
      [
        [TEXT, RSV1, true],
        [TEXT, 0, true],
        [BINARY, RSV1, false],
        [CONTINUATION, 0, false],
        [CONTINUATION, 0, false],
        [CONTINUATION, 0, true],
      ],
    );
    const inflater = new ContextInflater();
    t.after(() => {
      inflater.close();
    });
    assert.deepEqual(await inflater.message(data[0]!.payload), big);
    assert.ok(data[0]!.payload.length * 5 < big.length);
    assert.equal(data[1]!.payload.toString(), 'small');
    const streamed = Buffer.concat(data.slice(2).map((frame) => frame.payload));
    assert.deepEqual(await inflater.message(streamed), Buffer.concat([jsonLike(1000), jsonLike(10)]));
  });

  test('a buffer refilled as soon as writeAsync resolves: the peer gets what it held when written', async (t) => {
    const { socket, peer } = await connectTo(t, 'permessage-deflate', { threshold: 0 });
    const buffer = Buffer.alloc(256 * 1024);
    const sent: Buffer[] = [];
    for (let round = 0; round < 8; round++) {
      randomBytes(1024).copy(buffer, 0);
      buffer.fill(round, 1024);
      sent.push(Buffer.from(buffer));
      await socket.outputStream.writeAsync(buffer);
    }
    await until(peer, () => messagesOf(peer.frames).length === 8, 'eight messages');
    const inflater = new ContextInflater();
    t.after(() => {
      inflater.close();
    });
    for (const [index, message] of messagesOf(peer.frames).entries()) {
      assert.deepEqual(await inflater.message(message.payload), sent[index], `message ${index}`);
    }
  });

  test('with client_no_context_takeover each message the client sends inflates on its own', async (t) => {
    const { socket, peer } = await connectTo(t, 'permessage-deflate; client_no_context_takeover', {
      threshold: 0,
    });
    const text = jsonLike(8000);
    for (let round = 0; round < 3; round++) await socket.outputStream.writeAsync(text);
    await until(peer, () => messagesOf(peer.frames).length === 3, 'three messages');
    for (const message of messagesOf(peer.frames)) assert.deepEqual(inflateAlone(message.payload), text);
  });

  test('with server_no_context_takeover each message the server sends inflates on its own', async (t) => {
    const { port } = await echoListener(t, { serverNoContextTakeover: true, threshold: 0 });
    const client = await rawClient(port);
    assert.match(client.responseHead, /server_no_context_takeover/);
    const text = jsonLike(8000);
    for (let round = 0; round < 3; round++) client.send(compressedFrames(TEXT, deflateAlone(text)));
    await client.until(() => messagesOf(client.frames).length === 3, 5000, 'three echoes');
    for (const message of messagesOf(client.frames)) {
      assert.equal(message.rsv, RSV1);
      assert.deepEqual(inflateAlone(message.payload), text);
    }
  });
});

void describe('permessage-deflate: the zlib limiter', () => {
  test('runs at most its limit at once, and the waiting ones in order', () => {
    const limiter = new ZlibLimiter(2);
    const started: number[] = [];
    for (let index = 0; index < 5; index++) limiter.acquire(() => started.push(index));
    assert.deepEqual(started, [0, 1]);
    assert.equal(limiter.active, 2);
    limiter.release();
    assert.deepEqual(started, [0, 1, 2]);
    limiter.release();
    limiter.release();
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(limiter.active, 2);
    limiter.release();
    limiter.release();
    assert.equal(limiter.active, 0);
  });

  test('readers that stall on compressed messages hold no zlib slot: other connections go on', async (t) => {
    const bound = await listen<'message'>(t, { mode: 'message', perMessageDeflate: { threshold: 0 } });
    const stalled: RawClient[] = [];
    // More stalled connections than slots, each with a message far larger than its high-water mark.
    for (let index = 0; index < ZLIB_CONCURRENCY + 2; index++) {
      const client = await rawClient(bound.port);
      const server = await bound.next();
      const messages = server.messages();
      t.after(() => {
        client.destroy();
      });
      client.send(compressedFrames(BINARY, deflateBomb(64)));
      // The message is taken and never read.
      await within(messages.next(), 5000, 'the stalled message');
      stalled.push(client);
    }
    const client = await rawClient(bound.port);
    const server = await bound.next();
    server.on('messageReceived', async (event) => {
      server.control.messageType = event.messageType;
      await server.outputStream.writeAsync(event.getData());
    });
    const text = jsonLike(30_000);
    client.send(compressedFrames(TEXT, deflateAlone(text)));
    await client.until(
      () => messagesOf(client.frames).length === 1,
      10_000,
      'the echo beside stalled readers',
    );
    assert.deepEqual(inflateAlone(messagesOf(client.frames)[0]!.payload), text);
    assert.ok(zlibLimiter.active <= ZLIB_CONCURRENCY);
    client.destroy();
  });
});

/** A fixed-Huffman block (RFC 1951 §3.2.6): `literals`, then a match of length 3 at distance 256, final. */
function fixedHuffmanWithFarMatch(literals: Buffer): Buffer {
  const bytes: number[] = [];
  let current = 0;
  let used = 0;
  const bits = (value: number, count: number): void => {
    for (let index = 0; index < count; index++) {
      current |= ((value >> index) & 1) << used;
      if (++used === 8) {
        bytes.push(current);
        current = 0;
        used = 0;
      }
    }
  };
  const code = (value: number, count: number): void => {
    for (let index = count - 1; index >= 0; index--) bits((value >> index) & 1, 1);
  };
  bits(1, 1); // BFINAL
  bits(1, 2); // fixed Huffman codes
  for (const literal of literals) code(0x30 + literal, 8); // literals 0–143: 8-bit codes from 0x30
  code(1, 7); // length code 257: a length of 3
  code(15, 5); // distance code 15: 193–256, six extra bits
  bits(63, 6); // 193 + 63 = 256
  code(0, 7); // end of block
  if (used > 0) bytes.push(current);
  return Buffer.from(bytes);
}
