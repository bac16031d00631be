// WebSocketListener: binding, the HTTP answers to requests that are not valid upgrades (always complete,
// always followed by closing the connection), handshake limits, subprotocol choice, sharing an
// application's HTTP server (attach, handleUpgrade), shutdown with 1001, and many connections in a row.
// Everything runs on 127.0.0.1 with ports chosen by the OS.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { test, type TestContext } from 'node:test';

import { WebSocketServer, WebSocket as WsClient } from 'ws';

import {
  InputStreamOptions,
  MessageWebSocket,
  ServerStreamWebSocket,
  type ServerMessageWebSocket,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
  type ConnectionReceivedEventArgs,
  MAX_REFUSAL_BODY,
  type UpgradeRefusal,
  type UpgradeVerdict,
  type WebSocketClosedEventArgs,
  type WebSocketListenerOptions,
} from '../src/index.js';
import { Arrivals } from './helpers/peers.js';
import { setTimeout as delay } from 'node:timers/promises';
import { within } from './helpers/within.js';

// ---------------------------------------------------------------------------------------------------
// Helpers

interface Bound {
  listener: WebSocketListener;
  port: number;
  url: string;
  received: ConnectionReceivedEventArgs[];
}

/** A listener bound to 127.0.0.1 (closed at test end); by default it accepts every connection. */
async function bound(t: TestContext, options: WebSocketListenerOptions = {}, accept = true): Promise<Bound> {
  const listener = new WebSocketListener({ closeTimeout: 1000, ...options });
  const received: ConnectionReceivedEventArgs[] = [];
  if (accept) {
    listener.on('connectionReceived', (args) => {
      received.push(args);
    });
  }
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(async () => {
    await within(listener.closeAsync(), 5000, 'listener.closeAsync at test end');
  });
  const port = listener.information.localPort ?? 0;
  return { listener, port, url: `ws://127.0.0.1:${port}`, received };
}

/** A client, closed at test end (its closing handshake awaited if it ever connected). */
function client(t: TestContext): StreamWebSocket {
  const ws = new StreamWebSocket();
  ws.control.connectTimeout = 3000;
  ws.control.closeTimeout = 1000;
  t.after(async () => {
    const connected = ws.information.protocol !== null;
    const closed = ws.whenClosed();
    ws.close();
    if (connected) await within(closed, 3000, 'client closing handshake at test end');
  });
  return ws;
}

async function connected(t: TestContext, url: string, protocols: string[] = []): Promise<StreamWebSocket> {
  const ws = client(t);
  ws.control.supportedProtocols.push(...protocols);
  await within(ws.connectAsync(url), 3000, `connect to ${url}`);
  return ws;
}

/** Awaits a promise that must reject with a WebSocketError of this status. */
async function expectStatus(
  promise: Promise<unknown>,
  status: WebErrorStatus,
  what: string,
): Promise<WebSocketError> {
  try {
    await within(promise, 4000, what);
  } catch (error) {
    assert.ok(error instanceof WebSocketError, `${what}: expected a WebSocketError, got ${String(error)}`);
    assert.equal(error.status, status, `${what}: ${error.message}`);
    return error;
  }
  assert.fail(`${what}: expected a rejection with status ${status}`);
}

/** Resolves with the next connectionReceived of a listener. */
function nextConnection(listener: WebSocketListener): Promise<ConnectionReceivedEventArgs> {
  return new Promise((resolve) => {
    listener.once('connectionReceived', resolve);
  });
}

interface RawResponse {
  /** Everything the server sent before closing. */
  text: string;
  statusCode: number | undefined;
  headers: Map<string, string>;
  body: string;
  /** Whether the server closed the connection (within the time allowed). */
  closed: boolean;
  /** Milliseconds from connecting to the close (or to giving up). */
  elapsed: number;
}

/**
 * Opens a TCP connection, sends `request` (bytes or text, optionally in several writes), and collects
 * the answer until the server closes the connection or `timeout` passes (then the socket is destroyed).
 */
async function rawRequest(port: number, request: string | Buffer, timeout = 3000): Promise<RawResponse> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const started = Date.now();
  await once(socket, 'connect');
  socket.write(request);
  const closedInTime = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, timeout);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  const elapsed = Date.now() - started;
  socket.destroy();
  return { ...parseResponse(Buffer.concat(chunks).toString('latin1')), closed: closedInTime, elapsed };
}

function parseResponse(text: string): Omit<RawResponse, 'closed' | 'elapsed'> {
  const headers = new Map<string, string>();
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine);
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return {
    text,
    statusCode: match === null ? undefined : Number(match[1]),
    headers,
    body: end === -1 ? '' : text.slice(end + 4),
  };
}

/** Checks that a raw answer is complete (status line, headers, the whole body) and the server closed. */
function assertCompleteAnswer(response: RawResponse, statusCode: number | number[], what: string): void {
  const allowed = Array.isArray(statusCode) ? statusCode : [statusCode];
  assert.ok(
    response.statusCode !== undefined && allowed.includes(response.statusCode),
    `${what}: expected ${allowed.join(' or ')}, got ${JSON.stringify(response.text.slice(0, 200))}`,
  );
  assert.ok(response.text.includes('\r\n\r\n'), `${what}: the header block is complete`);
  const length = response.headers.get('content-length');
  if (length !== undefined) {
    assert.equal(
      Buffer.byteLength(response.body, 'latin1'),
      Number(length),
      `${what}: the whole body arrived`,
    );
  }
  assert.ok(response.closed, `${what}: the server must close the connection (no hang)`);
}

