#!/usr/bin/env node
// sws (also `npx stream-websocket`): move bytes over WebSockets with the library's streaming underneath.
// Dispatches to the commands, prints a failure as one line on stderr, and exits with the code of its class.

import { readFileSync } from 'node:fs';

import type { Command } from './command.js';
import { bridge } from './commands/bridge.js';
import { connect } from './commands/connect.js';
import { demo } from './commands/demo.js';
import { listen } from './commands/listen.js';
import { recv } from './commands/recv.js';
import { send } from './commands/send.js';
import { serve } from './commands/serve.js';
import { tunnel } from './commands/tunnel.js';
import { CliError, ExitCode, usageError } from './errors.js';
import { installSignalHandlers, interruptedExitCode } from './interrupt.js';
import { ProgressBar } from './progress.js';

const COMMANDS: readonly Command[] = [serve, send, recv, connect, listen, tunnel, bridge, demo];

const HELP = `Usage: sws <command> [options]      (also: npx stream-websocket <command>)

Moves bytes over WebSockets, streaming: files of any size, stdin/stdout, TCP connections.

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(9)}${command.summary}`).join('\n')}

  sws serve --dir ./files --port 8080
  sws send big.iso ws://127.0.0.1:8080/upload/
  sws recv ws://127.0.0.1:8080/files/big.iso -o copy.iso
  sws connect ws://127.0.0.1:9000/chat
  sws listen 9000
  sws bridge --listen 6080 --to 127.0.0.1:5900
  sws tunnel --listen 5901 --to ws://server:6080/

Run sws <command> --help for a command's options. Progress bars appear on a terminal only;
--quiet silences progress and information, --json prints JSON lines.

Exit codes:
  0    success
  1    unexpected failure (a bug; please report it)
  2    usage: unknown command or option, missing or bad argument
  3    connect: host not found, connection refused, timeout, HTTP status instead of the upgrade
  4    TLS: the server's certificate was not accepted, or the TLS handshake failed
  5    protocol: the peer broke RFC 6455, closed with an unexpected code, or the transfer was
       truncated or corrupt
  6    local I/O: a file, stdin/stdout or a listening port failed
  130  interrupted (Ctrl-C): open WebSockets were closed with 1001 (going away)`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${HELP}\n`);
    return ExitCode.Usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const command = COMMANDS.find((c) => c.name === rest[0]);
    process.stdout.write(`${command?.usage ?? HELP}\n`);
    return ExitCode.Ok;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return ExitCode.Ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) throw usageError(`unknown command '${name}'`);
  return command.run(rest);
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return `sws (stream-websocket) ${manifest.version ?? 'unknown'}`;
}

/** Exits once what was written to stdout and stderr has been handed to the system. */
function exit(code: number): void {
  ProgressBar.stopAll();
  let pending = 0;
  const done = (): void => {
    if (--pending <= 0) process.exit(code);
  };
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.writableNeedDrain) {
      pending++;
      stream.once('drain', done);
    }
  }
  if (pending === 0) process.exit(code);
  setTimeout(() => process.exit(code), 1000).unref();
}

// A reader that goes away (sws recv -o - | head) must not crash the process with an unhandled 'error'.
process.stdout.on('error', () => undefined);
installSignalHandlers(exit);

main(process.argv.slice(2)).then(
  (code) => {
    exit(interruptedExitCode() ?? code);
  },
  (error: unknown) => {
    const interrupted = interruptedExitCode();
    if (interrupted !== undefined) {
      exit(interrupted);
      return;
    }
    if (error instanceof CliError) {
      process.stderr.write(`sws: ${error.message}\n`);
      exit(error.exitCode);
      return;
    }
    process.stderr.write(
      `sws: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    exit(ExitCode.Failure);
  },
);
