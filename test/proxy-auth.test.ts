// Forward proxies and HTTP authentication, against servers written here in a few lines each so that
// every request can be inspected: which proxy a URL goes through (proxyFor: control.proxy, else the
// environment as curl reads it), a CONNECT proxy that asks for Basic or Digest credentials (or refuses,
// or never answers), a Digest server (RFC 7616, MD5 and SHA-256) that checks the client's answer itself
// and hands the connection to a WebSocketListener, and the listener's own authenticate hook with Basic.
// Credentials are never sent before they are asked for, and only to whoever asked. 127.0.0.1 only,
// every wait bounded; the proxy environment variables are cleared for this file and restored after.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { proxyFor } from '../src/client/proxy.js';
import {
  ChainValidationResult,
  HResult,
  MessageWebSocket,
  parseBasicAuthorization,
  StreamWebSocket,
  WebErrorStatus,
  webErrorStatusName,
  WebSocketError,
  WebSocketListener,
  type PasswordCredential,
} from '../src/index.js';
import { createTestPki, pemChain } from './helpers/pki.js';
import { freePort } from './interop/proxies/daemon.js';
import { echoStream, readExactly, statusOf, within } from './interop/proxies/util.js';

const TEST_OPTIONS = { timeout: 15_000 };
const ALICE: PasswordCredential = { username: 'alice', password: 'wonder:land' };
const PROXY_USER: PasswordCredential = { username: 'proxy-user', password: 'pröxy pässword' };

const PROXY_VARIABLES = [
  'http_proxy',
  'HTTP_PROXY',
  'https_proxy',
  'HTTPS_PROXY',
  'all_proxy',
  'ALL_PROXY',
  'no_proxy',
  'NO_PROXY',
] as const;
const savedEnvironment = new Map(PROXY_VARIABLES.map((name) => [name, process.env[name]]));

function clearProxyEnvironment(): void {
  for (const name of PROXY_VARIABLES) Reflect.deleteProperty(process.env, name);
}

/** Runs `body` with these proxy variables (and no others) in process.env, then clears them again. */
async function withEnvironment<T>(
  variables: Partial<Record<(typeof PROXY_VARIABLES)[number], string>>,
  body: () => Promise<T>,
): Promise<T> {
  clearProxyEnvironment();
  Object.assign(process.env, variables);
  try {
    return await body();
  } finally {
    clearProxyEnvironment();
  }
}

const pki = await createTestPki();

// ---------------------------------------------------------------------------------------------------
// Servers

/** Every server and socket of this file, closed in after(). */
const cleanups: (() => Promise<void>)[] = [];

/** The echoing WebSocket server behind everything here: a listener bound to 127.0.0.1. */
const echoListener = new WebSocketListener({ closeTimeout: 1_000 });
const echoRequests: http.IncomingHttpHeaders[] = [];
echoListener.on('connectionReceived', ({ socket, request }) => {
  echoRequests.push(request.headers);
  echoStream(socket);
});

/** The wss: listener: the leaf for 127.0.0.1/localhost with its intermediate (trusted through control.ca). */
const tlsListener = new WebSocketListener({
  closeTimeout: 1_000,
  tls: { key: pki.leaf.key, cert: pemChain(pki.leaf.cert, pki.intermediate.cert) },
});
tlsListener.on('connectionReceived', ({ socket }) => {
  echoStream(socket);
});

/** A self-signed wss: listener. */
const selfSignedListener = new WebSocketListener({
  closeTimeout: 1_000,
  tls: { key: pki.selfSigned.key, cert: pki.selfSigned.cert },
});
selfSignedListener.on('connectionReceived', ({ socket }) => {
  echoStream(socket);
});

function wsUrl(listener: WebSocketListener, path = '/', host = '127.0.0.1'): string {
  return `ws://${host}:${listener.information.localPort ?? 0}${path}`;
}

/** Listens on 127.0.0.1 and registers the cleanup: close, and destroy every connection it had. */
async function listen(server: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    // Sockets handed out by 'upgrade' and 'connect' are no longer the HTTP server's: destroy them too.
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as net.AddressInfo).port;
}

