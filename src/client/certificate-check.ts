// The server certificate of a wss: connection, judged the way WinRT reports it: every problem found, as
// ChainValidationResult values, with a severity. The path to a trust anchor is built here, and each rule
// is checked here (chain-rules.ts), so that an ignorable error never hides another: OpenSSL reports only
// the last error it met, and its verdict is a backup, not the judgement.

import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

import { HResult, WebErrorStatus, WebSocketError } from '../errors.js';
import { pathProblems, type ChainProblem } from './chain-rules.js';
import {
  ChainValidationResult,
  chainValidationResultName,
  SocketSslErrorSeverity,
} from './chain-validation-result.js';

/** WinRT's ignorable errors: they give the severity Ignorable (anything else is Fatal). */
const WINRT_IGNORABLE: ReadonlySet<ChainValidationResult> = new Set([
  ChainValidationResult.Untrusted,
  ChainValidationResult.Expired,
  ChainValidationResult.InvalidName,
]);

/** The errors an application may ignore by listing them: WinRT's, and IncompleteChain. */
const LISTABLE: ReadonlySet<ChainValidationResult> = new Set([
  ...WINRT_IGNORABLE,
  ChainValidationResult.IncompleteChain,
]);

export interface ServerCertificateReport {
  certificate: X509Certificate;
  intermediates: X509Certificate[];
  /** Every problem found, without repeats; empty when the certificate is valid. */
  errors: ChainValidationResult[];
  severity: SocketSslErrorSeverity;
  /** What each rule-breaking problem is, in words (for the error message). */
  details: string[];
}

const MAX_CHAIN_LENGTH = 10;

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
  CERT_HAS_EXPIRED: ChainValidationResult.Expired,
  CERT_NOT_YET_VALID: ChainValidationResult.Expired,
  CERT_REVOKED: ChainValidationResult.Revoked,
  CERT_SIGNATURE_FAILURE: ChainValidationResult.InvalidSignature,
  CA_MD_TOO_WEAK: ChainValidationResult.InvalidSignature,
  EE_KEY_TOO_SMALL: ChainValidationResult.InvalidSignature,
  CA_KEY_TOO_SMALL: ChainValidationResult.InvalidSignature,
  INVALID_PURPOSE: ChainValidationResult.WrongUsage,
  KEYUSAGE_NO_CERTSIGN: ChainValidationResult.WrongUsage,
  INVALID_CA: ChainValidationResult.BasicConstraintsError,
  PATH_LENGTH_EXCEEDED: ChainValidationResult.BasicConstraintsError,
  UNHANDLED_CRITICAL_EXTENSION: ChainValidationResult.UnknownCriticalExtension,
  PERMITTED_VIOLATION: ChainValidationResult.InvalidCertificateAuthorityPolicy,
  EXCLUDED_VIOLATION: ChainValidationResult.InvalidCertificateAuthorityPolicy,
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
      details: ['the server sent no certificate'],
    };
  }
  const anchored = (cert: X509Certificate): boolean => isAnchor(cert, anchors);
  const { path, errors: walkErrors } = buildPath(certificate, intermediates, anchors);
  const problems: ChainProblem[] = pathProblems(path, anchored);
  const errors = new Set<ChainValidationResult>([...walkErrors, ...problems.map((p) => p.error)]);
  for (const cert of new Set([...presented, ...path])) {
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
  if (!namesHost(certificate, host)) errors.add(ChainValidationResult.InvalidName);
  const list = [...errors].sort((a, b) => a - b);
  const severity =
    list.length === 0
      ? SocketSslErrorSeverity.None
      : list.every((error) => WINRT_IGNORABLE.has(error))
        ? SocketSslErrorSeverity.Ignorable
        : SocketSslErrorSeverity.Fatal;
  // Node completes the chain from our own trust store; what the server sent is the rest.
  const sent = intermediates.filter((cert) => !anchored(cert));
  return { certificate, intermediates: sent, errors: list, severity, details: problems.map((p) => p.detail) };
}

