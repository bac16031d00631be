// StreamWebSocket and ServerStreamWebSocket over real loopback sockets: data in both directions,
// readAsync semantics, backpressure, close and cancellation, and faults that must not look like success.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { WebSocketServer, type WebSocket as WsSocket } from 'ws';

import {
  HResult,
  InputStreamOptions,
  type ServerStreamWebSocket,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
} from '../src/index.js';

/** A listener on 127.0.0.1 whose next connection is handed to the test. */
async function startListener(): Promise<{
  url: string;
  nextSocket: () => Promise<ServerStreamWebSocket>;
  listener: WebSocketListener;
}> {
  const listener = new WebSocketListener();
  const waiting: ((socket: ServerStreamWebSocket) => void)[] = [];
  const arrived: ServerStreamWebSocket[] = [];
  listener.on('connectionReceived', ({ socket }) => {
    const taker = waiting.shift();
    if (taker === undefined) arrived.push(socket);
    else taker(socket);
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  after(() => listener.closeAsync());
  return {
    url: `ws://127.0.0.1:${String(listener.information.localPort)}/test`,
    listener,
    nextSocket: () => {
      const socket = arrived.shift();
      if (socket !== undefined) return Promise.resolve(socket);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

async function connectedPair(): Promise<{ client: StreamWebSocket; server: ServerStreamWebSocket }> {
  const { url, nextSocket } = await startListener();
  const client = new StreamWebSocket();
  const serverSocket = nextSocket();
  await client.connectAsync(url);
  return { client, server: await serverSocket };
}

async function readAll(socket: { inputStream: AsyncIterable<Buffer> }): Promise<Buffer[]> {
  const sections: Buffer[] = [];
  for await (const section of socket.inputStream) sections.push(section);
  return sections;
}

async function expectWebSocketError(
  promise: Promise<unknown>,
  status: WebErrorStatus,
): Promise<WebSocketError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof WebSocketError, `expected a WebSocketError, got ${String(error)}`);
    assert.equal(error.status, status, `status ${error.status} (${error.message})`);
    return error;
  }
  assert.fail('expected the operation to fail');
}

/** A TCP server that completes the opening handshake by hand and then does what the test says. */
async function rawWebSocketServer(
  behave: (socket: net.Socket) => void,
): Promise<{ url: string; received: Promise<Buffer> }> {
  let deliver!: (bytes: Buffer) => void;
  const received = new Promise<Buffer>((resolve) => (deliver = resolve));
  const server = net.createServer((socket) => {
    const chunks: Buffer[] = [];
    let upgraded = false;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      if (!upgraded && text.includes('\r\n\r\n')) {
        upgraded = true;
        chunks.length = 0;
        const key = /sec-websocket-key: (.+)\r\n/i.exec(text)?.[1] ?? '';
        const accept = createHash('sha1')
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        behave(socket);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      deliver(Buffer.concat(chunks));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => {
    server.close();
  });
  const { port } = server.address() as net.AddressInfo;
  return { url: `ws://127.0.0.1:${String(port)}/`, received };
}

/** An unmasked server frame. */
function serverFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const header = payload.length < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, payload.length]) : undefined;
  assert.ok(header !== undefined, 'test frames are small');
  return Buffer.concat([header, payload]);
}

test('bytes flow both ways, and the inputStream ends when the peer closes', async () => {
  const { client, server } = await connectedPair();
  await client.outputStream.writeAsync(Buffer.from('hello '));
  await client.outputStream.writeAsync(Buffer.from('server'));
  const serverClosed = server.whenClosed();
  client.close(1000, 'done');
  assert.equal(Buffer.concat(await readAll(server)).toString(), 'hello server');
  const [serverSide, clientSide] = await Promise.all([serverClosed, client.whenClosed()]);
  assert.deepEqual(serverSide, { code: 1000, reason: 'done' });
  assert.equal(clientSide.code, 1000);
});

test('a server write reaches the client, and readAsync returns 0 bytes at the end', async () => {
  const { client, server } = await connectedPair();
  await server.outputStream.writeAsync(Buffer.from('0123456789'));
  server.close(1000, 'bye');
  const buffer = new Uint8Array(4);
  const first = await client.inputStream.readAsync(buffer, 4, InputStreamOptions.None);
  assert.equal(first.toString(), '0123');
  assert.equal(first.buffer, buffer.buffer, 'the result is a view of the caller’s buffer');
  const rest = await client.inputStream.readAsync(new Uint8Array(100), 100, InputStreamOptions.None);
  assert.equal(rest.toString(), '456789', 'None completes at the end of the stream with what there is');
  const end = await client.inputStream.readAsync(new Uint8Array(8), 8, InputStreamOptions.Partial);
  assert.equal(end.length, 0);
  assert.deepEqual(await client.whenClosed(), { code: 1000, reason: 'bye' });
});

test('readAsync: Partial and ReadAhead complete with what has arrived, None waits for count bytes', async () => {
  const { client, server } = await connectedPair();
  await server.outputStream.writeAsync(Buffer.from('abc'));
  const partial = await client.inputStream.readAsync(new Uint8Array(64), 64, InputStreamOptions.Partial);
  assert.equal(partial.toString(), 'abc');
  const whole = client.inputStream.readAsync(new Uint8Array(6), 6, InputStreamOptions.None);
  let settled = false;
  void whole.then(() => (settled = true));
  await server.outputStream.writeAsync(Buffer.from('def'));
  await delay(50);
  assert.equal(settled, false, 'None must not complete with 3 of 6 bytes');
  await server.outputStream.writeAsync(Buffer.from('ghi'));
  assert.equal((await whole).toString(), 'defghi');
  await server.outputStream.writeAsync(Buffer.from('jkl'));
  const ahead = await client.inputStream.readAsync(new Uint8Array(64), 64, InputStreamOptions.ReadAhead);
  assert.equal(ahead.toString(), 'jkl');
  await assert.rejects(client.inputStream.readAsync(new Uint8Array(4), 5), (error: WebSocketError) => {
    return error.hresult === HResult.E_INVALIDARG;
  });
  client.close(1000);
});

test('each outputStream write is one binary message; a text message arrives as its UTF-8 bytes', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  after(() => {
    wss.close();
  });
  await once(wss, 'listening');
  const messages: { data: Buffer; isBinary: boolean }[] = [];
  const peer = new Promise<WsSocket>((resolve) => {
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer, isBinary) => messages.push({ data, isBinary }));
      resolve(ws);
    });
  });
  const client = new StreamWebSocket();
  await client.connectAsync(`ws://127.0.0.1:${String((wss.address() as net.AddressInfo).port)}/`);
  const wsPeer = await peer;
  await client.outputStream.writeAsync(Buffer.from('one'));
  await client.outputStream.writeAsync(Buffer.alloc(70_000, 2));
  await client.outputStream.writeAsync(Buffer.alloc(0));
  wsPeer.send('héllo wörld', { binary: false });
  const text = await client.inputStream.readAsync(new Uint8Array(64), 64, InputStreamOptions.Partial);
  assert.equal(text.toString('utf8'), 'héllo wörld');
  const closed = client.whenClosed();
  wsPeer.close(1000, 'ok');
  await closed;
  assert.deepEqual(
    messages.map(({ data, isBinary }) => [data.length, isBinary]),
    [
      [3, true],
      [70_000, true],
      [0, true],
    ],
  );
});

