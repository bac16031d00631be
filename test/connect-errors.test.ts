// StreamWebSocket.connectAsync failures and the rules around it: every failure is a WebSocketError with
// the WinRT status (and HRESULT) an application would see on Windows, and nothing ever hangs. Servers are
// local (127.0.0.1, port 0): raw TCP servers for the answers a real server would never give, node:http
// servers for HTTP statuses, and WebSocketListener where a working server is needed.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { inspect } from 'node:util';

import {
  HResult,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
  webErrorStatusName,
  type ConnectionReceivedEventArgs,
} from '../src/index.js';
import { within } from './helpers/within.js';

const RFC6455_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A name glibc refuses locally (a label over 63 characters): no DNS query ever leaves the machine. */
const UNRESOLVABLE_HOST = 'a'.repeat(64) + '.invalid';

// ---------------------------------------------------------------------------------------------------
// Helpers

interface ExpectedError {
  status: WebErrorStatus;
  hresult?: number;
  /** Whether to check that getStatus(error.hresult) gives the status back (default true). */
  roundTrip?: boolean;
}

/** Checks that `error` is a WebSocketError with this status (and hresult), and GetStatus agrees with it. */
function checkError(error: unknown, expected: ExpectedError, what: string): WebSocketError {
  assert.ok(error instanceof WebSocketError, `${what}: expected a WebSocketError, got ${String(error)}`);
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'WebSocketError');
  assert.equal(error.status, expected.status, `${what}: status (${error.message})`);
  if (expected.hresult !== undefined) {
    assert.equal(
      error.hresult >>> 0,
      expected.hresult >>> 0,
      `${what}: hresult 0x${(error.hresult >>> 0).toString(16)}`,
    );
  }
  // WinRT's idiom is WebSocketError.GetStatus(exception.HResult): the hresult alone must give the status.
  if (expected.roundTrip !== false) {
    assert.equal(
      WebSocketError.getStatus(error.hresult),
      error.status,
      `${what}: getStatus(hresult 0x${(error.hresult >>> 0).toString(16)}) should give status ${error.status}`,
    );
  }
  assert.equal(WebSocketError.getStatus(error), error.status);
  return error;
}

/** Awaits a promise that must reject with a WebSocketError of this status (and hresult). */
async function expectReject(
  promise: Promise<unknown>,
  expected: ExpectedError,
  what: string,
): Promise<WebSocketError> {
  try {
    await promise;
  } catch (error) {
    return checkError(error, expected, what);
  }
  assert.fail(`${what}: expected a rejection with status ${expected.status}`);
}

/** Calls a function that must throw a WebSocketError of this status (and hresult) synchronously. */
function expectThrow(action: () => unknown, expected: ExpectedError, what: string): WebSocketError {
  try {
    action();
  } catch (error) {
    return checkError(error, expected, what);
  }
  assert.fail(`${what}: expected a throw with status ${expected.status}`);
}

const INVALID_ARG = { status: WebErrorStatus.Unknown, hresult: HResult.E_INVALIDARG } as const;
const ILLEGAL_CALL = { status: WebErrorStatus.Unknown, hresult: HResult.E_ILLEGAL_METHOD_CALL } as const;

/** A connection as a raw server sees it. */
interface RawConnection {
  socket: net.Socket;
  /** Everything the client sent, as latin1. */
  received: () => string;
  /** Resolves once the client's request head (up to the blank line) has arrived. */
  requestHead: Promise<string>;
  /** Resolves when the socket has closed (client's FIN or reset). */
  closed: Promise<void>;
}

interface RawServer {
  port: number;
  connections: RawConnection[];
  /** Resolves with the next connection (or one that already arrived and nobody took). */
  nextConnection: () => Promise<RawConnection>;
}

/** A raw TCP server on 127.0.0.1; `onRequest` may answer once the request head arrived. Closed at test end. */
async function rawServer(
  t: TestContext,
  onRequest?: (connection: RawConnection, head: string) => void,
): Promise<RawServer> {
  const connections: RawConnection[] = [];
  const waiting: ((connection: RawConnection) => void)[] = [];
  let taken = 0;
  const server = net.createServer((socket) => {
    let data = '';
    let resolveHead: (head: string) => void = () => undefined;
    const requestHead = new Promise<string>((resolve) => {
      resolveHead = resolve;
    });
    const closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        resolve();
      });
    });
    socket.on('error', () => undefined);
    const connection: RawConnection = { socket, received: () => data, requestHead, closed };
    socket.on('data', (chunk: Buffer) => {
      const before = data.includes('\r\n\r\n');
      data += chunk.toString('latin1');
      if (!before && data.includes('\r\n\r\n')) {
        const head = data.slice(0, data.indexOf('\r\n\r\n') + 4);
        resolveHead(head);
        onRequest?.(connection, head);
      }
    });
    connections.push(connection);
    const waiter = waiting.shift();
    if (waiter !== undefined) {
      taken++;
      waiter(connection);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const connection of connections) connection.socket.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    nextConnection: () => {
      if (taken < connections.length) return Promise.resolve(connections[taken++]!);
      return new Promise((resolve) => {
        waiting.push(resolve);
      });
    },
  };
}

