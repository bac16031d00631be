// The server certificate of a wss: connection, judged the way WinRT reports it: every problem found, as
// ChainValidationResult values, with a severity. The chain is built and checked here against the trust
// anchors (OpenSSL reports only one error, and ignoring that one must not let another one through).

import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';

import { HResult, WebErrorStatus, WebSocketError } from '../errors.js';

/** Windows.Security.Cryptography.Certificates.ChainValidationResult. */
export const ChainValidationResult = {
  Success: 0,
  Untrusted: 1,
  Revoked: 2,
  Expired: 3,
  IncompleteChain: 4,
  InvalidSignature: 5,
  WrongUsage: 6,
  InvalidName: 7,
  InvalidCertificateAuthorityPolicy: 8,
  BasicConstraintsError: 9,
  UnknownCriticalExtension: 10,
  RevocationInformationMissing: 11,
  RevocationFailure: 12,
  OtherErrors: 13,
} as const;
export type ChainValidationResult = (typeof ChainValidationResult)[keyof typeof ChainValidationResult];

/** Windows.Networking.Sockets.SocketSslErrorSeverity. */
export const SocketSslErrorSeverity = {
  None: 0,
  Ignorable: 1,
  Fatal: 2,
} as const;
export type SocketSslErrorSeverity = (typeof SocketSslErrorSeverity)[keyof typeof SocketSslErrorSeverity];

/** The errors an application may choose to ignore (WinRT: expired, name mismatch, untrusted CA). */
const IGNORABLE: ReadonlySet<ChainValidationResult> = new Set([
  ChainValidationResult.Untrusted,
  ChainValidationResult.Expired,
  ChainValidationResult.InvalidName,
  ChainValidationResult.IncompleteChain,
]);

export interface ServerCertificateReport {
  certificate: X509Certificate;
  intermediates: X509Certificate[];
  /** Every problem found, without repeats; empty when the certificate is valid. */
  errors: ChainValidationResult[];
  severity: SocketSslErrorSeverity;
}

const MAX_CHAIN_LENGTH = 10;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';

/** A certificate with an extended key usage must list serverAuth (or any) to serve TLS. */
function allowsServerAuth(certificate: X509Certificate): boolean {
  const usages = certificate.keyUsage as string[] | undefined;
  return usages === undefined || usages.includes(SERVER_AUTH) || usages.includes(ANY_EXTENDED_KEY_USAGE);
}

function isAnchor(cert: X509Certificate, anchors: readonly X509Certificate[]): boolean {
  return anchors.some((anchor) => anchor.fingerprint256 === cert.fingerprint256);
}

/** Problems of the chain's path to an anchor: any one of them means it does not lead to trust. */
const CHAIN_ERRORS: ReadonlySet<ChainValidationResult> = new Set([
  ChainValidationResult.Untrusted,
  ChainValidationResult.IncompleteChain,
  ChainValidationResult.InvalidSignature,
]);

/** OpenSSL's verification codes, as Node reports them in authorizationError. */
const OPENSSL_ERRORS: Readonly<Record<string, ChainValidationResult>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: ChainValidationResult.Untrusted,
  SELF_SIGNED_CERT_IN_CHAIN: ChainValidationResult.Untrusted,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ChainValidationResult.Untrusted,
  UNABLE_TO_GET_ISSUER_CERT: ChainValidationResult.Untrusted,
  CERT_UNTRUSTED: ChainValidationResult.Untrusted,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: ChainValidationResult.IncompleteChain,
  // Node's own host name check, when the chain itself verified.
  ERR_TLS_CERT_ALTNAME_INVALID: ChainValidationResult.InvalidName,
  CERT_HAS_EXPIRED: ChainValidationResult.Expired,
  CERT_NOT_YET_VALID: ChainValidationResult.Expired,
  CERT_REVOKED: ChainValidationResult.Revoked,
  CERT_SIGNATURE_FAILURE: ChainValidationResult.InvalidSignature,
  INVALID_PURPOSE: ChainValidationResult.WrongUsage,
  INVALID_CA: ChainValidationResult.BasicConstraintsError,
};
let systemRoots: X509Certificate[] | undefined;

/** The anchors: the system's roots (Node's bundled store) and the application's own, if any. */
export function trustAnchors(extra: readonly (string | Buffer)[]): X509Certificate[] {
  systemRoots ??= tls.rootCertificates.map((pem) => new X509Certificate(pem));
  return [...systemRoots, ...extra.flatMap(splitPem).map((pem) => new X509Certificate(pem))];
}

/** Judges the certificate chain a server presented on `socket` for `host`. */
export function checkServerCertificate(
  socket: tls.TLSSocket,
  host: string,
  anchors: readonly X509Certificate[],
  now = new Date(),
): ServerCertificateReport {
  const presented = presentedChain(socket);
  const [certificate, ...intermediates] = presented;
  if (certificate === undefined) {
    return {
      certificate: new X509Certificate(''),
      intermediates: [],
      errors: [ChainValidationResult.OtherErrors],
      severity: SocketSslErrorSeverity.Fatal,
    };
  }
  const errors = new Set<ChainValidationResult>(chainErrors(certificate, intermediates, anchors));
  if (!allowsServerAuth(certificate)) errors.add(ChainValidationResult.WrongUsage);
  for (const cert of presented) {
    if (now < new Date(cert.validFrom) || now > new Date(cert.validTo))
      errors.add(ChainValidationResult.Expired);
  }
  if (!socket.authorized) {
    // Node reports OpenSSL's verification code (a string, whatever its typings say).
    const openSslVerdict = OPENSSL_ERRORS[String(socket.authorizationError)];
    // OpenSSL's one verdict backs up ours: whatever it found is reported too.
    const alreadyFound =
      openSslVerdict !== undefined &&
      (errors.has(openSslVerdict) ||
        (CHAIN_ERRORS.has(openSslVerdict) && [...errors].some((e) => CHAIN_ERRORS.has(e))));
    if (!alreadyFound) errors.add(openSslVerdict ?? ChainValidationResult.OtherErrors);
  }
  if (tls.checkServerIdentity(host, socket.getPeerCertificate()) !== undefined) {
    errors.add(ChainValidationResult.InvalidName);
  }
  const list = [...errors].sort((a, b) => a - b);
  const severity =
    list.length === 0
      ? SocketSslErrorSeverity.None
      : list.every((error) => IGNORABLE.has(error))
        ? SocketSslErrorSeverity.Ignorable
        : SocketSslErrorSeverity.Fatal;
  // Node completes the chain from our own trust store; what the server sent is the rest.
  const sent = intermediates.filter((cert) => !isAnchor(cert, anchors));
  return { certificate, intermediates: sent, errors: list, severity };
}

