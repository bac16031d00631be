// sws recv URL: streams what a WebSocket sends into a file (or stdout) until the server's close frame.
// The file takes its name only when the close was clean and size and digest (when the server sent
// them) match; a truncated or corrupt transfer exits 5 and leaves no file behind.

import path from 'node:path';

import { StreamWebSocket } from '../../index.js';
import { COMMON_OPTIONS, operands, parseCommand, parseWebSocketUrl } from '../args.js';
import { readHeader, receiveAndCheck } from '../byte-transfer.js';
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, clientSettings, configure } from '../client-options.js';
import type { Command } from '../command.js';
import { connectFailure, ExitCode, usageError } from '../errors.js';
import { FILE_PROTOCOL, FileCloseCode, isPlainFileName, parseDigest } from '../file-protocol.js';
import { formatBytes, formatRate } from '../format.js';
import { cancelOnInterrupt, goAwayOnInterrupt } from '../interrupt.js';
import { openOutput } from '../local-files.js';
import { Meter } from '../meter.js';
import { Output } from '../output.js';
import { ProgressBar } from '../progress.js';

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...CLIENT_OPTIONS,
  output: { type: 'string', short: 'o' },
} as const;

const USAGE = `Usage: sws recv URL [-o FILE] [options]

Streams what the WebSocket at URL sends into FILE until the server closes the connection:
  sws recv ws://127.0.0.1:8080/files/movie.mp4            (from sws serve, into ./movie.mp4)
  sws recv ws://127.0.0.1:8080/files/dir.tar -o - | tar x
The transfer is complete only when the server closes with 1000 (or no code); when its close reason
is "sha256=<hex> size=<n>" both are checked. Until then the data goes to a hidden temporary file
next to FILE, which takes FILE's name only after a complete transfer. Offers the subprotocol
sws.file.v1 (sws serve then announces the size first, for the progress bar's ETA).

  -o, --output FILE        where to write; - for stdout (default: the URL's last path segment)
${CLIENT_OPTIONS_HELP}
Output:
  --json                   print a JSON summary line at the end (stdout; stderr with -o -)
  -q, --quiet              no progress bar, no summary
  -h, --help               this help`;

export const recv: Command = {
  name: 'recv',
  summary: 'stream what a WebSocket URL sends into a file (or stdout)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommand('recv', argv, OPTIONS);
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.Ok;
    }
    const [urlText] = operands('recv', positionals, ['URL']) as [string];
    const url = parseWebSocketUrl(urlText);
    const target = values.output ?? defaultName(url);
    const settings = await clientSettings(values);
    const out = new Output({ quiet: values.quiet, json: values.json, dataOnStdout: target === '-' });
    const output = await openOutput(target);

    const socket = new StreamWebSocket();
    configure(socket, settings, [FILE_PROTOCOL]);
    cancelOnInterrupt(socket);
    try {
      await socket.connectAsync(url);
    } catch (error) {
      await output.discard();
      throw connectFailure(error, url);
    }
    goAwayOnInterrupt(socket);

    const meter = new Meter();
    let bar: ProgressBar | undefined;
    let closed;
    try {
      const header =
        socket.information.protocol === FILE_PROTOCOL ? await readHeader(socket.inputStream) : undefined;
      const label = `recv ${target === '-' ? 'stdout' : path.basename(target)}`;
      bar = ProgressBar.start({ label, total: header?.size, bytes: () => meter.bytes }, out.quiet);
      closed = await receiveAndCheck(socket, output.stream, meter, {
        ...(header === undefined ? {} : { header }),
        sinkName: target === '-' ? 'stdout' : target,
        keep: () => output.commit(),
      });
      bar?.stop();
    } catch (error) {
      bar?.stop();
      socket.close(FileCloseCode.StorageFailed, 'the receiver failed');
      await output.discard();
      throw error;
    }
    const seconds = Number(meter.seconds.toFixed(3));
    const checked = parseDigest(closed.reason) !== undefined;
    out.summary(
      `received ${formatBytes(meter.bytes)} (${meter.bytes} bytes) from ${url.href} in ${seconds} s, ${formatRate(meter.rate)}, sha256 ${meter.sha256}${checked ? ' (matches the sender)' : ''}`,
      {
        event: 'recv',
        ok: true,
        url: url.href,
        file: target,
        bytes: meter.bytes,
        sha256: meter.sha256,
        verified: checked,
        seconds,
      },
    );
    return ExitCode.Ok;
  },
};

/** The URL's last path segment, as curl -O and wget name their files. */
function defaultName(url: URL): string {
  const segment = url.pathname.split('/').pop() ?? '';
  let name = '';
  try {
    name = decodeURIComponent(segment);
  } catch {
    // Not valid percent-encoding: no name.
  }
  if (!isPlainFileName(name)) {
    throw usageError(`recv: ${url.href} names no file; say where to write with -o FILE (or -o - for stdout)`);
  }
  return name;
}
