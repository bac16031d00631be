// NO_PROXY as curl reads it (lib/noproxy.c, curl 8): which hosts bypass the environment's proxy.

import net from 'node:net';

/**
 * Whether `hostname` (a URL's hostname: an IPv6 address in brackets) is listed in `noProxy`, by curl's
 * rules: the whole value `*` matches everything; otherwise entries are separated by commas (blanks
 * around them are skipped; a blank not followed by a comma ends the list). For a host name, an entry
 * matches the name itself or a domain above it at a dot (a leading and a trailing dot are dropped;
 * case does not matter). For an IP address, an entry is an address of the same family, optionally with
 * `/bits`; `/0` or no suffix means the address alone, and the address is compared as a number (so
 * `::1` and `0:0:0:0:0:0:0:1` are one address). Entries with a port, or an IPv6 address in brackets,
 * match nothing, as in curl.
 */
export function bypassesProxy(hostname: string, noProxy: string): boolean {
  if (hostname === '' || noProxy === '') return false;
  if (noProxy === '*') return true;
  const bracketed = hostname.startsWith('[');
  const name = bracketed ? hostname.slice(1, hostname.indexOf(']')) : hostname;
  const family = bracketed ? 'ipv6' : net.isIPv4(name) ? 'ipv4' : 'host';
  return entries(noProxy).some((entry) =>
    family === 'host' ? hostMatches(name, entry) : addressMatches(name, family, entry),
  );
}

/** The entries curl reads: comma-separated, up to the first blank that is not followed by a comma. */
function entries(noProxy: string): string[] {
  const found: string[] = [];
  let at = 0;
  for (;;) {
    while (isBlank(noProxy[at])) at++;
    const start = at;
    while (at < noProxy.length && !isBlank(noProxy[at]) && noProxy[at] !== ',') at++;
    if (at > start) found.push(noProxy.slice(start, at));
    while (isBlank(noProxy[at])) at++;
    if (noProxy[at] !== ',') return found;
    while (noProxy[at] === ',') at++;
  }
}

function isBlank(char: string | undefined): boolean {
  return char === ' ' || char === '\t';
}

function hostMatches(hostname: string, entry: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  let pattern = entry.toLowerCase().replace(/\.$/, '');
  if (pattern.startsWith('.')) pattern = pattern.slice(1);
  if (pattern.length === name.length) return pattern === name;
  return pattern.length < name.length && name.endsWith(`.${pattern}`);
}

function addressMatches(address: string, family: 'ipv4' | 'ipv6', entry: string): boolean {
  const slash = entry.indexOf('/');
  const network = slash < 0 ? entry : entry.slice(0, slash);
  const bits = slash < 0 ? 0 : atoi(entry.slice(slash + 1));
  const width = family === 'ipv4' ? 32 : 128;
  if (bits < 0 || bits > width || net.isIP(network) !== (family === 'ipv4' ? 4 : 6)) return false;
  if (net.isIP(address) !== (family === 'ipv4' ? 4 : 6)) return false;
  const list = new net.BlockList();
  list.addSubnet(network, bits === 0 ? width : bits, family);
  return list.check(address, family);
}

/** C's atoi(), as curl reads the bits: leading blanks, a sign and digits; anything else is 0. */
function atoi(text: string): number {
  const digits = /^\s*([+-]?\d+)/.exec(text);
  return digits === null ? 0 : Number(digits[1]);
}
