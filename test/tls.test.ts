// wss: end to end. The server certificate judged the way WinRT reports it (ChainValidationResult values,
// a severity, the Certificate* statuses and their HRESULTs), control.ignorableServerCertificateErrors,
// serverCustomValidationRequested (before the upgrade request, with deferrals), information's certificate
// fields, mutual TLS with control.clientCertificate, and the listener serving wss: itself or attached to
// an https server. Certificates come from test/helpers/pki.ts (openssl, at test time); servers listen on
// 127.0.0.1 only, every wait is bounded.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { test, type TestContext } from 'node:test';
import tls from 'node:tls';
import { inspect } from 'node:util';

import {
  ChainValidationResult,
  HResult,
  InputStreamOptions,
  MessageWebSocket,
  SocketSslErrorSeverity,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
  WebSocketServerCustomValidationRequestedEventArgs,
  type ConnectionReceivedEventArgs,
  type IncomingMessage,
  type ListenerMode,
  type ServerMessageWebSocket,
  type ServerStreamWebSocket,
} from '../src/index.js';
import {
  CLIENT_CN,
  createTestPki,
  INTERMEDIATE_CN,
  pemChain,
  type CertificateAndKey,
} from './helpers/pki.js';
import { setTimeout as delay } from 'node:timers/promises';
import { within as settleWithin } from './helpers/within.js';

const pki = await createTestPki();

/** Bounds every single wait of these tests. */
const WAIT_MS = 5_000;
const TEST_OPTIONS = { timeout: 15_000 };

// ---------------------------------------------------------------------------------------------------
// Helpers

/** Settles like `promise`, or rejects after `ms`. */
function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  return settleWithin(promise, ms, what);
}

/** https.ServerOptions presenting `chain` (leaf first) with the leaf's key. */
function serverTls(leaf: CertificateAndKey, ...rest: string[]): https.ServerOptions {
  return { key: leaf.key, cert: pemChain(leaf.cert, ...rest) };
}

/** The usual server: the leaf for 127.0.0.1/localhost with its intermediate. */
const GOOD_CHAIN = serverTls(pki.leaf, pki.intermediate.cert);

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** A queue of what a listener hands out, with bounded waits for the next one. */
class Arrivals<T> {
  private readonly arrived: T[] = [];
  private readonly waiting: ((value: T) => void)[] = [];
  count = 0;

  push(value: T): void {
    this.count++;
    const taker = this.waiting.shift();
    if (taker === undefined) this.arrived.push(value);
    else taker(value);
  }

  next(what = 'the next connection'): Promise<T> {
    const value = this.arrived.shift();
    if (value !== undefined) return Promise.resolve(value);
    return within(new Promise<T>((resolve) => this.waiting.push(resolve)), what);
  }
}

interface WssServer<Mode extends ListenerMode> {
  port: number;
  /** wss://host:port/path (host 127.0.0.1 unless told). */
  url(host?: string): string;
  connections: Arrivals<ConnectionReceivedEventArgs<Mode>>;
}

interface BoundWss<Mode extends ListenerMode> extends WssServer<Mode> {
  /** The SNI names clients sent. */
  servernames: string[];
}

interface ListenerSetup<Mode extends ListenerMode> {
  mode?: Mode;
}

function newListener<Mode extends ListenerMode>(
  setup: ListenerSetup<Mode>,
  tlsOptions?: https.ServerOptions,
): { listener: WebSocketListener<Mode>; connections: Arrivals<ConnectionReceivedEventArgs<Mode>> } {
  const listener = new WebSocketListener<Mode>({
    ...(setup.mode === undefined ? {} : { mode: setup.mode }),
    closeTimeout: 1_000,
    ...(tlsOptions === undefined ? {} : { tls: tlsOptions }),
  });
  const connections = new Arrivals<ConnectionReceivedEventArgs<Mode>>();
  listener.on('connectionReceived', (args) => {
    connections.push(args);
  });
  return { listener, connections };
}

/** A WebSocketListener serving wss: itself (bindServiceNameAsync on 127.0.0.1), closed after the test. */
async function bindWss<Mode extends ListenerMode = 'stream'>(
  t: TestContext,
  tlsOptions: https.ServerOptions,
  setup: ListenerSetup<Mode> = {},
): Promise<BoundWss<Mode>> {
  const servernames: string[] = [];
  const { listener, connections } = newListener(setup, {
    ...tlsOptions,
    SNICallback: (servername, callback) => {
      servernames.push(servername);
      callback(null, undefined);
    },
  });
  await within(listener.bindServiceNameAsync(0, '127.0.0.1'), 'bindServiceNameAsync');
  t.after(() => within(listener.closeAsync(), 'listener.closeAsync'));
  const port = listener.information.localPort;
  assert.ok(port !== null);
  return { port, url: (host = '127.0.0.1') => `wss://${host}:${String(port)}/ws`, connections, servernames };
}

interface ObservedTlsSocket {
  servername: string | false | null;
  alpnProtocol: string | false | null;
}

interface AttachedWss<Mode extends ListenerMode> extends WssServer<Mode> {
  /** Every TCP connection the server accepted, with the moment it closed. */
  tcpConnections: Arrivals<{ closed: Promise<unknown> }>;
  /** Every TLS handshake the server completed. */
  tlsSockets: Arrivals<ObservedTlsSocket>;
  /** HTTP requests that reached the server: upgrade requests, and any other request. */
  upgradeRequests: number;
  otherRequests: number;
}

/**
 * An application's https server with a WebSocketListener attached at `path`. It counts the requests it
 * receives, and destroys whatever connection is left when the test ends (so that a client the library
 * failed to close cannot keep the test process alive).
 */