const GOOD_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function upgradeRequest(
  overrides: Record<string, string | undefined> = {},
  requestLine = 'GET / HTTP/1.1',
): string {
  const headers: Record<string, string | undefined> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': GOOD_KEY,
    'Sec-WebSocket-Version': '13',
    ...overrides,
  };
  const lines = [requestLine];
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined) lines.push(`${name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

interface RawUpgrade {
  socket: net.Socket;
  statusCode: number | undefined;
  headers: Map<string, string>;
  /** Bytes that came after the response head. */
  rest: () => Buffer;
}

/** Sends a raw upgrade request (plus any bytes after it) and resolves once the response head arrived. */
async function rawUpgrade(t: TestContext, port: number, request: Buffer): Promise<RawUpgrade> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  let received = Buffer.alloc(0);
  let headEnd = -1;
  const head = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (headEnd === -1) {
        headEnd = received.indexOf('\r\n\r\n');
        if (headEnd !== -1) resolve();
      }
    });
  });
  await once(socket, 'connect');
  socket.write(request);
  await within(head, 3000, 'response head');
  const parsed = parseResponse(received.subarray(0, headEnd + 4).toString('latin1'));
  return {
    socket,
    statusCode: parsed.statusCode,
    headers: parsed.headers,
    rest: () => received.subarray(headEnd + 4),
  };
}

/** A masked client frame (FIN set), as RFC 6455 §5.2 draws it; payloads under 126 bytes. */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  assert.ok(payload.length < 126);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(payload.map((byte, index) => byte ^ mask[index % 4]!));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}

/** An application's own HTTP server on 127.0.0.1, closed at test end. */
async function appServer(t: TestContext): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((request, response) => {
    request.resume();
    const body = `app:${request.url ?? ''}`;
    response.writeHead(200, {
      'Content-Type': 'text/plain',
      'Content-Length': String(Buffer.byteLength(body)),
      Connection: 'close',
    });
    response.end(body);
  });
  // Upgraded sockets leave the server's own bookkeeping: track every socket to end them all at test end.
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  });
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Sends `text` from the client and checks it arrives at the server socket, then the other way round. */
async function exchange(
  clientSocket: StreamWebSocket,
  serverSocket: ServerStreamWebSocket,
  text: string,
): Promise<void> {
  const payload = Buffer.from(text);
  await within(clientSocket.outputStream.writeAsync(payload), 2000, 'client write');
  const atServer = await within(
    serverSocket.inputStream.readAsync(Buffer.alloc(payload.length), payload.length, InputStreamOptions.None),
    2000,
    'server read',
  );
  assert.equal(atServer.toString(), text);
  const back = Buffer.from(`echo:${text}`);
  await within(serverSocket.outputStream.writeAsync(back), 2000, 'server write');
  const atClient = await within(
    clientSocket.inputStream.readAsync(Buffer.alloc(back.length), back.length, InputStreamOptions.None),
    2000,
    'client read',
  );
  assert.equal(atClient.toString(), `echo:${text}`);
}

// ---------------------------------------------------------------------------------------------------
// Binding

void test('bindServiceNameAsync(0, 127.0.0.1): information.localPort is null before, a port after', async (t) => {
  const listener = new WebSocketListener();
  const before = listener.information.localPort;
  assert.equal(before, null);
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(async () => {
    await within(listener.closeAsync(), 3000, 'closeAsync');
  });
  const port = listener.information.localPort;
  assert.equal(typeof port, 'number');
  assert.ok(port !== null && Number.isInteger(port) && port > 0 && port < 65536, String(port));
});

void test('bindServiceNameAsync twice is E_ILLEGAL_METHOD_CALL; a port in use is a WebSocketError', async (t) => {
  const { listener, port } = await bound(t);
  await expectStatus(listener.bindServiceNameAsync(0, '127.0.0.1'), WebErrorStatus.Unknown, 'second bind');
  const other = new WebSocketListener();
  t.after(async () => {
    await within(other.closeAsync(), 3000, 'closeAsync');
  });
  await expectStatus(other.bindServiceNameAsync(port, '127.0.0.1'), WebErrorStatus.Unknown, 'port in use');
  assert.equal(other.information.localPort, null);
});

// ---------------------------------------------------------------------------------------------------
// Requests that are not valid upgrades

void test('requests that are not valid upgrades get complete HTTP errors and are closed; the listener lives on', async (t) => {
  const { url, port, received } = await bound(t);

  const plain = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  assertCompleteAnswer(plain, 426, 'plain GET');
  assert.equal(plain.headers.get('upgrade')?.toLowerCase(), 'websocket');

  const version8 = await rawRequest(port, upgradeRequest({ 'Sec-WebSocket-Version': '8' }));
  assertCompleteAnswer(version8, 426, 'Sec-WebSocket-Version: 8');
  assert.equal(version8.headers.get('sec-websocket-version'), '13');

  const noVersion = await rawRequest(port, upgradeRequest({ 'Sec-WebSocket-Version': undefined }));
  assertCompleteAnswer(noVersion, [400, 426], 'no Sec-WebSocket-Version');

  const shortKey = await rawRequest(port, upgradeRequest({ 'Sec-WebSocket-Key': 'c2hvcnQ=' }));
  assertCompleteAnswer(shortKey, 400, 'a key that is too short');

  const noKey = await rawRequest(port, upgradeRequest({ 'Sec-WebSocket-Key': undefined }));
  assertCompleteAnswer(noKey, 400, 'no key');

  const post = await rawRequest(port, upgradeRequest({}, 'POST / HTTP/1.1'));
  assertCompleteAnswer(post, 405, 'POST upgrade');

  const noHost = await rawRequest(port, upgradeRequest({ Host: undefined }));
  assertCompleteAnswer(noHost, 400, 'no Host (RFC 6455 §4.1)');

  const http10 = await rawRequest(port, upgradeRequest({}, 'GET / HTTP/1.0'));
  assertCompleteAnswer(http10, [400, 426, 505], 'HTTP/1.0 upgrade');

  const garbage = await rawRequest(port, Buffer.from('\x00\x01hello\r\n\r\n', 'latin1'));
  assertCompleteAnswer(garbage, 400, 'garbage bytes');

  assert.equal(received.length, 0, 'none of these is a connection');
  const ws = await connected(t, `${url}/after`);
  assert.equal(ws.information.protocol, '');
  assert.equal(received.length, 1);
});

void test('header tokens are matched leniently: "Connection: keep-alive, Upgrade" and "Upgrade: WebSocket"', async (t) => {
  const { listener, port, received } = await bound(t);
  const serverSide = nextConnection(listener);
  const upgrade = await rawUpgrade(
    t,
    port,
    Buffer.from(upgradeRequest({ Connection: 'keep-alive, Upgrade', Upgrade: 'WebSocket' })),
  );
  assert.equal(upgrade.statusCode, 101);
  // RFC 6455 §1.3: the accept value of the RFC's own sample key.
  assert.equal(upgrade.headers.get('sec-websocket-accept'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  assert.equal(upgrade.headers.get('sec-websocket-protocol'), undefined);
  await within(serverSide, 2000, 'connectionReceived');
  assert.equal(received.length, 1);
});

void test('an invalid Sec-WebSocket-Protocol in the request → 400, closed', async (t) => {
  const { port } = await bound(t, { supportedProtocols: ['a'] });
  const response = await rawRequest(port, upgradeRequest({ 'Sec-WebSocket-Protocol': 'a b, c' }));
  assertCompleteAnswer(response, 400, 'invalid subprotocol token');
});

void test('bytes the client sends right after its request (a first frame) reach the server socket', async (t) => {
  const { listener, port } = await bound(t);
  const serverSide = nextConnection(listener);
  const request = Buffer.concat([
    Buffer.from(upgradeRequest({}, 'GET /early HTTP/1.1')),
    maskedFrame(0x2, Buffer.from('early bytes')),
  ]);
  const upgrade = await rawUpgrade(t, port, request);
  assert.equal(upgrade.statusCode, 101);
  const { socket } = await within(serverSide, 2000, 'connectionReceived');
  const got = await within(
    socket.inputStream.readAsync(Buffer.alloc(11), 11, InputStreamOptions.None),
    2000,
    'the frame sent with the request',
  );
  assert.equal(got.toString(), 'early bytes');
  // And the server's answer reaches the raw client as an unmasked binary frame.
  await within(socket.outputStream.writeAsync(Buffer.from('ok')), 2000, 'server write');
  while (upgrade.rest().length < 4) await within(once(upgrade.socket, 'data'), 2000, "the server's frame");
  assert.deepEqual([...upgrade.rest()], [0x82, 0x02, 0x6f, 0x6b]);
});

void test('handshake timeout: a client that sends half a request line is disconnected', async (t) => {
  const { port } = await bound(t, { handshakeTimeout: 500 });
  const response = await rawRequest(port, 'GET /ch', 5000);
  assert.ok(
    response.closed,
    `the server must drop the slow client (still open after ${response.elapsed} ms)`,
  );
  assert.ok(
    response.elapsed >= 300,
    `dropped after ${response.elapsed} ms, before the 500 ms handshake timeout`,
  );
});

void test('handshake timeout: a client that sends its headers slowly and never ends them is disconnected', async (t) => {
  const { port } = await bound(t, { handshakeTimeout: 500 });
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  socket.resume(); // read the answer, so that the server's FIN is seen
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  const closed = once(socket, 'close').then(() => true);
  const started = Date.now();
  socket.write('GET / HTTP/1.1\r\n');
  const drip = setInterval(() => {
    if (!socket.destroyed) socket.write('X-Drip: x\r\n');
  }, 100);
  t.after(() => {
    clearInterval(drip);
  });
  const wasClosed = await Promise.race([closed, delay(5000).then(() => false)]);
  clearInterval(drip);
  assert.ok(wasClosed, 'a client dripping headers must be dropped');
  assert.ok(Date.now() - started < 5000);
});

void test('handshake timeout: a client that connects and sends nothing is disconnected', async (t) => {
  const { port } = await bound(t, { handshakeTimeout: 500 });
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  socket.resume(); // read the answer, so that the server's FIN is seen
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  const started = Date.now();
  const wasClosed = await Promise.race([
    once(socket, 'close').then(() => true),
    delay(5000).then(() => false),
  ]);
  assert.ok(wasClosed, `an idle client must be dropped (still open after ${Date.now() - started} ms)`);
});

void test('oversized headers: maxHeaderSize 1024 and a 4 KiB header → 431 (or 400), closed', async (t) => {
  const { url, port } = await bound(t, { maxHeaderSize: 1024 });
  const response = await rawRequest(port, upgradeRequest({ 'X-Big': 'b'.repeat(4096) }));
  assertCompleteAnswer(response, [431, 400], 'oversized headers');
  await connected(t, url);
});

void test('a client whose upgrade is oversized sees an HTTP status, not a hang', async (t) => {
  const { url } = await bound(t, { maxHeaderSize: 1024 });
  const ws = client(t);
  ws.setRequestHeader('X-Big', 'b'.repeat(4096));
  const error = await within(
    ws.connectAsync(url).then(
      () => undefined,
      (failure: unknown) => failure,
    ),
    4000,
    'oversized upgrade',
  );
  // 431 has no WebErrorStatus member (UnexpectedStatusCode); 400 is BadRequest.
  assert.ok(error instanceof WebSocketError, String(error));
  assert.ok(
    ([WebErrorStatus.UnexpectedStatusCode, WebErrorStatus.BadRequest] as WebErrorStatus[]).includes(
      error.status,
    ),
    `status ${error.status}: ${error.message}`,
  );
});

// ---------------------------------------------------------------------------------------------------
// Subprotocols

void test('subprotocols: the first of the client offers the server supports is chosen, on both sides', async (t) => {
  const { listener, url } = await bound(t, { supportedProtocols: ['b', 'c'] });
  const serverSide = nextConnection(listener);
  const ws = await connected(t, url, ['a', 'c', 'b']);
  const { socket, request } = await within(serverSide, 2000, 'connectionReceived');
  assert.equal(ws.information.protocol, 'c');
  assert.equal(socket.information.protocol, 'c');
  assert.equal(request.headers['sec-websocket-protocol'], 'a,c,b');
});

void test('subprotocols: none in common → protocol "" on the client, and the connection still opens', async (t) => {
  const { listener, url } = await bound(t, { supportedProtocols: ['b', 'c'] });
  const serverSide = nextConnection(listener);
  const ws = await connected(t, url, ['x']);
  const { socket } = await within(serverSide, 2000, 'connectionReceived');
  assert.equal(ws.information.protocol, '');
  assert.ok(socket.information.protocol === '' || socket.information.protocol === null);
  await exchange(ws, socket, 'still open');
});

void test('subprotocols: a client that offers none gets none from a listener that has some', async (t) => {
  const { listener, url } = await bound(t, { supportedProtocols: ['b'] });
  const serverSide = nextConnection(listener);
  const ws = await connected(t, url);
  const { socket } = await within(serverSide, 2000, 'connectionReceived');
  assert.equal(ws.information.protocol, '');
  await exchange(ws, socket, 'no protocol');
});

// ---------------------------------------------------------------------------------------------------
// An application's HTTP server

void test('attach(httpServer, "/ws"): /ws upgrades, /other is 404, plain requests stay the app\'s', async (t) => {
  const { server, port } = await appServer(t);
  const listener = new WebSocketListener({ closeTimeout: 1000 });
  const serverSide = nextConnection(listener);
  listener.attach(server, '/ws');
  t.after(async () => {
    await within(listener.closeAsync(), 3000, 'closeAsync');
  });

  const ws = await connected(t, `ws://127.0.0.1:${port}/ws?room=1`);
  const { socket, request } = await within(serverSide, 2000, 'connectionReceived');
  assert.equal(request.url, '/ws?room=1');
  await exchange(ws, socket, 'attached');

  await expectStatus(
    client(t).connectAsync(`ws://127.0.0.1:${port}/other`),
    WebErrorStatus.NotFound,
    '/other',
  );
  const raw404 = await rawRequest(port, upgradeRequest({}, 'GET /other HTTP/1.1'));
  assertCompleteAnswer(raw404, 404, 'raw upgrade to /other');

  const plain = await rawRequest(port, 'GET /page HTTP/1.1\r\nHost: x\r\n\r\n');
  assertCompleteAnswer(plain, 200, 'plain request to the app');
  assert.equal(plain.body, 'app:/page');
  const plainWs = await rawRequest(port, 'GET /ws HTTP/1.1\r\nHost: x\r\n\r\n');
  assertCompleteAnswer(plainWs, 200, 'plain request to /ws');
  assert.equal(plainWs.body, 'app:/ws');
});