test('write() and writeAsync() mixed in one tick: messages arrive in call order, flushAsync waits for all', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  after(() => {
    wss.close();
  });
  await once(wss, 'listening');
  const received: Buffer[] = [];
  const peer = new Promise<WsSocket>((resolve) => {
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer) => received.push(data));
      resolve(ws);
    });
  });
  const client = new StreamWebSocket();
  await client.connectAsync(`ws://127.0.0.1:${String((wss.address() as net.AddressInfo).port)}/`);
  await peer;
  // Larger than the socket's buffer, so that some calls wait for it to drain while others are made.
  const sizes = [600_000, 10, 2_000_000, 70_000, 1, 0, 1_200_000, 5];
  const payloads = sizes.map((size, index) => Buffer.alloc(size, index + 1));
  const writes: Promise<unknown>[] = [];
  payloads.forEach((payload, index) => {
    if (index % 2 === 0) writes.push(client.outputStream.writeAsync(payload));
    else client.outputStream.write(payload);
  });
  assert.equal(await client.outputStream.flushAsync(), true);
  await Promise.all(writes);
  const closed = client.whenClosed();
  client.close(1000, 'done');
  // ws answered our close frame, so it had handled every message before it.
  await closed;
  assert.deepEqual(
    received.map((data) => [data.length, data[0], data.at(-1)]),
    payloads.map((payload) => [payload.length, payload[0], payload.at(-1)]),
  );
  assert.ok(received.every((data, index) => data.equals(payloads[index]!)));
});