async function attachWss<Mode extends ListenerMode = 'stream'>(
  t: TestContext,
  tlsOptions: https.ServerOptions,
  setup: ListenerSetup<Mode> & { path?: string } = {},
): Promise<AttachedWss<Mode>> {
  const path = setup.path ?? '/ws';
  const server = https.createServer(tlsOptions);
  const { listener, connections } = newListener(setup);
  const open = new Set<Duplex>();
  const result: AttachedWss<Mode> = {
    port: 0,
    url: (host = '127.0.0.1') => `wss://${host}:${String(result.port)}${path}`,
    connections,
    tcpConnections: new Arrivals(),
    tlsSockets: new Arrivals(),
    upgradeRequests: 0,
    otherRequests: 0,
  };
  server.on('connection', (socket: Duplex) => {
    open.add(socket);
    const closed = once(socket, 'close').finally(() => open.delete(socket));
    result.tcpConnections.push({ closed });
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    result.tlsSockets.push({ servername: socket.servername, alpnProtocol: socket.alpnProtocol });
  });
  server.on('tlsClientError', () => undefined);
  // Counted before the listener routes them. (With a second 'upgrade' listener, the listener leaves
  // requests for other paths to the application: fine here, as only `path` is used.)
  server.prependListener('upgrade', () => {
    result.upgradeRequests++;
  });
  server.on('request', (_request, response) => {
    result.otherRequests++;
    response.writeHead(404).end();
  });
  listener.attach(server, path);
  server.listen(0, '127.0.0.1');
  await within(once(server, 'listening'), 'https server listening');
  result.port = (server.address() as AddressInfo).port;
  t.after(async () => {
    try {
      await within(listener.closeAsync(), 'listener.closeAsync');
    } finally {
      for (const socket of open) socket.destroy();
      await within(
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        }),
        'https server close',
      );
    }
  });
  return result;
}

/** A client socket closed when the test ends. */
function streamClient(t: TestContext): StreamWebSocket {
  const ws = new StreamWebSocket();
  t.after(() => {
    ws.close();
  });
  return ws;
}

function messageClient(t: TestContext): MessageWebSocket {
  const ws = new MessageWebSocket();
  t.after(() => {
    ws.close();
  });
  return ws;
}

type ClientSocket = StreamWebSocket | MessageWebSocket;

/** Connects within the usual bound. */
async function connect(ws: ClientSocket, url: string): Promise<void> {
  await within(ws.connectAsync(url), `connectAsync(${url})`);
}

/** connectAsync must fail with a WebSocketError of this status (and hresult); returns the error. */
async function expectConnectFailure(
  ws: ClientSocket,
  url: string,
  status: WebErrorStatus | readonly WebErrorStatus[],
  hresult?: number,
): Promise<WebSocketError> {
  let failure: unknown;
  try {
    await within(ws.connectAsync(url), `connectAsync(${url})`);
  } catch (error) {
    failure = error;
  }
  assert.ok(failure !== undefined, 'connectAsync should have failed');
  assert.ok(failure instanceof WebSocketError, `expected a WebSocketError, got ${inspect(failure)}`);
  const statuses: readonly WebErrorStatus[] = typeof status === 'number' ? [status] : status;
  assert.ok(
    statuses.includes(failure.status),
    `status ${failure.status}, expected ${statuses.join(' or ')} (${failure.message})`,
  );
  if (hresult !== undefined) {
    assert.equal(failure.hresult >>> 0, hresult >>> 0, `hresult 0x${(failure.hresult >>> 0).toString(16)}`);
  }
  // WinRT's idiom: WebSocketError.GetStatus(hresult) gives the status back.
  assert.equal(WebSocketError.getStatus(failure.hresult), failure.status);
  return failure;
}

/** What information reports about the server certificate. */
function certificateInfo(ws: ClientSocket): {
  subject: string | undefined;
  intermediates: string[];
  errors: readonly ChainValidationResult[];
  severity: SocketSslErrorSeverity;
} {
  return {
    subject: ws.information.serverCertificate?.subject,
    intermediates: ws.information.serverIntermediateCertificates.map((cert) => cert.fingerprint256),
    errors: ws.information.serverCertificateErrors,
    severity: ws.information.serverCertificateErrorSeverity,
  };
}

/** One message each way over a stream pair. */
async function streamRoundTrip(client: StreamWebSocket, server: ServerStreamWebSocket): Promise<void> {
  await within(client.outputStream.writeAsync(Buffer.from('ping')), 'client write');
  const got = await within(
    server.inputStream.readAsync(new Uint8Array(4), 4, InputStreamOptions.None),
    'server read',
  );
  assert.equal(got.toString(), 'ping');
  await within(server.outputStream.writeAsync(Buffer.from('pong')), 'server write');
  const back = await within(
    client.inputStream.readAsync(new Uint8Array(4), 4, InputStreamOptions.None),
    'client read',
  );
  assert.equal(back.toString(), 'pong');
}

async function firstMessageText(socket: {
  messages(): AsyncIterableIterator<IncomingMessage>;
}): Promise<string> {
  const next = await within(socket.messages().next(), 'the next message');
  assert.ok(next.done !== true, 'a message should have arrived');
  const sections: Buffer[] = [];
  for await (const section of next.value) sections.push(section);
  return Buffer.concat(sections).toString();
}

/** One message each way over a message pair. */
async function messageRoundTrip(client: MessageWebSocket, server: ServerMessageWebSocket): Promise<void> {
  await within(client.outputStream.writeAsync(Buffer.from('ping')), 'client write');
  assert.equal(await firstMessageText(server), 'ping');
  await within(server.outputStream.writeAsync(Buffer.from('pong')), 'server write');
  assert.equal(await firstMessageText(client), 'pong');
}

const ALL_CHAIN_VALIDATION_RESULTS = Object.values(ChainValidationResult).filter(
  (value) => value !== ChainValidationResult.Success,
);

// ---------------------------------------------------------------------------------------------------
// A valid chain

test(
  'valid chain (leaf + intermediate, control.ca = root): connects, information, data, ALPN',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, GOOD_CHAIN);
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    await connect(client, server.url());
    const { socket, request } = await server.connections.next();

    const info = certificateInfo(client);
    assert.equal(info.subject, 'CN=localhost');
    assert.equal(client.information.serverCertificate?.fingerprint256, fingerprint(pki.leaf.cert));
    assert.deepEqual(info.errors, []);
    assert.equal(info.severity, SocketSslErrorSeverity.None);

    assert.ok(request.socket instanceof tls.TLSSocket, 'the request arrived over TLS');
    assert.equal(request.socket.alpnProtocol, 'http/1.1', 'the client offered ALPN http/1.1');
    assert.deepEqual(server.servernames, [], 'no SNI for an IP address');
    await streamRoundTrip(client, socket);

    // The intermediates the server sent: not the client's own trust anchor.
    assert.equal(client.information.serverIntermediateCertificates[0]?.subject, `CN=${INTERMEDIATE_CN}`);
    assert.deepEqual(
      info.intermediates,
      [fingerprint(pki.intermediate.cert)],
      'only the intermediate the server sent',
    );
  },
);

