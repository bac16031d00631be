// A throwaway public-key infrastructure for the wss: tests, made at test time with the `openssl` command
// (OpenSSL 3.0 or newer) in a temporary directory that is removed afterwards. EC P-256 keys throughout,
// because they are quick to generate. Everything comes back as PEM strings (and one PKCS#12 bundle).
//
//   root CA ─┬─ intermediate CA ─┬─ leaf             (SAN DNS:localhost, IP:127.0.0.1)
//            │                   ├─ wrongName        (SAN DNS:wrong.example)
//            │                   ├─ expired          (valid in January 2020 only; right names)
//            │                   ├─ wrongUsage       (extendedKeyUsage clientAuth only)
//            │                   └─ expiredWrongUsage (both of the above)
//            ├─ notCa            (basicConstraints CA:FALSE, no keyUsage) ── leafOfNotCa
//            └─ client           (extendedKeyUsage clientAuth; also as a PKCS#12 bundle with a passphrase)
//   selfSigned, expiredSelfSigned: leaves that sign themselves (right names, CA:FALSE, no keyUsage)
//   selfSignedDigitalSignatureOnly: the same with keyUsage digitalSignature (so not keyCertSign)
//
// Validity dates in the past need `openssl ca -startdate/-enddate`: `openssl x509 -req` of OpenSSL 3.0
// has no -not_before. So every certificate is issued with `openssl ca`, each with a database of its own
// (an empty index and a random serial), which keeps the calls independent and free to run in parallel.

