// Our client and listener behind real proxies we did not write: nginx (Debian's /usr/sbin/nginx) as the
// reverse proxy in front of WebSocketListeners, with the location block README.md shows, auth_basic, a
// short read timeout and a dead backend; and tinyproxy (Debian's tinyproxy-bin) as the forward proxy
// with BasicAuth, for ws: and wss: targets, and as the first hop of client → tinyproxy → nginx →
// listener. One connection through nginx carries 1 GiB each way at once, sha256-checked, while this
// process (both ends of it) stays within a bounded peak RSS. Both programs run on free ports of
// 127.0.0.1 with generated configurations (test/interop/proxies/); a missing one fails, never skips.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  ChainValidationResult,
  MessageWebSocket,
  SocketMessageType,
  StreamWebSocket,
  WebErrorStatus,
  webErrorStatusName,
  WebSocketListener,
  type MessageWebSocketMessageReceivedEventArgs,
  type ServerStreamWebSocket,
} from '../../src/index.js';
import { createTestPki } from '../helpers/pki.js';
import { patternChunks, patternSha256 } from './peers/pattern.js';
import { freePort, type Daemon } from './proxies/daemon.js';
import {
  basicAuthLines,
  htpasswdLine,
  peakRssOf,
  startNginx,
  websocketLocation,
  type NginxServer,
} from './proxies/nginx.js';
import { startTinyproxy, type TinyproxyServer } from './proxies/tinyproxy.js';
import {
  Arrivals,
  echoMessages,
  echoStream,
  hashExactly,
  readExactly,
  statusOf,
  within,
} from './proxies/util.js';

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
/** Both ends of the 1 GiB transfers live in this process; assembling a message would need > 1 GiB. */
const PEAK_RSS_LIMIT = 400 * MIB;
const TEST_OPTIONS = { timeout: 20_000 };
const CONNECT_TIMEOUT = 10_000;

const USER = 'alice';
const PASSWORD = 'correct horse';
const PROXY_USER = 'proxyuser';
const PROXY_PASSWORD = 'proxy-secret';
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

// The clients here choose their proxy in control.proxy; the environment's must not reroute the others.
for (const name of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']) {
  Reflect.deleteProperty(process.env, name);
}

const pki = await createTestPki();

// ---------------------------------------------------------------------------------------------------
// The backends: our listeners on 127.0.0.1, echoing, except /transfer which a test takes over.

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

const streamListener = new WebSocketListener({
  supportedProtocols: ['chat.v1', 'files.v1'],
  closeTimeout: 2_000,
});
const streamRequests: Seen[] = [];
const transfers = new Arrivals<ServerStreamWebSocket>();
streamListener.on('connectionReceived', ({ socket, request }) => {
  streamRequests.push({ url: request.url ?? '', headers: request.headers });
  if (request.url === '/transfer') transfers.push(socket);
  else echoStream(socket);
});

const messageListener = new WebSocketListener({ mode: 'message', supportedProtocols: ['chat.v1'] });
messageListener.on('connectionReceived', ({ socket, request }) => {
  if (request.url === '/message/close') socket.close(4001, 'done here');
  else echoMessages(socket);
});

const tlsListener = new WebSocketListener({ tls: { key: pki.selfSigned.key, cert: pki.selfSigned.cert } });
tlsListener.on('connectionReceived', ({ socket }) => {
  echoStream(socket);
});

/** Every nginx and tinyproxy started, stopped by after(). */
const daemons: Daemon[] = [];
let nginx: NginxServer;
let tinyproxy: TinyproxyServer;
/** ws://127.0.0.1:<nginx port> */
let viaNginx: string;