/** The parameters of a `Digest k=v, k="v"` or `Basic xyz` header, parsed independently of the library. */
function parseAuthorization(value: string | undefined): { scheme: string; params: Record<string, string> } {
  const match = /^(\S+)\s*(.*)$/s.exec(value ?? '');
  if (match === null) return { scheme: '', params: {} };
  const params: Record<string, string> = {};
  const pattern = /([A-Za-z0-9_-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,\s*|$)/gy;
  const rest = match[2]!;
  for (let found = pattern.exec(rest); found !== null; found = pattern.exec(rest)) {
    params[found[1]!.toLowerCase()] = found[2] === undefined ? found[3]! : found[2].replace(/\\(.)/g, '$1');
    if (pattern.lastIndex >= rest.length) break;
  }
  return { scheme: match[1]!.toLowerCase(), params };
}

type DigestAlgorithm = 'MD5' | 'SHA-256' | 'SHA-512-256' | 'MD5-sess' | 'SHA-256-sess' | 'SHA-512-256-sess';

const DIGEST_HASH_NAMES: Readonly<Record<string, string>> = {
  MD5: 'md5',
  'SHA-256': 'sha256',
  'SHA-512-256': 'sha512-256',
};

interface DigestOptions {
  algorithm: DigestAlgorithm;
  realm: string;
  users: readonly PasswordCredential[];
  /** The challenge header lines, given the Digest challenge (default: just that one). */
  challenges?: (digest: string) => string[];
  qop?: string;
}

/**
 * Checks an RFC 7616 Digest answer (qop=auth) to one of `issued` nonces for `method` on `uri`; returns
 * what is wrong with it, or undefined when it is right.
 */
function digestProblem(
  header: string | undefined,
  options: DigestOptions,
  issued: ReadonlySet<string>,
  opaque: string,
  method: string,
  uri: string,
): string | undefined {
  const { scheme, params } = parseAuthorization(header);
  if (scheme !== 'digest') return `scheme ${scheme}`;
  const session = options.algorithm.endsWith('-sess');
  const hashName = DIGEST_HASH_NAMES[options.algorithm.replace(/-sess$/, '')]!;
  const hash = (text: string): string => createHash(hashName).update(text, 'utf8').digest('hex');
  const user = options.users.find((candidate) => candidate.username === params.username);
  if (user === undefined) return `unknown user ${params.username ?? '(none)'}`;
  // Node decodes header bytes as latin1; the realm was sent (and must come back) as UTF-8.
  const realm = Buffer.from(params.realm ?? '', 'latin1').toString('utf8');
  if (realm !== options.realm) return `realm ${realm}`;
  if (params.nonce === undefined || !issued.has(params.nonce)) return 'a nonce we did not issue';
  if (params.uri !== uri) return `uri ${params.uri ?? '(none)'} for ${uri}`;
  if ((params.algorithm ?? 'MD5').toUpperCase() !== options.algorithm.toUpperCase())
    return `algorithm ${params.algorithm}`;
  if (params.qop !== 'auth') return `qop ${params.qop ?? '(none)'}`;
  if (!/^[0-9a-f]{8}$/i.test(params.nc ?? '')) return `nc ${params.nc ?? '(none)'}`;
  if ((params.cnonce ?? '') === '') return 'no cnonce';
  if (params.opaque !== opaque) return `opaque ${params.opaque ?? '(none)'}`;
  const secret = hash(`${user.username}:${options.realm}:${user.password}`);
  const ha1 = session ? hash(`${secret}:${params.nonce}:${params.cnonce!}`) : secret;
  const ha2 = hash(`${method}:${uri}`);
  const expected = hash(`${ha1}:${params.nonce}:${params.nc!}:${params.cnonce!}:auth:${ha2}`);
  return params.response === expected ? undefined : 'wrong response (password)';
}

interface SeenRequest {
  url: string;
  remotePort: number;
  authorization: string | undefined;
  proxyAuthorization: string | undefined;
  /** Why the credentials were refused, if they were. */
  problem?: string;
}

interface DigestServer {
  url(path?: string): string;
  readonly requests: SeenRequest[];
}

/**
 * An HTTP server whose upgrades need Digest: a request without a right answer gets a 401 with a fresh
 * nonce; one with it goes on to the echo listener (listener.handleUpgrade).
 */
async function startDigestServer(options: DigestOptions): Promise<DigestServer> {
  const issued = new Set<string>();
  const opaque = randomBytes(8).toString('hex');
  const requests: SeenRequest[] = [];
  const server = http.createServer((_request, response) => {
    response.writeHead(426).end();
  });
  server.on('upgrade', (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const seen: SeenRequest = {
      url: request.url ?? '',
      remotePort: socket.remotePort ?? 0,
      authorization: request.headers.authorization,
      proxyAuthorization: request.headers['proxy-authorization'],
    };
    requests.push(seen);
    const problem =
      request.headers.authorization === undefined
        ? 'no credentials'
        : digestProblem(request.headers.authorization, options, issued, opaque, 'GET', seen.url);
    if (problem === undefined) {
      echoListener.handleUpgrade(request, socket, head);
      return;
    }
    seen.problem = problem;
    const nonce = randomBytes(16).toString('base64');
    issued.add(nonce);
    const digest =
      `Digest realm="${options.realm}", nonce="${nonce}", qop="${options.qop ?? 'auth'}", ` +
      `algorithm=${options.algorithm}, opaque="${opaque}"`;
    const lines = (options.challenges ?? ((value: string) => [value]))(digest);
    socket.end(
      [
        'HTTP/1.1 401 Unauthorized',
        ...lines.map((line) => `WWW-Authenticate: ${line}`),
        'Content-Type: text/plain',
        'Content-Length: 12',
        '',
        'who are you?',
      ].join('\r\n'),
    );
  });
  const port = await listen(server);
  return { url: (path = '/') => `ws://127.0.0.1:${port}${path}`, requests };
}

interface ConnectSeen {
  authority: string;
  host: string | undefined;
  authorization: string | undefined;
  proxyAuthorization: string | undefined;
}

interface TestProxyOptions {
  /** What it asks for: nothing, Basic or Digest (MD5) credentials of PROXY_USER. */
  auth?: 'none' | 'basic' | 'digest';
  /** Answers every CONNECT with this status instead. */
  refuse?: number;
  /** Accepts connections and never answers. */
  silent?: boolean;
}

interface TestProxy {
  readonly url: string;
  readonly port: number;
  readonly connects: ConnectSeen[];
  /** Tunnels that reached their target. */
  tunnels: number;
}

/**
 * A forward proxy of a few lines: CONNECT only, to 127.0.0.1 (a `localhost` target is connected to
 * 127.0.0.1), with its own check of Proxy-Authorization; 502 when the target does not answer.
 */
async function startProxy(options: TestProxyOptions = {}): Promise<TestProxy> {
  const nonces = new Set<string>();
  const digestOptions: DigestOptions = { algorithm: 'MD5', realm: 'test proxy', users: [PROXY_USER] };
  const proxy: TestProxy = { url: '', port: 0, connects: [], tunnels: 0 };
  const server = http.createServer((_request, response) => {
    response.writeHead(405).end();
  });
  server.on('connect', (request: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    client.on('error', () => undefined);
    const authority = request.url ?? '';
    proxy.connects.push({
      authority,
      host: request.headers.host,
      authorization: request.headers.authorization,
      proxyAuthorization: request.headers['proxy-authorization'],
    });
    if (options.silent === true) {
      client.resume(); // sees the client's FIN, and closes
      return;
    }
    const answer = (status: string, ...headers: string[]): void => {
      client.end([`HTTP/1.1 ${status}`, ...headers, 'Content-Length: 0', '', ''].join('\r\n'));
    };
    if (options.refuse !== undefined) {
      answer(`${options.refuse} ${http.STATUS_CODES[options.refuse] ?? ''}`);
      return;
    }
    const given = request.headers['proxy-authorization'];
    let allowed = true;
    if (options.auth === 'basic') {
      const credential = parseBasicAuthorization(given);
      allowed = credential?.username === PROXY_USER.username && credential.password === PROXY_USER.password;
      if (!allowed)
        answer('407 Proxy Authentication Required', 'Proxy-Authenticate: Basic realm="test proxy"');
    } else if (options.auth === 'digest') {
      allowed =
        digestProblem(given, digestOptions, nonces, 'opaque-value', 'CONNECT', authority) === undefined;
      if (!allowed) {
        const nonce = randomBytes(16).toString('hex');
        nonces.add(nonce);
        answer(
          '407 Proxy Authentication Required',
          `Proxy-Authenticate: Digest realm="test proxy", nonce="${nonce}", qop="auth", algorithm=MD5, opaque="opaque-value"`,
        );
      }
    }
    if (!allowed) return;
    const [host = '', port = ''] = authority.split(/:(?=\d+$)/);
    if (host !== '127.0.0.1' && host !== 'localhost') {
      answer('403 Forbidden');
      return;
    }
    const target = net.connect({ host: '127.0.0.1', port: Number(port) });
    target.once('error', () => {
      answer('502 Bad Gateway');
    });
    target.once('connect', () => {
      proxy.tunnels++;
      target.removeAllListeners('error');
      target.on('error', () => client.destroy());
      client.on('error', () => target.destroy());
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) target.write(head);
      client.pipe(target).pipe(client);
    });
  });
  const port = await listen(server);
  return Object.assign(proxy, { url: `http://127.0.0.1:${port}`, port });
}