test('SNI: wss://localhost sends the servername localhost', TEST_OPTIONS, async (t) => {
  const server = await bindWss(t, GOOD_CHAIN);
  const client = streamClient(t);
  client.control.ca.push(pki.root.cert);
  await connect(client, server.url('localhost'));
  await server.connections.next();
  assert.deepEqual(server.servernames, ['localhost']);
  assert.deepEqual(certificateInfo(client).errors, []);
});

test('MessageWebSocket: valid chain connects, information, one message each way', TEST_OPTIONS, async (t) => {
  const server = await bindWss(t, GOOD_CHAIN, { mode: 'message' });
  const client = messageClient(t);
  client.control.ca.push(pki.root.cert);
  await connect(client, server.url('localhost'));
  const { socket, request } = await server.connections.next();
  const info = certificateInfo(client);
  assert.equal(info.subject, 'CN=localhost');
  assert.deepEqual(info.errors, []);
  assert.equal(info.severity, SocketSslErrorSeverity.None);
  assert.ok(request.socket instanceof tls.TLSSocket);
  assert.equal(request.socket.alpnProtocol, 'http/1.1');
  await messageRoundTrip(client, socket);
  assert.deepEqual(info.intermediates, [fingerprint(pki.intermediate.cert)]);
});

test(
  'ignorable errors that do not occur change nothing: errors [] and severity None',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, GOOD_CHAIN);
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    client.control.ignorableServerCertificateErrors.push(
      ChainValidationResult.Untrusted,
      ChainValidationResult.Expired,
    );
    await connect(client, server.url());
    assert.deepEqual(certificateInfo(client).errors, []);
    assert.equal(certificateInfo(client).severity, SocketSslErrorSeverity.None);
  },
);

test('information before connect and after a ws: connect: null, [], [], None', TEST_OPTIONS, async (t) => {
  const fresh = new StreamWebSocket();
  assert.equal(fresh.information.serverCertificate, null);
  assert.deepEqual(fresh.information.serverIntermediateCertificates, []);
  assert.deepEqual(fresh.information.serverCertificateErrors, []);
  assert.equal(fresh.information.serverCertificateErrorSeverity, SocketSslErrorSeverity.None);

  const listener = new WebSocketListener({ closeTimeout: 1_000 });
  const connections = new Arrivals<ConnectionReceivedEventArgs>();
  listener.on('connectionReceived', (args) => {
    connections.push(args);
  });
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(() => within(listener.closeAsync(), 'listener.closeAsync'));
  const url = `ws://127.0.0.1:${String(listener.information.localPort)}/`;
  for (const client of [streamClient(t), messageClient(t)]) {
    client.control.ca.push(pki.root.cert);
    await connect(client, url);
    await connections.next();
    assert.equal(client.information.serverCertificate, null);
    assert.deepEqual(client.information.serverIntermediateCertificates, []);
    assert.deepEqual(client.information.serverCertificateErrors, []);
    assert.equal(client.information.serverCertificateErrorSeverity, SocketSslErrorSeverity.None);
  }
});

test("wss: through listener.attach(https.createServer(...), '/secure')", TEST_OPTIONS, async (t) => {
  const server = await attachWss(t, GOOD_CHAIN, { path: '/secure' });
  const client = streamClient(t);
  client.control.ca.push(pki.root.cert);
  await connect(client, server.url('localhost'));
  const { socket, request } = await server.connections.next();
  assert.equal(request.url, '/secure');
  const observed = await server.tlsSockets.next();
  assert.equal(observed.servername, 'localhost');
  assert.equal(observed.alpnProtocol, 'http/1.1');
  assert.equal(server.upgradeRequests, 1);
  assert.deepEqual(certificateInfo(client).errors, []);
  await streamRoundTrip(client, socket);
});

// ---------------------------------------------------------------------------------------------------
// Untrusted

test(
  'untrusted (system trust only, the server sends leaf + intermediate + root): CertificateIsInvalid; ignoring Untrusted connects',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, serverTls(pki.leaf, pki.intermediate.cert, pki.root.cert));
    const refused = streamClient(t);
    const error = await expectConnectFailure(
      refused,
      server.url(),
      WebErrorStatus.CertificateIsInvalid,
      HResult.WININET_E_SEC_INVALID_CERT,
    );
    assert.match(error.message, /Untrusted/);
    assert.equal(server.connections.count, 0);

    const accepting = streamClient(t);
    accepting.control.ignorableServerCertificateErrors.push(ChainValidationResult.Untrusted);
    await connect(accepting, server.url());
    const { socket } = await server.connections.next();
    const info = certificateInfo(accepting);
    assert.deepEqual(info.errors, [ChainValidationResult.Untrusted]);
    assert.equal(info.severity, SocketSslErrorSeverity.Ignorable);
    assert.equal(info.subject, 'CN=localhost');
    assert.deepEqual(info.intermediates, [fingerprint(pki.intermediate.cert), fingerprint(pki.root.cert)]);
    await streamRoundTrip(accepting, socket);
  },
);

test(
  'untrusted self-signed leaf: CertificateIsInvalid; ignoring Untrusted connects (Stream and Message)',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, serverTls(pki.selfSigned));
    for (const make of [streamClient, messageClient]) {
      const refused = make(t);
      await expectConnectFailure(
        refused,
        server.url(),
        WebErrorStatus.CertificateIsInvalid,
        HResult.WININET_E_SEC_INVALID_CERT,
      );
      const accepting = make(t);
      accepting.control.ignorableServerCertificateErrors.push(ChainValidationResult.Untrusted);
      await connect(accepting, server.url());
      assert.deepEqual(certificateInfo(accepting).errors, [ChainValidationResult.Untrusted]);
      assert.equal(certificateInfo(accepting).severity, SocketSslErrorSeverity.Ignorable);
      assert.deepEqual(certificateInfo(accepting).intermediates, []);
    }
    // The same certificate given as a trust anchor is trusted.
    const anchored = streamClient(t);
    anchored.control.ca.push(pki.selfSigned.cert);
    await connect(anchored, server.url());
    assert.deepEqual(certificateInfo(anchored).errors, []);
  },
);

test(
  'untrusted self-signed leaf whose keyUsage lacks keyCertSign: still Untrusted (self-signed, not an incomplete chain)',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, serverTls(pki.selfSignedDigitalSignatureOnly));
    await expectConnectFailure(
      streamClient(t),
      server.url(),
      WebErrorStatus.CertificateIsInvalid,
      HResult.WININET_E_SEC_INVALID_CERT,
    );
    const accepting = streamClient(t);
    accepting.control.ignorableServerCertificateErrors.push(ChainValidationResult.Untrusted);
    await connect(accepting, server.url());
    assert.deepEqual(certificateInfo(accepting).errors, [ChainValidationResult.Untrusted]);
    assert.equal(certificateInfo(accepting).severity, SocketSslErrorSeverity.Ignorable);
  },
);