before(async () => {
  await Promise.all([
    streamListener.bindServiceNameAsync(0, '127.0.0.1'),
    messageListener.bindServiceNameAsync(0, '127.0.0.1'),
    tlsListener.bindServiceNameAsync(0, '127.0.0.1'),
  ]);
  const stream = `http://127.0.0.1:${streamListener.information.localPort ?? 0}`;
  const message = `http://127.0.0.1:${messageListener.information.localPort ?? 0}`;
  const nobody = `http://127.0.0.1:${await freePort()}`;
  const quiet = websocketLocation('/quiet/', stream).replaceAll('3600s', '2s');
  assert.equal(quiet.match(/ 2s;/g)?.length, 2, 'the quiet location has short read and send timeouts');
  // Both start at once; whichever started is stopped by after() even if the other failed.
  const [startedNginx, startedTinyproxy] = await Promise.allSettled([
    startNginx(
      (dir) => [
        websocketLocation('/', stream),
        websocketLocation('/message/', message),
        websocketLocation('/private/', stream, basicAuthLines(`${dir}/htpasswd`)),
        websocketLocation('/gone/', nobody),
        quiet,
      ],
      { htpasswd: await htpasswdLine(USER, PASSWORD) },
    ),
    startTinyproxy({ basicAuth: { username: PROXY_USER, password: PROXY_PASSWORD } }),
  ]);
  if (startedNginx.status === 'fulfilled') daemons.push(startedNginx.value);
  if (startedTinyproxy.status === 'fulfilled') daemons.push(startedTinyproxy.value);
  if (startedNginx.status === 'rejected') throw startedNginx.reason;
  if (startedTinyproxy.status === 'rejected') throw startedTinyproxy.reason;
  nginx = startedNginx.value;
  tinyproxy = startedTinyproxy.value;
  viaNginx = `ws://127.0.0.1:${nginx.port}`;
});

after(async () => {
  await Promise.all(daemons.map((daemon) => daemon.stop()));
  await Promise.all([streamListener.closeAsync(), messageListener.closeAsync(), tlsListener.closeAsync()]);
});

function client(): StreamWebSocket {
  const socket = new StreamWebSocket();
  socket.control.connectTimeout = CONNECT_TIMEOUT;
  return socket;
}

/** Echo round trip on a connected stream socket. */
async function assertEchoes(socket: StreamWebSocket, text = 'ping über nginx'): Promise<void> {
  const bytes = Buffer.from(text);
  await within(socket.outputStream.writeAsync(bytes), 'the echo write');
  assert.equal((await within(readExactly(socket.inputStream, bytes.length), 'the echo')).toString(), text);
}

async function closeCleanly(socket: StreamWebSocket | MessageWebSocket): Promise<void> {
  socket.close(1000, 'bye');
  assert.equal((await within(socket.whenClosed(), 'the closing handshake')).code, 1000);
}

// ---------------------------------------------------------------------------------------------------