void test('two listeners attached to different paths of one server both work', async (t) => {
  const { server, port } = await appServer(t);
  const a = new WebSocketListener({ closeTimeout: 1000 });
  const b = new WebSocketListener({ closeTimeout: 1000, supportedProtocols: ['bee'] });
  const gotA: string[] = [];
  const gotB: string[] = [];
  a.on('connectionReceived', ({ request }) => gotA.push(request.url ?? ''));
  b.on('connectionReceived', ({ request }) => gotB.push(request.url ?? ''));
  a.attach(server, '/a');
  b.attach(server, '/b');
  t.after(async () => {
    await within(Promise.all([a.closeAsync(), b.closeAsync()]), 3000, 'closeAsync');
  });
  const atA = nextConnection(a);
  const atB = nextConnection(b);
  const toA = await connected(t, `ws://127.0.0.1:${port}/a`, ['bee']);
  const toB = await connected(t, `ws://127.0.0.1:${port}/b`, ['bee']);
  await within(Promise.all([atA, atB]), 2000, 'connectionReceived at both');
  assert.deepEqual(gotA, ['/a']);
  assert.deepEqual(gotB, ['/b']);
  assert.equal(toA.information.protocol, '');
  assert.equal(toB.information.protocol, 'bee');
  await expectStatus(client(t).connectAsync(`ws://127.0.0.1:${port}/c`), WebErrorStatus.NotFound, '/c');
});

