// HTTP authentication for the opening handshake and for proxies: Basic (RFC 7617) and Digest (RFC 7616,
// MD5 and SHA-256), answering the challenge of a 401 or 407.

import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';

/** WinRT's PasswordCredential, as the API takes it. */
export interface PasswordCredential {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses WWW-Authenticate / Proxy-Authenticate values: `Scheme k=v, k="v"`, several challenges. */
export function parseChallenges(headerValue: string | string[] | undefined): Challenge[] {
  const values = Array.isArray(headerValue) ? headerValue : headerValue === undefined ? [] : [headerValue];
  const challenges: Challenge[] = [];
  for (const value of values) {
    // Sticky: each match starts where the last ended, so a stray character ends the parse at once
    // instead of making the engine retry at every later position.
    const pattern = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?\s*,?/y;
    let current: Challenge | undefined;
    for (let match = pattern.exec(value); match !== null && match[0] !== ''; match = pattern.exec(value)) {
      const [, name = '', raw] = match;
      if (raw === undefined) {
        current = { scheme: name.toLowerCase(), params: {} };
        challenges.push(current);
      } else if (current !== undefined) {
        const quoted = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"');
        current.params[name.toLowerCase()] = quoted ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
      }
    }
  }
  return challenges;
}

export function basicAuthorization(credential: PasswordCredential): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`, 'utf8').toString('base64')}`;
}

const DIGEST_HASHES: ReadonlyMap<string, string> = new Map([
  ['md5', 'md5'],
  ['sha-256', 'sha256'],
]);

/**
 * The Authorization value answering `challenges` for a request of `method` on `uri`, or undefined when
 * no challenge uses a scheme we speak. Digest (the stronger) is preferred over Basic.
 */
export function authorizationFor(
  challenges: readonly Challenge[],
  credential: PasswordCredential,
  method: string,
  uri: string,
): string | undefined {
  const digest = challenges.find(
    (challenge) =>
      challenge.scheme === 'digest' && DIGEST_HASHES.has((challenge.params.algorithm ?? 'MD5').toLowerCase()),
  );
  if (digest !== undefined) return digestAuthorization(digest.params, credential, method, uri);
  if (challenges.some((challenge) => challenge.scheme === 'basic')) return basicAuthorization(credential);
  return undefined;
}

function digestAuthorization(
  params: Readonly<Record<string, string>>,
  credential: PasswordCredential,
  method: string,
  uri: string,
): string {
  const algorithm = params.algorithm ?? 'MD5';
  const hashName = DIGEST_HASHES.get(algorithm.toLowerCase())!;
  const hash = (text: string): string => createHash(hashName).update(text, 'utf8').digest('hex');
  const realm = params.realm ?? '';
  const nonce = params.nonce ?? '';
  const qop = (params.qop ?? '')
    .split(',')
    .map((option) => option.trim())
    .includes('auth')
    ? 'auth'
    : undefined;
  const ha1 = hash(`${credential.username}:${realm}:${credential.password}`);
  const ha2 = hash(`${method}:${uri}`);
  const fields: [string, string, boolean][] = [
    ['username', credential.username, true],
    ['realm', realm, true],
    ['nonce', nonce, true],
    ['uri', uri, true],
    ['algorithm', algorithm, false],
  ];
  let response: string;
  if (qop === undefined) {
    response = hash(`${ha1}:${nonce}:${ha2}`);
  } else {
    const cnonce = randomBytes(12).toString('hex');
    const nc = '00000001';
    response = hash(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
    fields.push(['qop', qop, false], ['nc', nc, false], ['cnonce', cnonce, true]);
  }
  fields.push(['response', response, true]);
  if (params.opaque !== undefined) fields.push(['opaque', params.opaque, true]);
  const quote = (text: string): string => `"${text.replace(/(["\\])/g, '\\$1')}"`;
  return `Digest ${fields.map(([name, value, quoted]) => `${name}=${quoted ? quote(value) : value}`).join(', ')}`;
}

/** The credential of a Basic Authorization header (for servers that check it), or undefined. */
export function parseBasicAuthorization(headerValue: string | undefined): PasswordCredential | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(headerValue ?? '');
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