/**
 * Whether the certificate is for `host`: an IP address against its IP address names, a host name
 * against its DNS names. The common name is never used (as browsers do): a name there escapes the
 * name constraints of the CAs above it.
 */
function namesHost(certificate: X509Certificate, host: string): boolean {
  if (net.isIP(host) !== 0) return certificate.checkIP(host) !== undefined;
  return certificate.checkHost(host, { subject: 'never', partialWildcards: false }) !== undefined;
}

/**
 * The error that fails the connect, or undefined when every problem is listed as ignorable. Fatal
 * problems (a bad signature, a broken rule) cannot be ignored. The message names every error found.
 */
export function certificateFailure(
  report: ServerCertificateReport,
  ignorable: readonly ChainValidationResult[],
): WebSocketError | undefined {
  const ignored = (error: ChainValidationResult): boolean => LISTABLE.has(error) && ignorable.includes(error);
  const remaining = report.errors.filter((error) => !ignored(error));
  if (remaining.length === 0) return undefined;
  const alsoIgnored = report.errors.filter(ignored);
  const message = [
    `the server certificate is not valid: ${remaining.map(chainValidationResultName).join(', ')}`,
    alsoIgnored.length === 0
      ? ''
      : ` (also found, ignored as listed: ${alsoIgnored.map(chainValidationResultName).join(', ')})`,
    report.details.length === 0 ? '' : `: ${report.details.join('; ')}`,
  ].join('');
  const [status, hresult] =
    remaining.length > 1
      ? [WebErrorStatus.CertificateContainsErrors, HResult.WININET_E_SEC_CERT_ERRORS]
      : statusOf(remaining[0]!);
  return new WebSocketError(status, message, { hresult });
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

/**
 * Walks from the leaf to a trust anchor through the presented certificates and the anchors; returns
 * the path walked (the leaf first, the anchor last when one was reached) and what broke it.
 * BasicConstraintsError: an issuer is not a CA. A path that reaches no anchor is Untrusted, and also
 * InvalidSignature (an issuer's key does not verify its child) or IncompleteChain (a certificate whose
 * issuer is nowhere: the server left out its intermediate).
 */
function buildPath(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
): { path: X509Certificate[]; errors: ChainValidationResult[] } {
  const errors: ChainValidationResult[] = [];
  const path = [leaf];
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_LENGTH; depth++) {
    if (isAnchor(current, anchors)) return { path, errors };
    const candidates = [...intermediates, ...anchors].filter(
      (cert) => cert.fingerprint256 !== current.fingerprint256 && current.checkIssued(cert),
    );
    const issuer = candidates.find((cert) => current.verify(cert.publicKey));
    if (issuer === undefined) {
      errors.push(...deadEnd(current, candidates.length > 0, depth), ChainValidationResult.Untrusted);
      return { path, errors };
    }
    if (!issuer.ca) errors.push(ChainValidationResult.BasicConstraintsError);
    path.push(issuer);
    current = issuer;
  }
  errors.push(ChainValidationResult.OtherErrors, ChainValidationResult.Untrusted);
  return { path, errors };
}

/**
 * Why the walk stopped at `current`, besides Untrusted: an issuer whose key does not verify it, or a
 * self-signature that does not verify (InvalidSignature); a lone leaf whose issuer is nowhere
 * (IncompleteChain). A self-signed certificate that is no anchor, or a chain the server sent that leads
 * to an unknown root, is only Untrusted.
 */
function deadEnd(
  current: X509Certificate,
  issuerFailedToVerify: boolean,
  depth: number,
): ChainValidationResult[] {
  if (issuerFailedToVerify) return [ChainValidationResult.InvalidSignature];
  if (current.subject === current.issuer) {
    return current.verify(current.publicKey) ? [] : [ChainValidationResult.InvalidSignature];
  }
  return depth > 0 ? [] : [ChainValidationResult.IncompleteChain];
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