/**
 * The error that fails the connect, or undefined when every problem is listed as ignorable. Fatal
 * problems (a bad signature, a broken chain) cannot be ignored.
 */
export function certificateFailure(
  report: ServerCertificateReport,
  ignorable: readonly ChainValidationResult[],
): WebSocketError | undefined {
  const remaining = report.errors.filter((error) => !(IGNORABLE.has(error) && ignorable.includes(error)));
  if (remaining.length === 0) return undefined;
  const names = remaining.map(nameOf).join(', ');
  const [status, hresult] =
    remaining.length > 1
      ? [WebErrorStatus.CertificateContainsErrors, HResult.WININET_E_SEC_CERT_ERRORS]
      : statusOf(remaining[0]!);
  return new WebSocketError(status, `the server certificate is not valid: ${names}`, { hresult });
}

/** The status and HRESULT of a single certificate problem. */
function statusOf(error: ChainValidationResult): [WebErrorStatus, number] {
  switch (error) {
    case ChainValidationResult.InvalidName:
      return [WebErrorStatus.CertificateCommonNameIsIncorrect, HResult.WININET_E_SEC_CERT_CN_INVALID];
    case ChainValidationResult.Expired:
      return [WebErrorStatus.CertificateExpired, HResult.WININET_E_SEC_CERT_DATE_INVALID];
    case ChainValidationResult.Revoked:
      return [WebErrorStatus.CertificateRevoked, HResult.WININET_E_SEC_CERT_REVOKED];
    default:
      return [WebErrorStatus.CertificateIsInvalid, HResult.WININET_E_SEC_INVALID_CERT];
  }
}

function nameOf(error: ChainValidationResult): string {
  return Object.entries(ChainValidationResult).find(([, value]) => value === error)?.[0] ?? String(error);
}

/**
 * Walks from the leaf to a trust anchor through the presented certificates. Untrusted: the walk ends at
 * a self-signed certificate that is not an anchor; IncompleteChain: it ends at a certificate whose
 * issuer is nowhere; InvalidSignature: an issuer's key does not verify its child; BasicConstraintsError:
 * an issuer is not a CA.
 */
function chainErrors(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
): ChainValidationResult[] {
  const errors: ChainValidationResult[] = [];
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_LENGTH; depth++) {
    if (isAnchor(current, anchors)) return errors;
    const candidates = [...intermediates, ...anchors].filter(
      (cert) => cert.fingerprint256 !== current.fingerprint256 && current.checkIssued(cert),
    );
    const issuer = candidates.find((cert) => current.verify(cert.publicKey));
    if (issuer === undefined) {
      errors.push(deadEnd(current, candidates.length > 0, depth));
      return errors;
    }
    if (!issuer.ca) errors.push(ChainValidationResult.BasicConstraintsError);
    if (isAnchor(issuer, anchors)) return errors;
    current = issuer;
  }
  errors.push(ChainValidationResult.OtherErrors);
  return errors;
}

/**
 * Why the walk stopped at `current`: an issuer whose key does not verify it (InvalidSignature); a
 * self-signed certificate that is no anchor (Untrusted); a chain the server sent that leads to an
 * unknown root (Untrusted, as OpenSSL's "unable to get local issuer"); a lone leaf whose issuer is
 * nowhere (IncompleteChain, the server left out its intermediate).
 */
function deadEnd(
  current: X509Certificate,
  issuerFailedToVerify: boolean,
  depth: number,
): ChainValidationResult {
  if (issuerFailedToVerify) return ChainValidationResult.InvalidSignature;
  if (current.subject === current.issuer) {
    return current.verify(current.publicKey)
      ? ChainValidationResult.Untrusted
      : ChainValidationResult.InvalidSignature;
  }
  return depth > 0 ? ChainValidationResult.Untrusted : ChainValidationResult.IncompleteChain;
}

/** The leaf first, then what the server sent with it (not the anchors OpenSSL may have appended). */
function presentedChain(socket: tls.TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  // Node leaves issuerCertificate undefined when it knows no issuer, and makes it the certificate
  // itself at a self-signed root.
  const issuerOf = (cert: tls.DetailedPeerCertificate): tls.DetailedPeerCertificate | undefined =>
    cert.issuerCertificate;
  let peer: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (peer !== undefined && Object.keys(peer).length > 0 && !seen.has(peer.fingerprint256)) {
    seen.add(peer.fingerprint256);
    chain.push(new X509Certificate(peer.raw));
    peer = issuerOf(peer);
  }
  return chain;
}

function splitPem(pem: string | Buffer): string[] {
  return String(pem).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