before(async () => {
  clearProxyEnvironment();
  await Promise.all([
    echoListener.bindServiceNameAsync(0, '127.0.0.1'),
    tlsListener.bindServiceNameAsync(0, '127.0.0.1'),
    selfSignedListener.bindServiceNameAsync(0, '127.0.0.1'),
  ]);
});

after(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await Promise.all([echoListener.closeAsync(), tlsListener.closeAsync(), selfSignedListener.closeAsync()]);
  for (const [name, value] of savedEnvironment) {
    if (value === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = value;
  }
});

function client(): StreamWebSocket {
  const socket = new StreamWebSocket();
  socket.control.connectTimeout = 5_000;
  return socket;
}

async function assertEchoes(socket: StreamWebSocket, text = 'hello through it all'): Promise<void> {
  const bytes = Buffer.from(text);
  await within(socket.outputStream.writeAsync(bytes), 'the echo write');
  assert.equal((await within(readExactly(socket.inputStream, bytes.length), 'the echo')).toString(), text);
}

async function closeCleanly(socket: StreamWebSocket | MessageWebSocket): Promise<void> {
  socket.close(1000);
  assert.equal((await within(socket.whenClosed(), 'the closing handshake')).code, 1000);
}

function basic(credential: PasswordCredential): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`, 'utf8').toString('base64')}`;
}

// ---------------------------------------------------------------------------------------------------

