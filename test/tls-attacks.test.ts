// wss: under attack (issue 20): TLS connections that must end (a corrupted record, a renegotiation flood,
// stalled handshakes), certificate problems that an ignorable error must not hide, names checked without
// the common name, IP address certificates, weak keys and CA certificates as leaves, the severity WinRT
// gives, and a server that requires a client certificate. Certificates are made by openssl at test time
// (test/helpers/pki.ts); hand-made TLS clients and a byte-flipping relay play the attacker. 127.0.0.1
// (and ::1) only; every wait is bounded.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import type https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import tls from 'node:tls';
import { inspect } from 'node:util';

import {
  ChainValidationResult,
  HResult,
  InputStreamOptions,
  SocketSslErrorSeverity,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
  type ConnectionReceivedEventArgs,
} from '../src/index.js';
import {
  createTestPki,
  EXTENSIONS,
  pemChain,
  ROOT_CN,
  withCertificateFactory,
  type CertificateAndKey,
} from './helpers/pki.js';
import { upgradeRequest } from './helpers/raw-client.js';
import { within as settleWithin } from './helpers/within.js';

const WAIT_MS = 5_000;
const TEST_OPTIONS = { timeout: 20_000 };
const NAMES = 'DNS:localhost,IP:127.0.0.1';

const pki = await createTestPki();

/** The certificates of these attacks, beyond the standard set. */
const made = await withCertificateFactory(async (issue) => {
  const { root, intermediate } = pki;
  const server = EXTENSIONS.server(NAMES);
  const cnOnly = [
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature',
    'extendedKeyUsage = serverAuth',
  ];
  const [pathLenZero, clientAuthCa, permitsExampleCom, excludesLocalhost, attackerRoot, rootNameAlike] =
    await Promise.all([
      issue(
        'pathlen-0',
        '/CN=pathlen 0 CA',
        ['basicConstraints = critical,CA:TRUE,pathlen:0', 'keyUsage = critical,keyCertSign,cRLSign'],
        root,
      ),
      issue(
        'client-auth-ca',
        '/CN=clientAuth-only CA',
        [...EXTENSIONS.ca, 'extendedKeyUsage = clientAuth'],
        root,
      ),
      issue(
        'permits-example',
        '/CN=example.com only CA',
        [...EXTENSIONS.ca, 'nameConstraints = critical,permitted;DNS:.example.com'],
        root,
      ),
      issue(
        'excludes-localhost',
        '/CN=no localhost CA',
        [...EXTENSIONS.ca, 'nameConstraints = critical,excluded;DNS:localhost'],
        root,
      ),
      issue('attacker-root', '/CN=attacker root', EXTENSIONS.ca, 'self'),
      issue('root-name-alike', `/CN=${ROOT_CN}`, EXTENSIONS.ca, 'self'),
    ]);
  const subCa = await issue('sub-ca', '/CN=sub CA under pathlen 0', EXTENSIONS.ca, pathLenZero);
  /** A leaf valid now, and one that expired in 2020, with these extensions, from `issuer`. */
  const both = async (
    name: string,
    extensions: readonly string[],
    issuer: CertificateAndKey,
    digest?: 'sha1',
  ): Promise<{ valid: CertificateAndKey; expired: CertificateAndKey }> => {
    const options = digest === undefined ? {} : { digest };
    const [valid, expired] = await Promise.all([
      issue(name, '/CN=localhost', extensions, issuer, options),
      issue(`${name}-expired`, '/CN=localhost', extensions, issuer, { ...options, expired: true }),
    ]);
    return { valid, expired };
  };
  const [underSubCa, sha1, unknownCritical, crlSignOnly, underClientAuthCa, violatesPermitted] =
    await Promise.all([
      both('under-sub-ca', server, subCa),
      both('sha1', server, intermediate, 'sha1'),
      both(
        'unknown-critical',
        [...server, '1.3.6.1.4.1.55555.1 = critical,ASN1:UTF8String:hello'],
        intermediate,
      ),
      both(
        'crl-sign-only',
        [
          'basicConstraints = critical,CA:FALSE',
          'keyUsage = critical,cRLSign',
          'extendedKeyUsage = serverAuth',
          `subjectAltName = ${NAMES}`,
        ],
        intermediate,
      ),
      both('under-client-auth-ca', server, clientAuthCa),
      both('violates-permitted', EXTENSIONS.server('DNS:localhost'), permitsExampleCom),
    ]);
  return {
    pathLenZero,
    subCa,
    clientAuthCa,
    permitsExampleCom,
    excludesLocalhost,
    rules: { underSubCa, sha1, unknownCritical, crlSignOnly, underClientAuthCa, violatesPermitted },
    cnOnlyPermitted: await issue('cn-only-permitted', '/CN=localhost', cnOnly, permitsExampleCom),
    cnOnlyExcluded: await issue('cn-only-excluded', '/CN=localhost', cnOnly, excludesLocalhost),
    attackerLeaf: await issue('attacker-leaf', '/CN=localhost', server, attackerRoot),
    rootNameLeaf: await issue('root-name-leaf', '/CN=localhost', server, rootNameAlike),
    ipv4Only: await issue('ipv4-only', '/CN=ip', EXTENSIONS.server('IP:127.0.0.1'), intermediate),
    ipv6Only: await issue('ipv6-only', '/CN=ip', EXTENSIONS.server('IP:::1'), intermediate),
    rsa1024: await issue('rsa-1024', '/CN=localhost', server, intermediate, { rsaBits: 1024 }),
    rsa2048: await issue('rsa-2048', '/CN=localhost', server, intermediate, { rsaBits: 2048 }),
    caLeaf: await issue(
      'ca-leaf',
      '/CN=localhost',
      ['basicConstraints = critical,CA:TRUE', 'extendedKeyUsage = serverAuth', `subjectAltName = ${NAMES}`],
      intermediate,
    ),
    selfSignedCa: await issue(
      'self-signed-ca',
      '/CN=localhost',
      ['basicConstraints = critical,CA:TRUE', `subjectAltName = ${NAMES}`],
      'self',
    ),
  };
});

