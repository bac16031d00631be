// The options of every command that opens a WebSocket (send, recv, connect, tunnel), mapped onto the
// library's control: --protocol, --header, --proxy, --proxy-user, --user, --insecure-ignore, --ca,
// --cert/--key, --connect-timeout, --keepalive. Files are read once, before connecting.

import type { Buffer } from 'node:buffer';
import { readFile } from 'node:fs/promises';

import {
  ChainValidationResult,
  type ClientCertificate,
  type MessageWebSocket,
  type PasswordCredential,
  type StreamWebSocket,
} from '../index.js';
import { parseCredential, parseSeconds } from './args.js';
import { ioFailure, usageError } from './errors.js';

export const CLIENT_OPTIONS = {
  protocol: { type: 'string', multiple: true },
  header: { type: 'string', multiple: true, short: 'H' },
  proxy: { type: 'string' },
  'proxy-user': { type: 'string' },
  user: { type: 'string', short: 'u' },
  'insecure-ignore': { type: 'string', multiple: true },
  ca: { type: 'string', multiple: true },
  cert: { type: 'string' },
  key: { type: 'string' },
  'connect-timeout': { type: 'string' },
  keepalive: { type: 'string' },
} as const;

export const CLIENT_OPTIONS_HELP = `Connection options:
  --protocol P             offer subprotocol P (repeatable, in order of preference)
  -H, --header 'N: v'      add a header to the upgrade request (repeatable)
  --proxy URL              HTTP proxy (default: from HTTPS_PROXY/HTTP_PROXY/NO_PROXY); 'none' for none
  --proxy-user user:pass   credentials for the proxy (Basic or Digest on 407)
  -u, --user user:pass     credentials for the server (Basic or Digest on 401)
  --ca FILE                trust the CA certificates in FILE (PEM) as well (repeatable)
  --cert FILE --key FILE   present this client certificate (PEM) for mutual TLS
  --insecure-ignore LIST   accept these certificate errors: Untrusted,Expired,InvalidName,IncompleteChain
  --connect-timeout S      give up connecting after S seconds (default 60)
  --keepalive S            ping after S seconds of silence; drop the connection if no answer`;

type ClientValues = Partial<{
  protocol: string[];
  header: string[];
  proxy: string;
  'proxy-user': string;
  user: string;
  'insecure-ignore': string[];
  ca: string[];
  cert: string;
  key: string;
  'connect-timeout': string;
  keepalive: string;
}>;

/** The client settings, checked and with their files read. */
export interface ClientSettings {
  protocols: string[];
  headers: [string, string][];
  proxy: string | null | undefined;
  proxyCredential: PasswordCredential | null;
  serverCredential: PasswordCredential | null;
  ignorable: ChainValidationResult[];
  ca: Buffer[];
  clientCertificate: ClientCertificate | null;
  connectTimeout: number | undefined;
  keepAlive: number | undefined;
}

const IGNORABLE_NAMES = ['Untrusted', 'Expired', 'InvalidName', 'IncompleteChain'] as const;

export async function clientSettings(values: ClientValues): Promise<ClientSettings> {
  const headers = (values.header ?? []).map((header): [string, string] => {
    const colon = header.indexOf(':');
    if (colon <= 0) throw usageError(`--header '${header}': expected 'Name: value'`);
    return [header.slice(0, colon).trim(), header.slice(colon + 1).trim()];
  });
  const ignorable = (values['insecure-ignore'] ?? [])
    .flatMap((list) => list.split(','))
    .map((name) => name.trim())
    .filter((name) => name !== '')
    .map((name) => {
      const known = IGNORABLE_NAMES.find((n) => n.toLowerCase() === name.toLowerCase());
      if (known === undefined) {
        throw usageError(`--insecure-ignore: '${name}' is not one of ${IGNORABLE_NAMES.join(', ')}`);
      }
      return ChainValidationResult[known];
    });
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw usageError('--cert and --key go together');
  }
  const ca = await Promise.all((values.ca ?? []).map((file) => readOption(file, '--ca')));
  const clientCertificate =
    values.cert !== undefined && values.key !== undefined
      ? { cert: await readOption(values.cert, '--cert'), key: await readOption(values.key, '--key') }
      : null;
  return {
    protocols: values.protocol ?? [],
    headers,
    proxy: values.proxy === 'none' ? null : values.proxy,
    proxyCredential:
      values['proxy-user'] === undefined ? null : parseCredential(values['proxy-user'], '--proxy-user'),
    serverCredential: values.user === undefined ? null : parseCredential(values.user, '--user'),
    ignorable,
    ca,
    clientCertificate,
    connectTimeout:
      values['connect-timeout'] === undefined
        ? undefined
        : parseSeconds(values['connect-timeout'], '--connect-timeout'),
    keepAlive: values.keepalive === undefined ? undefined : parseSeconds(values.keepalive, '--keepalive'),
  };
}

/** Applies the settings to a new socket; `extraProtocols` are offered after the user's. */
export function configure(
  socket: StreamWebSocket | MessageWebSocket,
  settings: ClientSettings,
  extraProtocols: readonly string[] = [],
): void {
  const control = socket.control;
  control.supportedProtocols.push(
    ...settings.protocols,
    ...extraProtocols.filter((p) => !settings.protocols.includes(p)),
  );
  for (const [name, value] of settings.headers) {
    try {
      socket.setRequestHeader(name, value);
    } catch (error) {
      throw usageError(`--header '${name}': ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (settings.proxy !== undefined) control.proxy = settings.proxy;
  control.proxyCredential = settings.proxyCredential;
  control.serverCredential = settings.serverCredential;
  control.ignorableServerCertificateErrors.push(...settings.ignorable);
  control.ca.push(...settings.ca);
  control.clientCertificate = settings.clientCertificate;
  if (settings.connectTimeout !== undefined) control.connectTimeout = settings.connectTimeout;
  if (settings.keepAlive !== undefined) {
    control.keepAliveInterval = settings.keepAlive;
    control.keepAliveTimeout = settings.keepAlive;
  }
}

async function readOption(file: string, option: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw ioFailure(error, `cannot read ${option} ${file}`);
  }
}