void describe('proxyFor: control.proxy, else the environment (Node and undici variables, curl NO_PROXY)', () => {
  const P = 'http://proxy.example:3128/';
  const Q = 'http://other.example:8080/';
  type Env = Partial<Record<(typeof PROXY_VARIABLES)[number], string>>;
  const DIRECT = undefined;
  /** A case: the proxy `target` goes through, given the environment (and control.proxy, if given). */
  const routes = (
    what: string,
    target: string,
    env: Env,
    expected: string | undefined,
    configured?: string | null,
  ): void => {
    it(what, () => {
      assert.equal(proxyFor(new URL(target), configured, env)?.href, expected);
    });
  };
  const A = 'ws://a.example/';

  routes('no proxy anywhere', A, {}, DIRECT);
  routes('control.proxy', A, {}, P, P);
  routes('control.proxy wins over the environment', A, { http_proxy: Q }, P, P);
  routes('control.proxy null: direct despite the environment', A, { http_proxy: Q }, DIRECT, null);
  routes('control.proxy ignores NO_PROXY (it is explicit)', A, { no_proxy: '*' }, P, P);
  routes('control.proxy without a scheme is http://', A, {}, P, 'proxy.example:3128');
  routes('ws: takes http_proxy', A, { http_proxy: P }, P);
  routes('ws: takes HTTP_PROXY (upper case), as Node and undici', A, { HTTP_PROXY: P }, P);
  routes('ws: http_proxy before HTTP_PROXY', A, { http_proxy: P, HTTP_PROXY: Q }, P);
  routes('ws: HTTP_PROXY keeps NO_PROXY', A, { HTTP_PROXY: P, NO_PROXY: 'a.example' }, DIRECT);
  routes('ws: ignores https_proxy', A, { https_proxy: P, HTTPS_PROXY: P }, DIRECT);
  routes('wss: takes https_proxy', 'wss://a.example/', { https_proxy: P }, P);
  routes('wss: takes HTTPS_PROXY', 'wss://a.example/', { HTTPS_PROXY: P }, P);
  routes('wss: https_proxy before HTTPS_PROXY', 'wss://a.example/', { https_proxy: P, HTTPS_PROXY: Q }, P);
  routes('wss: ignores http_proxy', 'wss://a.example/', { http_proxy: P }, DIRECT);
  routes('ws: all_proxy', A, { all_proxy: P }, P);
  routes('wss: ALL_PROXY', 'wss://a.example/', { ALL_PROXY: P }, P);
  routes('all_proxy before ALL_PROXY', A, { all_proxy: P, ALL_PROXY: Q }, P);
  routes('the scheme variable before all_proxy', 'wss://a.example/', { https_proxy: P, all_proxy: Q }, P);
  routes('an empty variable is no proxy', A, { http_proxy: '' }, DIRECT);
  routes('a value without a scheme is http://', A, { http_proxy: 'proxy.example:3128' }, P);
  routes('NO_PROXY *', A, { http_proxy: P, NO_PROXY: '*' }, DIRECT);
  routes('no_proxy: the host itself', A, { http_proxy: P, no_proxy: 'a.example' }, DIRECT);
  routes('no_proxy: a subdomain', 'ws://deep.a.example/', { http_proxy: P, no_proxy: 'a.example' }, DIRECT);
  routes('no_proxy: only at a dot', 'ws://xa.example/', { http_proxy: P, no_proxy: 'a.example' }, P);
  routes('no_proxy: leading dot', 'ws://b.a.example/', { http_proxy: P, no_proxy: '.a.example' }, DIRECT);
  routes('no_proxy: leading dot, the domain itself', A, { http_proxy: P, no_proxy: '.a.example' }, DIRECT);
  routes(
    'no_proxy: a list with spaces',
    'ws://c.example/',
    { http_proxy: P, no_proxy: 'a.example, c.example' },
    DIRECT,
  );
  routes('no_proxy: not listed', 'ws://d.example/', { http_proxy: P, no_proxy: 'a.example,c.example' }, P);
  routes('no_proxy: case-insensitive', 'ws://A.Example/', { http_proxy: P, no_proxy: 'a.EXAMPLE' }, DIRECT);
  routes(
    'no_proxy: an entry with a port matches nothing, as curl',
    'ws://a.example:8080/',
    { http_proxy: P, no_proxy: 'a.example:8080' },
    P,
  );
  routes(
    'no_proxy: the URL port does not matter',
    'ws://a.example:9090/',
    { http_proxy: P, no_proxy: 'a.example' },
    DIRECT,
  );
  routes('no_proxy: an IP address', 'ws://127.0.0.1:80/', { http_proxy: P, no_proxy: '127.0.0.1' }, DIRECT);
  routes('no_proxy: IPv6 as an address', 'ws://[::1]:8080/', { http_proxy: P, no_proxy: '::1' }, DIRECT);
  routes(
    'no_proxy: IPv6 in brackets matches nothing, as curl',
    'ws://[::1]:8080/',
    { http_proxy: P, no_proxy: '[::1]' },
    P,
  );
  routes(
    'no_proxy: not a suffix of an IP address',
    'ws://127.0.0.1/',
    { http_proxy: P, no_proxy: '0.0.1' },
    P,
  );
  routes('no_proxy: a CIDR block', 'ws://127.0.0.1/', { http_proxy: P, no_proxy: '127.0.0.0/8' }, DIRECT);
  routes('no_proxy before NO_PROXY', A, { http_proxy: P, no_proxy: 'b.example', NO_PROXY: '*' }, P);
  routes('NO_PROXY applies to all_proxy', 'wss://a.example/', { ALL_PROXY: P, NO_PROXY: 'example' }, DIRECT);

  it('rejects proxies other than http://', () => {
    for (const proxy of ['socks5://127.0.0.1:1080', 'https://proxy.example:443']) {
      assert.throws(() => proxyFor(new URL('ws://a.example/'), proxy, {}), /http/);
      assert.throws(() => proxyFor(new URL('ws://a.example/'), undefined, { http_proxy: proxy }), /http/);
    }
  });

  it(
    'connectAsync: an unusable proxy is E_INVALIDARG before any I/O, and the socket may try again',
    TEST_OPTIONS,
    async () => {
      let connections = 0;
      const counter = net.createServer((socket) => {
        connections++;
        socket.destroy();
      });
      const port = await listen(counter);
      const socket = client();
      socket.control.proxy = `socks5://127.0.0.1:${port}`;
      const error = await socket.connectAsync(`ws://127.0.0.1:${port}/`).then(
        () => assert.fail('connected through a socks5 proxy'),
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof WebSocketError);
      assert.equal(error.hresult, HResult.E_INVALIDARG);
      assert.equal(error.status, WebErrorStatus.Unknown);
      await withEnvironment({ http_proxy: `socks5://127.0.0.1:${port}` }, async () => {
        const fromEnvironment = client();
        const status = await statusOf(fromEnvironment.connectAsync(`ws://127.0.0.1:${port}/`));
        assert.equal(status, WebErrorStatus.Unknown, 'an unusable http_proxy is an argument error too');
      });
      assert.equal(connections, 0, 'nothing was connected to');

      socket.control.proxy = null; // settable again after the failed connect, as in WinRT
      await socket.connectAsync(wsUrl(echoListener));
      await assertEchoes(socket);
      await closeCleanly(socket);
    },
  );

  it('control.proxy is fixed once connectAsync was called', TEST_OPTIONS, async () => {
    const socket = client();
    socket.control.proxy = null;
    await socket.connectAsync(wsUrl(echoListener));
    assert.throws(
      () => {
        socket.control.proxy = 'http://127.0.0.1:1';
      },
      (error: unknown) => error instanceof WebSocketError && error.hresult === HResult.E_ILLEGAL_METHOD_CALL,
    );
    assert.throws(() => {
      socket.control.proxyCredential = PROXY_USER;
    }, WebSocketError);
    assert.throws(() => {
      socket.control.serverCredential = ALICE;
    }, WebSocketError);
    await closeCleanly(socket);
  });
});