test('backpressure: a reader that does not read holds the writer, and nothing is lost', async () => {
  const { client, server } = await connectedPair();
  const chunk = Buffer.alloc(1024 * 1024);
  const sent = createHash('sha256');
  let written = 0;
  let stalled = false;
  // Write until a write stays pending: the unread data is bounded by buffers, not by what we offer.
  for (let index = 0; index < 256 && !stalled; index++) {
    chunk.fill(index);
    sent.update(chunk);
    const write = server.outputStream.writeAsync(Buffer.from(chunk));
    const outcome = await Promise.race([write.then(() => 'done'), delay(200).then(() => 'pending')]);
    written++;
    if (outcome === 'pending') {
      stalled = true;
      const reading = readAll(client);
      await write;
      server.close(1000, 'end');
      const received = Buffer.concat(await reading);
      assert.equal(received.length, written * chunk.length);
      assert.equal(createHash('sha256').update(received).digest('hex'), sent.digest('hex'));
    }
  }
  assert.ok(stalled, 'the writer was never held back');
  assert.ok(written < 128, `${written} MiB were accepted while nobody read`);
});

test('a reader that does not read keeps the buffered input near the high-water mark', async () => {
  const { client, server } = await connectedPair();
  const writes = (async () => {
    for (let index = 0; index < 64; index++)
      await server.outputStream.writeAsync(Buffer.alloc(1024 * 1024, index));
  })();
  await delay(300);
  assert.ok(
    client.inputStream.readableLength <= client.inputStream.readableHighWaterMark + 1024 * 1024,
    `${client.inputStream.readableLength} bytes buffered`,
  );
  client.close(1000);
  // The server's pending write ends when the client's close frame arrives: nothing more can be sent.
  await expectWebSocketError(writes, WebErrorStatus.Disconnected);
});

test('close() cancels a pending readAsync and a pending writeAsync with OperationCanceled', async () => {
  const { client } = await connectedPair();
  const read = client.inputStream.readAsync(new Uint8Array(16), 16, InputStreamOptions.Partial);
  // The server never reads: fill the pipe until a write stays pending.
  let pending: Promise<number> | undefined;
  for (let index = 0; index < 512 && pending === undefined; index++) {
    const write = client.outputStream.writeAsync(Buffer.alloc(1024 * 1024));
    const outcome = await Promise.race([write.then(() => 'done'), delay(100).then(() => 'pending')]);
    if (outcome === 'pending') pending = write;
  }
  assert.ok(pending !== undefined, 'no write was ever held back');
  client.close(1000, 'stop');
  const readError = await expectWebSocketError(read, WebErrorStatus.OperationCanceled);
  assert.equal(WebSocketError.getStatus(readError), WebErrorStatus.OperationCanceled);
  await expectWebSocketError(pending, WebErrorStatus.OperationCanceled);
  const late = await expectWebSocketError(
    client.outputStream.writeAsync(Buffer.from('late')),
    WebErrorStatus.Disconnected,
  );
  assert.equal(late.hresult, HResult.RO_E_CLOSED);
});