import { Buffer } from 'node:buffer';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its private key (unencrypted PKCS#8), both PEM. */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

export interface TestPki {
  /** Self-signed root CA (CN=stream-websocket Test Root CA). */
  root: CertificateAndKey;
  /** CA signed by the root (CN=stream-websocket Test Intermediate CA). */
  intermediate: CertificateAndKey;
  /** Server leaf for 127.0.0.1 and localhost, signed by the intermediate (CN=localhost). */
  leaf: CertificateAndKey;
  /** Server leaf for wrong.example only, signed by the intermediate. */
  wrongName: CertificateAndKey;
  /** Server leaf for 127.0.0.1 and localhost that expired in 2020, signed by the intermediate. */
  expired: CertificateAndKey;
  /** Server leaf for 127.0.0.1 and localhost whose extended key usage is clientAuth only. */
  wrongUsage: CertificateAndKey;
  /** Expired and clientAuth only: two problems, one of them fatal. */
  expiredWrongUsage: CertificateAndKey;
  /** Self-signed server leaf for 127.0.0.1 and localhost, without keyUsage (as `openssl req -x509` makes). */
  selfSigned: CertificateAndKey;
  /** Self-signed server leaf whose keyUsage is digitalSignature only (no keyCertSign), as many tools make. */
  selfSignedDigitalSignatureOnly: CertificateAndKey;
  /** Self-signed server leaf for 127.0.0.1 and localhost that expired in 2020 (no keyUsage). */
  expiredSelfSigned: CertificateAndKey;
  /** Signed by the root, but basicConstraints CA:FALSE: it may not issue certificates. */
  notCa: CertificateAndKey;
  /** Server leaf for 127.0.0.1 and localhost issued by `notCa`. */
  leafOfNotCa: CertificateAndKey;
  /** Client certificate signed by the root (CN=stream-websocket test client, clientAuth). */
  client: CertificateAndKey;
  /** The client certificate and key as PKCS#12, encrypted with `clientPfxPassphrase`. */
  clientPfx: Buffer;
  clientPfxPassphrase: string;
}

export const ROOT_CN = 'stream-websocket Test Root CA';
export const INTERMEDIATE_CN = 'stream-websocket Test Intermediate CA';
export const CLIENT_CN = 'stream-websocket test client';

const SERVER_NAMES = 'DNS:localhost,IP:127.0.0.1';

export const EXTENSIONS = {
  ca: ['basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign'],
  notCa: ['basicConstraints = critical,CA:FALSE'],
  server: (names: string): string[] => [
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature',
    'extendedKeyUsage = serverAuth',
    `subjectAltName = ${names}`,
  ],
  selfSigned: (names: string): string[] => [
    'basicConstraints = critical,CA:FALSE',
    'extendedKeyUsage = serverAuth',
    `subjectAltName = ${names}`,
  ],
  clientOnly: (names: string): string[] => [
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature',
    'extendedKeyUsage = clientAuth',
    `subjectAltName = ${names}`,
  ],
  client: [
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature',
    'extendedKeyUsage = clientAuth',
  ],
} as const;

/** Valid from yesterday for ten years (yesterday: a little clock skew does not matter). */
const CURRENT = { start: daysFromNow(-1), end: daysFromNow(3650) };
const PAST = { start: '20200101000000Z', end: '20200201000000Z' };

interface Validity {
  start: string;
  end: string;
}

/** Concatenates PEM certificates into the chain a server sends (leaf first). */
export function pemChain(...certs: string[]): string {
  return certs.map((cert) => (cert.endsWith('\n') ? cert : `${cert}\n`)).join('');
}

/** Makes the whole set of test certificates; takes a few hundred milliseconds. */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stream-websocket-pki-'));
  try {
    const openssl = new OpenSsl(dir);
    await writeFile(openssl.reqConfig, '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n');

    const root = await openssl.issue('root', `/CN=${ROOT_CN}`, EXTENSIONS.ca, CURRENT, 'self');
    const [intermediate, notCa, client, selfSigned, selfSignedDigitalSignatureOnly, expiredSelfSigned] =
      await Promise.all([
        openssl.issue('intermediate', `/CN=${INTERMEDIATE_CN}`, EXTENSIONS.ca, CURRENT, root),
        openssl.issue('not-ca', '/CN=stream-websocket Test Not-a-CA', EXTENSIONS.notCa, CURRENT, root),
        openssl.issue('client', `/CN=${CLIENT_CN}`, EXTENSIONS.client, CURRENT, root),
        openssl.issue('self-signed', '/CN=localhost', EXTENSIONS.selfSigned(SERVER_NAMES), CURRENT, 'self'),
        openssl.issue('self-signed-ds', '/CN=localhost', EXTENSIONS.server(SERVER_NAMES), CURRENT, 'self'),
        openssl.issue(
          'expired-self-signed',
          '/CN=localhost',
          EXTENSIONS.selfSigned(SERVER_NAMES),
          PAST,
          'self',
        ),
      ]);
    const [leaf, wrongName, expired, wrongUsage, expiredWrongUsage, leafOfNotCa] = await Promise.all([
      openssl.issue('leaf', '/CN=localhost', EXTENSIONS.server(SERVER_NAMES), CURRENT, intermediate),
      openssl.issue(
        'wrong-name',
        '/CN=wrong.example',
        EXTENSIONS.server('DNS:wrong.example'),
        CURRENT,
        intermediate,
      ),
      openssl.issue('expired', '/CN=localhost', EXTENSIONS.server(SERVER_NAMES), PAST, intermediate),
      openssl.issue(
        'wrong-usage',
        '/CN=localhost',
        EXTENSIONS.clientOnly(SERVER_NAMES),
        CURRENT,
        intermediate,
      ),
      openssl.issue(
        'expired-wrong-usage',
        '/CN=localhost',
        EXTENSIONS.clientOnly(SERVER_NAMES),
        PAST,
        intermediate,
      ),
      openssl.issue('leaf-of-not-ca', '/CN=localhost', EXTENSIONS.server(SERVER_NAMES), CURRENT, notCa),
    ]);
    const clientPfxPassphrase = 'pfx-passphrase';
    const clientPfx = await openssl.pkcs12('client', client, clientPfxPassphrase);
    return {
      root,
      intermediate,
      leaf,
      wrongName,
      expired,
      wrongUsage,
      expiredWrongUsage,
      selfSigned,
      selfSignedDigitalSignatureOnly,
      expiredSelfSigned,
      notCa,
      leafOfNotCa,
      client,
      clientPfx,
      clientPfxPassphrase,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** How `issue` makes a certificate beyond its subject, extensions and issuer. */
export interface IssueOptions {
  /** Valid now (the default) or only in January 2020. */
  expired?: boolean;
  /** The new certificate's key: EC P-256 (the default) or RSA of this many bits. */
  rsaBits?: number;
  /** The digest the issuer signs with (default sha256). */
  digest?: 'sha256' | 'sha1';
}

export type Issue = (
  name: string,
  subject: string,
  extensions: readonly string[],
  issuer: CertificateAndKey | 'self',
  options?: IssueOptions,
) => Promise<CertificateAndKey>;

/**
 * Runs `work` with a certificate factory in a temporary directory (removed afterwards), for tests that
 * need certificates beyond the standard set. Extensions are OpenSSL config lines.
 */
export async function withCertificateFactory<T>(work: (issue: Issue) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stream-websocket-pki-'));
  try {
    const openssl = new OpenSsl(dir);
    await writeFile(openssl.reqConfig, '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n');
    return await work((name, subject, extensions, issuer, options = {}) =>
      openssl.issue(name, subject, extensions, options.expired === true ? PAST : CURRENT, issuer, options),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

class OpenSsl {
  readonly reqConfig: string;

  constructor(private readonly dir: string) {
    this.reqConfig = path.join(dir, 'req.cnf');
  }

  /**
   * A new key, and a certificate for it issued by `issuer` ('self': signed by its own key) with these
   * extensions and dates.
   */
  async issue(
    name: string,
    subject: string,
    extensions: readonly string[],
    validity: Validity,
    issuer: CertificateAndKey | 'self',
    options: Pick<IssueOptions, 'rsaBits' | 'digest'> = {},
  ): Promise<CertificateAndKey> {
    const file = (suffix: string): string => path.join(this.dir, `${name}${suffix}`);
    await this.openssl([
      'req',
      '-new',
      '-config',
      this.reqConfig,
      ...(options.rsaBits === undefined
        ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']
        : ['-newkey', `rsa:${options.rsaBits}`]),
      '-nodes',
      '-keyout',
      file('.key'),
      '-subj',
      subject,
      '-out',
      file('.csr'),
    ]);
    const database = file('.db');
    await rm(database, { recursive: true, force: true });
    await mkdir(database);
    await writeFile(path.join(database, 'index.txt'), '');
    // A positive 64-bit serial, random so that no two certificates of an issuer share one.
    const serialBytes = randomBytes(8);
    serialBytes[0] = (serialBytes[0]! & 0x7f) | 0x10;
    const serial = serialBytes.toString('hex');
    await writeFile(path.join(database, 'serial'), `${serial}\n`);
    const config = [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `database = ${path.join(database, 'index.txt')}`,
      `serial = ${path.join(database, 'serial')}`,
      `new_certs_dir = ${database}`,
      `default_md = ${options.digest ?? 'sha256'}`,
      'policy = policy_any',
      'unique_subject = no',
      'copy_extensions = none',
      'email_in_dn = no',
      '[policy_any]',
      'commonName = supplied',
      '[extensions]',
      'subjectKeyIdentifier = hash',
      ...(issuer === 'self' ? [] : ['authorityKeyIdentifier = keyid:always']),
      ...extensions,
      '',
    ].join('\n');
    await writeFile(file('.ca.cnf'), config);
    const signer =
      issuer === 'self'
        ? ['-selfsign', '-keyfile', file('.key')]
        : [
            '-cert',
            await this.save(file('.issuer.pem'), issuer.cert),
            '-keyfile',
            await this.save(file('.issuer.key'), issuer.key),
          ];
    await this.openssl([
      'ca',
      '-config',
      file('.ca.cnf'),
      '-batch',
      '-notext',
      '-startdate',
      validity.start,
      '-enddate',
      validity.end,
      '-extensions',
      'extensions',
      ...signer,
      '-in',
      file('.csr'),
      '-out',
      file('.pem'),
    ]);
    return { cert: await readFile(file('.pem'), 'utf8'), key: await readFile(file('.key'), 'utf8') };
  }

  /** `subject` (certificate and key) as a PKCS#12 bundle encrypted with `passphrase`. */
  async pkcs12(name: string, subject: CertificateAndKey, passphrase: string): Promise<Buffer> {
    const out = path.join(this.dir, `${name}.p12`);
    await this.openssl([
      'pkcs12',
      '-export',
      '-in',
      await this.save(path.join(this.dir, `${name}.p12-cert.pem`), subject.cert),
      '-inkey',
      await this.save(path.join(this.dir, `${name}.p12-key.pem`), subject.key),
      '-name',
      name,
      '-passout',
      `pass:${passphrase}`,
      '-out',
      out,
    ]);
    return readFile(out);
  }

  private async save(file: string, contents: string): Promise<string> {
    await writeFile(file, contents);
    return file;
  }

  private async openssl(args: string[]): Promise<void> {
    try {
      await run('openssl', args, {
        cwd: this.dir,
        env: { ...process.env, OPENSSL_CONF: this.reqConfig },
        timeout: 20_000,
      });
    } catch (error) {
      const stderr = (error as { stderr?: unknown }).stderr;
      throw new Error(
        `openssl ${args[0] ?? ''} failed: ${typeof stderr === 'string' ? stderr : String(error)}`,
        {
          cause: error,
        },
      );
    }
  }
}

function daysFromNow(days: number): string {
  const date = new Date(Date.now() + days * 86_400_000);
  // openssl ca wants YYYYMMDDHHMMSSZ (GeneralizedTime) or YYMMDDHHMMSSZ.
  return `${date.toISOString().slice(0, 19).replace(/[-T:]/g, '')}Z`;
}