test(
  'MessageWebSocket: untrusted (no control.ca) fails with CertificateIsInvalid; ignoring Untrusted connects',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, serverTls(pki.leaf, pki.intermediate.cert, pki.root.cert), {
      mode: 'message',
    });
    await expectConnectFailure(
      messageClient(t),
      server.url(),
      WebErrorStatus.CertificateIsInvalid,
      HResult.WININET_E_SEC_INVALID_CERT,
    );
    const accepting = messageClient(t);
    accepting.control.ignorableServerCertificateErrors.push(ChainValidationResult.Untrusted);
    await connect(accepting, server.url());
    const { socket } = await server.connections.next();
    assert.deepEqual(certificateInfo(accepting).errors, [ChainValidationResult.Untrusted]);
    assert.equal(certificateInfo(accepting).severity, SocketSslErrorSeverity.Ignorable);
    await messageRoundTrip(accepting, socket);
  },
);

test(
  'private CA unknown to the client (the server sends leaf + intermediate, no control.ca): one ignorable chain error',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, GOOD_CHAIN);
    await expectConnectFailure(
      streamClient(t),
      server.url(),
      WebErrorStatus.CertificateIsInvalid,
      HResult.WININET_E_SEC_INVALID_CERT,
    );
    const accepting = streamClient(t);
    accepting.control.ignorableServerCertificateErrors.push(
      ChainValidationResult.Untrusted,
      ChainValidationResult.IncompleteChain,
    );
    await connect(accepting, server.url());
    const { errors, severity } = certificateInfo(accepting);
    assert.equal(errors.length, 1, `errors ${JSON.stringify(errors)}`);
    assert.ok(
      errors[0] === ChainValidationResult.Untrusted || errors[0] === ChainValidationResult.IncompleteChain,
      `errors ${JSON.stringify(errors)}`,
    );
    assert.equal(severity, SocketSslErrorSeverity.Ignorable);
  },
);

test(
  'a failed connect may be retried on the same socket after adding an ignorable error (WinRT)',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, serverTls(pki.selfSigned));
    const client = streamClient(t);
    await expectConnectFailure(client, server.url(), WebErrorStatus.CertificateIsInvalid);
    client.control.ignorableServerCertificateErrors.push(ChainValidationResult.Untrusted);
    await connect(client, server.url());
    assert.deepEqual(certificateInfo(client).errors, [ChainValidationResult.Untrusted]);
    // Now connected: the settings are fixed.
    assert.throws(
      () => {
        client.control.clientCertificate = { cert: pki.client.cert, key: pki.client.key };
      },
      (error: unknown) =>
        error instanceof WebSocketError && error.hresult >>> 0 === HResult.E_ILLEGAL_METHOD_CALL,
    );
  },
);

// ---------------------------------------------------------------------------------------------------
// Wrong name, expired, combinations

test(
  'wrong name: CertificateCommonNameIsIncorrect; ignoring InvalidName connects; ignoring only Untrusted does not',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, serverTls(pki.wrongName, pki.intermediate.cert));
    for (const host of ['127.0.0.1', 'localhost']) {
      const refused = streamClient(t);
      refused.control.ca.push(pki.root.cert);
      await expectConnectFailure(
        refused,
        server.url(host),
        WebErrorStatus.CertificateCommonNameIsIncorrect,
        HResult.WININET_E_SEC_CERT_CN_INVALID,
      );
    }
    const wrongList = streamClient(t);
    wrongList.control.ca.push(pki.root.cert);
    wrongList.control.ignorableServerCertificateErrors.push(ChainValidationResult.Untrusted);
    await expectConnectFailure(
      wrongList,
      server.url(),
      WebErrorStatus.CertificateCommonNameIsIncorrect,
      HResult.WININET_E_SEC_CERT_CN_INVALID,
    );

    const accepting = streamClient(t);
    accepting.control.ca.push(pki.root.cert);
    accepting.control.ignorableServerCertificateErrors.push(ChainValidationResult.InvalidName);
    await connect(accepting, server.url());
    const { socket } = await server.connections.next();
    const info = certificateInfo(accepting);
    assert.deepEqual(info.errors, [ChainValidationResult.InvalidName]);
    assert.equal(info.severity, SocketSslErrorSeverity.Ignorable);
    assert.equal(info.subject, 'CN=wrong.example');
    await streamRoundTrip(accepting, socket);
  },
);

test(
  'MessageWebSocket: wrong name fails with CertificateCommonNameIsIncorrect; ignoring InvalidName connects',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, serverTls(pki.wrongName, pki.intermediate.cert), { mode: 'message' });
    const refused = messageClient(t);
    refused.control.ca.push(pki.root.cert);
    await expectConnectFailure(
      refused,
      server.url('localhost'),
      WebErrorStatus.CertificateCommonNameIsIncorrect,
      HResult.WININET_E_SEC_CERT_CN_INVALID,
    );
    const accepting = messageClient(t);
    accepting.control.ca.push(pki.root.cert);
    accepting.control.ignorableServerCertificateErrors.push(ChainValidationResult.InvalidName);
    await connect(accepting, server.url('localhost'));
    assert.deepEqual(certificateInfo(accepting).errors, [ChainValidationResult.InvalidName]);
  },
);

test('expired: CertificateExpired; ignoring Expired connects', TEST_OPTIONS, async (t) => {
  const server = await bindWss(t, serverTls(pki.expired, pki.intermediate.cert));
  const refused = streamClient(t);
  refused.control.ca.push(pki.root.cert);
  await expectConnectFailure(
    refused,
    server.url(),
    WebErrorStatus.CertificateExpired,
    HResult.WININET_E_SEC_CERT_DATE_INVALID,
  );
  const wrongList = streamClient(t);
  wrongList.control.ca.push(pki.root.cert);
  wrongList.control.ignorableServerCertificateErrors.push(
    ChainValidationResult.Untrusted,
    ChainValidationResult.InvalidName,
  );
  await expectConnectFailure(wrongList, server.url(), WebErrorStatus.CertificateExpired);

  const accepting = streamClient(t);
  accepting.control.ca.push(pki.root.cert);
  accepting.control.ignorableServerCertificateErrors.push(ChainValidationResult.Expired);
  await connect(accepting, server.url());
  const { socket } = await server.connections.next();
  assert.deepEqual(certificateInfo(accepting).errors, [ChainValidationResult.Expired]);
  assert.equal(certificateInfo(accepting).severity, SocketSslErrorSeverity.Ignorable);
  await streamRoundTrip(accepting, socket);
});

