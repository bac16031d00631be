// sws bridge: a WebSocket listener whose every connection opens a TCP connection to HOST:PORT, bytes
// both ways (websockify's job; `sws tunnel` is the client half). The TCP connection is made before the
// upgrade is accepted, so an unreachable target answers HTTP 502. One line per connection on stdout.

import type http from 'node:http';
import net from 'node:net';

import { WebSocketListener } from '../../index.js';
import {
  COMMON_OPTIONS,
  operands,
  parseCommand,
  parseCredential,
  parseHostPort,
  parseListen,
  parseSeconds,
} from '../args.js';
import { peerOf, type Command } from '../command.js';
import { ExitCode, usageError } from '../errors.js';
import { formatBytes } from '../format.js';
import { onInterrupt } from '../interrupt.js';
import { Output } from '../output.js';
import { splice, TUNNEL_PROTOCOL, TUNNEL_RESET } from '../splice.js';
import {
  closeFront,
  createFront,
  HANDSHAKE_TIMEOUT_OPTION,
  HANDSHAKE_TIMEOUT_USAGE,
  handshakeTimeout,
  listen,
  readTls,
  refuse,
} from '../upgrade-server.js';

const OPTIONS = {
  ...COMMON_OPTIONS,
  listen: { type: 'string', short: 'l' },
  to: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  auth: { type: 'string' },
  ...HANDSHAKE_TIMEOUT_OPTION,
  'connect-timeout': { type: 'string' },
} as const;

const USAGE = `Usage: sws bridge --listen [HOST:]PORT --to HOST:PORT [options]

A WebSocket server (on any path) whose every connection opens a TCP connection to HOST:PORT and
carries bytes both ways, as websockify does:
  sws bridge --listen 6080 --to 127.0.0.1:5900        (a VNC server for a browser's noVNC)
  sws bridge --listen 8080 --to 127.0.0.1:22          (with sws tunnel at the other end)
Each TCP read goes out as one binary message; the bytes of every message received go to TCP.
Speaks sws.tunnel.v1 (TCP half-close carried both ways) and plain binary (websockify clients).
An unreachable target (refused, or silent past --connect-timeout) answers the upgrade with HTTP 502.

  -l, --listen [HOST:]PORT address to listen on (HOST defaults to 127.0.0.1; PORT 0: any free port)
  --to HOST:PORT           the TCP service each WebSocket connects to
  --tls-cert FILE --tls-key FILE   serve wss: with this certificate and key (PEM)
  --auth user:pass         require these Basic credentials (sws tunnel --user user:pass)
  --connect-timeout S      answer 502 when HOST:PORT has not accepted within S seconds (default 10)
${HANDSHAKE_TIMEOUT_USAGE}
  --json                   JSON lines on stdout: "listening", then one per connection
  -q, --quiet              no startup line
  -h, --help               this help`;

export const bridge: Command = {
  name: 'bridge',
  summary: 'WebSocket listener → a TCP connection per WebSocket (websockify)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommand('bridge', argv, OPTIONS);
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.Ok;
    }
    operands('bridge', positionals, []);
    if (values.listen === undefined || values.to === undefined)
      throw usageError('bridge needs --listen and --to');
    const { host, port } = parseListen(values.listen, '--listen');
    const target = parseHostPort(values.to, '--to');
    const to = `${target.host}:${target.port}`;
    const auth = values.auth === undefined ? undefined : parseCredential(values.auth, '--auth');
    const connectTimeout =
      values['connect-timeout'] === undefined
        ? 10_000
        : parseSeconds(values['connect-timeout'], '--connect-timeout');
    const tls = await readTls(values['tls-cert'], values['tls-key']);
    const out = new Output({ quiet: values.quiet, json: values.json });

    const listener = new WebSocketListener({
      mode: 'message',
      supportedProtocols: [TUNNEL_PROTOCOL, 'binary'],
    });
    const upstreams = new WeakMap<http.IncomingMessage, { tcp: net.Socket; started: number }>();
    listener.on('connectionReceived', ({ socket, request }) => {
      const upstream = upstreams.get(request);
      upstreams.delete(request);
      if (upstream === undefined) {
        socket.close(TUNNEL_RESET, 'no TCP connection for this request');
        return;
      }
      const peer = peerOf(request.socket);
      splice(socket, upstream.tcp).then(
        (result) => {
          const seconds = Number(((performance.now() - upstream.started) / 1000).toFixed(3));
          out.event(
            `bridge ${peer} → ${to}: ${formatBytes(result.sent)} sent, ${formatBytes(result.received)} received, ${seconds} s, close ${result.closed.code}${result.error === undefined ? '' : ` (${result.error})`}`,
            {
              event: 'connection',
              peer,
              to,
              ok: result.error === undefined,
              sent: result.sent,
              received: result.received,
              seconds,
              code: result.closed.code,
              error: result.error,
            },
          );
        },
        (error: unknown) => {
          out.warn(`internal error: ${String(error)}`);
        },
      );
    });

    const server = createFront({
      tls,
      auth,
      handshakeTimeout: handshakeTimeout(values['handshake-timeout']),
      route: (request, raw, head) => {
        const started = performance.now();
        const peer = peerOf(request.socket);
        const tcp = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
        tcp.setNoDelay(true);
        // A target that drops connection attempts (a full accept queue) is given up on in bounded time.
        const timer = setTimeout(() => {
          tcp.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
        }, connectTimeout);
        tcp.once('close', () => {
          clearTimeout(timer);
        });
        const unreachable = (error: NodeJS.ErrnoException): void => {
          refuse(raw, 502, `cannot connect to ${to} (${error.code ?? error.message})`);
          out.event(`bridge ${peer} → ${to} failed: cannot connect (${error.code ?? error.message})`, {
            event: 'connection',
            peer,
            to,
            ok: false,
            error: `cannot connect to ${to}: ${error.code ?? error.message}`,
          });
        };
        tcp.once('error', unreachable);
        tcp.once('connect', () => {
          clearTimeout(timer);
          tcp.off('error', unreachable);
          tcp.on('error', () => undefined);
          if (raw.destroyed) {
            tcp.destroy();
            return;
          }
          upstreams.set(request, { tcp, started });
          listener.handleUpgrade(request, raw, head);
          // Not a valid WebSocket request: the listener answered it, and the TCP connection goes.
          if (upstreams.has(request)) {
            upstreams.delete(request);
            tcp.destroy();
          }
        });
      },
    });
    const bound = await listen(server, host, port);
    const url = `${tls === undefined ? 'ws' : 'wss'}://${host.includes(':') ? `[${host}]` : host}:${bound}/`;
    if (out.json) out.event('', { event: 'listening', url, port: bound, to });
    else out.info(`bridge: ${url} → tcp://${to} (a TCP connection per WebSocket); Ctrl-C stops`);

    const closed = new Promise<void>((resolve) => server.once('close', resolve));
    onInterrupt(async () => {
      await listener.closeAsync();
      await closeFront(server);
    });
    await closed;
    return ExitCode.Ok;
  },
};