void describe('server authentication: Digest (RFC 7616), checked by the server here', () => {
  for (const algorithm of ['MD5', 'SHA-256'] as const) {
    it(
      `${algorithm}: serverCredential answers the 401, on a new connection, once`,
      TEST_OPTIONS,
      async () => {
        const server = await startDigestServer({ algorithm, realm: `digest ${algorithm}`, users: [ALICE] });
        const socket = client();
        socket.control.serverCredential = ALICE;
        await socket.connectAsync(server.url('/room/7?who=alice&x=%20y'));
        await assertEchoes(socket);
        await closeCleanly(socket);
        assert.equal(server.requests.length, 2, 'two requests');
        const [first, second] = server.requests as [SeenRequest, SeenRequest];
        assert.equal(first.authorization, undefined, 'no credentials before the server asks');
        assert.equal(second.problem, undefined, 'the server accepted the Digest answer');
        assert.equal(second.url, '/room/7?who=alice&x=%20y');
        assert.notEqual(first.remotePort, second.remotePort, 'the answer went on a new connection');
        const answer = parseAuthorization(second.authorization).params;
        assert.equal(answer.uri, '/room/7?who=alice&x=%20y');
        assert.equal(answer.algorithm, algorithm);
      },
    );
  }

  it('a wrong password is Unauthorized after one answer', TEST_OPTIONS, async () => {
    const server = await startDigestServer({ algorithm: 'MD5', realm: 'r', users: [ALICE] });
    const socket = client();
    socket.control.serverCredential = { username: ALICE.username, password: 'wrong' };
    const status = await statusOf(socket.connectAsync(server.url('/x')));
    assert.equal(status, WebErrorStatus.Unauthorized, webErrorStatusName(status));
    assert.deepEqual(
      server.requests.map((request) => request.problem),
      ['no credentials', 'wrong response (password)'],
    );
  });

  it('without serverCredential it is Unauthorized, with a single request', TEST_OPTIONS, async () => {
    const server = await startDigestServer({ algorithm: 'SHA-256', realm: 'r', users: [ALICE] });
    const error = await client()
      .connectAsync(server.url('/x'))
      .then(
        () => assert.fail('connected'),
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.status, WebErrorStatus.Unauthorized);
    assert.equal(WebSocketError.getStatus(error.hresult), WebErrorStatus.Unauthorized);
    assert.equal(server.requests.length, 1);
  });

  it(
    'Digest is chosen over Basic, in separate headers or one; qop "auth-int,auth" picks auth',
    TEST_OPTIONS,
    async () => {
      const separate = await startDigestServer({
        algorithm: 'SHA-256',
        realm: 'both',
        users: [ALICE],
        qop: 'auth-int,auth',
        challenges: (digest) => ['Basic realm="both"', digest],
      });
      const oneLine = await startDigestServer({
        algorithm: 'MD5',
        realm: 'both',
        users: [ALICE],
        challenges: (digest) => [`Newauth realm="x", Basic realm="both", ${digest}`],
      });
      for (const server of [separate, oneLine]) {
        const socket = client();
        socket.control.serverCredential = ALICE;
        await socket.connectAsync(server.url('/both'));
        await closeCleanly(socket);
        assert.equal(parseAuthorization(server.requests[1]?.authorization).scheme, 'digest');
        assert.equal(server.requests[1]?.problem, undefined);
      }
    },
  );

  it('a MessageWebSocket answers the same way', TEST_OPTIONS, async () => {
    const server = await startDigestServer({ algorithm: 'MD5', realm: 'msg', users: [ALICE] });
    const socket = new MessageWebSocket();
    socket.control.serverCredential = ALICE;
    await socket.connectAsync(server.url('/message'));
    await closeCleanly(socket);
    assert.equal(server.requests.length, 2);
  });

  for (const algorithm of ['MD5-sess', 'SHA-256-sess', 'SHA-512-256', 'SHA-512-256-sess'] as const) {
    it(
      `${algorithm} (RFC 7616): answered with Digest, never with the Basic offered beside it`,
      TEST_OPTIONS,
      async () => {
        const server = await startDigestServer({
          algorithm,
          realm: 'sessions',
          users: [ALICE],
          challenges: (digest) => ['Basic realm="sessions"', digest],
        });
        const socket = client();
        socket.control.serverCredential = ALICE;
        await socket.connectAsync(server.url('/sess'));
        await closeCleanly(socket);
        const answer = parseAuthorization(server.requests[1]?.authorization);
        assert.equal(answer.scheme, 'digest');
        assert.equal(answer.params.algorithm, algorithm);
        assert.equal(server.requests[1]?.problem, undefined);
      },
    );
  }

  it(
    'a Digest challenge in an algorithm we do not speak: no answer at all, not Basic',
    TEST_OPTIONS,
    async () => {
      const server = await startDigestServer({
        algorithm: 'MD5',
        realm: 'r',
        users: [ALICE],
        challenges: () => [
          'Basic realm="r"',
          'Digest realm="r", nonce="abc", qop="auth", algorithm=SHA-1024',
        ],
      });
      const socket = client();
      socket.control.serverCredential = ALICE;
      const status = await statusOf(socket.connectAsync(server.url('/x')));
      assert.equal(status, WebErrorStatus.Unauthorized, webErrorStatusName(status));
      assert.equal(server.requests.length, 1, 'the password was not sent');
    },
  );

  it('a non-ASCII realm is hashed as its UTF-8 bytes', TEST_OPTIONS, async () => {
    const server = await startDigestServer({ algorithm: 'SHA-256', realm: 'Zürich ☃ 東京', users: [ALICE] });
    const socket = client();
    socket.control.serverCredential = ALICE;
    await socket.connectAsync(server.url('/utf8'));
    await closeCleanly(socket);
    assert.equal(server.requests[1]?.problem, undefined);
  });
});

