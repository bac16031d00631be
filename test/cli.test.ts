// The sws command as users run it: each test spawns the real `node dist/cli/main.js …` (built by
// `npm run build`, as `npm test` does first) against servers on 127.0.0.1 — sws serve, sws bridge, a
// WebSocketListener or node:http server in this process, or a hand-written WebSocket server that
// misbehaves — and checks exit codes, what reaches stdout and stderr, and the bytes that arrive.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { WebSocketListener, type WebSocketClosedEventArgs } from '../src/index.js';
import { closeFrame, rawWebSocketServer, serverFrame } from './helpers/raw-server.js';
import {
  COMMAND_TIMEOUT,
  killAll,
  launch as launchSws,
  service as startService,
  stop,
  sws as runSws,
  SWS,
  type Finished,
  type JsonLine,
  type RunOptions,
  type Service,
} from './helpers/sws.js';
import { within } from './helpers/within.js';

let work: string;

/** sws, in the test's work folder unless told otherwise. */
function sws(args: string[], options: RunOptions = {}): Promise<Finished> {
  return runSws(args, { cwd: work, ...options });
}

function launch(args: string[]): ChildProcessWithoutNullStreams {
  return launchSws(args, work);
}

function service(args: string[]): Promise<Service> {
  return startService(args, work);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Yields `count` pieces of random data `gapMs` apart: a slow producer on stdin. */
async function* slowly(pieces: Buffer[], gapMs: number): AsyncGenerator<Buffer> {
  for (const piece of pieces) {
    yield piece;
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
}

/** A port nobody listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

before(() => {
  assert.ok(existsSync(SWS), `${SWS} is missing: run \`npm run build\` first (npm test does)`);
});

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'sws-cli-'));
});

after(async () => {
  killAll();
  await rm(work, { recursive: true, force: true });
});

void describe('sws: usage', { timeout: 60_000 }, () => {
  void it('documents the commands and the exit codes in --help', async () => {
    const { code, stdout } = await sws(['--help']);
    assert.equal(code, 0);
    const help = stdout.toString();
    for (const command of ['serve', 'send', 'recv', 'connect', 'listen', 'tunnel', 'bridge', 'demo']) {
      assert.match(help, new RegExp(`^  ${command} `, 'm'));
    }
    for (const exitCode of ['0', '2', '3', '4', '5', '6', '130'])
      assert.match(help, new RegExp(`^  ${exitCode} `, 'm'));
    const sendHelp = await sws(['send', '--help']);
    assert.equal(sendHelp.code, 0);
    assert.match(sendHelp.stdout.toString(), /^Usage: sws send FILE URL/);
  });

  void it('exits 2 with one line on stderr for a usage mistake', async () => {
    for (const args of [
      [],
      ['bogus'],
      ['send', 'only-a-file'],
      ['recv', '--bogus', 'ws://x/'],
      ['recv', 'http://x/y'],
      ['listen'],
      ['listen', '8080', '--text', '--binary'],
      ['connect', '--close-timeout', 'soon', 'ws://127.0.0.1:9/'],
    ]) {
      const { code, stderr } = await sws(args);
      assert.equal(code, 2, `sws ${args.join(' ')}: ${stderr}`);
      if (args.length > 0) assert.match(stderr, /^sws: .+\n$/, `sws ${args.join(' ')}`);
    }
  });
});

void describe('sws serve, send and recv', { timeout: 60_000 }, () => {
  let served: string;
  let server: Service;
  let url: string;

  before(async () => {
    served = path.join(work, 'served');
    await mkdir(served);
    server = await service(['serve', '--port', '0', '--dir', served]);
    url = `ws://127.0.0.1:${server.port}`;
  });

  after(async () => {
    await stop(server.child);
  });

  void it('round-trips a 32 MiB file: send up, recv back, the same sha256 everywhere', async () => {
    const data = randomBytes(32 * 1024 * 1024);
    const digest = sha256(data);
    const source = path.join(work, 'random.bin');
    await writeFile(source, data);

    const sent = await sws(['send', source, `${url}/upload/`, '--json']);
    assert.equal(sent.code, 0, sent.stderr);
    const sendSummary = JSON.parse(sent.stdout.toString()) as JsonLine;
    assert.equal(sendSummary.sha256, digest);
    assert.equal(sendSummary.bytes, data.length);
    const stored = await server.line((l) => l.event === 'upload' && l.name === 'random.bin');
    assert.deepEqual([stored.ok, stored.bytes, stored.sha256], [true, data.length, digest]);
    assert.equal(sha256(await readFile(path.join(served, 'random.bin'))), digest);

    const copy = path.join(work, 'copy.bin');
    const received = await sws(['recv', `${url}/files/random.bin`, '-o', copy, '--json']);
    assert.equal(received.code, 0, received.stderr);
    const recvSummary = JSON.parse(received.stdout.toString()) as JsonLine;
    assert.deepEqual([recvSummary.sha256, recvSummary.verified], [digest, true]);
    assert.equal(sha256(await readFile(copy)), digest);
    const download = await server.line((l) => l.event === 'download' && l.name === 'random.bin');
    assert.equal(download.sha256, digest);
    // No temporary files left behind on either side.
    assert.deepEqual(await readdir(served), ['random.bin']);
    assert.ok(!(await readdir(work)).some((name) => name.endsWith('.sws-partial')));
  });

  void it('sends stdin (send - URL) and receives to stdout (recv -o -); no progress bar off a terminal', async () => {
    // A slow producer makes the transfer last past the point where a terminal would show a bar.
    const pieces = Array.from({ length: 12 }, () => randomBytes(256 * 1024));
    const data = Buffer.concat(pieces);
    const sent = await sws(['send', '-', `${url}/upload/piped.bin`], { input: slowly(pieces, 80) });
    assert.equal(sent.code, 0, sent.stderr);
    assert.ok(!sent.stderr.includes('\r') && !sent.stderr.includes('\x1b'), JSON.stringify(sent.stderr));
    assert.match(sent.stderr, /^sent 3\.00 MiB \(3145728 bytes\) .* sha256 [0-9a-f]{64}\n$/);

    const received = await sws(['recv', `${url}/files/piped.bin`, '-o', '-']);
    assert.equal(received.code, 0, received.stderr);
    assert.equal(sha256(received.stdout), sha256(data));
    assert.ok(!received.stderr.includes('\r'));
  });

  void it('names the download after the URL when -o is not given', async () => {
    await writeFile(path.join(served, 'named.txt'), 'named\n');
    const cwd = path.join(work, 'named');
    await mkdir(cwd);
    const { code, stderr } = await sws(['recv', `${url}/files/named.txt`, '-q'], { cwd });
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
    assert.equal(await readFile(path.join(cwd, 'named.txt'), 'utf8'), 'named\n');
  });

  void it('writes into a FIFO as it is (no temporary file, no rename)', async () => {
    await writeFile(path.join(served, 'fifo.txt'), 'through a pipe\n');
    const fifo = path.join(work, 'out.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    const reader = readFile(fifo, 'utf8');
    const { code, stderr } = await sws(['recv', `${url}/files/fifo.txt`, '-o', fifo, '-q']);
    assert.equal(code, 0, stderr);
    assert.equal(await reader, 'through a pipe\n');
    assert.ok((await lstat(fifo)).isFIFO());
  });

  void it('stores uploads whose names are 234 to 255 bytes long (the temporary name is shortened)', async () => {
    const names = ['a'.repeat(234), 'b'.repeat(255), `${'é'.repeat(127)}c`]; // the last: 255 UTF-8 bytes
    for (const name of names) {
      const data = randomBytes(1000);
      const sent = await sws(['send', '-', `${url}/upload/${encodeURIComponent(name)}`], { input: data });
      assert.equal(sent.code, 0, `${Buffer.byteLength(name)} bytes: ${sent.stderr}`);
      const stored = await server.line((l) => l.event === 'upload' && l.name === name);
      assert.equal(stored.sha256, sha256(data));
      assert.equal(sha256(await readFile(path.join(served, name))), sha256(data));
    }
    assert.ok(!(await readdir(served)).some((entry) => entry.endsWith('.sws-partial')));
  });

  void it('never uploads through a symbolic link in the served directory (HTTP 409, exit 3)', async () => {
    const outside = path.join(work, 'outside.txt');
    await writeFile(outside, 'untouched');
    await symlink(outside, path.join(served, 'link.txt'));
    const { code, stderr } = await sws(['send', '-', `${url}/upload/link.txt`], {
      input: Buffer.from('evil'),
    });
    assert.equal(code, 3, stderr);
    assert.match(stderr, /\(Conflict, HTTP 409\)/);
    assert.equal(await readFile(outside, 'utf8'), 'untouched');
    assert.ok((await lstat(path.join(served, 'link.txt'))).isSymbolicLink());
  });

  void it('never downloads through a symbolic link that leads out of the served directory (HTTP 403, exit 3)', async () => {
    await writeFile(path.join(work, 'secret.txt'), 'outside the served directory');
    await symlink(path.join(work, 'secret.txt'), path.join(served, 'escape.txt'));
    await symlink(path.join('..', 'secret.txt'), path.join(served, 'relative-escape.txt'));
    for (const name of ['escape.txt', 'relative-escape.txt']) {
      const out = path.join(work, `got-${name}`);
      const { code, stderr } = await sws(['recv', `${url}/files/${name}`, '-o', out]);
      assert.equal(code, 3, `${name}: ${stderr}`);
      assert.match(stderr, /\(Forbidden, HTTP 403\)/);
      assert.ok(!existsSync(out));
    }
    // A link that stays inside is served.
    await writeFile(path.join(served, 'inside.txt'), 'inside\n');
    await symlink('inside.txt', path.join(served, 'alias.txt'));
    const alias = await sws(['recv', `${url}/files/alias.txt`, '-o', '-']);
    assert.equal(alias.code, 0, alias.stderr);
    assert.equal(alias.stdout.toString(), 'inside\n');
  });

  void it('refuses names that are not plain file names, and missing files, with an HTTP status (exit 3)', async () => {
    for (const name of ['..%2Fserved%2Frandom.bin', '.hidden', '%2e%2e', 'a%5Cb']) {
      const { code, stderr } = await sws(['recv', `${url}/files/${name}`, '-o', '-']);
      assert.equal(code, 3, `${name}: ${stderr}`);
      assert.match(stderr, /HTTP (400|404)/);
    }
    const missing = await sws(['recv', `${url}/files/no-such-file`, '-o', '-']);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /^sws: .*\(NotFound, HTTP 404\)/);
    const upload = await sws(['send', '-', `${url}/upload/..%2Fescaped`], { input: Buffer.from('x') });
    assert.equal(upload.code, 3);
    assert.ok(!existsSync(path.join(work, 'escaped')));
  });
});

void describe('sws connect', { timeout: 60_000 }, () => {
  let listener: WebSocketListener<'message'>;
  let port: number;
  let connected: () => void = () => undefined;
  let closed: (args: WebSocketClosedEventArgs) => void = () => undefined;
  /** The close of the next connection the server sees, as the server saw it. */
  const nextClose = (): Promise<WebSocketClosedEventArgs> => new Promise((resolve) => (closed = resolve));

  before(async () => {
    listener = new WebSocketListener({ mode: 'message' });
    listener.on('connectionReceived', ({ socket }) => {
      socket.on('closed', (args) => {
        closed(args);
      });
      socket.on('messageReceived', async (event) => {
        socket.control.messageType = event.messageType;
        await socket.outputStream.writeAsync(event.getData());
      });
      connected();
    });
    await listener.bindServiceNameAsync(0, '127.0.0.1');
    port = listener.information.localPort!;
  });

  after(async () => {
    await listener.closeAsync();
  });

  void it('--text: each line of stdin is a message, each message a line of stdout; closes 1000 at the end of input', async () => {
    const child = launch(['connect', '--text', `ws://127.0.0.1:${port}/echo`]);
    let stdout = '';
    const grew = (): Promise<void> => once(child.stdout, 'data').then(() => undefined);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = once(child, 'close') as Promise<[number | null]>;
    child.stdin.write('hello\n');
    while (!stdout.includes('hello\n')) await grew();
    child.stdin.write('wörld 🌍\nthird line\n');
    while (!stdout.includes('third line\n')) await grew();
    const serverSaw = nextClose();
    child.stdin.end();
    const [code] = await exited;
    assert.equal(code, 0);
    assert.equal(stdout, 'hello\nwörld 🌍\nthird line\n');
    assert.equal((await serverSaw).code, 1000);
  });

  void it('Ctrl-C (SIGINT) closes with 1001 and exits 130', async () => {
    const arrived = new Promise<void>((resolve) => (connected = resolve));
    const child = launch(['connect', `ws://127.0.0.1:${port}/`]);
    await arrived;
    const serverSaw = nextClose();
    const exited = once(child, 'close') as Promise<[number | null]>;
    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 130);
    assert.deepEqual(await serverSaw, { code: 1001, reason: 'interrupted' });
  });
});