test(
  'expired and untrusted (self-signed, expired): both reported; each must be ignored',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, serverTls(pki.expiredSelfSigned));
    await expectConnectFailure(
      streamClient(t),
      server.url(),
      WebErrorStatus.CertificateContainsErrors,
      HResult.WININET_E_SEC_CERT_ERRORS,
    );
    const onlyExpired = streamClient(t);
    onlyExpired.control.ignorableServerCertificateErrors.push(ChainValidationResult.Expired);
    const remainingUntrusted = await expectConnectFailure(
      onlyExpired,
      server.url(),
      WebErrorStatus.CertificateIsInvalid,
      HResult.WININET_E_SEC_INVALID_CERT,
    );
    // Every error found is named; the ignored one as such.
    assert.match(remainingUntrusted.message, /Untrusted \(also found, ignored as listed: Expired\)/);

    const onlyUntrusted = streamClient(t);
    onlyUntrusted.control.ignorableServerCertificateErrors.push(ChainValidationResult.Untrusted);
    await expectConnectFailure(
      onlyUntrusted,
      server.url(),
      WebErrorStatus.CertificateExpired,
      HResult.WININET_E_SEC_CERT_DATE_INVALID,
    );

    const both = streamClient(t);
    both.control.ignorableServerCertificateErrors.push(
      ChainValidationResult.Untrusted,
      ChainValidationResult.Expired,
    );
    await connect(both, server.url());
    assert.deepEqual(certificateInfo(both).errors, [
      ChainValidationResult.Untrusted,
      ChainValidationResult.Expired,
    ]);
    assert.equal(certificateInfo(both).severity, SocketSslErrorSeverity.Ignorable);
  },
);

test(
  'wrong name and incomplete chain at once: CertificateContainsErrors until all three are listed',
  TEST_OPTIONS,
  async (t) => {
    // The wrong-name leaf sent without its intermediate: IncompleteChain, Untrusted (no path to the
    // root) and InvalidName.
    const server = await attachWss(t, serverTls(pki.wrongName));
    const none = streamClient(t);
    none.control.ca.push(pki.root.cert);
    await expectConnectFailure(
      none,
      server.url(),
      WebErrorStatus.CertificateContainsErrors,
      HResult.WININET_E_SEC_CERT_ERRORS,
    );

    const nameOnly = streamClient(t);
    nameOnly.control.ca.push(pki.root.cert);
    nameOnly.control.ignorableServerCertificateErrors.push(ChainValidationResult.InvalidName);
    await expectConnectFailure(
      nameOnly,
      server.url(),
      WebErrorStatus.CertificateContainsErrors,
      HResult.WININET_E_SEC_CERT_ERRORS,
    );

    const chainOnly = streamClient(t);
    chainOnly.control.ca.push(pki.root.cert);
    chainOnly.control.ignorableServerCertificateErrors.push(
      ChainValidationResult.IncompleteChain,
      ChainValidationResult.Untrusted,
    );
    await expectConnectFailure(
      chainOnly,
      server.url(),
      WebErrorStatus.CertificateCommonNameIsIncorrect,
      HResult.WININET_E_SEC_CERT_CN_INVALID,
    );

    const all = streamClient(t);
    all.control.ca.push(pki.root.cert);
    all.control.ignorableServerCertificateErrors.push(
      ChainValidationResult.InvalidName,
      ChainValidationResult.IncompleteChain,
      ChainValidationResult.Untrusted,
    );
    await connect(all, server.url());
    assert.deepEqual(certificateInfo(all).errors, [
      ChainValidationResult.Untrusted,
      ChainValidationResult.IncompleteChain,
      ChainValidationResult.InvalidName,
    ]);
    // IncompleteChain is outside WinRT's ignorable set: the severity says Fatal although it was listed.
    assert.equal(certificateInfo(all).severity, SocketSslErrorSeverity.Fatal);
  },
);

// ---------------------------------------------------------------------------------------------------
// Incomplete chain, fatal errors

test(
  'incomplete chain (the server sends the leaf alone): IncompleteChain and Untrusted, both to be listed',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, serverTls(pki.leaf));
    const refused = streamClient(t);
    refused.control.ca.push(pki.root.cert);
    const error = await expectConnectFailure(
      refused,
      server.url(),
      WebErrorStatus.CertificateContainsErrors,
      HResult.WININET_E_SEC_CERT_ERRORS,
    );
    assert.match(error.message, /Untrusted, IncompleteChain/);

    const accepting = streamClient(t);
    accepting.control.ca.push(pki.root.cert);
    accepting.control.ignorableServerCertificateErrors.push(
      ChainValidationResult.IncompleteChain,
      ChainValidationResult.Untrusted,
    );
    await connect(accepting, server.url());
    const { socket } = await server.connections.next();
    const info = certificateInfo(accepting);
    assert.deepEqual(info.errors, [ChainValidationResult.Untrusted, ChainValidationResult.IncompleteChain]);
    assert.equal(info.severity, SocketSslErrorSeverity.Fatal);
    assert.deepEqual(info.intermediates, []);
    await streamRoundTrip(accepting, socket);
  },
);

test(
  'issuer that is not a CA: BasicConstraintsError, fatal: fails even with every error listed as ignorable',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, serverTls(pki.leafOfNotCa, pki.notCa.cert));
    const plain = streamClient(t);
    plain.control.ca.push(pki.root.cert);
    // BasicConstraintsError alone (CertificateIsInvalid), or with others (CertificateContainsErrors).
    const error = await expectConnectFailure(plain, server.url(), [
      WebErrorStatus.CertificateIsInvalid,
      WebErrorStatus.CertificateContainsErrors,
    ]);
    assert.match(error.message, /BasicConstraintsError/);

    const everything = streamClient(t);
    everything.control.ca.push(pki.root.cert);
    everything.control.ignorableServerCertificateErrors.push(...ALL_CHAIN_VALIDATION_RESULTS);
    const stillRefused = await expectConnectFailure(everything, server.url(), [
      WebErrorStatus.CertificateIsInvalid,
      WebErrorStatus.CertificateContainsErrors,
    ]);
    assert.match(stillRefused.message, /BasicConstraintsError/);
    assert.equal(server.connections.count, 0);
  },
);