void test('option and attach mistakes are WebSocketErrors', async (t) => {
  assert.throws(
    () => new WebSocketListener({ supportedProtocols: ['not a token'] }),
    (error: unknown) => error instanceof WebSocketError && error.hresult === 0x80070057,
  );
  assert.throws(
    () => new WebSocketListener({ supportedProtocols: ['dup', 'dup'] }),
    (error: unknown) => error instanceof WebSocketError && error.hresult === 0x80070057,
  );
  assert.throws(
    () => new WebSocketListener({ authenticationChallenge: 'Basic realm="x"\r\nSet-Cookie: a=b' }),
    (error: unknown) => error instanceof WebSocketError && error.hresult === 0x80070057,
    'a challenge that would split the 401',
  );
  const { server } = await appServer(t);
  const first = new WebSocketListener();
  const second = new WebSocketListener();
  t.after(async () => {
    await within(Promise.all([first.closeAsync(), second.closeAsync()]), 3000, 'closeAsync');
  });
  first.attach(server, '/same');
  assert.throws(
    () => {
      second.attach(server, '/same');
    },
    (error: unknown) => error instanceof WebSocketError,
    'a second listener on the same path: a WebSocketError (every failure is one)',
  );
});

void test('a closed attached listener no longer serves its path', async (t) => {
  const { server, port } = await appServer(t);
  const listener = new WebSocketListener({ closeTimeout: 1000 });
  listener.on('connectionReceived', () => undefined);
  listener.attach(server, '/ws');
  await connected(t, `ws://127.0.0.1:${port}/ws`);
  await within(listener.closeAsync(), 3000, 'closeAsync');
  const ws = client(t);
  await expectStatus(ws.connectAsync(`ws://127.0.0.1:${port}/ws`), WebErrorStatus.NotFound, 'after detach');
  const plain = await rawRequest(port, 'GET /ws HTTP/1.1\r\nHost: x\r\n\r\n');
  assertCompleteAnswer(plain, 200, 'the app server still answers');
});