/**
 * The connections the client opened so far that nobody took yet: the test opens one of its own and
 * waits for the server to accept it; the server accepts in order, so any connection the client opened
 * before came first. An ordering barrier for "no connection was opened", instead of waiting a while.
 */
async function connectionsBefore(server: RawServer): Promise<RawConnection[]> {
  const marker = net.connect({ port: server.port, host: '127.0.0.1' });
  marker.on('error', () => undefined);
  try {
    await within(once(marker, 'connect'), 2000, 'the marker connection');
    const before: RawConnection[] = [];
    for (;;) {
      const connection = await within(server.nextConnection(), 2000, 'the marker at the server');
      if (connection.socket.remotePort === marker.localPort) return before;
      before.push(connection);
    }
  } finally {
    marker.destroy();
  }
}

/** The value of a header in a raw request head (case-insensitive name), or undefined. */
function headerOf(head: string, name: string): string | undefined {
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) {
      return line.slice(colon + 1).trim();
    }
  }
  return undefined;
}

function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + RFC6455_GUID)
    .digest('base64');
}

/** A raw server that answers every upgrade with the status line and headers `answer` builds from the key. */
async function rawUpgradeServer(
  t: TestContext,
  answer: (key: string, head: string) => string[],
): Promise<RawServer> {
  return rawServer(t, (connection, head) => {
    const key = headerOf(head, 'sec-websocket-key') ?? '';
    connection.socket.write(answer(key, head).join('\r\n') + '\r\n\r\n');
  });
}