// ---------------------------------------------------------------------------------------------------
// Helpers

function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  return settleWithin(promise, ms, what);
}

/** https.ServerOptions presenting `leaf` and then `rest` (its chain). */
function chain(leaf: CertificateAndKey, ...rest: string[]): https.ServerOptions {
  return { key: leaf.key, cert: pemChain(leaf.cert, ...rest) };
}

interface Wss {
  port: number;
  url: (host?: string) => string;
  next: () => Promise<ConnectionReceivedEventArgs>;
  count: () => number;
}

/** A wss: WebSocketListener on `host` (127.0.0.1 by default), closed after the test. */
async function bindWss(
  t: TestContext,
  tlsOptions: https.ServerOptions,
  options: { handshakeTimeout?: number; host?: string } = {},
): Promise<Wss> {
  const host = options.host ?? '127.0.0.1';
  const listener = new WebSocketListener({
    closeTimeout: 1_000,
    tls: tlsOptions,
    ...(options.handshakeTimeout === undefined ? {} : { handshakeTimeout: options.handshakeTimeout }),
  });
  const arrived: ConnectionReceivedEventArgs[] = [];
  const waiting: ((args: ConnectionReceivedEventArgs) => void)[] = [];
  let count = 0;
  listener.on('connectionReceived', (args) => {
    count++;
    const taker = waiting.shift();
    if (taker === undefined) arrived.push(args);
    else taker(args);
  });
  await within(listener.bindServiceNameAsync(0, host), 'bindServiceNameAsync');
  t.after(() => within(listener.closeAsync(), 'listener.closeAsync'));
  const port = listener.information.localPort ?? 0;
  const authority = host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: (name = authority) => `wss://${name}:${port}/ws`,
    next: () => {
      const ready = arrived.shift();
      return ready !== undefined
        ? Promise.resolve(ready)
        : within(new Promise((resolve) => waiting.push(resolve)), 'the next connection');
    },
    count: () => count,
  };
}

/** A client trusting the test root (unless told otherwise), closed after the test. */
function client(
  t: TestContext,
  setup: { ca?: boolean; ignore?: ChainValidationResult[] } = {},
): StreamWebSocket {
  const ws = new StreamWebSocket();
  if (setup.ca !== false) ws.control.ca.push(pki.root.cert);
  ws.control.ignorableServerCertificateErrors.push(...(setup.ignore ?? []));
  t.after(() => {
    ws.close();
  });
  return ws;
}

