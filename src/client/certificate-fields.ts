// The fields of an X.509 certificate that the chain rules need and node:crypto's X509Certificate does not
// give: the signature algorithm, every extension with its critical flag, the key usage bits, the path
// length constraint, the subject alternative names and the name constraints (RFC 5280 §4.1, §4.2).

import { Buffer } from 'node:buffer';
import type { X509Certificate } from 'node:crypto';

import { derChildren, derElement, derOid, derSmallInteger, DerTag, type DerElement } from './der.js';

/** The names of a subjectAltName or of a name constraint subtree that the checks understand. */
export interface GeneralNames {
  dns: string[];
  /** Addresses (4 or 16 bytes); in a name constraint, the address followed by its mask. */
  ip: Buffer[];
  /** How many names of other kinds (e-mail, URI, directory name…) there were. */
  other: number;
}

export interface CertificateFields {
  signatureAlgorithm: string;
  /** The OIDs of the extensions marked critical. */
  criticalExtensions: string[];
  /** The keyUsage bits (bit 0 = digitalSignature), or undefined without the extension. */
  keyUsage: ReadonlySet<number> | undefined;
  /** basicConstraints' pathLenConstraint, if any. */
  pathLength: number | undefined;
  subjectAltNames: GeneralNames;
  nameConstraints: { permitted: GeneralNames; excluded: GeneralNames } | undefined;
}

export const KeyUsageBit = {
  DigitalSignature: 0,
  KeyEncipherment: 2,
  KeyAgreement: 4,
  KeyCertSign: 5,
} as const;

export const ExtensionOid = {
  SubjectKeyIdentifier: '2.5.29.14',
  KeyUsage: '2.5.29.15',
  SubjectAltName: '2.5.29.17',
  BasicConstraints: '2.5.29.19',
  NameConstraints: '2.5.29.30',
  CertificatePolicies: '2.5.29.32',
  PolicyMappings: '2.5.29.33',
  AuthorityKeyIdentifier: '2.5.29.35',
  PolicyConstraints: '2.5.29.36',
  ExtendedKeyUsage: '2.5.29.37',
  InhibitAnyPolicy: '2.5.29.54',
} as const;

const GENERAL_NAME_DNS = 0x82;
const GENERAL_NAME_IP = 0x87;
const EXPLICIT_EXTENSIONS = 0xa3;
const PERMITTED_SUBTREES = 0xa0;
const EXCLUDED_SUBTREES = 0xa1;

const parsed = new WeakMap<X509Certificate, CertificateFields>();

/** The fields of `certificate` (parsed once per object); throws a RangeError on malformed DER. */
export function certificateFields(certificate: X509Certificate): CertificateFields {
  let fields = parsed.get(certificate);
  if (fields === undefined) {
    fields = parse(certificate.raw);
    parsed.set(certificate, fields);
  }
  return fields;
}

function parse(der: Buffer): CertificateFields {
  const [tbs, signatureAlgorithm] = derChildren(expect(derElement(der), DerTag.Sequence).contents);
  if (tbs === undefined || signatureAlgorithm === undefined) throw new RangeError('X.509: not a certificate');
  const [algorithmOid] = derChildren(expect(signatureAlgorithm, DerTag.Sequence).contents);
  const fields: CertificateFields = {
    signatureAlgorithm: derOid(expect(algorithmOid, DerTag.Oid).contents),
    criticalExtensions: [],
    keyUsage: undefined,
    pathLength: undefined,
    subjectAltNames: { dns: [], ip: [], other: 0 },
    nameConstraints: undefined,
  };
  const extensions = derChildren(expect(tbs, DerTag.Sequence).contents).find(
    (element) => element.tag === EXPLICIT_EXTENSIONS,
  );
  if (extensions === undefined) return fields;
  for (const extension of derChildren(expect(derElement(extensions.contents), DerTag.Sequence).contents)) {
    const parts = derChildren(expect(extension, DerTag.Sequence).contents);
    const oid = derOid(expect(parts[0], DerTag.Oid).contents);
    const critical = parts[1]?.tag === DerTag.Boolean && parts[1].contents[0] !== 0;
    const value = expect(parts.at(-1), DerTag.OctetString).contents;
    if (critical) fields.criticalExtensions.push(oid);
    readExtension(fields, oid, value);
  }
  return fields;
}

function readExtension(fields: CertificateFields, oid: string, value: Buffer): void {
  switch (oid) {
    case ExtensionOid.KeyUsage:
      fields.keyUsage = bitsOf(expect(derElement(value), DerTag.BitString).contents);
      break;
    case ExtensionOid.BasicConstraints: {
      const pathLength = derChildren(expect(derElement(value), DerTag.Sequence).contents).find(
        (element) => element.tag === DerTag.Integer,
      );
      fields.pathLength = pathLength === undefined ? undefined : derSmallInteger(pathLength.contents);
      break;
    }
    case ExtensionOid.SubjectAltName:
      fields.subjectAltNames = generalNames(derChildren(expect(derElement(value), DerTag.Sequence).contents));
      break;
    case ExtensionOid.NameConstraints: {
      const subtrees = derChildren(expect(derElement(value), DerTag.Sequence).contents);
      const bases = (tag: number): GeneralNames =>
        generalNames(
          derChildren(subtrees.find((element) => element.tag === tag)?.contents ?? Buffer.alloc(0)).map(
            // GeneralSubtree ::= SEQUENCE { base GeneralName, minimum, maximum }: the base is first.
            (subtree) => expect(derChildren(expect(subtree, DerTag.Sequence).contents)[0], -1),
          ),
        );
      fields.nameConstraints = { permitted: bases(PERMITTED_SUBTREES), excluded: bases(EXCLUDED_SUBTREES) };
      break;
    }
    default:
  }
}

function generalNames(elements: readonly DerElement[]): GeneralNames {
  const names: GeneralNames = { dns: [], ip: [], other: 0 };
  for (const element of elements) {
    if (element.tag === GENERAL_NAME_DNS) names.dns.push(element.contents.toString('latin1'));
    else if (element.tag === GENERAL_NAME_IP) names.ip.push(element.contents);
    else names.other++;
  }
  return names;
}

/** The set bits of a BIT STRING's contents (the first byte counts the unused bits). */
function bitsOf(contents: Buffer): Set<number> {
  const bits = new Set<number>();
  for (let i = 1; i < contents.length; i++) {
    for (let bit = 0; bit < 8; bit++) if ((contents[i]! & (0x80 >> bit)) !== 0) bits.add((i - 1) * 8 + bit);
  }
  return bits;
}

/** The element, checked to carry `tag` (-1: any tag). */
function expect(element: DerElement | undefined, tag: number): DerElement {
  if (element === undefined || (tag !== -1 && element.tag !== tag)) {
    throw new RangeError('X.509: unexpected structure');
  }
  return element;
}