void describe('sws bridge and sws tunnel', { timeout: 60_000 }, () => {
  let web: http.Server;
  let bridge: Service;
  let tunnel: Service;

  before(async () => {
    web = http.createServer((request, response) => {
      response.setHeader('Connection', 'close');
      response.end(`body of ${request.url ?? ''} `.repeat(1000));
    });
    web.listen(0, '127.0.0.1');
    await once(web, 'listening');
    const webPort = (web.address() as net.AddressInfo).port;
    bridge = await service(['bridge', '--listen', '0', '--to', `127.0.0.1:${webPort}`]);
    tunnel = await service(['tunnel', '--listen', '0', '--to', `ws://127.0.0.1:${bridge.port}/`]);
  });

  after(async () => {
    await Promise.all([stop(tunnel.child), stop(bridge.child)]);
    web.close();
  });

  void it('carries HTTP: several concurrent GETs through tunnel → bridge → node:http', async () => {
    const get = (index: number): Promise<string> =>
      new Promise((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: tunnel.port, path: `/page${index}`, agent: false }, (response) => {
            let body = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (body += chunk));
            response.on('end', () => {
              resolve(body);
            });
          })
          .on('error', reject);
      });
    const bodies = await Promise.all(Array.from({ length: 8 }, (_, index) => get(index)));
    bodies.forEach((body, index) => {
      assert.equal(body, `body of /page${index} `.repeat(1000));
    });
    const line = await bridge.line((l) => l.event === 'connection');
    assert.equal(line.ok, true);
    assert.equal(line.code, 1000);
  });

  void it('carries a TCP half-close both ways (the client ends its side, then reads the answer)', async () => {
    // A service that answers only once the client has finished sending: the byte count and sha256.
    const counter = net.createServer({ allowHalfOpen: true }, (socket) => {
      const hash = createHash('sha256');
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      socket.on('end', () => socket.end(`${bytes} ${hash.digest('hex')}`));
    });
    counter.listen(0, '127.0.0.1');
    await once(counter, 'listening');
    const counterPort = (counter.address() as net.AddressInfo).port;
    const toCounter = await service(['bridge', '--listen', '0', '--to', `127.0.0.1:${counterPort}`]);
    const local = await service(['tunnel', '--listen', '0', '--to', `ws://127.0.0.1:${toCounter.port}/`]);
    try {
      const data = randomBytes(4 * 1024 * 1024);
      const client = net.connect({ host: '127.0.0.1', port: local.port, allowHalfOpen: true });
      await once(client, 'connect');
      let answer = '';
      client.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      client.end(data);
      await once(client, 'end');
      assert.equal(answer, `${data.length} ${sha256(data)}`);
      const line = await local.line((l) => l.event === 'connection');
      assert.deepEqual([line.ok, line.sent, line.code], [true, data.length, 1000]);
    } finally {
      await Promise.all([stop(local.child), stop(toCounter.child)]);
      counter.close();
    }
  });

  void it('resets the TCP connection when the WebSocket server cannot be reached, and keeps listening', async () => {
    const dead = await service(['tunnel', '--listen', '0', '--to', `ws://127.0.0.1:${await closedPort()}/`]);
    try {
      const client = net.connect({ host: '127.0.0.1', port: dead.port });
      const outcome = await new Promise<string>((resolve) => {
        client.on('error', (error: NodeJS.ErrnoException) => {
          resolve(error.code ?? error.message);
        });
        client.on('close', () => {
          resolve('closed');
        });
      });
      assert.ok(['ECONNRESET', 'closed'].includes(outcome), outcome);
      const line = await dead.line((l) => l.event === 'connection');
      assert.equal(line.ok, false);
      assert.match(String(line.error), /CannotConnect/);
      assert.equal(dead.child.exitCode, null);
    } finally {
      await stop(dead.child);
    }
  });
});