void test("handleUpgrade from an application's own 'upgrade' handler works", async (t) => {
  const { server, port } = await appServer(t);
  const listener = new WebSocketListener({ closeTimeout: 1000 });
  const serverSide = nextConnection(listener);
  server.on('upgrade', (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (request.url === '/mine') listener.handleUpgrade(request, socket, head);
    else socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  t.after(async () => {
    await within(listener.closeAsync(), 3000, 'closeAsync');
  });
  const ws = await connected(t, `ws://127.0.0.1:${port}/mine`);
  const { socket, request } = await within(serverSide, 2000, 'connectionReceived');
  assert.equal(request.url, '/mine');
  await exchange(ws, socket, 'framework');
  await expectStatus(
    client(t).connectAsync(`ws://127.0.0.1:${port}/yours`),
    WebErrorStatus.Forbidden,
    '/yours',
  );
});

void test("attach() beside the application's own 'upgrade' handler: its paths work, any other path gets 404, no hang", async (t) => {
  const { server, port } = await appServer(t);
  // The application serves /mine with ws itself and leaves every other path alone.
  const own = new WebSocketServer({ noServer: true });
  t.after(() => {
    for (const peer of own.clients) peer.terminate();
    own.close();
  });
  server.on('upgrade', (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (request.url === '/mine')
      own.handleUpgrade(request, socket, head, (peer) =>
        peer.on('message', (data: Buffer) => {
          peer.send(`mine:${data.toString()}`);
        }),
      );
  });
  const listener = new WebSocketListener({ closeTimeout: 1000, handshakeTimeout: 300 });
  listener.on('connectionReceived', () => undefined);
  listener.attach(server, '/ws');
  t.after(() => within(listener.closeAsync(), 3000, 'closeAsync'));

  const mine = new WsClient(`ws://127.0.0.1:${port}/mine`);
  t.after(() => {
    mine.terminate();
  });
  await within(once(mine, 'open'), 3000, "the application's own path upgrades");
  await connected(t, `ws://127.0.0.1:${port}/ws`);

  // Nobody serves /other: both kinds of client get a 404, not a hang until their own timeout.
  await expectStatus(
    client(t).connectAsync(`ws://127.0.0.1:${port}/other`),
    WebErrorStatus.NotFound,
    '/other (ours)',
  );
  const stranger = new WsClient(`ws://127.0.0.1:${port}/other`);
  stranger.on('error', () => undefined);
  const [, response] = (await within(once(stranger, 'unexpected-response'), 3000, '/other (ws)')) as [
    unknown,
    http.IncomingMessage,
  ];
  assert.equal(response.statusCode, 404);
  response.resume();
  assertCompleteAnswer(
    await rawRequest(port, upgradeRequest({}, 'GET /other HTTP/1.1')),
    404,
    'raw upgrade to /other',
  );

  // The 404s came after the backstop's time had passed for /mine too: its connection was left alone.
  mine.send('still here');
  const [echo] = (await within(once(mine, 'message'), 3000, 'an answer on /mine')) as [Buffer];
  assert.equal(echo.toString(), 'mine:still here');
});

void test('verifyRequest refuses with its status, headers and body (ws and our client see them); accepts the rest', async (t) => {
  const refusals: Record<string, UpgradeRefusal> = {
    '/banned': {
      status: 403,
      headers: { 'X-Reason': 'banned', 'Content-Type': 'application/json' },
      body: '{"error":"banned"}',
    },
    '/busy': { status: 503, headers: { 'Retry-After': '30' }, body: 'come back later\n' },
    '/slow-down': { status: 429, body: new Uint8Array([1, 2, 3]) },
  };
  const seen: string[] = [];
  const { url, port, received } = await bound(t, {
    verifyRequest: (request) => {
      seen.push(request.url ?? '');
      return refusals[request.url ?? ''];
    },
  });
  const statuses: [string, WebErrorStatus][] = [
    ['/banned', WebErrorStatus.Forbidden],
    ['/busy', WebErrorStatus.ServiceUnavailable],
    ['/slow-down', WebErrorStatus.UnexpectedStatusCode],
  ];
  for (const [path, status] of statuses)
    await expectStatus(client(t).connectAsync(`${url}${path}`), status, path);

  const peer = new WsClient(`${url}/banned`);
  peer.on('error', () => undefined);
  const [, response] = (await within(once(peer, 'unexpected-response'), 3000, 'ws client refused')) as [
    unknown,
    http.IncomingMessage,
  ];
  assert.equal(response.statusCode, 403);
  assert.equal(response.headers['x-reason'], 'banned');
  assert.equal(response.headers['content-type'], 'application/json');
  const body: Buffer[] = [];
  for await (const chunk of response) body.push(chunk as Buffer);
  assert.equal(Buffer.concat(body).toString(), '{"error":"banned"}');

  const busy = await rawRequest(port, upgradeRequest({}, 'GET /busy HTTP/1.1'));
  assertCompleteAnswer(busy, 503, 'raw /busy');
  assert.equal(busy.headers.get('retry-after'), '30');
  assert.equal(busy.body, 'come back later\n');
  const bytes = await rawRequest(port, upgradeRequest({}, 'GET /slow-down HTTP/1.1'));
  assertCompleteAnswer(bytes, 429, 'raw /slow-down');
  assert.equal(bytes.body, '\x01\x02\x03');

  await connected(t, `${url}/welcome`);
  assert.deepEqual(
    received.map(({ request }) => request.url),
    ['/welcome'],
    'only the accepted request is a connection',
  );
  assert.ok(seen.includes('/welcome'));
});

void test('verifyRequest may decide later (async): a refusal, false (403) or acceptance arrives when it settles', async (t) => {
  const decisions = new Map<string, (verdict: UpgradeVerdict) => void>();
  const asked = new Arrivals<string>();
  const { url } = await bound(t, {
    verifyRequest: (request) =>
      new Promise<UpgradeVerdict>((resolve) => {
        decisions.set(request.url ?? '', resolve);
        asked.push(request.url ?? '');
      }),
  });
  const refused = expectStatus(client(t).connectAsync(`${url}/later`), WebErrorStatus.Unauthorized, '/later');
  assert.equal(await asked.next(), '/later');
  decisions.get('/later')!({ status: 401, headers: { 'WWW-Authenticate': 'Bearer' } });
  await refused;
  const denied = expectStatus(client(t).connectAsync(`${url}/no`), WebErrorStatus.Forbidden, '/no');
  assert.equal(await asked.next(), '/no');
  decisions.get('/no')!(false);
  await denied;
  const ws = client(t);
  const accepted = within(ws.connectAsync(`${url}/yes`), 3000, '/yes');
  assert.equal(await asked.next(), '/yes');
  assert.equal(ws.information.protocol, null, 'still waiting for the hook');
  decisions.get('/yes')!(undefined);
  await accepted;
});

void test('verifyRequest that throws, rejects or returns an unsendable refusal answers 500; the listener serves on', async (t) => {
  const verdicts: Record<string, () => UpgradeVerdict | Promise<UpgradeVerdict>> = {
    '/throws': () => {
      throw new Error('the database is down');
    },
    '/rejects': () => Promise.reject(new Error('the database is down')),
    '/ok-status': () => ({ status: 200 }),
    '/injection': () => ({ status: 403, headers: { 'X-Note': 'a\r\nSet-Cookie: session=stolen' } }),
    '/framing': () => ({ status: 403, headers: { 'Content-Length': '0' } }),
    '/huge-body': () => ({ status: 403, body: 'x'.repeat(MAX_REFUSAL_BODY + 1) }),
    '/not-a-refusal': () => 'nope' as unknown as UpgradeVerdict,
  };
  const { port, url, received } = await bound(t, {
    verifyRequest: (request) => verdicts[request.url ?? '']?.(),
  });
  for (const path of Object.keys(verdicts)) {
    const response = await rawRequest(port, upgradeRequest({}, `GET ${path} HTTP/1.1`));
    assertCompleteAnswer(response, 500, path);
    assert.doesNotMatch(response.text, /stolen|database/, `${path}: nothing of the hook's leaks out`);
  }
  await expectStatus(
    client(t).connectAsync(`${url}/throws`),
    WebErrorStatus.InternalServerError,
    'our client',
  );
  await connected(t, `${url}/fine`);
  assert.equal(received.length, 1, 'only the request the hook allowed is a connection');
});

// ---------------------------------------------------------------------------------------------------
// Connections

void test("a listener with no 'connectionReceived' handler answers 503", async (t) => {
  const { url, port } = await bound(t, {}, false);
  await expectStatus(client(t).connectAsync(url), WebErrorStatus.ServiceUnavailable, 'no handler');
  const raw = await rawRequest(port, upgradeRequest());
  assertCompleteAnswer(raw, 503, 'raw upgrade, no handler');
});

void test('an authenticate hook that throws, synchronously or not, answers 500 and the listener serves on', async (t) => {
  const { port, url, received } = await bound(t, {
    authenticate: (request) => {
      if (request.url === '/sync') throw new Error('no Authorization header');
      if (request.url === '/async') return Promise.reject(new Error('the user database is down'));
      return true;
    },
  });
  for (const path of ['/sync', '/async']) {
    const response = await rawRequest(port, upgradeRequest({}, `GET ${path} HTTP/1.1`));
    assertCompleteAnswer(response, 500, `a hook that throws at ${path}`);
  }
  await connected(t, `${url}/fine`);
  assert.equal(received.length, 1, 'only the request the hook allowed is a connection');
});

void test('connectionReceived gives the HTTP request and a ServerStreamWebSocket with both streams', async (t) => {
  const { listener, url } = await bound(t);
  const serverSide = nextConnection(listener);
  const ws = client(t);
  ws.setRequestHeader('X-Token', 'abc');
  await within(ws.connectAsync(`${url}/room/7?user=ann`), 3000, 'connect');
  const { socket, request } = await within(serverSide, 2000, 'connectionReceived');
  assert.ok(socket instanceof ServerStreamWebSocket);
  assert.equal(request.url, '/room/7?user=ann');
  assert.equal(request.method, 'GET');
  assert.equal(request.headers['x-token'], 'abc');
  assert.equal(request.headers.host, url.slice('ws://'.length));
  assert.equal(request.headers['sec-websocket-version'], '13');
  assert.equal(request.socket.remoteAddress, '127.0.0.1');
  assert.equal(socket.information.localAddress, '127.0.0.1');
  assert.equal(ws.information.localAddress, '127.0.0.1');
  await exchange(ws, socket, 'hello');

  // The server closes: the client sees the code and reason.
  const clientClosed = ws.whenClosed();
  socket.close(4000, 'bye');
  const info: WebSocketClosedEventArgs = await within(clientClosed, 3000, 'client closed');
  assert.deepEqual(info, { code: 4000, reason: 'bye' });
});

void test('listener.clients: broadcast to three clients (ws and ours); a closed one leaves; read-only', async (t) => {
  const listener = new WebSocketListener({ mode: 'message', closeTimeout: 1000 });
  // Each server socket by the name its client gave in the URL.
  const byName = new Map<string, ServerMessageWebSocket>();
  listener.on('connectionReceived', ({ socket, request }) => {
    byName.set(new URL(request.url ?? '/', 'ws://x').searchParams.get('name') ?? '', socket);
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(() => within(listener.closeAsync(), 5000, 'closeAsync at test end'));
  const url = (name: string): string => `ws://127.0.0.1:${listener.information.localPort ?? 0}/?name=${name}`;
  const view = listener.clients;
  assert.equal(view.size, 0);

  const [ann, bob] = [new WsClient(url('ann')), new WsClient(url('bob'))];
  const ours = new MessageWebSocket();
  t.after(() => {
    ours.close();
    ann.terminate();
    bob.terminate();
  });
  await within(
    Promise.all([once(ann, 'open'), once(bob, 'open'), ours.connectAsync(url('ours'))]),
    3000,
    'connects',
  );
  // The listener hands a socket out before its 101 reaches the client.
  assert.equal(listener.clients.size, 3);
  assert.equal(listener.clients, view, 'one live view, not a copy per read');
  assert.deepEqual(new Set(view), new Set(byName.values()), 'every open connection, once');

  /** The next text message of each client given, asked for before the broadcast is sent. */
  const nextTexts = (peers: WsClient[]): Promise<string[]> =>
    within(
      Promise.all([
        ...peers.map(async (peer) => String((await once(peer, 'message'))[0])),
        new Promise<string>((resolve) => {
          ours.once('messageReceived', (e) => {
            resolve(e.getText());
          });
        }),
      ]),
      3000,
      'the broadcast',
    );
  const broadcast = async (text: string): Promise<void> => {
    await Promise.all([...view].map((socket) => socket.send(text)));
  };

  let texts = nextTexts([ann, bob]);
  await broadcast('first');
  assert.deepEqual(await texts, ['first', 'first', 'first']);

  // ann leaves: her server socket leaves the view once its closing handshake is over.
  const annAtServer = byName.get('ann')!;
  const annClosed = annAtServer.whenClosed();
  ann.close(1000, 'bye');
  await within(annClosed, 3000, "ann's server socket closed");
  assert.equal(view.size, 2);
  assert.equal(view.has(annAtServer), false);
  texts = nextTexts([bob]);
  await broadcast('second');
  assert.deepEqual(await texts, ['second', 'second']);

  // Read-only, for JavaScript callers too: the listener alone adds and removes.
  const mutable = view as Set<ServerMessageWebSocket>;
  const changes = [
    () => mutable.add(annAtServer),
    () => mutable.delete(byName.get('bob')!),
    () => {
      mutable.clear();
    },
  ];
  for (const change of changes) assert.throws(change, (error: unknown) => error instanceof WebSocketError);
  assert.equal(view.size, 2);
  await within(listener.closeAsync(), 5000, 'closeAsync');
  assert.equal(view.size, 0, 'closeAsync waits for every closing handshake: none is left open');
});

void test('closeAsync(): open clients see closed with 1001; new connects are refused (CannotConnect)', async (t) => {
  const listener = new WebSocketListener({ closeTimeout: 1000 });
  const serverSockets: ServerStreamWebSocket[] = [];
  listener.on('connectionReceived', ({ socket }) => serverSockets.push(socket));
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  const url = `ws://127.0.0.1:${listener.information.localPort ?? 0}`;
  t.after(async () => {
    await within(listener.closeAsync(), 3000, 'second closeAsync');
  });
  const first = await connected(t, url);
  const second = await connected(t, url);
  const closedInfos = Promise.all([first.whenClosed(), second.whenClosed()]);
  const started = Date.now();
  await within(listener.closeAsync(), 5000, 'closeAsync');
  const [one, two] = await within(closedInfos, 3000, 'clients closed');
  assert.equal(one.code, 1001);
  assert.equal(two.code, 1001);
  assert.ok(Date.now() - started < 900, 'the clients answered the close: no waiting for the close timeout');
  assert.equal(serverSockets.length, 2);
  await expectStatus(client(t).connectAsync(url), WebErrorStatus.CannotConnect, 'connect after closeAsync');
  await expectStatus(
    listener.bindServiceNameAsync(0, '127.0.0.1'),
    WebErrorStatus.Unknown,
    'bind after closeAsync',
  );
});

void test('after closeAsync() an attached listener or handleUpgrade answers no more upgrades', async (t) => {
  const { server, port } = await appServer(t);
  const listener = new WebSocketListener();
  listener.on('connectionReceived', () => undefined);
  server.on('upgrade', (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    listener.handleUpgrade(request, socket, head);
  });
  await within(listener.closeAsync(), 2000, 'closeAsync');
  const response = await rawRequest(port, upgradeRequest());
  assertCompleteAnswer(response, 503, 'handleUpgrade on a closed listener');
  assert.throws(
    () => {
      listener.attach(server, '/late');
    },
    (error: unknown) => error instanceof WebSocketError && error.hresult === 0x8000000e,
  );
});

void test('closeAsync() while authenticate is pending: 503 written before closeAsync resolves, never connectionReceived', async (t) => {
  for (const binding of ['attach', 'bindServiceNameAsync'] as const) {
    let allow: (allowed: boolean) => void = () => undefined;
    const verdict = new Promise<boolean>((resolve) => {
      allow = resolve;
    });
    let entered: (socket: net.Socket) => void = () => undefined;
    const inHook = new Promise<net.Socket>((resolve) => {
      entered = resolve;
    });
    const listener = new WebSocketListener({
      authenticate: (request) => {
        entered(request.socket);
        return verdict;
      },
    });
    const received: ConnectionReceivedEventArgs[] = [];
    listener.on('connectionReceived', (args) => received.push(args));
    let port: number;
    if (binding === 'attach') {
      const app = await appServer(t);
      listener.attach(app.server, '/');
      port = app.port;
    } else {
      await listener.bindServiceNameAsync(0, '127.0.0.1');
      port = listener.information.localPort ?? 0;
    }
    const answer = rawRequest(port, upgradeRequest());
    const serverSocket = await within(inHook, 3000, `${binding}: the authenticate hook`);
    await within(listener.closeAsync(), 3000, `${binding}: closeAsync`);
    assert.ok(serverSocket.writableFinished, `${binding}: closeAsync resolved once the answer was written`);
    allow(true);
    assertCompleteAnswer(await answer, 503, `${binding}: an upgrade still in authenticate at closeAsync`);
    assert.equal(received.length, 0, `${binding}: no connectionReceived after closeAsync began`);
  }
});

void test('closeAsync() with no connections and an idle raw TCP client resolves promptly', async (t) => {
  const listener = new WebSocketListener();
  listener.on('connectionReceived', () => undefined);
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  const socket = net.connect({ port: listener.information.localPort ?? 0, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  socket.resume(); // read the answer, so that the server's FIN is seen
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  socket.write('GET / HTT');
  // A whole request on a connection of its own, answered: the listener has accepted the idle one
  // (accepts come in order) and read its half request by then.
  const answered = await rawRequest(listener.information.localPort ?? 0, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(answered.statusCode !== undefined, 'the listener answered a plain request');
  await within(listener.closeAsync(), 2000, 'closeAsync with a half-open handshake');
});

void test('many clients connecting and closing, in sequence and in parallel, leave the listener healthy', async (t) => {
  const { listener, url } = await bound(t);
  let opened = 0;
  let serverClosed = 0;
  const serverCloses: Promise<unknown>[] = [];
  listener.on('connectionReceived', ({ socket }) => {
    opened++;
    socket.once('closed', () => {
      serverClosed++;
    });
    serverCloses.push(socket.whenClosed());
  });
  const once1 = async (index: number): Promise<void> => {
    const ws = new StreamWebSocket();
    ws.control.connectTimeout = 3000;
    ws.control.closeTimeout = 1000;
    await ws.connectAsync(`${url}/n/${index}`);
    const closed = ws.whenClosed();
    ws.close(1000, 'done');
    const info = await closed;
    assert.equal(info.code, 1000);
  };
  for (let index = 0; index < 50; index++) await within(once1(index), 3000, `sequential client ${index}`);
  for (let batch = 0; batch < 3; batch++) {
    const clients = Array.from({ length: 50 }, (_unused, index) => once1(50 + batch * 50 + index));
    await within(Promise.all(clients), 8000, `parallel batch ${batch}`);
  }
  await within(Promise.all(serverCloses), 3000, "every server socket's 'closed'").catch(() => undefined);
  assert.equal(opened, 200);
  assert.equal(serverClosed, 200, 'every server-side socket reported closed');
  const { socket } = await (async () => {
    const serverSide = nextConnection(listener);
    const ws = await connected(t, `${url}/last`);
    const args = await within(serverSide, 2000, 'connectionReceived');
    await exchange(ws, args.socket, 'still healthy');
    return args;
  })();
  assert.ok(socket instanceof ServerStreamWebSocket);
});