test('a leaf for client authentication only: WrongUsage, fatal', TEST_OPTIONS, async (t) => {
  const server = await bindWss(t, serverTls(pki.wrongUsage, pki.intermediate.cert));
  const everything = streamClient(t);
  everything.control.ca.push(pki.root.cert);
  everything.control.ignorableServerCertificateErrors.push(...ALL_CHAIN_VALIDATION_RESULTS);
  const error = await expectConnectFailure(everything, server.url(), WebErrorStatus.CertificateIsInvalid);
  assert.match(error.message, /WrongUsage/);
});

test(
  'expired AND for client authentication only: ignoring Expired must not let the fatal WrongUsage through',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, serverTls(pki.expiredWrongUsage, pki.intermediate.cert));
    const plain = streamClient(t);
    plain.control.ca.push(pki.root.cert);
    // Ignoring Expired leaves WrongUsage: the connect must still fail.
    const ignoringExpired = streamClient(t);
    ignoringExpired.control.ca.push(pki.root.cert);
    ignoringExpired.control.ignorableServerCertificateErrors.push(ChainValidationResult.Expired);
    const error = await expectConnectFailure(
      ignoringExpired,
      server.url(),
      WebErrorStatus.CertificateIsInvalid,
      HResult.WININET_E_SEC_INVALID_CERT,
    );
    assert.match(error.message, /WrongUsage/);
    // Both problems are reported when nothing is ignored.
    const plainError = await expectConnectFailure(
      plain,
      server.url(),
      WebErrorStatus.CertificateContainsErrors,
      HResult.WININET_E_SEC_CERT_ERRORS,
    );
    assert.match(plainError.message, /Expired/);
    assert.match(plainError.message, /WrongUsage/);
    assert.equal(server.connections.count, 0);
  },
);

// ---------------------------------------------------------------------------------------------------
// serverCustomValidationRequested

const SECURITY_PROBLEM = HResult.INET_E_SECURITY_PROBLEM;

test('custom validation: not raised when the default validation fails', TEST_OPTIONS, async (t) => {
  const server = await attachWss(t, serverTls(pki.selfSigned));
  const client = streamClient(t);
  let raised = 0;
  client.on('serverCustomValidationRequested', () => {
    raised++;
  });
  await expectConnectFailure(
    client,
    server.url(),
    WebErrorStatus.CertificateIsInvalid,
    HResult.WININET_E_SEC_INVALID_CERT,
  );
  assert.equal(raised, 0);
});

test(
  'custom validation: raised with the ignored errors listed, the certificate and the intermediates',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, serverTls(pki.wrongName, pki.intermediate.cert));
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    client.control.ignorableServerCertificateErrors.push(ChainValidationResult.InvalidName);
    const seen: WebSocketServerCustomValidationRequestedEventArgs[] = [];
    client.on('serverCustomValidationRequested', (args) => {
      seen.push(args);
    });
    await connect(client, server.url());
    assert.equal(seen.length, 1);
    const args = seen[0]!;
    assert.ok(args instanceof WebSocketServerCustomValidationRequestedEventArgs);
    assert.equal(args.serverCertificate.fingerprint256, fingerprint(pki.wrongName.cert));
    assert.deepEqual(
      args.serverIntermediateCertificates.map((cert) => cert.fingerprint256),
      [fingerprint(pki.intermediate.cert)],
    );
    assert.deepEqual(args.serverCertificateErrors, [ChainValidationResult.InvalidName]);
    assert.equal(args.serverCertificateErrorSeverity, SocketSslErrorSeverity.Ignorable);
  },
);

test(
  'custom validation: a valid server, the handler sees no errors and severity None; accepting connects',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, GOOD_CHAIN, { mode: 'message' });
    const client = messageClient(t);
    client.control.ca.push(pki.root.cert);
    let seen: WebSocketServerCustomValidationRequestedEventArgs | undefined;
    client.on('serverCustomValidationRequested', (args) => {
      seen = args;
    });
    await connect(client, server.url());
    assert.ok(seen !== undefined);
    assert.equal(seen.serverCertificate.fingerprint256, fingerprint(pki.leaf.cert));
    assert.deepEqual(seen.serverCertificateErrors, []);
    assert.equal(seen.serverCertificateErrorSeverity, SocketSslErrorSeverity.None);
    const { socket } = await server.connections.next();
    await messageRoundTrip(client, socket);
  },
);

test(
  'custom validation: reject() → CertificateIsInvalid 0x800C000E, and no HTTP request reaches the server',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, GOOD_CHAIN);
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    client.on('serverCustomValidationRequested', (args) => {
      args.reject();
    });
    await expectConnectFailure(client, server.url(), WebErrorStatus.CertificateIsInvalid, SECURITY_PROBLEM);
    const observed = await server.tcpConnections.next();
    await within(observed.closed, 'the refused TLS connection closes');
    await delay(20);
    assert.equal(server.upgradeRequests, 0);
    assert.equal(server.otherRequests, 0);
    assert.equal(server.connections.count, 0);
  },
);

test(
  'MessageWebSocket custom validation: reject() → CertificateIsInvalid 0x800C000E before any request',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, GOOD_CHAIN, { mode: 'message' });
    const client = messageClient(t);
    client.control.ca.push(pki.root.cert);
    let raised = 0;
    client.on('serverCustomValidationRequested', (args) => {
      raised++;
      args.reject();
    });
    await expectConnectFailure(client, server.url(), WebErrorStatus.CertificateIsInvalid, SECURITY_PROBLEM);
    assert.equal(raised, 1);
    const observed = await server.tcpConnections.next();
    await within(observed.closed, 'the refused TLS connection closes');
    assert.equal(server.upgradeRequests, 0);
  },
);

test(
  'custom validation runs before the upgrade request: while it waits, the server has seen no request',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, GOOD_CHAIN);
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    const requestsDuringValidation: number[] = [];
    client.on('serverCustomValidationRequested', (args) => {
      const deferral = args.getDeferral();
      setTimeout(() => {
        requestsDuringValidation.push(server.upgradeRequests + server.otherRequests);
        deferral.complete();
      }, 100);
    });
    await connect(client, server.url());
    assert.deepEqual(requestsDuringValidation, [0]);
    assert.equal(server.upgradeRequests, 1);
    await server.connections.next();
  },
);

