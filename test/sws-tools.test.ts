// sws with the tools people already run: Debian's websockify behind `sws tunnel`, a `binary`-subprotocol
// client (as noVNC is) through `sws bridge`, Python websockets' interactive client against `sws listen`,
// and `sws connect` fed by `echo` printing the reply of a server that answers after a while.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { after, describe, it, type TestContext } from 'node:test';

import { WebSocket as WsSocket, WebSocketServer } from 'ws';

import { MiB, sha256, wsClient } from './helpers/peers.js';
import { killAll, launch, service, stop, sws, type Service } from './helpers/sws.js';
import { within } from './helpers/within.js';

const PYTHON = '/usr/bin/python3';
const WEBSOCKIFY = '/usr/bin/websockify';

after(() => {
  killAll();
});

/** Everything a stream printed so far, and a bounded wait for what is still to come. */
class Transcript {
  text = '';
  private readonly grew = new EventTarget();

  constructor(stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.text += chunk;
      this.grew.dispatchEvent(new Event('grew'));
    });
  }

  /** Resolves once the text contains `expected`. */
  until(expected: string, what: string): Promise<void> {
    const found = new Promise<void>((resolve) => {
      const check = (): void => {
        if (!this.text.includes(expected)) return;
        this.grew.removeEventListener('grew', check);
        resolve();
      };
      this.grew.addEventListener('grew', check);
      check();
    });
    return within(found, 10_000, `${what} (so far: ${JSON.stringify(this.text.slice(-300))})`);
  }
}

/** A port nothing listens on right now, for a peer that cannot listen on port 0 and say which. */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function httpServer(t: TestContext, handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** GET through `port` with `agent`: the status, the body's length and sha256. */
function download(
  port: number,
  path: string,
  agent: http.Agent,
): Promise<{ status: number; length: number; digest: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (response) => {
        const hash = createHash('sha256');
        let length = 0;
        response.on('data', (chunk: Buffer) => {
          length += chunk.length;
          hash.update(chunk);
        });
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, length, digest: hash.digest('hex') });
        });
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

void describe('sws tunnel in front of Debian websockify', { timeout: 120_000 }, () => {
  void it('offers sws.tunnel.v1 then binary; websockify picks binary; HTTP and a 64 MiB download arrive intact', async (t) => {
    // 64 MiB of a repeating 1 MiB random block: varied enough for sha256, cheap to produce.
    const block = Buffer.from(
      Array.from({ length: MiB }, (_, index) => (index * 7919 + (index >> 10)) & 0xff),
    );
    const expected = createHash('sha256');
    for (let index = 0; index < 64; index++) expected.update(block);
    const webPort = await httpServer(t, (request, response) => {
      if (request.url !== '/big') {
        response.end(`page ${request.url ?? ''}\n`);
        return;
      }
      response.setHeader('Content-Length', String(64 * MiB));
      let sent = 0;
      const more = (): void => {
        while (sent < 64) {
          sent++;
          if (!response.write(block)) {
            response.once('drain', more);
            return;
          }
        }
        response.end();
      };
      more();
    });

    const wsPort = await freePort();
    const websockify = spawn(WEBSOCKIFY, [`127.0.0.1:${wsPort}`, `127.0.0.1:${webPort}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => websockify.kill('SIGKILL'));
    websockify.stdout.resume();
    const log = new Transcript(websockify.stderr);
    // websockify logs this line once its listening socket exists.
    await log.until('proxying from', 'websockify starting');

    const tunnel = await service(['tunnel', '--listen', '0', '--to', `ws://127.0.0.1:${wsPort}/`]);
    t.after(() => stop(tunnel.child));

    // Keep-alive connections, ended by the client: websockify 0.10 (Debian's) drops what it still has
    // queued when the target closes first (novnc/websockify#513, fixed after 0.10), so the HTTP server
    // must not be the one to close.
    const agent = new http.Agent({ keepAlive: true });
    const pages = await Promise.all([1, 2, 3].map((index) => download(tunnel.port, `/p${index}`, agent)));
    pages.forEach((page, index) => {
      assert.equal(page.status, 200);
      assert.equal(page.digest, sha256(Buffer.from(`page /p${index + 1}\n`)));
    });
    const big = await download(tunnel.port, '/big', agent);
    assert.equal(big.length, 64 * MiB);
    assert.equal(big.digest, expected.digest('hex'));
    agent.destroy();
    const line = await tunnel.line((l) => l.event === 'connection' && Number(l.received) > 64 * MiB);
    assert.deepEqual([line.ok, line.code], [true, 1000]);
  });
});

void describe('sws tunnel to a server that chooses no subprotocol', { timeout: 60_000 }, () => {
  void it('carries plain bytes both ways (a `ws` echo server)', async (t) => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (socket) => {
      socket.on('message', (data: Buffer) => {
        socket.send(data);
      });
    });
    await once(server, 'listening');
    t.after(() => {
      server.close();
    });
    const url = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    const tunnel = await service(['tunnel', '--listen', '0', '--to', url]);
    t.after(() => stop(tunnel.child));
    const client = net.connect({ host: '127.0.0.1', port: tunnel.port });
    // Stopping the tunnel (Ctrl-C) at the end resets this connection.
    client.on('error', () => undefined);
    t.after(() => client.destroy());
    const data = Buffer.from(Array.from({ length: MiB }, (_, index) => (index * 13) & 0xff));
    let echoed = Buffer.alloc(0);
    const all = new Promise<void>((resolve) => {
      client.on('data', (chunk: Buffer) => {
        echoed = Buffer.concat([echoed, chunk]);
        if (echoed.length >= data.length) resolve();
      });
    });
    client.write(data);
    await within(all, 20_000, 'the echo through the tunnel');
    assert.equal(sha256(echoed), sha256(data));
  });
});