void describe('nginx as the reverse proxy', () => {
  it('README.md shows the location block these tests run', async () => {
    const readme = await readFile(README, 'utf8');
    assert.ok(readme.includes('## Behind nginx'), 'README.md has a "Behind nginx" section');
    assert.ok(
      readme.includes(websocketLocation('/ws/', 'http://127.0.0.1:8080')),
      `README.md shows, verbatim:\n${websocketLocation('/ws/', 'http://127.0.0.1:8080')}`,
    );
    for (const line of basicAuthLines('/etc/nginx/websocket.htpasswd')) {
      assert.ok(readme.includes(line), `README.md shows ${line}`);
    }
  });

  it('a StreamWebSocket echoes, negotiates its subprotocol and closes cleanly', TEST_OPTIONS, async () => {
    const socket = client();
    socket.control.supportedProtocols.push('x-unknown', 'files.v1');
    await socket.connectAsync(`${viaNginx}/echo?through=nginx`);
    assert.equal(socket.information.protocol, 'files.v1');
    const seen = streamRequests.at(-1)!;
    assert.equal(seen.url, '/echo?through=nginx');
    assert.equal(seen.headers.host, '127.0.0.1', 'proxy_set_header Host $host (the name, without the port)');
    assert.equal(seen.headers['sec-websocket-protocol'], 'x-unknown,files.v1');
    await assertEchoes(socket);
    await assertEchoes(socket, 'x'.repeat(200_000));
    await closeCleanly(socket);
  });

  it('a MessageWebSocket keeps text, binary and fragmented messages whole', TEST_OPTIONS, async () => {
    const socket = new MessageWebSocket();
    socket.control.connectTimeout = CONNECT_TIMEOUT;
    socket.control.supportedProtocols.push('chat.v1');
    const received = new Arrivals<MessageWebSocketMessageReceivedEventArgs>();
    socket.on('messageReceived', (args) => {
      received.push(args);
    });
    await socket.connectAsync(`${viaNginx}/message/chat`);
    assert.equal(socket.information.protocol, 'chat.v1');

    socket.control.messageType = SocketMessageType.Utf8;
    await socket.outputStream.writeAsync(Buffer.from('grüße durch nginx'));
    const text = await received.next('the text echo');
    assert.equal(text.messageType, SocketMessageType.Utf8);
    assert.equal(text.getText(), 'grüße durch nginx');

    socket.control.messageType = SocketMessageType.Binary;
    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe]);
    await socket.outputStream.writeAsync(binary);
    const echoed = await received.next('the binary echo');
    assert.equal(echoed.messageType, SocketMessageType.Binary);
    assert.deepEqual(echoed.getData(), binary);

    await socket.sendNonfinalFrameAsync(Buffer.from('one message, '));
    await socket.sendNonfinalFrameAsync(Buffer.alloc(3 * MIB, 0x61));
    await socket.sendFinalFrameAsync(Buffer.from('three frames'));
    const whole = await received.next('the fragmented echo');
    assert.equal(whole.getData().length, 13 + 3 * MIB + 12);
    assert.ok(whole.getText().endsWith('aaaathree frames'));
    await closeCleanly(socket);

    const closing = new MessageWebSocket();
    await closing.connectAsync(`${viaNginx}/message/close`);
    assert.deepEqual(await within(closing.whenClosed(), 'the server close'), {
      code: 4001,
      reason: 'done here',
    });
  });

  it(
    'auth_basic: serverCredential answers the 401; none or a wrong one is Unauthorized',
    TEST_OPTIONS,
    async () => {
      const before = streamRequests.length;
      const good = client();
      good.control.serverCredential = { username: USER, password: PASSWORD };
      await good.connectAsync(`${viaNginx}/private/echo`);
      await assertEchoes(good);
      const seen = streamRequests.slice(before);
      assert.equal(seen.length, 1);
      assert.equal(
        seen[0]!.headers.authorization,
        `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
        'nginx passes the Authorization it checked on',
      );
      await closeCleanly(good);

      const none = client();
      assert.equal(
        await statusOf(none.connectAsync(`${viaNginx}/private/echo`)),
        WebErrorStatus.Unauthorized,
      );
      const wrong = client();
      wrong.control.serverCredential = { username: USER, password: 'wrong' };
      const status = await statusOf(wrong.connectAsync(`${viaNginx}/private/echo`));
      assert.equal(status, WebErrorStatus.Unauthorized, webErrorStatusName(status));
      assert.equal(streamRequests.length, before + 1, 'nginx let no unauthenticated upgrade through');
      assert.match(nginx.describe(), /user "alice": password mismatch/, 'nginx saw the wrong password');
    },
  );

  it('a backend that is down is BadGateway', TEST_OPTIONS, async () => {
    const status = await statusOf(client().connectAsync(`${viaNginx}/gone/echo`));
    assert.equal(status, WebErrorStatus.BadGateway, webErrorStatusName(status));
  });

  it(
    'proxy_read_timeout drops a quiet connection; unsolicited pongs keep one open',
    TEST_OPTIONS,
    async () => {
      const quiet = client();
      const kept = client();
      kept.control.desiredUnsolicitedPongInterval = 500;
      // The kept one first: when nginx drops the quiet one, the kept one has been open longer than
      // proxy_read_timeout, and nginx would have dropped it before (its timer runs out first).
      await kept.connectAsync(`${viaNginx}/quiet/echo`);
      await quiet.connectAsync(`${viaNginx}/quiet/echo`);
      const started = performance.now();
      const dropped = await within(quiet.whenClosed(), 'nginx dropping the quiet connection', 8_000);
      const after = performance.now() - started;
      assert.equal(dropped.code, 1006, 'dropped without a closing handshake');
      assert.ok(after > 1_500, `dropped after ${after.toFixed(0)} ms, at proxy_read_timeout 2s`);
      await assertEchoes(kept, 'still here');
      await closeCleanly(kept);
    },
  );

  it(
    '1 GiB each way at once over one connection, sha256-checked, in bounded memory',
    { timeout: 80_000 },
    async (t) => {
      const socket = client();
      socket.control.supportedProtocols.push('files.v1');
      const arrived = transfers.next('the transfer connection');
      await socket.connectAsync(`${viaNginx}/transfer`);
      const server = await arrived;
      const started = performance.now();
      const upload = async (): Promise<void> => {
        for (const chunk of patternChunks(GIB, 'nginx-up')) await socket.outputStream.writeAsync(chunk);
      };
      const download = async (): Promise<void> => {
        for (const chunk of patternChunks(GIB, 'nginx-down')) await server.outputStream.writeAsync(chunk);
      };
      const [uploaded, downloaded] = await Promise.all([
        hashExactly(server.inputStream, GIB),
        hashExactly(socket.inputStream, GIB),
        upload(),
        download(),
      ]);
      const seconds = (performance.now() - started) / 1000;
      const peak = process.resourceUsage().maxRSS * 1024;
      const nginxPeak = await peakRssOf(await nginx.workerPid());
      t.diagnostic(
        `2 GiB through nginx in ${seconds.toFixed(1)} s (${((2 * GIB) / 1e6 / seconds).toFixed(0)} MB/s), ` +
          `peak RSS: test process ${(peak / MIB).toFixed(0)} MiB, nginx worker ${(nginxPeak / MIB).toFixed(0)} MiB`,
      );
      assert.equal(uploaded, patternSha256(GIB, 'nginx-up'));
      assert.equal(downloaded, patternSha256(GIB, 'nginx-down'));
      await closeCleanly(socket);
      assert.ok(peak < PEAK_RSS_LIMIT, `peak RSS ${(peak / MIB).toFixed(0)} MiB`);
      assert.ok(nginxPeak < 64 * MIB, `nginx worker peak RSS ${(nginxPeak / MIB).toFixed(0)} MiB`);
    },
  );
});

void describe('tinyproxy as the forward proxy', () => {
  const direct = (): string => `ws://127.0.0.1:${streamListener.information.localPort ?? 0}`;

  it('proxyCredential answers the 407; the tunnel carries the WebSocket', TEST_OPTIONS, async () => {
    const socket = client();
    socket.control.proxy = tinyproxy.url;
    socket.control.proxyCredential = { username: PROXY_USER, password: PROXY_PASSWORD };
    await socket.connectAsync(`${direct()}/through-tinyproxy`);
    await assertEchoes(socket);
    await closeCleanly(socket);
    assert.ok(
      tinyproxy
        .describe()
        .includes(`CONNECT 127.0.0.1:${streamListener.information.localPort ?? 0} HTTP/1.1`),
      'tinyproxy logged the CONNECT',
    );
  });

  it('without proxyCredential it is ProxyAuthenticationRequired', TEST_OPTIONS, async () => {
    const none = client();
    none.control.proxy = tinyproxy.url;
    const status = await statusOf(none.connectAsync(`${direct()}/x`));
    assert.equal(status, WebErrorStatus.ProxyAuthenticationRequired, webErrorStatusName(status));
  });

  it(
    'a wrong proxyCredential is ProxyAuthenticationRequired, though tinyproxy answers it with 401',
    TEST_OPTIONS,
    async () => {
      // tinyproxy 1.11 answers a CONNECT whose Proxy-Authorization is wrong with "401 Unauthorized" and a
      // WWW-Authenticate header (a missing one gets the proper 407). Only the proxy answers a CONNECT, so
      // the failure is the proxy's authentication, not the server's: Unauthorized would send the
      // application to fix serverCredential instead of proxyCredential.
      const wrong = client();
      wrong.control.proxy = tinyproxy.url;
      wrong.control.proxyCredential = { username: PROXY_USER, password: 'nope' };
      const status = await statusOf(wrong.connectAsync(`${direct()}/x`));
      assert.match(tinyproxy.describe(), /CONNECT 127\.0\.0\.1:\d+ HTTP\/1\.1/);
      assert.equal(status, WebErrorStatus.ProxyAuthenticationRequired, webErrorStatusName(status));
    },
  );

  it('credentials in the proxy URL are used', TEST_OPTIONS, async () => {
    const socket = client();
    socket.control.proxy = `http://${PROXY_USER}:${encodeURIComponent(PROXY_PASSWORD)}@127.0.0.1:${tinyproxy.port}`;
    await socket.connectAsync(`${direct()}/userinfo`);
    await assertEchoes(socket);
    await closeCleanly(socket);
  });

  it('wss: TLS runs end to end through the tunnel', TEST_OPTIONS, async () => {
    const socket = client();
    socket.control.proxy = tinyproxy.url;
    socket.control.proxyCredential = { username: PROXY_USER, password: PROXY_PASSWORD };
    socket.control.ignorableServerCertificateErrors.push(ChainValidationResult.Untrusted);
    await socket.connectAsync(`wss://127.0.0.1:${tlsListener.information.localPort ?? 0}/secure`);
    assert.equal(socket.information.serverCertificate?.subject.includes('CN=localhost'), true);
    assert.deepEqual(socket.information.serverCertificateErrors, [ChainValidationResult.Untrusted]);
    await assertEchoes(socket, 'encrypted through tinyproxy');
    await closeCleanly(socket);
  });

  it(
    'client → tinyproxy → nginx auth_basic → listener: both credentials answered',
    TEST_OPTIONS,
    async () => {
      const socket = client();
      socket.control.proxy = tinyproxy.url;
      socket.control.proxyCredential = { username: PROXY_USER, password: PROXY_PASSWORD };
      socket.control.serverCredential = { username: USER, password: PASSWORD };
      await socket.connectAsync(`${viaNginx}/private/chain`);
      await assertEchoes(socket, 'two hops');
      await closeCleanly(socket);
      const seen = streamRequests.at(-1)!;
      assert.equal(seen.url, '/private/chain');
      assert.equal(
        seen.headers['proxy-authorization'],
        undefined,
        'the proxy credential stays with the proxy',
      );
    },
  );

  it(
    'a CONNECT port tinyproxy does not allow is refused, a dead target is its 500',
    TEST_OPTIONS,
    async (t) => {
      const strict = await startTinyproxy({ connectPorts: [443] });
      t.after(() => strict.stop());
      const refused = client();
      refused.control.proxy = strict.url;
      let status = await statusOf(refused.connectAsync(`${direct()}/x`));
      assert.equal(status, WebErrorStatus.Forbidden, `${webErrorStatusName(status)}\n${strict.describe()}`);

      const dead = client();
      dead.control.proxy = tinyproxy.url;
      dead.control.proxyCredential = { username: PROXY_USER, password: PROXY_PASSWORD };
      status = await statusOf(dead.connectAsync(`ws://127.0.0.1:${await freePort()}/x`));
      assert.equal(status, WebErrorStatus.InternalServerError, webErrorStatusName(status));
    },
  );
});