void describe("server authentication: Basic against the listener's authenticate hook", () => {
  const seen: (string | undefined)[] = [];
  const listener = new WebSocketListener({
    closeTimeout: 1_000,
    authenticate: async (request) => {
      seen.push(request.headers.authorization);
      await new Promise((resolve) => setImmediate(resolve)); // an asynchronous check
      if (request.url === '/throws') throw new Error('the user database is down');
      const credential = parseBasicAuthorization(request.headers.authorization);
      return credential?.username === ALICE.username && credential.password === ALICE.password;
    },
  });
  listener.on('connectionReceived', ({ socket }) => {
    echoStream(socket);
  });
  const bearerRequests: (string | undefined)[] = [];
  const bearer = new WebSocketListener({
    authenticate: (request) => {
      bearerRequests.push(request.headers.authorization);
      return false;
    },
    authenticationChallenge: 'Bearer realm="api"',
  });
  bearer.on('connectionReceived', ({ socket }) => {
    socket.close(1000);
  });
  before(async () => {
    await Promise.all([
      listener.bindServiceNameAsync(0, '127.0.0.1'),
      bearer.bindServiceNameAsync(0, '127.0.0.1'),
    ]);
  });
  after(async () => {
    await Promise.all([listener.closeAsync(), bearer.closeAsync()]);
  });

  it(
    'serverCredential answers the 401 with Basic (UTF-8, a colon in the password)',
    TEST_OPTIONS,
    async () => {
      seen.length = 0;
      const socket = client();
      socket.control.serverCredential = ALICE;
      await socket.connectAsync(wsUrl(listener, '/basic'));
      await assertEchoes(socket);
      await closeCleanly(socket);
      assert.deepEqual(seen, [undefined, basic(ALICE)], 'nothing before the 401, then Basic');

      const unicode = new WebSocketListener({
        authenticate: (request) => {
          const credential = parseBasicAuthorization(request.headers.authorization);
          return credential?.username === 'jürgen' && credential.password === 'pässwört: ✓';
        },
      });
      unicode.on('connectionReceived', ({ socket: server }) => {
        server.close(1000);
      });
      await unicode.bindServiceNameAsync(0, '127.0.0.1');
      try {
        const other = client();
        other.control.serverCredential = { username: 'jürgen', password: 'pässwört: ✓' };
        await other.connectAsync(wsUrl(unicode));
        await within(other.whenClosed(), 'the close');
      } finally {
        await unicode.closeAsync();
      }
    },
  );

  it('the 401 carries the default challenge', TEST_OPTIONS, async () => {
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const request = http.request({
        host: '127.0.0.1',
        port: listener.information.localPort ?? 0,
        path: '/',
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        },
        agent: false,
      });
      request.once('response', resolve);
      request.once('upgrade', () => {
        reject(new Error('upgraded without credentials'));
      });
      request.once('error', reject);
      request.end();
    });
    response.resume();
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['www-authenticate'], 'Basic realm="WebSocket", charset="UTF-8"');
  });

  it('a wrong password, or none, is Unauthorized', TEST_OPTIONS, async () => {
    seen.length = 0;
    const wrong = client();
    wrong.control.serverCredential = { username: ALICE.username, password: 'wonder' };
    assert.equal(await statusOf(wrong.connectAsync(wsUrl(listener))), WebErrorStatus.Unauthorized);
    assert.equal(seen.length, 2, 'answered once');
    assert.equal(await statusOf(client().connectAsync(wsUrl(listener))), WebErrorStatus.Unauthorized);
    assert.equal(seen.length, 3, 'no credential: one request');
  });

  it('a hook that throws is a 500: InternalServerError', TEST_OPTIONS, async () => {
    const socket = client();
    socket.control.serverCredential = ALICE;
    const status = await statusOf(socket.connectAsync(wsUrl(listener, '/throws')));
    assert.equal(status, WebErrorStatus.InternalServerError, webErrorStatusName(status));
  });

  it('a challenge in a scheme we do not speak is Unauthorized without an answer', TEST_OPTIONS, async () => {
    bearerRequests.length = 0;
    const socket = client();
    socket.control.serverCredential = ALICE;
    const status = await statusOf(socket.connectAsync(wsUrl(bearer)));
    assert.equal(status, WebErrorStatus.Unauthorized, webErrorStatusName(status));
    assert.deepEqual(bearerRequests, [undefined], 'one request, no Authorization');
  });

  it('credentials go only to a server that asks, and do not follow a redirect', TEST_OPTIONS, async () => {
    echoRequests.length = 0;
    const socket = client();
    socket.control.serverCredential = ALICE;
    await socket.connectAsync(wsUrl(echoListener, '/open'));
    await closeCleanly(socket);
    assert.equal(echoRequests.length, 1);
    assert.equal(echoRequests[0]!.authorization, undefined, 'an open server never sees the credential');

    const target = await startDigestServer({ algorithm: 'MD5', realm: 'elsewhere', users: [ALICE] });
    const redirecting = http.createServer();
    redirecting.on('upgrade', (_request: http.IncomingMessage, raw: net.Socket) => {
      raw.end(`HTTP/1.1 302 Found\r\nLocation: ${target.url('/moved')}\r\nContent-Length: 0\r\n\r\n`);
    });
    const port = await listen(redirecting);
    const redirected = client();
    redirected.control.serverCredential = ALICE;
    const status = await statusOf(redirected.connectAsync(`ws://127.0.0.1:${port}/old`));
    assert.equal(status, WebErrorStatus.Found, webErrorStatusName(status));
    assert.equal(target.requests.length, 0, 'the redirect was not followed');
  });
});