test('close arguments: 1000 and 3000–4999 only, reasons up to 123 UTF-8 bytes, idempotent', async () => {
  const { client, server } = await connectedPair();
  for (const code of [999, 1001, 1005, 1006, 2999, 5000, 1000.5]) {
    assert.throws(
      () => {
        client.close(code);
      },
      (error: WebSocketError) => error.hresult === HResult.E_INVALIDARG,
    );
  }
  assert.throws(
    () => {
      client.close(1000, 'é'.repeat(62));
    },
    (error: WebSocketError) => error.hresult === HResult.E_INVALIDARG,
  );
  let closedEvents = 0;
  client.on('closed', () => closedEvents++);
  const serverClosed = server.whenClosed();
  client.close(4999, 'x'.repeat(123));
  client.close(1000, 'ignored');
  assert.deepEqual(await serverClosed, { code: 4999, reason: 'x'.repeat(123) });
  await client.whenClosed();
  await delay(20);
  assert.equal(closedEvents, 1);
});

test('close() without arguments sends an empty close frame (1005 at the peer)', async () => {
  const { client, server } = await connectedPair();
  const serverClosed = server.whenClosed();
  client.close();
  assert.deepEqual(await serverClosed, { code: 1005, reason: '' });
});

test('Symbol.asyncDispose closes and waits for the closing handshake', async () => {
  const { client, server } = await connectedPair();
  const serverClosed = server.whenClosed();
  await client[Symbol.asyncDispose]();
  assert.equal((await client.whenClosed()).code, 1005);
  assert.equal((await serverClosed).code, 1005);
  // A socket that never connected disposes at once.
  await new StreamWebSocket()[Symbol.asyncDispose]();
});

test('a peer that vanishes in the middle of a message fails the read instead of ending it', async () => {
  const { url } = await rawWebSocketServer((socket) => {
    socket.write(serverFrame(0x2, Buffer.from('first part'), false));
    setTimeout(() => socket.destroy(), 20);
  });
  const client = new StreamWebSocket();
  await client.connectAsync(url);
  const sections: Buffer[] = [];
  const error = await (async () => {
    for await (const section of client.inputStream) sections.push(section);
  })().then(
    () => assert.fail('the stream ended as if the message were complete'),
    (failure: unknown) => failure,
  );
  assert.ok(error instanceof WebSocketError);
  assert.ok(
    error.status === WebErrorStatus.ConnectionAborted || error.status === WebErrorStatus.ConnectionReset,
    `status ${error.status}`,
  );
  assert.equal(Buffer.concat(sections).toString(), 'first part');
  assert.equal((await client.whenClosed()).code, 1006);
});

test('a connection lost between messages without a close frame is an error, not a clean end', async () => {
  const { url } = await rawWebSocketServer((socket) => {
    socket.end(serverFrame(0x2, Buffer.from('complete message')));
  });
  const client = new StreamWebSocket();
  await client.connectAsync(url);
  const first = await client.inputStream.readAsync(new Uint8Array(64), 64, InputStreamOptions.Partial);
  assert.equal(first.toString(), 'complete message');
  await expectWebSocketError(
    client.inputStream.readAsync(new Uint8Array(64), 64, InputStreamOptions.Partial),
    WebErrorStatus.ConnectionAborted,
  );
  assert.equal((await client.whenClosed()).code, 1006);
});

/** Decodes the client's (masked) frames that a raw server received. */
function clientFrames(bytes: Buffer): { opcode: number; payload: Buffer }[] {
  const frames: { opcode: number; payload: Buffer }[] = [];
  let offset = 0;
  while (offset + 6 <= bytes.length) {
    const opcode = bytes[offset]! & 0x0f;
    const length = bytes[offset + 1]! & 0x7f;
    assert.ok(length < 126, 'test frames are small');
    const key = bytes.subarray(offset + 2, offset + 6);
    const payload = Buffer.from(bytes.subarray(offset + 6, offset + 6 + length));
    for (let index = 0; index < payload.length; index++) payload[index]! ^= key[index % 4]!;
    frames.push({ opcode, payload });
    offset += 6 + length;
  }
  return frames;
}

