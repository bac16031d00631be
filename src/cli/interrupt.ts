// Ctrl-C and SIGTERM: the running command's cleanup closes its WebSockets cleanly with 1001 (going away)
// and the process exits with 128 + the signal number (130 for SIGINT). A second signal exits at once.

import { ExitCode } from './errors.js';

/** How long a cleanup may take (a closing handshake with a silent peer) before exiting anyway. */
const CLEANUP_LIMIT_MS = 3000;

const SIGNALS = [
  ['SIGINT', ExitCode.Interrupted],
  ['SIGTERM', 143],
] as const;

let cleanup: (() => Promise<void> | void) | undefined;
let interruptedWith: number | undefined;

/** What the running command does on Ctrl-C (replaces the previous one). */
export function onInterrupt(handler: () => Promise<void> | void): void {
  cleanup = handler;
}

/** The exit code of the signal that interrupted the command, if one did. */
export function interruptedExitCode(): number | undefined {
  return interruptedWith;
}

/** Installs the handlers; `exit` ends the process (after flushing output). */
export function installSignalHandlers(exit: (code: number) => void): void {
  for (const [signal, code] of SIGNALS) {
    process.on(signal, () => {
      if (interruptedWith !== undefined) {
        exit(interruptedWith);
        return;
      }
      interruptedWith = code;
      setTimeout(() => {
        exit(code);
      }, CLEANUP_LIMIT_MS);
      Promise.resolve()
        .then(() => cleanup?.())
        .then(
          () => {
            exit(code);
          },
          () => {
            exit(code);
          },
        );
    });
  }
}

/** The part of a WebSocket that Ctrl-C needs. */
export interface InterruptibleSocket {
  close(): void;
  /** Public but @internal in the library: the only way to send 1001, which close() refuses. */
  goAway(code: 1001, reason: string): void;
  whenClosed(): Promise<unknown>;
}

/** While connecting, Ctrl-C cancels the connect. */
export function cancelOnInterrupt(socket: InterruptibleSocket): void {
  onInterrupt(() => {
    socket.close();
  });
}

/** Once connected, Ctrl-C closes with 1001 (going away) and waits for the closing handshake. */
export function goAwayOnInterrupt(sockets: InterruptibleSocket | Iterable<InterruptibleSocket>): void {
  onInterrupt(async () => {
    const all = Symbol.iterator in sockets ? [...sockets] : [sockets];
    for (const socket of all) socket.goAway(1001, 'interrupted');
    await Promise.all(all.map((socket) => socket.whenClosed()));
  });
}
