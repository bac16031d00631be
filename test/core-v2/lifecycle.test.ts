// Issue 14, items 6, 7 and 8: the edges of a socket's life. handleUpgrade on a socket that was reset
// meanwhile; the one messageReceived event of a message socket whose connection fails mid-message;
// flushAsync before connect and after close; close() with a null reason; and the reason 'closed'
// reports after a protocol violation, which must be the one sent on the wire.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';

import {
  HResult,
  MessageWebSocket,
  SocketMessageType,
  StreamWebSocket,
  WebSocketError,
  WebSocketListener,
  type MessageWebSocketMessageReceivedEventArgs,
  type ServerMessageWebSocket,
  type WebSocketClosedEventArgs,
} from '../../src/index.js';
import { Arrivals, listen } from '../helpers/peers.js';
import { clientFrame, RawClient, upgradeRequest } from '../helpers/raw-client.js';
import { rawWebSocketServer, serverFrame } from '../helpers/raw-server.js';
import { within } from '../helpers/within.js';

test('handleUpgrade on a socket the client reset during an async step: closed fires with 1006 and closeAsync() resolves', async (t) => {
  const listener = new WebSocketListener();
  const closes = new Arrivals<number>();
  listener.on('connectionReceived', ({ socket }) => {
    socket.on('closed', ({ code }) => {
      closes.push(code);
    });
  });
  const upgrades = new Arrivals<void>();
  const server = http.createServer();
  server.on('upgrade', (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => undefined);
    upgrades.push();
    // The framework's async step: by its end, the client has reset the connection (events.once would
    // reject on the ECONNRESET 'error' before 'close').
    socket.once('close', () => {
      listener.handleUpgrade(request, socket, head);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.close();
  });
  const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.on('error', () => undefined);
  await once(client, 'connect');
  client.write(upgradeRequest('/'));
  await upgrades.next(5000, 'the upgrade request');
  client.resetAndDestroy();
  assert.equal(await closes.next(2000, "the handed-out socket's closed event"), 1006);
  await within(listener.closeAsync(), 5000, 'listener.closeAsync()');
});

/** What messageReceived raised, and what its getters did. */
interface Raised {
  messageType: SocketMessageType;
  getDataThrew: unknown;
}

function record(socket: MessageWebSocket | ServerMessageWebSocket): Raised[] {
  const raised: Raised[] = [];
  socket.on('messageReceived', (args: MessageWebSocketMessageReceivedEventArgs) => {
    let getDataThrew: unknown;
    try {
      args.getData();
    } catch (error) {
      getDataThrew = error;
    }
    raised.push({ messageType: args.messageType, getDataThrew });
  });
  return raised;
}

/** After 'closed', a few turns of the event loop for any event still queued behind it. */
async function settle(closed: Promise<WebSocketClosedEventArgs>): Promise<WebSocketClosedEventArgs> {
  const info = await within(closed, 5000, 'closed');
  for (let turn = 0; turn < 3; turn++) await nextTurn();
  return info;
}

function assertOneFailureEvent(raised: Raised[]): void {
  assert.equal(raised.length, 1, `messageReceived was raised ${raised.length} times`);
  const [event] = raised;
  assert.ok(event!.getDataThrew instanceof WebSocketError, 'getData() throws a WebSocketError');
  assert.equal(event!.messageType, SocketMessageType.Utf8, "the interrupted message's type (Utf8)");
}

test('a MessageWebSocket whose connection dies mid text message raises messageReceived once, Utf8, getters throwing', async (t) => {
  const server = await rawWebSocketServer(t, (connection) => {
    connection.send(serverFrame(0x1, Buffer.from('the first half of'), false));
    connection.socket.end(() => {
      connection.socket.destroy();
    });
  });
  const client = new MessageWebSocket();
  const raised = record(client);
  const closed = client.whenClosed();
  await within(client.connectAsync(server.url), 5000, 'connectAsync');
  assert.equal((await settle(closed)).code, 1006);
  assertOneFailureEvent(raised);
});

test('a ServerMessageWebSocket whose client dies mid text message raises messageReceived once, Utf8, getters throwing', async (t) => {
  const { port, next } = await listen(t, { mode: 'message' });
  const raw = await RawClient.open(port);
  const socket = await next();
  const raised = record(socket);
  const closed = socket.whenClosed();
  raw.send(clientFrame({ opcode: 0x1, fin: false, payload: 'the first half of' }));
  raw.socket.end(() => {
    raw.destroy();
  });
  assert.equal((await settle(closed)).code, 1006);
  assertOneFailureEvent(raised);
});

async function expectHresult(promise: Promise<unknown>, hresult: number, what: string): Promise<void> {
  const outcome = await within(
    promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    5000,
    what,
  );
  assert.ok('error' in outcome, `${what} resolved with ${String('value' in outcome && outcome.value)}`);
  assert.ok(
    outcome.error instanceof WebSocketError,
    `${what}: a WebSocketError, got ${String(outcome.error)}`,
  );
  assert.equal(outcome.error.hresult, hresult, `${what}: hresult 0x${outcome.error.hresult.toString(16)}`);
}

for (const Client of [StreamWebSocket, MessageWebSocket]) {
  test(`${Client.name}: flushAsync() before connect fails with E_ILLEGAL_METHOD_CALL, after close() with RO_E_CLOSED`, async (t) => {
    const client = new Client();
    await expectHresult(
      client.outputStream.flushAsync(),
      HResult.E_ILLEGAL_METHOD_CALL,
      'flushAsync() before connect',
    );
    const { url } = await listen(t);
    await within(client.connectAsync(url), 5000, 'connectAsync');
    const closed = client.whenClosed();
    client.close(1000);
    await expectHresult(client.outputStream.flushAsync(), HResult.RO_E_CLOSED, 'flushAsync() after close()');
    await within(closed, 5000, 'closed');
    await expectHresult(client.outputStream.flushAsync(), HResult.RO_E_CLOSED, "flushAsync() after 'closed'");
  });
}

test('close(1000, null) throws a WebSocketError with E_INVALIDARG, not a TypeError', () => {
  const client = new StreamWebSocket();
  assert.throws(
    () => {
      client.close(1000, null as unknown as string);
    },
    (error: unknown) => error instanceof WebSocketError && error.hresult === HResult.E_INVALIDARG,
  );
});

/** The reason in a close frame's payload, as sent. */
function wireReason(payload: Buffer): string {
  return payload.subarray(2).toString('utf8');
}

test("after a client's unmasked frame, the server's closed.reason is the reason it sent on the wire (≤ 123 bytes)", async (t) => {
  const { port, next } = await listen(t);
  const raw = await RawClient.open(port);
  const socket = await next();
  const closed = socket.whenClosed();
  raw.send(clientFrame({ opcode: 0x2, payload: 'not masked', masked: false }));
  await raw.until(() => raw.frames.some((frame) => frame.opcode === 0x8), 5000, "the server's close frame");
  const sent = wireReason(raw.frames.find((frame) => frame.opcode === 0x8)!.payload);
  raw.destroy();
  const info = await within(closed, 5000, 'closed');
  assert.equal(info.code, 1002);
  assert.equal(info.reason, sent, 'closed.reason is the reason on the wire');
  assert.ok(Buffer.byteLength(info.reason) <= 123);
});

test("after invalid UTF-8 from the server, the client's closed.reason is the reason it sent on the wire (≤ 123 bytes)", async (t) => {
  const server = await rawWebSocketServer(t, (connection) => {
    connection.send(serverFrame(0x1, Buffer.from([0x68, 0xc3, 0x28])));
  });
  const client = new MessageWebSocket();
  client.on('messageReceived', () => undefined);
  const closed = client.whenClosed();
  await within(client.connectAsync(server.url), 5000, 'connectAsync');
  const connection = await server.connection;
  const info = await within(closed, 5000, 'closed');
  const frames = await within(connection.closed, 5000, 'the connection ending');
  const close = frames.find((frame) => frame.opcode === 0x8);
  assert.ok(close !== undefined, 'the client sent a close frame');
  assert.equal(close.payload.readUInt16BE(0), 1007);
  assert.equal(info.code, 1007);
  assert.equal(info.reason, wireReason(close.payload), 'closed.reason is the reason on the wire');
  assert.ok(Buffer.byteLength(info.reason) <= 123);
});