test('a protocol violation by the server closes with 1002 and fails the read', async () => {
  const { url, received } = await rawWebSocketServer((socket) => {
    // A server must not mask its frames (RFC 6455 §5.1).
    socket.write(Buffer.from([0x82, 0x82, 1, 2, 3, 4, 0, 0]));
  });
  const client = new StreamWebSocket();
  await client.connectAsync(url);
  const error = await expectWebSocketError(
    client.inputStream.readAsync(new Uint8Array(8), 8, InputStreamOptions.Partial),
    WebErrorStatus.ConnectionAborted,
  );
  assert.equal(error.closeCode, 1002);
  assert.equal((await client.whenClosed()).code, 1002);
  const close = clientFrames(await received).find((frame) => frame.opcode === 0x8);
  assert.equal(close?.payload.readUInt16BE(0), 1002);
});

test('invalid UTF-8 in a text message closes with 1007', async () => {
  const { url, received } = await rawWebSocketServer((socket) => {
    socket.write(serverFrame(0x1, Buffer.from([0x68, 0x69, 0xc3, 0x28])));
  });
  const client = new StreamWebSocket();
  await client.connectAsync(url);
  const sections: Buffer[] = [];
  const error = await expectWebSocketError(
    (async () => {
      for await (const section of client.inputStream) sections.push(section);
    })(),
    WebErrorStatus.ConnectionAborted,
  );
  assert.equal(error.closeCode, 1007);
  assert.equal(sections.length, 0, 'no byte of the invalid frame was delivered');
  const close = clientFrames(await received).find((frame) => frame.opcode === 0x8);
  assert.equal(close?.payload.readUInt16BE(0), 1007);
});

test('control.maxMessageSize closes with 1009 when a message is larger', async () => {
  const { url, received } = await rawWebSocketServer((socket) => {
    socket.write(serverFrame(0x2, Buffer.alloc(100)));
  });
  const client = new StreamWebSocket();
  client.control.maxMessageSize = 64;
  await client.connectAsync(url);
  const error = await expectWebSocketError(
    client.inputStream.readAsync(new Uint8Array(8), 8, InputStreamOptions.Partial),
    WebErrorStatus.ConnectionAborted,
  );
  assert.equal(error.closeCode, 1009);
  const close = clientFrames(await received).find((frame) => frame.opcode === 0x8);
  assert.equal(close?.payload.readUInt16BE(0), 1009);
});

test('pings are answered with the same payload; unsolicited pongs go out at the desired interval', async () => {
  const { url, received } = await rawWebSocketServer((socket) => {
    socket.write(serverFrame(0x9, Buffer.from('are you there')));
    setTimeout(() => socket.end(), 400);
  });
  const client = new StreamWebSocket();
  client.control.desiredUnsolicitedPongInterval = 100;
  await client.connectAsync(url);
  assert.equal(client.control.actualUnsolicitedPongInterval, 100);
  const pongs = clientFrames(await received).filter((frame) => frame.opcode === 0xa);
  assert.equal(pongs[0]?.payload.toString(), 'are you there');
  const unsolicited = pongs.slice(1).filter((frame) => frame.payload.length === 0);
  assert.ok(unsolicited.length >= 2, `${unsolicited.length} unsolicited pongs in 400 ms`);
});

test('information: local address, subprotocol, and bandwidth measured from the bytes moved', async () => {
  const { client, server } = await connectedPair();
  assert.equal(new StreamWebSocket().information.protocol, null);
  assert.equal(client.information.localAddress, '127.0.0.1');
  assert.equal(client.information.protocol, '');
  const payload = Buffer.alloc(4 * 1024 * 1024);
  const reading = client.inputStream.readAsync(new Uint8Array(payload.length), payload.length);
  await server.outputStream.writeAsync(payload);
  await reading;
  const inbound = client.information.bandwidthStatistics;
  assert.ok(
    inbound.inboundBitsPerSecond >= payload.length * 8,
    `${inbound.inboundBitsPerSecond} b/s inbound`,
  );
  assert.ok(server.information.bandwidthStatistics.outboundBitsPerSecond >= payload.length * 8);
  assert.ok(client.information.bytesReceived >= payload.length);
  client.close(1000);
});
