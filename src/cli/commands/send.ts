// sws send FILE URL: streams a file (or stdin) up a StreamWebSocket, then closes with 1000 and the
// digest; the transfer counts only once the server has answered that close.

import { StreamWebSocket } from '../../index.js';
import { COMMON_OPTIONS, operands, parseCommand, parseWebSocketUrl } from '../args.js';
import { sendAndClose } from '../byte-transfer.js';
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, clientSettings, configure } from '../client-options.js';
import type { Command } from '../command.js';
import { connectFailure, ExitCode, usageError } from '../errors.js';
import { formatBytes, formatRate } from '../format.js';
import { cancelOnInterrupt, goAwayOnInterrupt } from '../interrupt.js';
import { openInput } from '../local-files.js';
import { Meter } from '../meter.js';
import { Output } from '../output.js';
import { ProgressBar } from '../progress.js';

const OPTIONS = { ...COMMON_OPTIONS, ...CLIENT_OPTIONS } as const;

const USAGE = `Usage: sws send FILE URL [options]

Streams FILE (- for stdin) to the WebSocket at URL as binary messages, then closes with code 1000
and the reason "sha256=<hex> size=<n>". A URL that ends in '/' gets FILE's name appended:
  sws send movie.mp4 ws://127.0.0.1:8080/upload/     (to sws serve)
  tar c dir | sws send - ws://127.0.0.1:8080/upload/dir.tar
Succeeds (exit 0) only when the server answers the close with 1000; anything the server sends
back is discarded. Shows a progress bar on a terminal.

${CLIENT_OPTIONS_HELP}
Output:
  --json                   print a JSON summary line on stdout at the end
  -q, --quiet              no progress bar, no summary
  -h, --help               this help`;

export const send: Command = {
  name: 'send',
  summary: 'stream a file (or stdin) to a WebSocket URL',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommand('send', argv, OPTIONS);
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.Ok;
    }
    const [file, urlText] = operands('send', positionals, ['FILE', 'URL']) as [string, string];
    let url = parseWebSocketUrl(urlText);
    const settings = await clientSettings(values);
    const out = new Output({ quiet: values.quiet, json: values.json });
    const input = await openInput(file);
    if (url.pathname.endsWith('/')) {
      if (input.name === undefined)
        throw usageError(`send: name the upload (${url.href}NAME) when sending stdin`);
      url = new URL(encodeURIComponent(input.name), url);
    }

    const socket = new StreamWebSocket();
    configure(socket, settings);
    cancelOnInterrupt(socket);
    try {
      await socket.connectAsync(url);
    } catch (error) {
      input.stream.destroy();
      throw connectFailure(error, url);
    }
    goAwayOnInterrupt(socket);
    // Nothing is expected back; reading on lets the server's close frame through.
    socket.inputStream.resume();

    const meter = new Meter();
    const label = `send ${input.name ?? 'stdin'}`;
    const bar = ProgressBar.start({ label, total: input.size, bytes: () => meter.bytes }, out.quiet);
    try {
      await sendAndClose(socket, input.stream, meter, input.name ?? 'stdin');
    } finally {
      bar?.stop();
    }
    const seconds = Number(meter.seconds.toFixed(3));
    out.summary(
      `sent ${formatBytes(meter.bytes)} (${meter.bytes} bytes) to ${url.href} in ${seconds} s, ${formatRate(meter.rate)}, sha256 ${meter.sha256}`,
      { event: 'send', ok: true, url: url.href, bytes: meter.bytes, sha256: meter.sha256, seconds },
    );
    return ExitCode.Ok;
  },
};
