// sws tunnel: a local TCP port whose every connection becomes a WebSocket to a URL, bytes both ways
// (the client half of websockify; `sws bridge` is the server half). One line per connection on stdout.

import net from 'node:net';

import { MessageWebSocket } from '../../index.js';
import { COMMON_OPTIONS, operands, parseCommand, parseListen, parseWebSocketUrl } from '../args.js';
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, clientSettings, configure } from '../client-options.js';
import { peerOf, type Command } from '../command.js';
import { connectFailure, ExitCode, ioFailure, usageError } from '../errors.js';
import { formatBytes } from '../format.js';
import { onInterrupt } from '../interrupt.js';
import { Output } from '../output.js';
import { splice, TUNNEL_PROTOCOL } from '../splice.js';

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...CLIENT_OPTIONS,
  listen: { type: 'string', short: 'l' },
  to: { type: 'string' },
} as const;

const USAGE = `Usage: sws tunnel --listen [HOST:]PORT --to ws[s]://… [options]

Listens on a local TCP port (HOST defaults to 127.0.0.1); each TCP connection becomes a WebSocket to
the URL, and bytes flow both ways until either side closes. With sws bridge at the other end:
  sws bridge --listen 8080 --to 127.0.0.1:22          (on the server)
  sws tunnel --listen 2222 --to ws://server:8080/     (here; then ssh -p 2222 127.0.0.1)
Works as it is in front of websockify too (websockify 6080 127.0.0.1:5900, then
sws tunnel --listen 5901 --to ws://server:6080/): the tunnel offers the subprotocols sws.tunnel.v1
(sws bridge picks it) and binary (websockify picks it); --protocol offers yours instead.
Each TCP read goes out as one binary message. With sws bridge (sws.tunnel.v1) TCP half-close is
carried both ways; with other servers a TCP FIN closes the WebSocket.
A connection that cannot reach the URL is reset and reported; the tunnel keeps listening.

  -l, --listen [HOST:]PORT local address to listen on (PORT 0: any free port)
  --to URL                 the WebSocket to open for each connection
${CLIENT_OPTIONS_HELP}
Output:
  --json                   JSON lines on stdout: "listening", then one per connection
  -q, --quiet              no startup line
  -h, --help               this help`;

export const tunnel: Command = {
  name: 'tunnel',
  summary: 'local TCP port → a WebSocket per connection (websockify client side)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommand('tunnel', argv, OPTIONS);
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.Ok;
    }
    operands('tunnel', positionals, []);
    if (values.listen === undefined || values.to === undefined)
      throw usageError('tunnel needs --listen and --to');
    const { host, port } = parseListen(values.listen, '--listen');
    const url = parseWebSocketUrl(values.to, '--to');
    const settings = await clientSettings(values);
    // sws bridge picks the first, websockify (and other binary bridges) the second.
    const protocols = settings.protocols.length > 0 ? [] : [TUNNEL_PROTOCOL, 'binary'];
    // Headers and the like are checked now, not at the first connection.
    configure(new MessageWebSocket(), settings, protocols);
    const out = new Output({ quiet: values.quiet, json: values.json });
    const sockets = new Set<MessageWebSocket>();
    const connections = new Set<net.Socket>();

    const handle = async (tcp: net.Socket): Promise<void> => {
      const peer = peerOf(tcp);
      const started = performance.now();
      tcp.on('error', () => undefined);
      tcp.setNoDelay(true);
      const socket = new MessageWebSocket();
      configure(socket, settings, protocols);
      sockets.add(socket);
      try {
        await socket.connectAsync(url);
      } catch (error) {
        sockets.delete(socket);
        const failure = connectFailure(error, url);
        tcp.resetAndDestroy();
        out.event(`tunnel ${peer} → ${url.href} failed: ${failure.message}`, {
          event: 'connection',
          peer,
          to: url.href,
          ok: false,
          error: failure.message,
        });
        return;
      }
      const result = await splice(socket, tcp);
      sockets.delete(socket);
      const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
      out.event(
        `tunnel ${peer} → ${url.href}: ${formatBytes(result.sent)} sent, ${formatBytes(result.received)} received, ${seconds} s, close ${result.closed.code}${result.error === undefined ? '' : ` (${result.error})`}`,
        {
          event: 'connection',
          peer,
          to: url.href,
          ok: result.error === undefined,
          sent: result.sent,
          received: result.received,
          seconds,
          code: result.closed.code,
          error: result.error,
        },
      );
    };

    const server = net.createServer({ allowHalfOpen: true }, (tcp) => {
      connections.add(tcp);
      tcp.once('close', () => connections.delete(tcp));
      handle(tcp).catch((error: unknown) => {
        out.warn(`internal error: ${String(error)}`);
        tcp.destroy();
      });
    });
    server.listen(port, host);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
      });
    } catch (error) {
      throw ioFailure(error, `cannot listen on ${host}:${port}`);
    }
    const bound = (server.address() as net.AddressInfo).port;
    if (out.json) out.event('', { event: 'listening', host, port: bound, to: url.href });
    else out.info(`tunnel: tcp://${host}:${bound} → ${url.href} (a WebSocket per connection); Ctrl-C stops`);

    const closed = new Promise<void>((resolve) => server.once('close', resolve));
    onInterrupt(async () => {
      server.close();
      for (const socket of sockets) socket.goAway(1001, 'tunnel stopped');
      await Promise.all([...sockets].map((socket) => socket.whenClosed()));
      for (const tcp of connections) tcp.destroy();
    });
    await closed;
    return ExitCode.Ok;
  },
};
