// What every sws command is: a name, a one-line summary for `sws --help`, its own help text, and a run
// function that takes the arguments after the command's name and resolves to the exit code.

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** The peer of a server-side connection, as host:port. */
export function peerOf(socket: {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
}): string {
  const host = socket.remoteAddress ?? '?';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? '?'}`;
}
