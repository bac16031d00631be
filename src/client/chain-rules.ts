// The rules a certificate path must keep besides its signatures and dates, checked here rather than left
// to OpenSSL's one verdict (which an expired leaf hides): path length constraints, key usage, extended key
// usage, critical extensions nobody here understands, weak digests and keys, name constraints, and CA
// certificates used as a leaf.

import type { X509Certificate } from 'node:crypto';

import {
  certificateFields,
  ExtensionOid,
  KeyUsageBit,
  type CertificateFields,
} from './certificate-fields.js';
import { ChainValidationResult } from './chain-validation-result.js';
import { withinNameConstraints } from './name-constraints.js';

export interface ChainProblem {
  error: ChainValidationResult;
  /** What is wrong, for the error message. */
  detail: string;
}

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';

/** Extensions whose meaning is known here; a critical one outside this list fails the path. */
const UNDERSTOOD: ReadonlySet<string> = new Set(Object.values(ExtensionOid));

/** Signature algorithms on MD2, MD4, MD5 or SHA-1: collisions can be made, so the signature proves nothing. */
const WEAK_SIGNATURES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.2', 'MD2'],
  ['1.2.840.113549.1.1.3', 'MD4'],
  ['1.2.840.113549.1.1.4', 'MD5'],
  ['1.2.840.113549.1.1.5', 'SHA-1'],
  ['1.3.14.3.2.29', 'SHA-1'],
  ['1.2.840.10045.4.1', 'SHA-1'],
  ['1.2.840.10040.4.3', 'SHA-1'],
]);

/** RSA and DSA keys shorter than this are refused (as browsers and OpenSSL's security level 2 do). */
const MIN_RSA_BITS = 2048;

/**
 * The problems of `path` (the leaf first, each certificate issued by the next). Trust anchors are taken
 * as configured: their own signature and key size are not judged.
 */
export function pathProblems(
  path: readonly X509Certificate[],
  isAnchor: (certificate: X509Certificate) => boolean,
): ChainProblem[] {
  const problems: ChainProblem[] = [];
  const fieldsOf = (certificate: X509Certificate): CertificateFields | undefined => {
    try {
      return certificateFields(certificate);
    } catch {
      problems.push({
        error: ChainValidationResult.OtherErrors,
        detail: `${certificate.subject} is malformed`,
      });
      return undefined;
    }
  };
  path.forEach((certificate, depth) => {
    const fields = fieldsOf(certificate);
    if (fields === undefined) return;
    const name = certificate.subject.replace(/\n/g, ', ');
    const unknown = fields.criticalExtensions.filter((oid) => !UNDERSTOOD.has(oid));
    if (unknown.length > 0) {
      problems.push({
        error: ChainValidationResult.UnknownCriticalExtension,
        detail: `${name} has the unknown critical extension ${unknown.join(', ')}`,
      });
    }
    if (!allowsServerAuth(certificate)) {
      problems.push({
        error: ChainValidationResult.WrongUsage,
        detail: `the extended key usage of ${name} does not include serverAuth`,
      });
    }
    if (!isAnchor(certificate)) problems.push(...cryptographyProblems(certificate, fields, name));
    if (depth === 0) problems.push(...leafProblems(certificate, fields, path.length, name));
    else problems.push(...issuerProblems(fields, path, depth, name));
  });
  return problems;
}

/** A certificate with an extended key usage must list serverAuth (or any) to serve TLS or issue for it. */
function allowsServerAuth(certificate: X509Certificate): boolean {
  const usages = certificate.keyUsage as string[] | undefined;
  return usages === undefined || usages.includes(SERVER_AUTH) || usages.includes(ANY_EXTENDED_KEY_USAGE);
}

function cryptographyProblems(
  certificate: X509Certificate,
  fields: CertificateFields,
  name: string,
): ChainProblem[] {
  const problems: ChainProblem[] = [];
  const weakDigest = WEAK_SIGNATURES.get(fields.signatureAlgorithm);
  if (weakDigest !== undefined) {
    problems.push({
      error: ChainValidationResult.InvalidSignature,
      detail: `${name} is signed with ${weakDigest}`,
    });
  }
  const key = certificate.publicKey;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (
    (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'dsa') &&
    bits !== undefined &&
    bits < MIN_RSA_BITS
  ) {
    problems.push({
      error: ChainValidationResult.InvalidSignature,
      detail: `the ${bits}-bit ${key.asymmetricKeyType.toUpperCase()} key of ${name} is too weak`,
    });
  }
  return problems;
}

/** The leaf: a key usage that allows TLS, and not a CA unless it stands alone (self-signed). */
function leafProblems(
  certificate: X509Certificate,
  fields: CertificateFields,
  pathLength: number,
  name: string,
): ChainProblem[] {
  const problems: ChainProblem[] = [];
  const usage = fields.keyUsage;
  if (
    usage !== undefined &&
    !usage.has(KeyUsageBit.DigitalSignature) &&
    !usage.has(KeyUsageBit.KeyEncipherment) &&
    !usage.has(KeyUsageBit.KeyAgreement)
  ) {
    problems.push({
      error: ChainValidationResult.WrongUsage,
      detail: `the key usage of ${name} does not allow TLS`,
    });
  }
  if (certificate.ca && pathLength > 1) {
    problems.push({
      error: ChainValidationResult.BasicConstraintsError,
      detail: `${name} is a CA certificate, not a server's`,
    });
  }
  return problems;
}

/** An issuer at `depth`: may sign certificates, within its path length, and its names constraints hold. */
function issuerProblems(
  fields: CertificateFields,
  path: readonly X509Certificate[],
  depth: number,
  name: string,
): ChainProblem[] {
  const problems: ChainProblem[] = [];
  if (fields.keyUsage !== undefined && !fields.keyUsage.has(KeyUsageBit.KeyCertSign)) {
    problems.push({
      error: ChainValidationResult.WrongUsage,
      detail: `the key usage of ${name} does not allow signing certificates`,
    });
  }
  // The CAs between this one and the leaf (self-issued ones do not count, RFC 5280 §4.2.1.9).
  const below = path.slice(1, depth).filter((ca) => ca.subject !== ca.issuer).length;
  if (fields.pathLength !== undefined && below > fields.pathLength) {
    problems.push({
      error: ChainValidationResult.BasicConstraintsError,
      detail: `${name} allows ${fields.pathLength} CA certificate(s) below it, not ${below}`,
    });
  }
  const leaf = path[0];
  if (fields.nameConstraints !== undefined && leaf !== undefined) {
    try {
      if (!withinNameConstraints(certificateFields(leaf).subjectAltNames, fields.nameConstraints)) {
        problems.push({
          error: ChainValidationResult.InvalidCertificateAuthorityPolicy,
          detail: `the names of the server certificate break the name constraints of ${name}`,
        });
      }
    } catch {
      // A malformed leaf is already reported as such.
    }
  }
  return problems;
}