/** A port that was listening a moment ago and is closed now: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}

/** An HTTP server that answers every request, upgrade requests included, with `status`. */
async function statusServer(
  t: TestContext,
  status: number,
  headers: Record<string, string> = {},
): Promise<number> {
  const server = http.createServer((request, response) => {
    request.resume();
    response.writeHead(status, { Connection: 'close', ...headers });
    response.end('no\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  });
  return (server.address() as net.AddressInfo).port;
}

interface Listening {
  listener: WebSocketListener;
  port: number;
  url: string;
  received: ConnectionReceivedEventArgs[];
}

/** A WebSocketListener on 127.0.0.1 that accepts everything; closed at test end. */
async function listening(t: TestContext): Promise<Listening> {
  const listener = new WebSocketListener({ closeTimeout: 1000 });
  const received: ConnectionReceivedEventArgs[] = [];
  listener.on('connectionReceived', (args) => {
    received.push(args);
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(async () => {
    await within(listener.closeAsync(), 5000, 'listener.closeAsync');
  });
  const port = listener.information.localPort ?? 0;
  return { listener, port, url: `ws://127.0.0.1:${port}/`, received };
}

/** A client closed (and its closing handshake awaited, boundedly) at test end. */
function client(t: TestContext): StreamWebSocket {
  const ws = new StreamWebSocket();
  ws.control.closeTimeout = 1000;
  t.after(async () => {
    // A socket that never connected has no closing handshake to wait for.
    const connected = ws.information.protocol !== null;
    const closed = ws.whenClosed();
    ws.close();
    if (connected) await within(closed, 3000, 'closing handshake at test end');
  });
  return ws;
}

// ---------------------------------------------------------------------------------------------------
// Invalid URIs

void test('invalid URIs are E_INVALIDARG with status Unknown, before any I/O', async (t) => {
  const server = await rawServer(t);
  const uris = [
    `http://127.0.0.1:${server.port}/`,
    `https://127.0.0.1:${server.port}/`,
    'foo',
    '/relative/path',
    '',
    `ws://127.0.0.1:${server.port}/#frag`,
    `ws://127.0.0.1:${server.port}/path#`,
    `ftp://127.0.0.1:${server.port}/`,
    'ftp://x',
    'ws://',
  ];
  for (const uri of uris) {
    const ws = client(t);
    await expectReject(ws.connectAsync(uri), INVALID_ARG, `connectAsync('${uri}')`);
  }
  await expectReject(
    client(t).connectAsync(new URL(`http://127.0.0.1:${server.port}/`)),
    INVALID_ARG,
    'connectAsync(URL http:)',
  );
  assert.equal(
    (await connectionsBefore(server)).length,
    0,
    'no TCP connection may be opened for an invalid URI',
  );
});

void test('an invalid subprotocol in control.supportedProtocols is E_INVALIDARG, before any I/O', async (t) => {
  const server = await rawServer(t);
  for (const protocols of [['has space'], ['a,b'], [''], ['dup', 'dup']]) {
    const ws = client(t);
    ws.control.supportedProtocols.push(...protocols);
    await expectReject(
      ws.connectAsync(`ws://127.0.0.1:${server.port}/`),
      INVALID_ARG,
      JSON.stringify(protocols),
    );
  }
  assert.equal((await connectionsBefore(server)).length, 0);
});

void test('after an invalid URI the same socket can still connect', async (t) => {
  const { url } = await listening(t);
  const ws = client(t);
  await expectReject(ws.connectAsync('http://127.0.0.1/'), INVALID_ARG, 'http: URI');
  await within(ws.connectAsync(url), 3000, 'connect after invalid URI');
  assert.equal(ws.information.protocol, '');
});

// ---------------------------------------------------------------------------------------------------
// One connect per socket

void test('a second connectAsync after a successful one is E_ILLEGAL_METHOD_CALL', async (t) => {
  const { url, received } = await listening(t);
  const ws = client(t);
  await within(ws.connectAsync(url), 3000, 'first connect');
  await expectReject(ws.connectAsync(url), ILLEGAL_CALL, 'second connectAsync');
  // Another client connects after it: a connection the second connectAsync opened would come first.
  await within(client(t).connectAsync(url), 3000, 'a later client');
  assert.equal(received.length, 2, 'the second connectAsync must not open a connection');
});

void test('a concurrent connectAsync while connecting is E_ILLEGAL_METHOD_CALL', async (t) => {
  const server = await rawServer(t);
  const ws = client(t);
  ws.control.connectTimeout = 2000;
  const first = ws.connectAsync(`ws://127.0.0.1:${server.port}/`);
  const firstSettled = expectReject(
    first,
    { status: WebErrorStatus.OperationCanceled },
    'first connect, closed',
  );
  await expectReject(
    ws.connectAsync(`ws://127.0.0.1:${server.port}/`),
    ILLEGAL_CALL,
    'concurrent connectAsync',
  );
  await within(server.nextConnection(), 2000, 'first connection');
  assert.equal(
    (await connectionsBefore(server)).length,
    0,
    'the concurrent connectAsync must not open a connection',
  );
  ws.close();
  await within(firstSettled, 2000, 'first connect after close');
});

void test('a failed connect closes the socket: connecting it again is E_ILLEGAL_METHOD_CALL', async (t) => {
  const refused = await closedPort();
  const { url, received } = await listening(t);
  const ws = client(t);
  await expectReject(
    ws.connectAsync(`ws://127.0.0.1:${refused}/`),
    { status: WebErrorStatus.CannotConnect },
    'refused',
  );
  const error = await expectReject(ws.connectAsync(url), ILLEGAL_CALL, 'connect after the failed one');
  assert.match(error.message, /create a new one/);
  assert.deepEqual(await within(ws.whenClosed(), 3000, 'closed'), { code: 1006, reason: '' });
  assert.equal(received.length, 0, 'the second connectAsync must not open a connection');
});

void test('an aborted connect closes the socket too', async (t) => {
  const server = await rawServer(t);
  const { url, received } = await listening(t);
  const ws = client(t);
  const controller = new AbortController();
  const pending = ws.connectAsync(`ws://127.0.0.1:${server.port}/`, { signal: controller.signal });
  await within(server.nextConnection(), 2000, 'connection');
  controller.abort();
  await expectReject(pending, { status: WebErrorStatus.OperationCanceled }, 'aborted connect');
  await expectReject(ws.connectAsync(url), ILLEGAL_CALL, 'connect after the aborted one');
  assert.equal(received.length, 0);
});

// ---------------------------------------------------------------------------------------------------
// Transport failures

void test('a refused connection is CannotConnect', async (t) => {
  const port = await closedPort();
  const ws = client(t);
  await within(
    expectReject(
      ws.connectAsync(`ws://127.0.0.1:${port}/`),
      { status: WebErrorStatus.CannotConnect, hresult: HResult.WININET_E_CANNOT_CONNECT },
      'refused',
    ),
    5000,
    'refused connect',
  );
});

void test('a host name that cannot be resolved is HostNameNotResolved', async (t) => {
  const ws = client(t);
  ws.control.connectTimeout = 5000;
  const error = await within(
    expectReject(
      ws.connectAsync(`ws://${UNRESOLVABLE_HOST}/`),
      { status: WebErrorStatus.HostNameNotResolved, hresult: HResult.WININET_E_NAME_NOT_RESOLVED },
      'unresolvable host',
    ),
    6000,
    'DNS failure',
  );
  assert.ok(error.cause !== undefined, 'the original error is kept as cause');
});

void test('a server that never answers: connectTimeout gives Timeout (0x80072EE2) and drops the socket', async (t) => {
  const server = await rawServer(t);
  const ws = client(t);
  ws.control.connectTimeout = 300;
  const started = Date.now();
  await within(
    expectReject(
      ws.connectAsync(`ws://127.0.0.1:${server.port}/`),
      { status: WebErrorStatus.Timeout, hresult: 0x80072ee2 },
      'timeout',
    ),
    3000,
    'connect timeout',
  );
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 250, `timed out after ${elapsed} ms, before the 300 ms connectTimeout`);
  const connection = await within(server.nextConnection(), 1000, 'connection');
  await within(connection.requestHead, 1000, 'the request was sent');
  await within(connection.closed, 2000, 'the client closes the TCP connection after the timeout');
});

void test('an AbortSignal aborted during the wait gives OperationCanceled', async (t) => {
  const server = await rawServer(t);
  const ws = client(t);
  const controller = new AbortController();
  const pending = ws.connectAsync(`ws://127.0.0.1:${server.port}/`, { signal: controller.signal });
  const connection = await within(server.nextConnection(), 2000, 'connection');
  await within(connection.requestHead, 2000, 'request head');
  controller.abort();
  await within(expectReject(pending, { status: WebErrorStatus.OperationCanceled }, 'aborted'), 2000, 'abort');
  await within(connection.closed, 2000, 'the client closes the TCP connection after the abort');
});

void test('an AbortSignal aborted with a reason still gives OperationCanceled, the reason kept', async (t) => {
  const server = await rawServer(t);
  const ws = client(t);
  const controller = new AbortController();
  const pending = ws.connectAsync(`ws://127.0.0.1:${server.port}/`, { signal: controller.signal });
  await within(server.nextConnection(), 2000, 'connection');
  const reason = new Error('user pressed cancel');
  controller.abort(reason);
  const error = await within(
    expectReject(pending, { status: WebErrorStatus.OperationCanceled }, 'aborted with reason'),
    2000,
    'abort',
  );
  assert.ok(error.cause !== undefined);
});

void test('an already-aborted AbortSignal gives OperationCanceled', async (t) => {
  const server = await rawServer(t);
  const ws = client(t);
  await within(
    expectReject(
      ws.connectAsync(`ws://127.0.0.1:${server.port}/`, { signal: AbortSignal.abort() }),
      { status: WebErrorStatus.OperationCanceled },
      'already aborted',
    ),
    2000,
    'already-aborted connect',
  );
  for (const connection of await connectionsBefore(server)) {
    await within(connection.closed, 2000, 'no connection is left open');
  }
});

void test('AbortSignal.timeout() firing during the wait gives OperationCanceled (the caller aborted)', async (t) => {
  const server = await rawServer(t);
  const ws = client(t);
  await within(
    expectReject(
      ws.connectAsync(`ws://127.0.0.1:${server.port}/`, { signal: AbortSignal.timeout(200) }),
      { status: WebErrorStatus.OperationCanceled },
      'AbortSignal.timeout',
    ),
    3000,
    'signal timeout',
  );
});

void test('close() during a pending connect gives OperationCanceled; the socket cannot connect again', async (t) => {
  const server = await rawServer(t);
  const ws = client(t);
  const pending = ws.connectAsync(`ws://127.0.0.1:${server.port}/`);
  const connection = await within(server.nextConnection(), 2000, 'connection');
  await within(connection.requestHead, 2000, 'request head');
  ws.close();
  await within(
    expectReject(pending, { status: WebErrorStatus.OperationCanceled }, 'closed while connecting'),
    2000,
    'close',
  );
  await within(connection.closed, 2000, 'the client closes the TCP connection after close()');
  await expectReject(
    ws.connectAsync(`ws://127.0.0.1:${server.port}/`),
    ILLEGAL_CALL,
    'connectAsync after close()',
  );
});

void test('close() before the TCP connection is even open gives OperationCanceled', async (t) => {
  const server = await rawServer(t);
  const ws = client(t);
  const pending = ws.connectAsync(`ws://127.0.0.1:${server.port}/`);
  ws.close();
  await within(
    expectReject(pending, { status: WebErrorStatus.OperationCanceled }, 'closed at once'),
    2000,
    'close',
  );
});

void test('close() before connectAsync: connectAsync is E_ILLEGAL_METHOD_CALL, with no I/O', async (t) => {
  const server = await rawServer(t);
  const ws = client(t);
  ws.close();
  await expectReject(ws.connectAsync(`ws://127.0.0.1:${server.port}/`), ILLEGAL_CALL, 'connect after close');
  assert.equal((await connectionsBefore(server)).length, 0);
});

// ---------------------------------------------------------------------------------------------------
// HTTP answers other than 101

const HTTP_CASES: { code: number; status: WebErrorStatus; headers?: Record<string, string> }[] = [
  { code: 404, status: WebErrorStatus.NotFound },
  { code: 401, status: WebErrorStatus.Unauthorized, headers: { 'WWW-Authenticate': 'Basic realm="x"' } },
  { code: 403, status: WebErrorStatus.Forbidden },
  { code: 500, status: WebErrorStatus.InternalServerError },
  { code: 418, status: WebErrorStatus.UnexpectedStatusCode },
  { code: 302, status: WebErrorStatus.Found, headers: { Location: 'ws://127.0.0.1:1/elsewhere' } },
  { code: 200, status: WebErrorStatus.UnexpectedStatusCode },
  { code: 400, status: WebErrorStatus.BadRequest },
  { code: 503, status: WebErrorStatus.ServiceUnavailable },
  { code: 505, status: WebErrorStatus.HttpVersionNotSupported },
];

for (const { code, status, headers } of HTTP_CASES) {
  void test(`an HTTP ${code} answer to the upgrade is status ${status}`, async (t) => {
    const port = await statusServer(t, code, headers);
    const ws = client(t);
    ws.control.connectTimeout = 3000;
    // The hresult of statuses without a member of their own is the next test's business.
    const expected = status >= 300 ? { status, hresult: 0x80190000 + code } : { status, roundTrip: false };
    await within(
      expectReject(ws.connectAsync(`ws://127.0.0.1:${port}/chat`), expected, `HTTP ${code}`),
      4000,
      `HTTP ${code}`,
    );
  });
}

for (const code of [418, 200]) {
  void test(`HTTP ${code} (no WebErrorStatus member): an HTTP_E_STATUS_* hresult that getStatus maps back`, async (t) => {
    const port = await statusServer(t, code);
    const ws = client(t);
    const error = await within(
      expectReject(
        ws.connectAsync(`ws://127.0.0.1:${port}/`),
        { status: WebErrorStatus.UnexpectedStatusCode, roundTrip: false },
        `HTTP ${code}`,
      ),
      4000,
      `HTTP ${code}`,
    );
    // WinRT reports HTTP answers as HTTP_E_STATUS_* (0x8019xxxx: 0x80190000 + status, as 0x801901A2 for 418,
    // or HTTP_E_STATUS_UNEXPECTED 0x80190001), and GetStatus(hresult) must give UnexpectedStatusCode back.
    const hresult = error.hresult >>> 0;
    assert.equal(
      (hresult & 0xffff0000) >>> 0,
      0x80190000,
      `hresult 0x${hresult.toString(16)} is not HTTP_E_STATUS_*`,
    );
    assert.equal(WebSocketError.getStatus(error.hresult), WebErrorStatus.UnexpectedStatusCode);
  });
}

// ---------------------------------------------------------------------------------------------------
// A 101 that is not a valid WebSocket answer

const INVALID_RESPONSE = { status: WebErrorStatus.ErrorHttpInvalidServerResponse } as const;

void test('a raw server answering a correct 101 is accepted (the raw harness is right)', async (t) => {
  const server = await rawUpgradeServer(t, (key) => [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptFor(key)}`,
  ]);
  const ws = client(t);
  ws.control.supportedProtocols.push('chat');
  await within(ws.connectAsync(`ws://127.0.0.1:${server.port}/x?y=1`), 3000, 'valid 101');
  assert.equal(ws.information.protocol, '');
  const head = await server.connections[0]!.requestHead;
  assert.match(head, /^GET \/x\?y=1 HTTP\/1\.1\r\n/);
  assert.equal(headerOf(head, 'upgrade')?.toLowerCase(), 'websocket');
  assert.match(headerOf(head, 'connection') ?? '', /upgrade/i);
  assert.equal(headerOf(head, 'sec-websocket-version'), '13');
  assert.equal(headerOf(head, 'sec-websocket-protocol'), 'chat');
  assert.equal(headerOf(head, 'host'), `127.0.0.1:${server.port}`);
  assert.equal(Buffer.from(headerOf(head, 'sec-websocket-key') ?? '', 'base64').length, 16);
});

const BAD_101_CASES: { name: string; answer: (key: string) => string[]; protocols?: string[] }[] = [
  {
    name: 'a wrong Sec-WebSocket-Accept',
    answer: () => [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${acceptFor('AAAAAAAAAAAAAAAAAAAAAA==')}`,
    ],
  },
  {
    name: 'no Sec-WebSocket-Accept',
    answer: () => ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade'],
  },
  {
    name: 'no Upgrade header',
    answer: (key) => [
      'HTTP/1.1 101 Switching Protocols',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${acceptFor(key)}`,
    ],
  },
  {
    name: 'no Connection header',
    answer: (key) => [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      `Sec-WebSocket-Accept: ${acceptFor(key)}`,
    ],
  },
  {
    name: 'Upgrade: h2c instead of websocket',
    answer: (key) => [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: h2c',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${acceptFor(key)}`,
    ],
  },
  {
    name: 'a subprotocol that was not offered',
    protocols: ['a', 'b'],
    answer: (key) => [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${acceptFor(key)}`,
      'Sec-WebSocket-Protocol: c',
    ],
  },
  {
    name: 'a subprotocol when none was offered',
    answer: (key) => [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${acceptFor(key)}`,
      'Sec-WebSocket-Protocol: chat',
    ],
  },
  {
    name: 'an extension that was not offered',
    answer: (key) => [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${acceptFor(key)}`,
      'Sec-WebSocket-Extensions: permessage-deflate',
    ],
  },
];

for (const { name, answer, protocols } of BAD_101_CASES) {
  void test(`a 101 with ${name} is ErrorHttpInvalidServerResponse and the client drops the connection`, async (t) => {
    const server = await rawUpgradeServer(t, answer);
    const ws = client(t);
    ws.control.connectTimeout = 2000;
    if (protocols !== undefined) ws.control.supportedProtocols.push(...protocols);
    await within(
      expectReject(ws.connectAsync(`ws://127.0.0.1:${server.port}/`), INVALID_RESPONSE, name),
      3000,
      name,
    );
    const connection = server.connections[0];
    assert.ok(connection !== undefined);
    await within(connection.closed, 2000, 'the client closes the TCP connection');
  });
}

void test('a server that closes the connection before answering gives a transport status, not a hang', async (t) => {
  const server = await rawServer(t, (connection) => {
    connection.socket.destroy();
  });
  const ws = client(t);
  ws.control.connectTimeout = 3000;
  const error = await within(
    ws.connectAsync(`ws://127.0.0.1:${server.port}/`).then(
      () => undefined,
      (caught: unknown) => caught,
    ),
    4000,
    'closed before the answer',
  );
  assert.ok(error instanceof WebSocketError, String(error));
  assert.ok(
    (
      [
        WebErrorStatus.ConnectionReset,
        WebErrorStatus.ConnectionAborted,
        WebErrorStatus.Disconnected,
        WebErrorStatus.ErrorHttpInvalidServerResponse,
      ] as WebErrorStatus[]
    ).includes(error.status),
    `status ${error.status} (${error.message})`,
  );
});

void test('a server that answers garbage instead of HTTP gives ErrorHttpInvalidServerResponse', async (t) => {
  const server = await rawServer(t, (connection) => {
    connection.socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n');
  });
  const ws = client(t);
  ws.control.connectTimeout = 2000;
  await within(
    expectReject(ws.connectAsync(`ws://127.0.0.1:${server.port}/`), INVALID_RESPONSE, 'garbage answer'),
    3000,
    'garbage answer',
  );
});

// ---------------------------------------------------------------------------------------------------
// setRequestHeader

void test('setRequestHeader: a custom header reaches the server', async (t) => {
  const { listener, url } = await listening(t);
  const ws = client(t);
  ws.setRequestHeader('X-Custom', 'value 1');
  ws.setRequestHeader('Authorization', 'Bearer abc');
  const arrived = once(listener, 'connectionReceived') as Promise<[ConnectionReceivedEventArgs]>;
  await within(ws.connectAsync(url), 3000, 'connect');
  const [{ request }] = await within(arrived, 3000, 'connectionReceived');
  assert.equal(request.headers['x-custom'], 'value 1');
  assert.equal(request.headers.authorization, 'Bearer abc');
});

void test('setRequestHeader refuses the headers the handshake owns (E_INVALIDARG)', (t) => {
  const ws = client(t);
  const names = [
    'Host',
    'Upgrade',
    'Connection',
    'Content-Length',
    'Sec-WebSocket-Key',
    'Sec-WebSocket-Protocol',
    'sec-websocket-extensions',
    'SEC-WEBSOCKET-VERSION',
    'Sec-WebSocket-Accept',
    'host',
  ];
  for (const name of names)
    expectThrow(
      () => {
        ws.setRequestHeader(name, 'x');
      },
      INVALID_ARG,
      name,
    );
});

void test('setRequestHeader refuses CR, LF and NUL in values and invalid names (E_INVALIDARG)', (t) => {
  const ws = client(t);
  const cases: [string, string][] = [
    ['X-A', 'a\r\nInjected: yes'],
    ['X-A', 'a\nb'],
    ['X-A', 'a\rb'],
    ['X-A', 'a\0b'],
    ['Bad Name', 'x'],
    ['X-A:', 'x'],
    ['', 'x'],
    ['X\r\nY', 'x'],
  ];
  for (const [name, value] of cases) {
    expectThrow(
      () => {
        ws.setRequestHeader(name, value);
      },
      INVALID_ARG,
      JSON.stringify([name, value]),
    );
  }
});

void test('setRequestHeader after connectAsync is E_ILLEGAL_METHOD_CALL', async (t) => {
  const { url } = await listening(t);
  const ws = client(t);
  await within(ws.connectAsync(url), 3000, 'connect');
  expectThrow(
    () => {
      ws.setRequestHeader('X-Late', 'x');
    },
    ILLEGAL_CALL,
    'setRequestHeader after connect',
  );
});

void test('setRequestHeader while connecting is E_ILLEGAL_METHOD_CALL', async (t) => {
  const server = await rawServer(t);
  const ws = client(t);
  const pending = ws.connectAsync(`ws://127.0.0.1:${server.port}/`);
  const settled = pending.then(
    () => undefined,
    () => undefined,
  );
  expectThrow(
    () => {
      ws.setRequestHeader('X-Late', 'x');
    },
    ILLEGAL_CALL,
    'setRequestHeader while connecting',
  );
  ws.close();
  await within(settled, 2000, 'cancelled connect');
});

// ---------------------------------------------------------------------------------------------------
// control

void test('control defaults', () => {
  const ws = new StreamWebSocket();
  assert.equal(ws.control.noDelay, true);
  assert.equal(ws.control.connectTimeout, 60_000);
  assert.deepEqual(ws.control.supportedProtocols, []);
  assert.equal(ws.control.desiredUnsolicitedPongInterval, 0);
  assert.equal(ws.control.actualUnsolicitedPongInterval, 0);
  assert.equal(ws.control.outboundBufferSizeInBytes, 256 * 1024);
  assert.equal(ws.information.protocol, null);
  assert.equal(ws.information.localAddress, null);
});

void test('control values that make no sense are E_INVALIDARG', () => {
  const ws = new StreamWebSocket();
  expectThrow(() => (ws.control.connectTimeout = 0), INVALID_ARG, 'connectTimeout 0');
  expectThrow(() => (ws.control.connectTimeout = -5), INVALID_ARG, 'connectTimeout -5');
  expectThrow(() => (ws.control.connectTimeout = Number.NaN), INVALID_ARG, 'connectTimeout NaN');
  expectThrow(() => (ws.control.desiredUnsolicitedPongInterval = -1), INVALID_ARG, 'pong interval -1');
  expectThrow(() => (ws.control.outboundBufferSizeInBytes = -1), INVALID_ARG, 'outboundBufferSizeInBytes -1');
  expectThrow(() => (ws.control.maxMessageSize = 0), INVALID_ARG, 'maxMessageSize 0');
  assert.equal(ws.control.connectTimeout, 60_000, 'a refused value leaves the setting as it was');
});

void test('actualUnsolicitedPongInterval is 0 before connect and the desired one after', async (t) => {
  const { url } = await listening(t);
  const ws = client(t);
  ws.control.desiredUnsolicitedPongInterval = 5000;
  assert.equal(ws.control.actualUnsolicitedPongInterval, 0);
  await within(ws.connectAsync(url), 3000, 'connect');
  assert.equal(ws.control.actualUnsolicitedPongInterval, 5000);
  assert.equal(ws.control.desiredUnsolicitedPongInterval, 5000);
});

void test('control settings after connectAsync are E_ILLEGAL_METHOD_CALL; outboundBufferSizeInBytes is ignored', async (t) => {
  const { url } = await listening(t);
  const ws = client(t);
  ws.control.outboundBufferSizeInBytes = 32 * 1024;
  ws.control.noDelay = false;
  ws.control.connectTimeout = 4000;
  ws.control.maxMessageSize = 1 << 20;
  await within(ws.connectAsync(url), 3000, 'connect');
  expectThrow(() => (ws.control.noDelay = true), ILLEGAL_CALL, 'noDelay');
  expectThrow(
    () => (ws.control.desiredUnsolicitedPongInterval = 1000),
    ILLEGAL_CALL,
    'desiredUnsolicitedPongInterval',
  );
  expectThrow(() => (ws.control.connectTimeout = 1000), ILLEGAL_CALL, 'connectTimeout');
  expectThrow(() => (ws.control.maxMessageSize = 1000), ILLEGAL_CALL, 'maxMessageSize');
  assert.equal(ws.control.noDelay, false);
  assert.equal(ws.control.connectTimeout, 4000);
  assert.equal(ws.control.maxMessageSize, 1 << 20);
  assert.doesNotThrow(() => (ws.control.outboundBufferSizeInBytes = 1024));
  assert.equal(ws.control.outboundBufferSizeInBytes, 32 * 1024, 'set after connect: no effect');
});

// ---------------------------------------------------------------------------------------------------
// WebSocketError.getStatus and WebErrorStatus

void test('WebSocketError.getStatus maps bare hresults, signed or unsigned', () => {
  const cases: [number, WebErrorStatus][] = [
    [0x80072efd, WebErrorStatus.CannotConnect],
    [0x80072ee7, WebErrorStatus.HostNameNotResolved],
    [0x80072ee2, WebErrorStatus.Timeout],
    [0x80072efe, WebErrorStatus.ConnectionAborted],
    [0x80072eff, WebErrorStatus.ConnectionReset],
    [0x800c000e, WebErrorStatus.CertificateIsInvalid],
    [0x80190194, WebErrorStatus.NotFound],
    [0x80190191, WebErrorStatus.Unauthorized],
    [0x801901f9, WebErrorStatus.HttpVersionNotSupported],
    [0x8019012e, WebErrorStatus.Found],
    [0x801901a2, WebErrorStatus.UnexpectedStatusCode],
    [0x80070057, WebErrorStatus.Unknown],
    [0x12345678, WebErrorStatus.Unknown],
    [0, WebErrorStatus.Unknown],
  ];
  for (const [hresult, status] of cases) {
    assert.equal(WebSocketError.getStatus(hresult), status, `unsigned 0x${hresult.toString(16)}`);
    assert.equal(WebSocketError.getStatus(hresult | 0), status, `signed ${hresult | 0}`);
  }
  assert.equal(0x80072efd | 0, -2147012867);
  assert.equal(WebSocketError.getStatus(-2147012867), WebErrorStatus.CannotConnect);
});

void test('WebSocketError.getStatus of a caught error is its status; of anything else Unknown', async (t) => {
  const port = await closedPort();
  const ws = client(t);
  let caught: unknown;
  try {
    await ws.connectAsync(`ws://127.0.0.1:${port}/`);
  } catch (error) {
    caught = error;
  }
  assert.equal(WebSocketError.getStatus(caught), WebErrorStatus.CannotConnect);
  const made = new WebSocketError(WebErrorStatus.Forbidden, 'made by hand');
  assert.equal(WebSocketError.getStatus(made), WebErrorStatus.Forbidden);
  assert.equal(made.hresult >>> 0, 0x80190193);
  assert.equal(WebSocketError.getStatus('a string'), WebErrorStatus.Unknown);
  assert.equal(WebSocketError.getStatus(undefined), WebErrorStatus.Unknown);
  assert.equal(WebSocketError.getStatus(null), WebErrorStatus.Unknown);
  assert.equal(WebSocketError.getStatus(new Error('plain')), WebErrorStatus.Unknown);
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  assert.equal(WebSocketError.getStatus(refused), WebErrorStatus.CannotConnect);
});

void test('errors and statuses read by name: String(error), the stack, inspect, webErrorStatusName', async (t) => {
  const port = await closedPort();
  const ws = client(t);
  const refused = await ws.connectAsync(`ws://127.0.0.1:${port}/`).then(
    () => assert.fail('connected to a closed port'),
    (error: unknown) => error,
  );
  assert.ok(refused instanceof WebSocketError);
  assert.match(String(refused), /^WebSocketError \[CannotConnect\]: .*ECONNREFUSED/);
  assert.match(refused.stack ?? '', /^WebSocketError \[CannotConnect\]: /);
  assert.match(inspect(refused), /^WebSocketError \[CannotConnect\]: /);
  assert.equal(refused.name, 'WebSocketError', 'the name stays the class name');
  assert.equal(
    `${new WebSocketError(WebErrorStatus.ConnectionAborted, 'lost')}`,
    'WebSocketError [ConnectionAborted]: lost',
  );
  assert.equal(String(new WebSocketError(WebErrorStatus.NotFound, 'no')), 'WebSocketError [NotFound]: no');
  assert.equal(webErrorStatusName(WebErrorStatus.ConnectionAborted), 'ConnectionAborted');
  assert.equal(webErrorStatusName(9), 'ConnectionAborted');
  assert.equal(webErrorStatusName(WebSocketError.getStatus(refused)), 'CannotConnect');
  assert.equal(webErrorStatusName(0), 'Unknown');
  assert.equal(webErrorStatusName(404), 'NotFound');
  assert.equal(webErrorStatusName(499), '499', 'no member: its digits');
  for (const [name, status] of Object.entries(WebErrorStatus)) assert.equal(webErrorStatusName(status), name);
});

void test('WebErrorStatus has every WinRT member at its WinRT value', () => {
  const expected: Record<string, number> = {
    Unknown: 0,
    CertificateCommonNameIsIncorrect: 1,
    CertificateExpired: 2,
    CertificateContainsErrors: 3,
    CertificateRevoked: 4,
    CertificateIsInvalid: 5,
    ServerUnreachable: 6,
    Timeout: 7,
    ErrorHttpInvalidServerResponse: 8,
    ConnectionAborted: 9,
    ConnectionReset: 10,
    Disconnected: 11,
    HttpToHttpsOnRedirection: 12,
    HttpsToHttpOnRedirection: 13,
    CannotConnect: 14,
    HostNameNotResolved: 15,
    OperationCanceled: 16,
    RedirectFailed: 17,
    UnexpectedStatusCode: 18,
    UnexpectedRedirection: 19,
    UnexpectedClientError: 20,
    UnexpectedServerError: 21,
    InsufficientRangeSupport: 22,
    MissingContentLengthSupport: 23,
    MultipleChoices: 300,
    MovedPermanently: 301,
    Found: 302,
    SeeOther: 303,
    NotModified: 304,
    UseProxy: 305,
    TemporaryRedirect: 307,
    BadRequest: 400,
    Unauthorized: 401,
    PaymentRequired: 402,
    Forbidden: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    NotAcceptable: 406,
    ProxyAuthenticationRequired: 407,
    RequestTimeout: 408,
    Conflict: 409,
    Gone: 410,
    LengthRequired: 411,
    PreconditionFailed: 412,
    RequestEntityTooLarge: 413,
    RequestUriTooLong: 414,
    UnsupportedMediaType: 415,
    RequestedRangeNotSatisfiable: 416,
    ExpectationFailed: 417,
    InternalServerError: 500,
    NotImplemented: 501,
    BadGateway: 502,
    ServiceUnavailable: 503,
    GatewayTimeout: 504,
    HttpVersionNotSupported: 505,
  };
  assert.deepEqual({ ...WebErrorStatus }, expected);
  assert.equal(WebErrorStatus.HttpVersionNotSupported, 505);
  assert.equal(WebErrorStatus.MissingContentLengthSupport, 23);
  assert.equal(WebErrorStatus.Disconnected, 11);
  assert.equal(HResult.E_INVALIDARG, 0x80070057);
  assert.equal(HResult.E_ILLEGAL_METHOD_CALL, 0x8000000e);
  assert.equal(HResult.WININET_E_TIMEOUT, 0x80072ee2);
  assert.equal(HResult.INET_E_SECURITY_PROBLEM, 0x800c000e);
});

void test('a WebSocketError is an Error with status, hresult and cause', () => {
  const cause = new Error('below');
  const error = new WebSocketError(WebErrorStatus.CannotConnect, 'refused', { cause });
  assert.ok(error instanceof Error);
  assert.equal(error.status, WebErrorStatus.CannotConnect);
  assert.equal(error.hresult >>> 0, 0x80072efd);
  assert.equal(error.cause, cause);
  assert.equal(error.message, 'refused');
  assert.ok(error.stack !== undefined);
});