void describe('forward proxy: CONNECT through a proxy of our own', () => {
  it('Basic: proxyCredential answers the 407; only the proxy sees it', TEST_OPTIONS, async () => {
    const proxy = await startProxy({ auth: 'basic' });
    const target = `127.0.0.1:${echoListener.information.localPort ?? 0}`;
    echoRequests.length = 0;
    const socket = client();
    socket.control.proxy = proxy.url;
    socket.control.proxyCredential = PROXY_USER;
    socket.control.serverCredential = ALICE;
    await socket.connectAsync(`ws://${target}/via-proxy`);
    await assertEchoes(socket);
    await closeCleanly(socket);
    assert.deepEqual(proxy.connects, [
      { authority: target, host: target, authorization: undefined, proxyAuthorization: undefined },
      { authority: target, host: target, authorization: undefined, proxyAuthorization: basic(PROXY_USER) },
    ]);
    assert.equal(proxy.tunnels, 1);
    assert.equal(echoRequests.length, 1);
    assert.equal(
      echoRequests[0]!['proxy-authorization'],
      undefined,
      'the server never sees the proxy credential',
    );
    assert.equal(echoRequests[0]!.authorization, undefined);
  });

  it('without proxyCredential, or a wrong one, it is ProxyAuthenticationRequired', TEST_OPTIONS, async () => {
    const proxy = await startProxy({ auth: 'basic' });
    const none = client();
    none.control.proxy = proxy.url;
    const error = await none.connectAsync(wsUrl(echoListener)).then(
      () => assert.fail('connected'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.status, WebErrorStatus.ProxyAuthenticationRequired);
    assert.equal(WebSocketError.getStatus(error.hresult), WebErrorStatus.ProxyAuthenticationRequired);
    assert.equal(proxy.connects.length, 1);

    const wrong = client();
    wrong.control.proxy = proxy.url;
    wrong.control.proxyCredential = { username: PROXY_USER.username, password: 'nope' };
    const status = await statusOf(wrong.connectAsync(wsUrl(echoListener)));
    assert.equal(status, WebErrorStatus.ProxyAuthenticationRequired, webErrorStatusName(status));
    assert.equal(proxy.connects.length, 3, 'answered once');
    assert.equal(proxy.tunnels, 0);
  });

  it(
    'credentials in the proxy URL are sent with the first CONNECT (percent-decoded)',
    TEST_OPTIONS,
    async () => {
      const proxy = await startProxy({ auth: 'basic' });
      const socket = client();
      socket.control.proxy = `http://${encodeURIComponent(PROXY_USER.username)}:${encodeURIComponent(PROXY_USER.password)}@127.0.0.1:${proxy.port}`;
      await socket.connectAsync(wsUrl(echoListener));
      await closeCleanly(socket);
      assert.deepEqual(
        proxy.connects.map((connect) => connect.proxyAuthorization),
        [basic(PROXY_USER)],
      );
    },
  );

  it('Digest: proxyCredential answers a Digest 407 for CONNECT host:port', TEST_OPTIONS, async () => {
    const proxy = await startProxy({ auth: 'digest' });
    const socket = client();
    socket.control.proxy = proxy.url;
    socket.control.proxyCredential = PROXY_USER;
    await socket.connectAsync(wsUrl(echoListener, '/digest-proxy'));
    await assertEchoes(socket);
    await closeCleanly(socket);
    assert.equal(proxy.connects.length, 2);
    const answer = parseAuthorization(proxy.connects[1]?.proxyAuthorization);
    assert.equal(answer.scheme, 'digest');
    assert.equal(answer.params.uri, `127.0.0.1:${echoListener.information.localPort ?? 0}`);
  });

  it('through the proxy to a Digest server: each credential to its own asker', TEST_OPTIONS, async () => {
    const proxy = await startProxy({ auth: 'basic' });
    const server = await startDigestServer({ algorithm: 'SHA-256', realm: 'behind', users: [ALICE] });
    const socket = client();
    socket.control.proxy = proxy.url;
    socket.control.proxyCredential = PROXY_USER;
    socket.control.serverCredential = ALICE;
    await socket.connectAsync(server.url('/behind-proxy'));
    await assertEchoes(socket);
    await closeCleanly(socket);
    assert.ok(proxy.connects.every((connect) => connect.authorization === undefined));
    assert.ok(proxy.tunnels >= 2, 'the 401 was answered on a new tunnel');
    assert.deepEqual(
      server.requests.map((request) => [request.proxyAuthorization, request.problem]),
      [
        [undefined, 'no credentials'],
        [undefined, undefined],
      ],
    );
  });

  it('a closed proxy port is CannotConnect; a proxy refusing is its status', TEST_OPTIONS, async () => {
    const closed = client();
    closed.control.proxy = `http://127.0.0.1:${await freePort()}`;
    let status = await statusOf(closed.connectAsync(wsUrl(echoListener)));
    assert.equal(status, WebErrorStatus.CannotConnect, webErrorStatusName(status));

    const forbidding = await startProxy({ refuse: 403 });
    const forbidden = client();
    forbidden.control.proxy = forbidding.url;
    forbidden.control.proxyCredential = PROXY_USER;
    status = await statusOf(forbidden.connectAsync(wsUrl(echoListener)));
    assert.equal(status, WebErrorStatus.Forbidden, webErrorStatusName(status));
    assert.equal(forbidding.connects.length, 1);

    const open = await startProxy();
    const deadTarget = client();
    deadTarget.control.proxy = open.url;
    status = await statusOf(deadTarget.connectAsync(`ws://127.0.0.1:${await freePort()}/`));
    assert.equal(status, WebErrorStatus.BadGateway, webErrorStatusName(status));
  });

  it(
    'a proxy that never answers: connectTimeout is Timeout, an abort is OperationCanceled',
    TEST_OPTIONS,
    async () => {
      const silent = await startProxy({ silent: true });
      const slow = client();
      slow.control.proxy = silent.url;
      slow.control.connectTimeout = 300;
      const started = performance.now();
      assert.equal(await statusOf(slow.connectAsync(wsUrl(echoListener))), WebErrorStatus.Timeout);
      assert.ok(performance.now() - started < 3_000);

      const aborted = client();
      aborted.control.proxy = silent.url;
      const controller = new AbortController();
      const connecting = aborted.connectAsync(wsUrl(echoListener), { signal: controller.signal });
      setTimeout(() => {
        controller.abort();
      }, 100);
      assert.equal(await statusOf(connecting), WebErrorStatus.OperationCanceled);
      assert.equal(silent.connects.length, 2);
    },
  );

  it(
    'http_proxy and HTTP_PROXY are read at connect time for ws:; NO_PROXY and control.proxy = null go direct',
    TEST_OPTIONS,
    async () => {
      const proxy = await startProxy();
      const socket = client(); // created before the environment is set: it is read by connectAsync
      await withEnvironment({ http_proxy: proxy.url }, async () => {
        await socket.connectAsync(wsUrl(echoListener, '/env'));
        await assertEchoes(socket);
        await closeCleanly(socket);
      });
      assert.equal(proxy.connects.length, 1);

      await withEnvironment({ http_proxy: proxy.url, NO_PROXY: 'example.org, 127.0.0.1' }, async () => {
        const bypassing = client();
        await bypassing.connectAsync(wsUrl(echoListener, '/no-proxy'));
        await closeCleanly(bypassing);
      });
      await withEnvironment({ http_proxy: proxy.url }, async () => {
        const direct = client();
        direct.control.proxy = null;
        await direct.connectAsync(wsUrl(echoListener, '/null'));
        await closeCleanly(direct);
      });
      await withEnvironment({ https_proxy: proxy.url }, async () => {
        const wssOnly = client();
        await wssOnly.connectAsync(wsUrl(echoListener, '/https-proxy-only'));
        await closeCleanly(wssOnly);
      });
      assert.equal(proxy.connects.length, 1, 'only the first went through the proxy');
      await withEnvironment({ HTTP_PROXY: proxy.url }, async () => {
        const upperCase = client();
        await upperCase.connectAsync(wsUrl(echoListener, '/upper-case'));
        await closeCleanly(upperCase);
      });
      assert.equal(proxy.connects.length, 2, 'HTTP_PROXY (upper case) is used too, as Node reads it');
    },
  );

  it(
    'wss: through the tunnel to a self-signed listener, Untrusted declared ignorable',
    TEST_OPTIONS,
    async () => {
      const proxy = await startProxy({ auth: 'basic' });
      const socket = client();
      socket.control.proxy = proxy.url;
      socket.control.proxyCredential = PROXY_USER;
      socket.control.ignorableServerCertificateErrors.push(ChainValidationResult.Untrusted);
      await socket.connectAsync(`wss://127.0.0.1:${selfSignedListener.information.localPort ?? 0}/tls`);
      assert.deepEqual(socket.information.serverCertificateErrors, [ChainValidationResult.Untrusted]);
      await assertEchoes(socket, 'encrypted end to end');
      await closeCleanly(socket);

      const strict = client();
      strict.control.proxy = proxy.url;
      strict.control.proxyCredential = PROXY_USER;
      const status = await statusOf(
        strict.connectAsync(`wss://127.0.0.1:${selfSignedListener.information.localPort ?? 0}/tls`),
      );
      assert.equal(status, WebErrorStatus.CertificateIsInvalid, webErrorStatusName(status));
    },
  );

  it(
    'wss: https_proxy, control.ca, and the name checked is the target, not the proxy',
    TEST_OPTIONS,
    async () => {
      const proxy = await startProxy();
      const port = tlsListener.information.localPort ?? 0;
      await withEnvironment({ https_proxy: proxy.url }, async () => {
        const socket = client();
        socket.control.ca.push(pki.root.cert);
        await socket.connectAsync(`wss://localhost:${port}/named`);
        assert.deepEqual(socket.information.serverCertificateErrors, []);
        await assertEchoes(socket);
        await closeCleanly(socket);
      });
      assert.deepEqual(
        proxy.connects.map((connect) => connect.authority),
        [`localhost:${port}`],
      );
    },
  );
});