void describe('sws bridge with a binary-subprotocol client (as noVNC is)', { timeout: 60_000 }, () => {
  void it('accepts "binary", carries bytes both ways to a TCP echo service', async (t) => {
    const echo = net.createServer((socket) => socket.pipe(socket));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    t.after(() => echo.close());
    const bridge = await service([
      'bridge',
      '--listen',
      '0',
      '--to',
      `127.0.0.1:${(echo.address() as net.AddressInfo).port}`,
    ]);
    t.after(() => stop(bridge.child));

    const client = new WsSocket(`ws://127.0.0.1:${bridge.port}/websockify`, ['binary']);
    client.on('error', () => undefined);
    t.after(() => {
      client.terminate();
    });
    await within(once(client, 'open'), 5000, 'the binary client connecting');
    assert.equal(client.protocol, 'binary');

    const data = Buffer.from(Array.from({ length: 4 * MiB }, (_, index) => (index * 31) & 0xff));
    const received: Buffer[] = [];
    let length = 0;
    const all = new Promise<void>((resolve) => {
      client.on('message', (message: Buffer, isBinary: boolean) => {
        assert.equal(isBinary, true);
        received.push(message);
        length += message.length;
        if (length >= data.length) resolve();
      });
    });
    for (let offset = 0; offset < data.length; offset += 64 * 1024)
      client.send(data.subarray(offset, offset + 64 * 1024));
    await within(all, 30_000, 'the echo of 4 MiB');
    assert.equal(sha256(Buffer.concat(received)), sha256(data));
    client.close(1000);
    const line = await bridge.line((l) => l.event === 'connection');
    assert.deepEqual([line.ok, line.code, line.sent, line.received], [true, 1000, data.length, data.length]);
  });
});