/** connectAsync must fail with a WebSocketError of one of these statuses; returns it. */
async function refused(
  ws: StreamWebSocket,
  url: string,
  status: WebErrorStatus | readonly WebErrorStatus[],
): Promise<WebSocketError> {
  const failure = await within(ws.connectAsync(url), `connectAsync(${url})`).then(
    () => assert.fail('connectAsync should have failed'),
    (error: unknown) => error,
  );
  assert.ok(failure instanceof WebSocketError, `expected a WebSocketError, got ${inspect(failure)}`);
  const statuses: readonly WebErrorStatus[] = typeof status === 'number' ? [status] : status;
  assert.ok(statuses.includes(failure.status), `status ${failure.status}: ${failure.message}`);
  assert.equal(WebSocketError.getStatus(failure.hresult), failure.status);
  return failure;
}

const LISTABLE = [
  ChainValidationResult.Untrusted,
  ChainValidationResult.Expired,
  ChainValidationResult.InvalidName,
  ChainValidationResult.IncompleteChain,
];
const CERTIFICATE_FAILURES = [WebErrorStatus.CertificateIsInvalid, WebErrorStatus.CertificateContainsErrors];

/**
 * A TCP relay between a client and `port` that can corrupt one byte of the next chunk going one way:
 * the last byte of a TLS record (its authentication tag).
 */
async function corruptingRelay(
  t: TestContext,
  port: number,
): Promise<{ port: number; corruptNext: (toward: 'client' | 'server') => void }> {
  const armed = { client: false, server: false };
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((downstream) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
    }
    const forward = (from: net.Socket, to: net.Socket, toward: 'client' | 'server'): void => {
      from.on('data', (chunk: Buffer) => {
        if (armed[toward] && chunk.length > 5) {
          armed[toward] = false;
          chunk = Buffer.from(chunk);
          chunk[chunk.length - 1]! ^= 0x01;
        }
        to.write(chunk);
      });
      from.on('close', () => to.destroy());
    };
    forward(upstream, downstream, 'client');
    forward(downstream, upstream, 'server');
  });
  relay.listen(0, '127.0.0.1');
  await within(once(relay, 'listening'), 'relay listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    relay.close();
  });
  return {
    port: (relay.address() as AddressInfo).port,
    corruptNext: (toward) => {
      armed[toward] = true;
    },
  };
}

function isConnectionLost(error: unknown): boolean {
  return (
    error instanceof WebSocketError &&
    (error.status === WebErrorStatus.ConnectionAborted || error.status === WebErrorStatus.ConnectionReset)
  );
}

const GOOD = chain(pki.leaf, pki.intermediate.cert);

// ---------------------------------------------------------------------------------------------------
// 1–3: TLS connections that must end

test(
  'a corrupted TLS record from the server ends the client: the read fails, closed 1006',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, GOOD);
    const relay = await corruptingRelay(t, server.port);
    const ws = client(t);
    await within(ws.connectAsync(`wss://127.0.0.1:${relay.port}/ws`), 'connect through the relay');
    const { socket } = await server.next();
    const closed = ws.whenClosed();
    const read = ws.inputStream.readAsync(new Uint8Array(16), 16, InputStreamOptions.Partial);
    relay.corruptNext('client');
    await within(socket.outputStream.writeAsync(Buffer.from('corrupted on the way')), 'server write');
    await assert.rejects(within(read, 'the pending read'), isConnectionLost);
    assert.equal((await within(closed, 'client closed')).code, 1006);
  },
);

test(
  'a corrupted TLS record from the client ends the listener connection (closed 1006)',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, GOOD);
    const relay = await corruptingRelay(t, server.port);
    const ws = client(t);
    await within(ws.connectAsync(`wss://127.0.0.1:${relay.port}/ws`), 'connect through the relay');
    const { socket } = await server.next();
    const closed = socket.whenClosed();
    const read = socket.inputStream.readAsync(new Uint8Array(16), 16, InputStreamOptions.Partial);
    relay.corruptNext('server');
    await within(ws.outputStream.writeAsync(Buffer.from('corrupted on the way')), 'client write');
    await assert.rejects(within(read, 'the pending server read'), isConnectionLost);
    assert.equal((await within(closed, 'server socket closed')).code, 1006);
  },
);

