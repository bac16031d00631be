// sws connect URL: an interactive WebSocket session, as websocat does it. stdin becomes messages (one
// text message per line with --text, the default; binary chunks with --binary), received messages go to
// stdout (each followed by a newline with --text). Ends when stdin ends (close 1000) or the peer closes.

import { Buffer } from 'node:buffer';
import readline from 'node:readline';

import { MessageWebSocket, SocketMessageType, WebSocketError } from '../../index.js';
import { COMMON_OPTIONS, operands, parseCommand, parseWebSocketUrl } from '../args.js';
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, clientSettings, configure } from '../client-options.js';
import type { Command } from '../command.js';
import {
  connectFailure,
  ExitCode,
  ioFailure,
  transferFailure,
  unexpectedClose,
  usageError,
} from '../errors.js';
import { cancelOnInterrupt, goAwayOnInterrupt } from '../interrupt.js';
import { Output } from '../output.js';

const OPTIONS = {
  ...COMMON_OPTIONS,
  ...CLIENT_OPTIONS,
  text: { type: 'boolean', short: 't' },
  binary: { type: 'boolean', short: 'b' },
} as const;

const USAGE = `Usage: sws connect URL [--text | --binary] [options]

Connects to the WebSocket at URL; stdin goes out as messages, received messages go to stdout.
  -t, --text     one text message per line of stdin; each received message is printed on a line (default)
  -b, --binary   stdin goes out in binary messages as it is read; received messages are written as they are
Ends with close code 1000 when stdin ends, or when the peer closes (exit 0 for 1000, 1001 or no code,
5 for any other code). Messages still on their way when stdin ends are not waited for.
  echo '{"op":"ping"}' | sws connect ws://127.0.0.1:8080/api

${CLIENT_OPTIONS_HELP}
Output:
  --json                   print a JSON summary line on stderr at the end
  -q, --quiet              no connection information
  -h, --help               this help`;

const NEWLINE = Buffer.from('\n');

export const connect: Command = {
  name: 'connect',
  summary: 'interactive session: stdin lines → messages, messages → stdout',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommand('connect', argv, OPTIONS);
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.Ok;
    }
    const [urlText] = operands('connect', positionals, ['URL']) as [string];
    const url = parseWebSocketUrl(urlText);
    if (values.text === true && values.binary === true)
      throw usageError('connect: --text or --binary, not both');
    const text = values.binary !== true;
    const settings = await clientSettings(values);
    const out = new Output({ quiet: values.quiet, json: values.json, dataOnStdout: true });

    const socket = new MessageWebSocket();
    configure(socket, settings);
    socket.control.messageType = text ? SocketMessageType.Utf8 : SocketMessageType.Binary;
    cancelOnInterrupt(socket);
    try {
      await socket.connectAsync(url);
    } catch (error) {
      throw connectFailure(error, url);
    }
    goAwayOnInterrupt(socket);
    const protocol = socket.information.protocol;
    out.info(
      `connected to ${url.href}${protocol === null || protocol === '' ? '' : ` (${protocol})`}; Ctrl-C or end of input closes`,
    );

    let sent = 0;
    let received = 0;
    let failure: unknown;
    const closed = socket.whenClosed();
    const sending = (async () => {
      const input = text
        ? readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
        : process.stdin;
      for await (const piece of input as AsyncIterable<string | Buffer>) {
        await socket.outputStream.writeAsync(typeof piece === 'string' ? Buffer.from(piece) : piece);
        sent++;
      }
      socket.close(1000);
    })().catch((error: unknown) => {
      // A write fails once the peer has closed: that is the peer's close, reported below.
      failure ??= error;
      socket.close();
    });
    const receiving = (async () => {
      for await (const message of socket.messages()) {
        for await (const section of message) await writeOut(section);
        if (text) await writeOut(NEWLINE);
        received++;
      }
    })().catch((error: unknown) => {
      failure ??= error;
      socket.close();
    });

    const { code, reason } = await closed;
    await receiving;
    // The sender may still wait for a line that will never come: stop reading stdin.
    process.stdin.destroy();
    await sending;
    out.summary(
      `closed ${code}${reason === '' ? '' : ` "${reason}"`}; ${sent} messages sent, ${received} received`,
      {
        event: 'connect',
        url: url.href,
        code,
        reason,
        sent,
        received,
      },
    );
    if ((failure as NodeJS.ErrnoException | undefined)?.syscall === 'write')
      throw ioFailure(failure, 'cannot write stdout');
    if (code === 1000 || code === 1001 || code === 1005) return ExitCode.Ok;
    const violation = failure instanceof WebSocketError && failure.closeCode !== undefined;
    if (violation || (code === 1006 && failure !== undefined)) throw transferFailure(failure);
    throw unexpectedClose(code, reason, 'the session ended abnormally');
  },
};

function writeOut(chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (error) => {
      if (error === null || error === undefined) resolve();
      else reject(error);
    });
  });
}