void describe('sws exit codes', { timeout: 60_000 }, () => {
  void it('3 when nothing listens, with the status and what to check', async () => {
    const port = await closedPort();
    const { code, stderr } = await sws(['recv', `ws://127.0.0.1:${port}/x`, '-o', '-']);
    assert.equal(code, 3);
    assert.equal(
      stderr,
      `sws: cannot connect (CannotConnect): is a server listening on 127.0.0.1:${port}?\n`,
    );
  });

  void it('4 for an untrusted certificate; --insecure-ignore Untrusted or --ca accept it', async () => {
    const pki = path.join(work, 'pki');
    await mkdir(pki);
    const [cert, key] = [path.join(pki, 'cert.pem'), path.join(pki, 'key.pem')];
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
    const dir = path.join(work, 'tls-served');
    await mkdir(dir);
    await writeFile(path.join(dir, 'secret.txt'), 'over TLS\n');
    const server = await service([
      'serve',
      '--port',
      '0',
      '--dir',
      dir,
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    try {
      const url = `wss://127.0.0.1:${server.port}/files/secret.txt`;
      const refused = await sws(['recv', url, '-o', '-']);
      assert.equal(refused.code, 4, refused.stderr);
      assert.match(
        refused.stderr,
        /^sws: .*Untrusted.*\(CertificateIsInvalid\).*--insecure-ignore Untrusted/,
      );
      const ignored = await sws(['recv', url, '-o', '-', '--insecure-ignore', 'Untrusted']);
      assert.equal(ignored.code, 0, ignored.stderr);
      assert.equal(ignored.stdout.toString(), 'over TLS\n');
      const trusted = await sws(['recv', url, '-o', '-', '--ca', cert]);
      assert.equal(trusted.code, 0, trusted.stderr);
    } finally {
      await stop(server.child);
    }
  });

  void it('5 for a server that sends garbage frames', async (t) => {
    const raw = await rawWebSocketServer(t, (connection) => {
      connection.send(serverFrame(0x2, Buffer.from('some data')));
      connection.send(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    });
    const { code, stderr } = await sws(['recv', `${raw.url}file`, '-o', path.join(work, 'garbage.bin')]);
    assert.equal(code, 5, stderr);
    assert.match(stderr, /^sws: the peer broke the WebSocket protocol \(.*closed with 1002\)/);
    assert.ok(!existsSync(path.join(work, 'garbage.bin')));
  });

  void it('5 for a transfer cut off mid-message, with no file left behind', async (t) => {
    const raw = await rawWebSocketServer(t, (connection) => {
      connection.send(serverFrame(0x2, randomBytes(100_000)));
      connection.send(serverFrame(0x2, randomBytes(1000), false));
      // Gone once what it sent is on its way: the first message whole, the second cut off.
      connection.socket.write(Buffer.alloc(0), () => connection.socket.destroy());
    });
    const out = path.join(work, 'cut.bin');
    const { code, stderr } = await sws(['recv', raw.url, '-o', out]);
    assert.equal(code, 5, stderr);
    assert.match(stderr, /lost before the transfer completed/);
    assert.ok(!existsSync(out));
    assert.ok(!(await readdir(work)).some((name) => name.endsWith('.sws-partial')));
  });

  void it('5 for a close with another code than 1000, or a digest that does not match', async (t) => {
    const goingAway = await rawWebSocketServer(t, (connection) => {
      connection.send(serverFrame(0x2, Buffer.from('half of it')));
      connection.send(closeFrame(1001, 'shutting down'));
    });
    const early = await sws(['recv', goingAway.url, '-o', '-']);
    assert.equal(early.code, 5);
    assert.match(early.stderr, /closed the connection with 1001 \(going away\) "shutting down"/);

    const corrupt = await rawWebSocketServer(t, (connection) => {
      connection.send(serverFrame(0x2, Buffer.from('abc')));
      connection.send(closeFrame(1000, `sha256=${sha256(Buffer.from('abd'))} size=3`));
    });
    const wrong = await sws(['recv', corrupt.url, '-o', '-']);
    assert.equal(wrong.code, 5);
    assert.match(wrong.stderr, /corrupt: sha256 [0-9a-f]{64} differs/);
  });

  void it('5 when the server sends more than its header announced: recv stops there, leaves nothing behind', async (t) => {
    // A server that announces 10 bytes, then sends without end until the client goes away.
    const listener = new WebSocketListener({ supportedProtocols: ['sws.file.v1'] });
    let serverClosed: (args: WebSocketClosedEventArgs) => void = () => undefined;
    const closedAtServer = new Promise<WebSocketClosedEventArgs>((resolve) => (serverClosed = resolve));
    listener.on('connectionReceived', ({ socket }) => {
      socket.once('closed', serverClosed);
      void (async () => {
        await socket.outputStream.writeAsync(Buffer.from('{"name":"ten.bin","size":10}\n'));
        const chunk = randomBytes(64 * 1024);
        for (;;) await socket.outputStream.writeAsync(chunk);
      })().catch(() => undefined);
    });
    await listener.bindServiceNameAsync(0, '127.0.0.1');
    t.after(() => listener.closeAsync());
    const dir = await mkdtemp(path.join(work, 'overrun-'));
    const url = `ws://127.0.0.1:${listener.information.localPort!}/ten.bin`;
    const { code, stderr } = await sws(['recv', url, '-o', path.join(dir, 'ten.bin')]);
    assert.equal(code, 5, stderr);
    assert.match(stderr, /^sws: the server sent more than the 10 bytes it announced/);
    assert.deepEqual(await readdir(dir), [], 'no file, no temporary file');
    const closed = await within(closedAtServer, 3000, 'the close at the server');
    assert.equal(closed.code, 4500, 'the receiver closed the connection itself');
  });

  void it('6 for an input file that cannot be read', async () => {
    const port = await closedPort();
    const missing = await sws(['send', path.join(work, 'no-such-file'), `ws://127.0.0.1:${port}/upload/x`]);
    assert.equal(missing.code, 6);
    assert.match(missing.stderr, /^sws: cannot read .*no-such-file \(ENOENT\)/);
    const directory = await sws(['send', work, `ws://127.0.0.1:${port}/upload/x`]);
    assert.equal(directory.code, 6);
    assert.match(directory.stderr, /\(EISDIR\)/);
  });
});

void describe('sws progress', { timeout: 60_000 }, () => {
  void it(
    'shows a bar with size, rate and ETA on a terminal (run under script(1))',
    { skip: !existsSync('/usr/bin/script') && 'script(1) is not installed' },
    async () => {
      // A server that speaks sws.file.v1 (size first) and sends 1.5 MiB over about 1.2 s.
      const chunks = Array.from({ length: 24 }, () => randomBytes(64 * 1024));
      const data = Buffer.concat(chunks);
      const listener = new WebSocketListener({ supportedProtocols: ['sws.file.v1'] });
      listener.on('connectionReceived', ({ socket }) => {
        void (async () => {
          await socket.outputStream.writeAsync(
            Buffer.from(`${JSON.stringify({ name: 'slow.bin', size: data.length })}\n`),
          );
          for (const chunk of chunks) {
            await socket.outputStream.writeAsync(chunk);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          socket.close(1000, `sha256=${sha256(data)} size=${data.length}`);
        })().catch(() => undefined);
      });
      await listener.bindServiceNameAsync(0, '127.0.0.1');
      try {
        const out = path.join(work, 'slow.bin');
        const url = `ws://127.0.0.1:${listener.information.localPort!}/slow.bin`;
        // script(1) gives the command a pseudo-terminal as stdin, stdout and stderr.
        const { stdout } = await promisify(execFile)(
          'script',
          ['-qfec', `'${process.execPath}' '${SWS}' recv ${url} -o '${out}'`, '/dev/null'],
          { timeout: COMMAND_TIMEOUT },
        );
        // Redrawn in place (readline.cursorTo: ESC [1G) with bar, percentage, sizes, rate and ETA.
        assert.ok(stdout.includes('\u001b[1Grecv slow.bin ['), JSON.stringify(stdout.slice(0, 300)));
        assert.match(
          stdout,
          /recv slow\.bin \[[#.]+\] +\d+% +[\d.]+ (KiB|MiB) \/ 1\.50 MiB +[\d.]+ [kM]B\/s +ETA \d+:\d\d/,
        );
        assert.match(stdout, /received 1\.50 MiB .*\(matches the sender\)/);
        assert.equal(sha256(await readFile(out)), sha256(data));
      } finally {
        await listener.closeAsync();
      }
    },
  );
});

void describe('sws demo', { timeout: 60_000 }, () => {
  void it('streams between a listener process and a client process and checks the sha256', async () => {
    const { code, stdout, stderr } = await sws(['demo', '--size', '16', '--json']);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout.toString()) as JsonLine;
    assert.equal(result.ok, true);
    assert.equal(result.bytes, 16 * 1024 * 1024);
    assert.equal(result.sha256, result.clientSha256);
  });
});