test(
  "TLS 1.2 renegotiation flood: the listener drops the connection at Node's limit",
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, GOOD);
    const attacker = tls.connect({
      port: server.port,
      host: '127.0.0.1',
      ca: pki.root.cert,
      servername: 'localhost',
      maxVersion: 'TLSv1.2',
    });
    attacker.on('error', () => undefined);
    attacker.resume(); // the renegotiation handshakes are read with the data
    t.after(() => attacker.destroy());
    await within(once(attacker, 'secureConnect'), 'TLS 1.2 handshake');
    attacker.write(upgradeRequest('/ws', 'localhost'));
    const { socket } = await server.next();
    const closed = socket.whenClosed();
    const gone = once(attacker, 'close');
    let renegotiations = 0;
    while (!attacker.destroyed && renegotiations < 12) {
      const done = new Promise<boolean>((resolve) => {
        const started = attacker.renegotiate({ rejectUnauthorized: false }, (error) => {
          resolve(error == null);
        });
        if (!started) resolve(false);
      });
      const renegotiated = await within(Promise.race([done, gone.then(() => false)]), 'a renegotiation');
      if (!renegotiated) break;
      renegotiations++;
    }
    assert.equal((await within(closed, 'the server connection ends')).code, 1006);
    await within(gone, 'the attacker is disconnected');
    assert.ok(renegotiations <= 3, `${renegotiations} renegotiations were served`);
  },
);

test('stalled TLS handshakes are dropped after handshakeTimeout', TEST_OPTIONS, async (t) => {
  // A real ClientHello, captured from a TLS client.
  const capture = net.createServer();
  capture.listen(0, '127.0.0.1');
  await within(once(capture, 'listening'), 'capture listening');
  const hello = new Promise<Buffer>((resolve) => {
    capture.once('connection', (socket: net.Socket) => {
      socket.once('data', (chunk: Buffer) => {
        resolve(chunk);
        socket.destroy();
      });
    });
  });
  const probe = tls.connect({ port: (capture.address() as AddressInfo).port, host: '127.0.0.1' });
  probe.on('error', () => undefined);
  const clientHello = await within(hello, 'a ClientHello');
  probe.destroy();
  capture.close();

  const server = await bindWss(t, GOOD, { handshakeTimeout: 400 });
  const sends = { silent: Buffer.alloc(0), half: clientHello.subarray(0, 40), whole: clientHello };
  const stalled = Object.entries(sends).map(([what, bytes]) => {
    const socket = net.connect(server.port, '127.0.0.1');
    socket.on('error', () => undefined);
    t.after(() => socket.destroy());
    if (bytes.length > 0) socket.write(bytes);
    socket.resume();
    return within(once(socket, 'close'), `a ${what} handshake is dropped`, 4_000);
  });
  await Promise.all(stalled);
});

// ---------------------------------------------------------------------------------------------------
// 4: an ignorable error must not hide another

const RULES = [
  ['a pathlen:0 CA that issued a sub-CA', 'underSubCa', ChainValidationResult.BasicConstraintsError],
  ['a SHA-1 signature', 'sha1', ChainValidationResult.InvalidSignature],
  ['an unknown critical extension', 'unknownCritical', ChainValidationResult.UnknownCriticalExtension],
  ['keyUsage cRLSign only', 'crlSignOnly', ChainValidationResult.WrongUsage],
  ['an intermediate for clientAuth only', 'underClientAuthCa', ChainValidationResult.WrongUsage],
  [
    'a SAN outside the CA name constraints',
    'violatesPermitted',
    ChainValidationResult.InvalidCertificateAuthorityPolicy,
  ],
] as const;

const issuerOf: Record<(typeof RULES)[number][1], string[]> = {
  underSubCa: [made.subCa.cert, made.pathLenZero.cert],
  sha1: [pki.intermediate.cert],
  unknownCritical: [pki.intermediate.cert],
  crlSignOnly: [pki.intermediate.cert],
  underClientAuthCa: [made.clientAuthCa.cert],
  violatesPermitted: [made.permitsExampleCom.cert],
};