test('custom validation: a deferral that rejects after 50 ms fails the connect', TEST_OPTIONS, async (t) => {
  const server = await attachWss(t, GOOD_CHAIN);
  const client = streamClient(t);
  client.control.ca.push(pki.root.cert);
  client.on('serverCustomValidationRequested', (args) => {
    const deferral = args.getDeferral();
    setTimeout(() => {
      args.reject();
      deferral.complete();
    }, 50);
  });
  const started = Date.now();
  await expectConnectFailure(client, server.url(), WebErrorStatus.CertificateIsInvalid, SECURITY_PROBLEM);
  assert.ok(Date.now() - started >= 45, 'the connect waited for the deferral');
  const observed = await server.tcpConnections.next();
  await within(observed.closed, 'the refused TLS connection closes');
  assert.equal(server.upgradeRequests, 0);
});

test(
  'custom validation: a deferral completed after 50 ms without reject connects; complete() twice throws',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, GOOD_CHAIN);
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    let secondComplete: unknown;
    client.on('serverCustomValidationRequested', (args) => {
      const deferral = args.getDeferral();
      setTimeout(() => {
        deferral.complete();
        try {
          deferral.complete();
        } catch (error) {
          secondComplete = error;
        }
      }, 50);
    });
    const started = Date.now();
    await connect(client, server.url());
    assert.ok(Date.now() - started >= 45, 'the connect waited for the deferral');
    assert.ok(secondComplete instanceof WebSocketError, `second complete(): ${inspect(secondComplete)}`);
    assert.equal(secondComplete.hresult >>> 0, HResult.E_ILLEGAL_METHOD_CALL);
    const { socket } = await server.connections.next();
    await streamRoundTrip(client, socket);
  },
);

test(
  'custom validation: two handlers, one rejects → fails; both accept → connects',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, GOOD_CHAIN);
    const refused = streamClient(t);
    refused.control.ca.push(pki.root.cert);
    const calls: string[] = [];
    refused.on('serverCustomValidationRequested', () => {
      calls.push('accepting');
    });
    refused.on('serverCustomValidationRequested', (args) => {
      calls.push('rejecting');
      args.reject();
    });
    await expectConnectFailure(refused, server.url(), WebErrorStatus.CertificateIsInvalid, SECURITY_PROBLEM);
    assert.deepEqual(calls, ['accepting', 'rejecting']);

    // The rejecting one first, the other one after: order does not matter.
    const refusedToo = streamClient(t);
    refusedToo.control.ca.push(pki.root.cert);
    refusedToo.on('serverCustomValidationRequested', (args) => {
      args.reject();
    });
    refusedToo.on('serverCustomValidationRequested', async () => {
      await delay(20);
    });
    await expectConnectFailure(
      refusedToo,
      server.url(),
      WebErrorStatus.CertificateIsInvalid,
      SECURITY_PROBLEM,
    );

    const accepted = streamClient(t);
    accepted.control.ca.push(pki.root.cert);
    let count = 0;
    const accept = (): void => {
      count++;
    };
    accepted.on('serverCustomValidationRequested', accept);
    accepted.on('serverCustomValidationRequested', accept);
    await connect(accepted, server.url());
    assert.equal(count, 2);
  },
);

test(
  'custom validation: a handler returning a promise is awaited (resolves later → connects; rejects later → fails)',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, GOOD_CHAIN);
    const accepted = streamClient(t);
    accepted.control.ca.push(pki.root.cert);
    let finished = false;
    accepted.on('serverCustomValidationRequested', async (args) => {
      await delay(50);
      assert.equal(args.serverCertificate.fingerprint256, fingerprint(pki.leaf.cert));
      finished = true;
    });
    await connect(accepted, server.url());
    assert.ok(finished, 'connectAsync waited for the handler');

    const refused = streamClient(t);
    refused.control.ca.push(pki.root.cert);
    refused.on('serverCustomValidationRequested', async (args) => {
      await delay(50);
      args.reject();
    });
    await expectConnectFailure(refused, server.url(), WebErrorStatus.CertificateIsInvalid, SECURITY_PROBLEM);
  },
);

test(
  'custom validation: a deferral never completed → Timeout after control.connectTimeout',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, GOOD_CHAIN);
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    client.control.connectTimeout = 500;
    client.on('serverCustomValidationRequested', (args) => {
      args.getDeferral();
    });
    const started = Date.now();
    await expectConnectFailure(client, server.url(), WebErrorStatus.Timeout, HResult.WININET_E_TIMEOUT);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 450 && elapsed < 3_000, `failed after ${elapsed} ms`);
    const observed = await server.tcpConnections.next();
    await within(observed.closed, 'the abandoned TLS connection closes');
    assert.equal(server.upgradeRequests, 0);
  },
);

test(
  'custom validation: close() while the handler waits cancels the connect (OperationCanceled)',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, GOOD_CHAIN);
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    client.on('serverCustomValidationRequested', (args) => {
      args.getDeferral();
      setTimeout(() => {
        client.close();
      }, 20);
    });
    await expectConnectFailure(client, server.url(), WebErrorStatus.OperationCanceled);
    const observed = await server.tcpConnections.next();
    await within(observed.closed, 'the cancelled TLS connection closes');
    assert.equal(server.upgradeRequests, 0);
  },
);

test(
  'custom validation: aborting the connectAsync signal while the handler waits → OperationCanceled',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, GOOD_CHAIN);
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    const controller = new AbortController();
    client.on('serverCustomValidationRequested', (args) => {
      args.getDeferral();
      setTimeout(() => {
        controller.abort();
      }, 20);
    });
    let failure: unknown;
    try {
      await within(client.connectAsync(server.url(), { signal: controller.signal }), 'aborted connectAsync');
    } catch (error) {
      failure = error;
    }
    assert.ok(failure instanceof WebSocketError, `expected a WebSocketError, got ${inspect(failure)}`);
    assert.equal(failure.status, WebErrorStatus.OperationCanceled);
    const observed = await server.tcpConnections.next();
    await within(observed.closed, 'the aborted TLS connection closes');
    assert.equal(server.upgradeRequests, 0);
  },
);

// ---------------------------------------------------------------------------------------------------
// TLS handshake failures

test('connectTimeout bounds a TLS handshake the server never answers (Timeout)', TEST_OPTIONS, async (t) => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    socket.on('error', () => undefined);
    sockets.add(socket);
  });
  silent.listen(0, '127.0.0.1');
  await within(once(silent, 'listening'), 'silent server listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const { port } = silent.address() as AddressInfo;
  const client = streamClient(t);
  client.control.connectTimeout = 300;
  const started = Date.now();
  await expectConnectFailure(
    client,
    `wss://127.0.0.1:${String(port)}/`,
    WebErrorStatus.Timeout,
    HResult.WININET_E_TIMEOUT,
  );
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 3_000, `failed after ${elapsed} ms`);
});