void describe('sws listen', { timeout: 60_000 }, () => {
  /** sws listen on a free port, stdin open; its JSON lines come on stderr. */
  async function listen(
    t: TestContext,
    ...options: string[]
  ): Promise<{ sws: Service; stdout: Transcript; url: string }> {
    const started = await service(['listen', '0', ...options], { jsonOn: 'stderr', keepStdin: true });
    t.after(() => stop(started.child));
    return {
      sws: started,
      stdout: new Transcript(started.child.stdout),
      url: `ws://127.0.0.1:${started.port}/`,
    };
  }

  void it("talks with Python websockets' interactive client: its lines printed, our stdin lines sent", async (t) => {
    const server = await listen(t);
    const python = spawn(PYTHON, ['-m', 'websockets', server.url], { stdio: ['pipe', 'pipe', 'pipe'] });
    t.after(() => python.kill('SIGKILL'));
    const pythonOut = new Transcript(python.stdout);
    await pythonOut.until(`Connected to ${server.url}`, 'python connecting');
    await server.sws.line((l) => l.event === 'connected');

    python.stdin.write('hello from python\n');
    await server.stdout.until('hello from python\n', 'sws listen printing the message');
    server.sws.child.stdin.write('hello from sws\n');
    await pythonOut.until('< hello from sws', 'python printing our message');

    const exited = once(python, 'exit');
    python.stdin.end();
    await within(exited, 10_000, 'python closing');
    const closed = await server.sws.line((l) => l.event === 'closed');
    assert.deepEqual([closed.code, closed.received], [1000, 1]);
    assert.equal(server.stdout.text, 'hello from python\n');
  });

  void it('is the peer of sws connect; a second client is answered 503 until the first leaves', async (t) => {
    const server = await listen(t);
    const first = launch(['connect', server.url]);
    const firstOut = new Transcript(first.stdout);
    await server.sws.line((l) => l.event === 'connected');

    const second = await sws(['connect', server.url]);
    assert.equal(second.code, 3);
    assert.match(second.stderr, /503/);

    first.stdin.write('one\n');
    await server.stdout.until('one\n', 'the first line');
    server.sws.child.stdin.write('two\n');
    await firstOut.until('two\n', 'the reply');
    const exited = once(first, 'exit') as Promise<[number | null]>;
    first.stdin.end();
    assert.equal((await exited)[0], 0);
    await server.sws.line((l) => l.event === 'closed');

    // The first one has left: the next one is served.
    const third = await sws(['connect', '--close-timeout', '0', server.url], {
      input: Buffer.from('three\n'),
    });
    assert.equal(third.code, 0);
    await server.stdout.until('one\nthree\n', 'the third client');
  });

  void it('--echo sends every message back with its type; --multi serves several clients at once', async (t) => {
    const server = await listen(t, '--echo', '--multi');
    const clients = await Promise.all([1, 2, 3].map(() => wsClient(t, server.url)));
    const replies = clients.map(
      (client) =>
        new Promise<[Buffer, boolean][]>((resolve) => {
          const got: [Buffer, boolean][] = [];
          client.on('message', (data: Buffer, isBinary: boolean) => {
            got.push([data, isBinary]);
            if (got.length === 2) resolve(got);
          });
        }),
    );
    clients.forEach((client, index) => {
      client.send(`text ${index}`);
      client.send(Buffer.from([index, 0xff, 0]), { binary: true });
    });
    const all = await within(Promise.all(replies), 10_000, 'the echoes');
    all.forEach((got, index) => {
      assert.deepEqual(
        got.map(([data, isBinary]) => [isBinary ? [...data] : data.toString(), isBinary]),
        [
          [`text ${index}`, false],
          [[index, 0xff, 0], true],
        ],
      );
    });
    assert.equal(server.stdout.text, '', '--echo prints nothing');
  });

  void it('--multi sends each stdin line to every client; Ctrl-C closes them with 1001', async (t) => {
    const server = await listen(t, '--multi');
    const clients = await Promise.all([1, 2].map(() => wsClient(t, server.url)));
    const connected = (): number => server.sws.lines.filter((line) => line.event === 'connected').length;
    await server.sws.line(() => connected() === 2);
    const heard = clients.map((client) => once(client, 'message') as Promise<[Buffer, boolean]>);
    server.sws.child.stdin.write('to all\n');
    for (const [data, isBinary] of await within(Promise.all(heard), 10_000, 'the broadcast')) {
      assert.deepEqual([data.toString(), isBinary], ['to all', false]);
    }
    const codes = clients.map((client) => once(client, 'close') as Promise<[number, Buffer]>);
    assert.equal(await stop(server.sws.child), 130);
    for (const [code] of await within(Promise.all(codes), 10_000, 'the closes')) assert.equal(code, 1001);
  });
});

void describe('sws connect fed by echo', { timeout: 60_000 }, () => {
  /** A `ws` echo server that answers each message after `delayMs` (as a server doing work would). */
  async function slowEcho(t: TestContext, delayMs: number): Promise<string> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => {
        setTimeout(() => {
          socket.send(data, { binary: isBinary });
        }, delayMs);
      });
    });
    await once(server, 'listening');
    t.after(() => {
      server.close();
    });
    return `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
  }

  void it('prints the reply that arrives after stdin ended, then closes with 1000', async (t) => {
    const url = await slowEcho(t, 200);
    const { code, stdout } = await sws(['connect', url], { input: Buffer.from('{"op":"ping"}\n') });
    assert.equal(code, 0);
    assert.equal(stdout.toString(), '{"op":"ping"}\n');
  });

  void it('--close-timeout 0 closes as soon as stdin ends (the reply is not waited for)', async (t) => {
    const url = await slowEcho(t, 1000);
    const { code, stdout } = await sws(['connect', '--close-timeout', '0', url], {
      input: Buffer.from('x\n'),
    });
    assert.equal(code, 0);
    assert.equal(stdout.toString(), '');
  });
});