/** Node's OpenSSL (security level 1) will not even load a SHA-1-signed certificate: level 0 serves it. */
function serving(options: https.ServerOptions): https.ServerOptions {
  return { ...options, ciphers: 'DEFAULT@SECLEVEL=0' };
}

for (const [what, key, expected] of RULES) {
  const name = Object.entries(ChainValidationResult).find(([, value]) => value === expected)![0];
  test(
    `${what}: ${name}, refused valid, and refused expired with Expired ignored`,
    TEST_OPTIONS,
    async (t) => {
      const { valid, expired } = made.rules[key];
      const fresh = await bindWss(t, serving(chain(valid, ...issuerOf[key])));
      const plain = await refused(client(t), fresh.url('localhost'), CERTIFICATE_FAILURES);
      assert.match(plain.message, new RegExp(`\\b${name}\\b`));

      const old = await bindWss(t, serving(chain(expired, ...issuerOf[key])));
      const masked = await refused(
        client(t, { ignore: [ChainValidationResult.Expired] }),
        old.url('localhost'),
        CERTIFICATE_FAILURES,
      );
      assert.match(masked.message, new RegExp(`\\b${name}\\b`));
      assert.match(masked.message, /\bExpired\b/, 'the ignored error is named too');
      // Nothing listable lets it through.
      await refused(client(t, { ignore: LISTABLE }), old.url('localhost'), CERTIFICATE_FAILURES);
      assert.equal(fresh.count() + old.count(), 0);
    },
  );
}

// ---------------------------------------------------------------------------------------------------
// 5: IncompleteChain is not a way around trust

test(
  'a leaf that leads to no trust anchor is Untrusted too: ignoring IncompleteChain alone refuses',
  TEST_OPTIONS,
  async (t) => {
    const cases = {
      "the attacker's own CA": chain(made.attackerLeaf),
      'a CA named like the trusted root': chain(made.rootNameLeaf),
      'the real root appended': chain(made.attackerLeaf, pki.root.cert),
    };
    for (const [what, options] of Object.entries(cases)) {
      const server = await bindWss(t, options);
      const error = await refused(
        client(t, { ignore: [ChainValidationResult.IncompleteChain] }),
        server.url('localhost'),
        CERTIFICATE_FAILURES,
      );
      assert.match(error.message, /\bUntrusted\b/, what);
      assert.equal(server.count(), 0, what);
    }
  },
);

test(
  'my own CA, the server sends only its leaf: IncompleteChain and Untrusted, both named; listing both connects, severity Fatal (WinRT)',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, chain(pki.leaf));
    const none = await refused(client(t), server.url(), WebErrorStatus.CertificateContainsErrors);
    assert.match(none.message, /IncompleteChain/);
    assert.match(none.message, /Untrusted/);
    const one = await refused(
      client(t, { ignore: [ChainValidationResult.IncompleteChain] }),
      server.url(),
      WebErrorStatus.CertificateIsInvalid,
    );
    assert.match(one.message, /Untrusted.*ignored as listed: IncompleteChain/);

    const ws = client(t, {
      ignore: [ChainValidationResult.IncompleteChain, ChainValidationResult.Untrusted],
    });
    await within(ws.connectAsync(server.url()), 'connect with both listed');
    assert.deepEqual(ws.information.serverCertificateErrors, [
      ChainValidationResult.Untrusted,
      ChainValidationResult.IncompleteChain,
    ]);
    // WinRT's ignorable set is Expired, InvalidName and Untrusted: IncompleteChain makes it Fatal.
    assert.equal(ws.information.serverCertificateErrorSeverity, SocketSslErrorSeverity.Fatal);
  },
);

test('severity follows WinRT: Untrusted alone is Ignorable', TEST_OPTIONS, async (t) => {
  const server = await bindWss(t, chain(pki.leaf, pki.intermediate.cert, pki.root.cert));
  const ws = client(t, { ca: false, ignore: [ChainValidationResult.Untrusted] });
  await within(ws.connectAsync(server.url()), 'connect');
  assert.deepEqual(ws.information.serverCertificateErrors, [ChainValidationResult.Untrusted]);
  assert.equal(ws.information.serverCertificateErrorSeverity, SocketSslErrorSeverity.Ignorable);
});

