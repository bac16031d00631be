// HTTP authentication for the opening handshake and for proxies: Basic (RFC 7617) and Digest (RFC 7616:
// MD5, SHA-256, SHA-512-256 and their -sess variants), answering the challenge of a 401 or 407.

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

/** The Digest algorithms spoken, strongest first (RFC 7616 §3.3; `-sess` variants by §3.4.2). */
const DIGEST_HASHES: ReadonlyMap<string, string> = new Map([
  ['sha-512-256', 'sha512-256'],
  ['sha-256', 'sha256'],
  ['md5', 'md5'],
]);

/** A challenge's Digest algorithm: its hash, and whether it is a `-sess` variant. */
function digestAlgorithm(
  challenge: Challenge,
): { hashName: string; session: boolean; rank: number } | undefined {
  const name = (challenge.params.algorithm ?? 'MD5').toLowerCase();
  const session = name.endsWith('-sess');
  const base = session ? name.slice(0, -'-sess'.length) : name;
  const hashName = DIGEST_HASHES.get(base);
  if (hashName === undefined) return undefined;
  return { hashName, session, rank: [...DIGEST_HASHES.keys()].indexOf(base) };
}

/**
 * The Authorization value answering `challenges` for a request of `method` on `uri`, or undefined when
 * there is nothing we may answer. Digest is answered with the strongest algorithm offered; when any
 * Digest challenge is offered, even one in an algorithm we do not speak, Basic is never used (the
 * password would go in clear where the server meant it not to).
 */
export function authorizationFor(
  challenges: readonly Challenge[],
  credential: PasswordCredential,
  method: string,
  uri: string,
): string | undefined {
  const digests = challenges.filter((challenge) => challenge.scheme === 'digest');
  if (digests.length === 0) {
    return challenges.some((challenge) => challenge.scheme === 'basic')
      ? basicAuthorization(credential)
      : undefined;
  }
  const best = digests
    .flatMap((challenge) => {
      const algorithm = digestAlgorithm(challenge);
      return algorithm === undefined ? [] : [{ challenge, algorithm }];
    })
    .sort((a, b) => a.algorithm.rank - b.algorithm.rank)[0];
  if (best === undefined) return undefined;
  return digestAuthorization(best.challenge.params, best.algorithm, credential, method, uri);
}

function digestAuthorization(
  params: Readonly<Record<string, string>>,
  algorithm: { hashName: string; session: boolean },
  credential: PasswordCredential,
  method: string,
  uri: string,
): string {
  // Header values arrive as Node decodes them, one character per byte (latin1): the realm's bytes are
  // hashed as they came, so a UTF-8 realm is hashed as UTF-8. The credential is a string: UTF-8.
  const hash = (...parts: (string | Buffer)[]): string => {
    const digest = createHash(algorithm.hashName);
    parts.forEach((part, index) => {
      if (index > 0) digest.update(':');
      digest.update(part);
    });
    return digest.digest('hex');
  };
  const realm = params.realm ?? '';
  const nonce = params.nonce ?? '';
  const qop = (params.qop ?? '')
    .split(',')
    .map((option) => option.trim())
    .includes('auth')
    ? 'auth'
    : undefined;
  const cnonce = randomBytes(12).toString('hex');
  const nc = '00000001';
  const secret = hash(
    Buffer.from(credential.username, 'utf8'),
    Buffer.from(realm, 'latin1'),
    Buffer.from(credential.password, 'utf8'),
  );
  const ha1 = algorithm.session ? hash(secret, nonce, cnonce) : secret;
  const ha2 = hash(method, uri);
  const fields: [string, string, boolean][] = [
    ['username', Buffer.from(credential.username, 'utf8').toString('latin1'), true],
    ['realm', realm, true],
    ['nonce', nonce, true],
    ['uri', uri, true],
    ['algorithm', params.algorithm ?? 'MD5', false],
  ];
  const response = qop === undefined ? hash(ha1, nonce, ha2) : hash(ha1, nonce, nc, cnonce, qop, ha2);
  if (qop !== undefined) fields.push(['qop', qop, false], ['nc', nc, false]);
  // The client nonce goes with qop, and with a -sess algorithm (it is part of the session key).
  if (qop !== undefined || algorithm.session) fields.push(['cnonce', cnonce, true]);
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
