// Forward proxies: which one a URL goes through (control.proxy, else the environment),
// and the CONNECT tunnel through it, answering a 407 with the proxy credential.

import { Buffer } from 'node:buffer';
import http from 'node:http';
import type net from 'node:net';

import { HandshakeError } from '../protocol/handshake.js';
import {
  authorizationFor,
  basicAuthorization,
  parseChallenges,
  type PasswordCredential,
} from './http-auth.js';
import { bypassesProxy } from './no-proxy.js';
import { connectHost, connectPort } from './websocket-url.js';

/**
 * The proxy for `url`: `configured` when it is a URL, none when it is null, else from the environment:
 * ws: uses http_proxy or HTTP_PROXY (lower case first, as Node and undici read them), wss: uses
 * https_proxy or HTTPS_PROXY; all_proxy or ALL_PROXY otherwise; no_proxy or NO_PROXY lists the hosts
 * that go direct, by curl's rules (no-proxy.ts).
 */
export function proxyFor(
  url: URL,
  configured: string | URL | null | undefined,
  env: NodeJS.ProcessEnv = process.env,
): URL | undefined {
  if (configured === null) return undefined;
  if (configured !== undefined) return parseProxyUrl(String(configured));
  const fromEnv =
    (url.protocol === 'wss:' ? (env.https_proxy ?? env.HTTPS_PROXY) : (env.http_proxy ?? env.HTTP_PROXY)) ??
    env.all_proxy ??
    env.ALL_PROXY;
  if (fromEnv === undefined || fromEnv === '') return undefined;
  if (bypassesProxy(url.hostname, env.no_proxy ?? env.NO_PROXY ?? '')) return undefined;
  return parseProxyUrl(fromEnv);
}

function parseProxyUrl(text: string): URL {
  const proxy = new URL(text.includes('://') ? text : `http://${text}`);
  if (proxy.protocol !== 'http:')
    throw new TypeError(`only http:// proxies are supported, not ${proxy.protocol}`);
  return proxy;
}

export interface TunnelOptions {
  proxy: URL;
  target: URL;
  credential: PasswordCredential | null;
  signal: AbortSignal;
}

/**
 * Opens a CONNECT tunnel to the target's host and port. A 407 is answered once with the credential (on
 * a new connection); without one, or refused again, it fails with the proxy's status.
 */
export async function openTunnel(options: TunnelOptions): Promise<net.Socket> {
  const host = connectHost(options.target);
  const authority = `${host.includes(':') ? `[${host}]` : host}:${connectPort(options.target)}`;
  // Credentials in the proxy URL go with the first CONNECT.
  let authorization =
    options.proxy.username === ''
      ? undefined
      : basicAuthorization({
          username: decodeURIComponent(options.proxy.username),
          password: decodeURIComponent(options.proxy.password),
        });
  for (let attempt = 0; ; attempt++) {
    const outcome = await connectThrough(options.proxy, authority, authorization, options.signal);
    if ('socket' in outcome) return outcome.socket;
    // Only the proxy can answer a CONNECT: some (tinyproxy) refuse bad credentials with 401, not 407.
    const status = outcome.status === 401 ? 407 : outcome.status;
    const answer =
      status === 407 && attempt === 0 && options.credential !== null
        ? authorizationFor(parseChallenges(outcome.challenge), options.credential, 'CONNECT', authority)
        : undefined;
    if (answer === undefined) {
      throw new HandshakeError(`the proxy answered ${outcome.status} to CONNECT ${authority}`, status);
    }
    authorization = answer;
  }
}

type ConnectOutcome = { socket: net.Socket } | { status: number; challenge: string | string[] | undefined };

function connectThrough(
  proxy: URL,
  authority: string,
  authorization: string | undefined,
  signal: AbortSignal,
): Promise<ConnectOutcome> {
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: Number(proxy.port === '' ? 80 : proxy.port),
      method: 'CONNECT',
      path: authority,
      headers: {
        Host: authority,
        ...(authorization === undefined ? {} : { 'Proxy-Authorization': authorization }),
      },
      agent: false,
      signal,
    });
    request.once('connect', (response: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      if (response.statusCode === 200) {
        if (head.length > 0) socket.unshift(head);
        resolve({ socket });
        return;
      }
      socket.destroy();
      resolve({ status: response.statusCode ?? 0, challenge: challengeOf(response) });
    });
    request.once('response', (response: http.IncomingMessage) => {
      // Some proxies answer a refused CONNECT as an ordinary response.
      response.resume();
      request.destroy();
      resolve({ status: response.statusCode ?? 0, challenge: challengeOf(response) });
    });
    request.once('error', reject);
    request.end();
  });
}

/** The proxy's challenge; a proxy that answers 401 puts it in WWW-Authenticate. */
function challengeOf(response: http.IncomingMessage): string | string[] | undefined {
  return response.headers['proxy-authenticate'] ?? response.headers['www-authenticate'];
}
