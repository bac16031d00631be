// RFC 5280 §4.2.1.10 name constraints for DNS names and IP addresses: whether a leaf's subject alternative
// names stay inside what an issuing CA permits and outside what it excludes.

import type { Buffer } from 'node:buffer';

import type { GeneralNames } from './certificate-fields.js';

/** True when every DNS name and IP address of `names` satisfies `constraints`. */
export function withinNameConstraints(
  names: GeneralNames,
  constraints: { permitted: GeneralNames; excluded: GeneralNames },
): boolean {
  const { permitted, excluded } = constraints;
  const dnsOk = names.dns.every(
    (name) =>
      !excluded.dns.some((base) => dnsMatches(name, base)) &&
      (permitted.dns.length === 0 || permitted.dns.some((base) => dnsMatches(name, base))),
  );
  const ipOk = names.ip.every(
    (address) =>
      !excluded.ip.some((base) => ipMatches(address, base)) &&
      (permitted.ip.length === 0 || permitted.ip.some((base) => ipMatches(address, base))),
  );
  return dnsOk && ipOk;
}

/**
 * `example.com` covers itself and every name below it; `.example.com` only the names below it; the
 * empty constraint covers everything. Case does not matter.
 */
function dnsMatches(name: string, base: string): boolean {
  const host = name.toLowerCase().replace(/\.$/, '');
  const constraint = base.toLowerCase().replace(/\.$/, '');
  if (constraint === '') return true;
  if (constraint.startsWith('.')) return host.endsWith(constraint);
  return host === constraint || host.endsWith(`.${constraint}`);
}

/** A constraint is the address followed by its mask, both of the address's length. */
function ipMatches(address: Buffer, base: Buffer): boolean {
  if (base.length !== address.length * 2) return false;
  for (let i = 0; i < address.length; i++) {
    const mask = base[address.length + i]!;
    if ((address[i]! & mask) !== (base[i]! & mask)) return false;
  }
  return true;
}