test(
  'a ws: (plain) server behind a wss: URL fails the connect with a WebSocketError',
  TEST_OPTIONS,
  async (t) => {
    const listener = new WebSocketListener({ closeTimeout: 1_000 });
    listener.on('connectionReceived', () => undefined);
    await within(listener.bindServiceNameAsync(0, '127.0.0.1'), 'bindServiceNameAsync');
    t.after(() => within(listener.closeAsync(), 'listener.closeAsync'));
    const client = streamClient(t);
    let failure: unknown;
    try {
      await within(
        client.connectAsync(`wss://127.0.0.1:${String(listener.information.localPort)}/`),
        'connectAsync',
      );
    } catch (error) {
      failure = error;
    }
    assert.ok(failure instanceof WebSocketError, `expected a WebSocketError, got ${inspect(failure)}`);
  },
);

// ---------------------------------------------------------------------------------------------------
// Mutual TLS

const MUTUAL_TLS: https.ServerOptions = {
  ...GOOD_CHAIN,
  ca: pki.root.cert,
  requestCert: true,
  rejectUnauthorized: true,
};

function peerCommonName(request: { socket: unknown }): unknown {
  assert.ok(request.socket instanceof tls.TLSSocket);
  assert.equal(request.socket.authorized, true);
  return request.socket.getPeerCertificate().subject.CN;
}

test(
  'mutual TLS: clientCertificate { cert, key } is presented; the server sees its CN',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, MUTUAL_TLS);
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    client.control.clientCertificate = { cert: pki.client.cert, key: pki.client.key };
    await connect(client, server.url());
    const { socket, request } = await server.connections.next();
    assert.equal(peerCommonName(request), CLIENT_CN);
    await streamRoundTrip(client, socket);
    assert.throws(
      () => {
        client.control.clientCertificate = null;
      },
      (error: unknown) =>
        error instanceof WebSocketError && error.hresult >>> 0 === HResult.E_ILLEGAL_METHOD_CALL,
    );
  },
);

test(
  'mutual TLS: clientCertificate { pfx, passphrase } works too (Stream and Message)',
  TEST_OPTIONS,
  async (t) => {
    const streamServer = await bindWss(t, MUTUAL_TLS);
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    client.control.clientCertificate = { pfx: pki.clientPfx, passphrase: pki.clientPfxPassphrase };
    await connect(client, streamServer.url());
    assert.equal(peerCommonName((await streamServer.connections.next()).request), CLIENT_CN);

    const messageServer = await bindWss(t, MUTUAL_TLS, { mode: 'message' });
    const messageSocket = messageClient(t);
    messageSocket.control.ca.push(pki.root.cert);
    messageSocket.control.clientCertificate = { pfx: pki.clientPfx, passphrase: pki.clientPfxPassphrase };
    await connect(messageSocket, messageServer.url());
    const { socket, request } = await messageServer.connections.next();
    assert.equal(peerCommonName(request), CLIENT_CN);
    await messageRoundTrip(messageSocket, socket);
    assert.throws(
      () => {
        messageSocket.control.clientCertificate = null;
      },
      (error: unknown) =>
        error instanceof WebSocketError && error.hresult >>> 0 === HResult.E_ILLEGAL_METHOD_CALL,
    );
  },
);

test(
  'mutual TLS: a client without a certificate is refused with a WebSocketError',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, MUTUAL_TLS);
    for (const client of [streamClient(t), messageClient(t)]) {
      client.control.ca.push(pki.root.cert);
      let failure: unknown;
      try {
        await within(client.connectAsync(server.url()), 'connectAsync without a client certificate');
      } catch (error) {
        failure = error;
      }
      assert.ok(failure instanceof WebSocketError, `expected a WebSocketError, got ${inspect(failure)}`);
    }
    assert.equal(server.connections.count, 0);
  },
);

test(
  'mutual TLS: a pfx with the wrong passphrase fails the connect with a WebSocketError',
  TEST_OPTIONS,
  async (t) => {
    const server = await attachWss(t, MUTUAL_TLS);
    const client = streamClient(t);
    client.control.ca.push(pki.root.cert);
    client.control.clientCertificate = { pfx: pki.clientPfx, passphrase: 'not the passphrase' };
    let failure: unknown;
    try {
      await within(client.connectAsync(server.url()), 'connectAsync with a wrong passphrase');
    } catch (error) {
      failure = error;
    }
    assert.ok(failure instanceof WebSocketError, `expected a WebSocketError, got ${inspect(failure)}`);
    assert.equal(server.connections.count, 0);
    // Nothing is left open: a TCP connection the client may have opened first is closed again.
    await delay(50);
    for (let i = 0; i < server.tcpConnections.count; i++) {
      const connection = await server.tcpConnections.next();
      await within(connection.closed, 'the client closes the TCP connection it opened', 1_000);
    }
  },
);

// ---------------------------------------------------------------------------------------------------
// The wss: listener's shutdown

for (const silent of ['tcp', 'tls'] as const) {
  const what =
    silent === 'tcp'
      ? 'a client that opened TCP and never began TLS'
      : 'a client that finished TLS and sent no request';
  test(`closeAsync of a wss: listener settles promptly despite ${what}`, TEST_OPTIONS, async (t) => {
    const listener = new WebSocketListener({ closeTimeout: 1_000, tls: GOOD_CHAIN });
    listener.on('connectionReceived', () => undefined);
    await within(listener.bindServiceNameAsync(0, '127.0.0.1'), 'bindServiceNameAsync');
    const port = listener.information.localPort;
    assert.ok(port !== null);
    const client =
      silent === 'tcp'
        ? net.connect(port, '127.0.0.1')
        : tls.connect({ port, host: '127.0.0.1', ca: pki.root.cert, ALPNProtocols: ['http/1.1'] });
    client.on('error', () => undefined);
    t.after(() => {
      client.destroy();
    });
    await within(once(client, silent === 'tcp' ? 'connect' : 'secureConnect'), `${silent} client connected`);
    await delay(50);
    const closing = listener.closeAsync();
    try {
      await within(closing, `closeAsync with ${what}`, 2_000);
    } finally {
      client.destroy();
      await within(closing, 'closeAsync once the client left');
    }
  });
}
