// Command-line parsing with util.parseArgs: one strict parser per command, usage errors (exit 2) for
// unknown options or missing operands, and the small value parsers the commands share.

import { parseArgs, type ParseArgsConfig } from 'node:util';

import { usageError } from './errors.js';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** --help, --quiet and --json: every command has them. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' },
} as const;

/** What parseCommand returns for the options O: typed values and the positionals. */
export type ParsedCommand<O extends OptionSpecs> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/** Parses a command's arguments strictly; a mistake is a usage error. */
export function parseCommand<const O extends OptionSpecs>(
  command: string,
  argv: string[],
  options: O,
): ParsedCommand<O> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw usageError(`${command}: ${message.split('\n')[0]!.replace(/\. To specify a positional.*$/, '')}`);
  }
}

/** Exactly `names.length` positional operands (a usage error otherwise). */
export function operands(command: string, positionals: string[], names: string[], optional = 0): string[] {
  const min = names.length - optional;
  if (positionals.length < min || positionals.length > names.length) {
    throw usageError(`${command} takes ${names.join(' ')}; got ${positionals.length} operand(s)`);
  }
  return positionals;
}

/** A TCP port number (0 = any free port). */
export function parsePort(text: string, what: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw usageError(`${what}: '${text}' is not a port number`);
  return port;
}

/** [HOST:]PORT, HOST defaulting to 127.0.0.1; [::1]:PORT for IPv6. */
export function parseListen(text: string, what: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d+)$/.exec(text);
  if (match === null) throw usageError(`${what}: '${text}' is not [HOST:]PORT`);
  return { host: match[1] ?? match[2] ?? '127.0.0.1', port: parsePort(match[3]!, what) };
}

/** HOST:PORT (both required). */
export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (match === null) throw usageError(`${what}: '${text}' is not HOST:PORT`);
  return { host: match[1] ?? match[2]!, port: parsePort(match[3]!, what) };
}

/** A ws: or wss: URL. */
export function parseWebSocketUrl(text: string, what = 'URL'): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`${what}: '${text}' is not a URL (ws://host:port/path or wss://…)`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw usageError(`${what}: '${text}' must start with ws:// or wss://`);
  }
  return url;
}

/** A positive number of seconds (or zero, where allowed), returned in milliseconds. */
export function parseSeconds(text: string, what: string, allow: { zero?: boolean } = {}): number {
  const seconds = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(seconds) || seconds < 0 || (seconds === 0 && allow.zero !== true))
    throw usageError(`${what}: '${text}' is not a number of seconds`);
  return Math.round(seconds * 1000);
}

/** user:pass (the password may contain ':'). */
export function parseCredential(text: string, what: string): { username: string; password: string } {
  const colon = text.indexOf(':');
  if (colon < 0) throw usageError(`${what}: expected user:pass`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