// ---------------------------------------------------------------------------------------------------
// 6–7: names

test(
  'a CN-only leaf is not for localhost (no common-name fallback), under permitted or excluded constraints',
  TEST_OPTIONS,
  async (t) => {
    for (const [leaf, ca] of [
      [made.cnOnlyPermitted, made.permitsExampleCom],
      [made.cnOnlyExcluded, made.excludesLocalhost],
    ] as const) {
      const server = await bindWss(t, chain(leaf, ca.cert));
      const error = await refused(
        client(t),
        server.url('localhost'),
        WebErrorStatus.CertificateCommonNameIsIncorrect,
      );
      assert.match(error.message, /InvalidName/);
      assert.equal(server.count(), 0);
    }
  },
);

test(
  'IP address certificates: IP:127.0.0.1 for wss://127.0.0.1, IP:::1 for wss://[::1], not the other way',
  TEST_OPTIONS,
  async (t) => {
    for (const [leaf, host, other] of [
      [made.ipv4Only, '127.0.0.1', '::1'],
      [made.ipv6Only, '::1', '127.0.0.1'],
    ] as const) {
      const server = await bindWss(t, chain(leaf, pki.intermediate.cert), { host });
      const ws = client(t);
      await within(ws.connectAsync(server.url()), `connect to ${host}`);
      assert.deepEqual(ws.information.serverCertificateErrors, []);
      assert.equal(ws.information.serverCertificateErrorSeverity, SocketSslErrorSeverity.None);
      const wrong = await bindWss(t, chain(leaf, pki.intermediate.cert), { host: other });
      await refused(client(t), wrong.url(), WebErrorStatus.CertificateCommonNameIsIncorrect);
    }
  },
);

// ---------------------------------------------------------------------------------------------------
// 8: weak keys, CA certificates as leaves

test('an RSA-1024 leaf is refused (InvalidSignature, fatal); RSA-2048 connects', TEST_OPTIONS, async (t) => {
  const weak = await bindWss(t, chain(made.rsa1024, pki.intermediate.cert));
  const error = await refused(
    client(t, { ignore: LISTABLE }),
    weak.url('localhost'),
    WebErrorStatus.CertificateIsInvalid,
  );
  assert.match(error.message, /InvalidSignature.*1024-bit RSA/);
  const strong = await bindWss(t, chain(made.rsa2048, pki.intermediate.cert));
  await within(client(t).connectAsync(strong.url('localhost')), 'RSA-2048 connects');
});

test(
  'a CA:TRUE leaf issued by a CA is refused (BasicConstraintsError); a self-signed CA:TRUE one is only Untrusted',
  TEST_OPTIONS,
  async (t) => {
    const issued = await bindWss(t, chain(made.caLeaf, pki.intermediate.cert));
    const error = await refused(
      client(t, { ignore: LISTABLE }),
      issued.url('localhost'),
      WebErrorStatus.CertificateIsInvalid,
    );
    assert.match(error.message, /BasicConstraintsError/);
    // What `openssl req -x509` makes: ignoring Untrusted accepts it, as any self-signed certificate.
    const selfSigned = await bindWss(t, chain(made.selfSignedCa));
    const ws = client(t, { ca: false, ignore: [ChainValidationResult.Untrusted] });
    await within(ws.connectAsync(selfSigned.url('localhost')), 'self-signed CA:TRUE leaf');
    assert.deepEqual(ws.information.serverCertificateErrors, [ChainValidationResult.Untrusted]);
  },
);

// ---------------------------------------------------------------------------------------------------
// Mutual TLS refused

test(
  'a server that requires a client certificate: Unauthorized, WININET_E_CLIENT_AUTH_CERT_NEEDED, said so',
  TEST_OPTIONS,
  async (t) => {
    const server = await bindWss(t, {
      ...GOOD,
      ca: pki.root.cert,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const error = await refused(client(t), server.url(), WebErrorStatus.Unauthorized);
    assert.equal(error.hresult >>> 0, HResult.WININET_E_CLIENT_AUTH_CERT_NEEDED);
    assert.match(error.message, /client certificate/);
    assert.equal(server.count(), 0);
  },
);
