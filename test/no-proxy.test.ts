// NO_PROXY matching by curl's rules (src/client/no-proxy.ts), one row per case: host names, IP literals,
// CIDR blocks of both families, IPv6 forms, ports, '*', leading and trailing dots, list separators.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { bypassesProxy } from '../src/client/no-proxy.js';

/** [URL hostname, no_proxy value, whether curl goes direct]. */
const CASES: readonly (readonly [string, string, boolean])[] = [
  // '*' alone matches everything; inside a list it is an ordinary (non-matching) name.
  ['a.example', '*', true],
  ['127.0.0.1', '*', true],
  ['a.example', '*,b.example', false],
  ['a.example', '', false],
  // Host names: the name itself, or a domain above it at a dot.
  ['a.example', 'a.example', true],
  ['deep.a.example', 'a.example', true],
  ['xa.example', 'a.example', false],
  ['a.example', 'xa.example', false],
  ['b.a.example', '.a.example', true],
  ['a.example', '.a.example', true],
  ['a.example', 'a.example.', true],
  ['a.example.', 'a.example', true],
  ['A.Example', 'a.EXAMPLE', true],
  ['a.example', 'example', true],
  ['a.example', 'a.example:80', false],
  ['a.example', '.', false],
  // Lists: commas, blanks around them; a blank not followed by a comma ends the list.
  ['c.example', 'a.example,c.example', true],
  ['c.example', 'a.example, c.example', true],
  ['c.example', ' a.example ,,, c.example ', true],
  ['c.example', 'a.example c.example', false],
  ['a.example', 'a.example c.example', true],
  // IPv4 literals: whole addresses only, never suffixes.
  ['127.0.0.1', '127.0.0.1', true],
  ['127.0.0.1', '0.0.1', false],
  ['127.0.0.1', '.0.0.1', false],
  ['127.0.0.1', '1', false],
  ['127.0.0.1', '127.0.0.2', false],
  ['127.0.0.1', '127.0.0.1:8080', false],
  ['127.0.0.1', 'localhost', false],
  // IPv4 CIDR: /0 or no suffix is the address alone; over /32 matches nothing.
  ['127.0.0.1', '127.0.0.0/8', true],
  ['127.0.0.1', '127.0.0.1/32', true],
  ['127.0.0.1', '127.0.0.0/32', false],
  ['127.0.0.1', '10.0.0.0/8', false],
  ['10.1.2.3', '10.0.0.0/8', true],
  ['192.168.1.7', '192.168.0.0/16', true],
  ['192.169.1.7', '192.168.0.0/16', false],
  ['127.0.0.1', '0.0.0.0/0', false],
  ['0.0.0.0', '0.0.0.0/0', true],
  ['127.0.0.1', '127.0.0.0/33', false],
  ['127.0.0.1', '127.0.0.1/abc', true],
  ['127.0.0.1', '::1', false],
  // IPv6: a URL hostname is bracketed; entries are bare addresses in any textual form.
  ['[::1]', '::1', true],
  ['[::1]', '0:0:0:0:0:0:0:1', true],
  ['[::1]', '0000:0000:0000:0000:0000:0000:0000:0001', true],
  ['[::1]', '::1/128', true],
  ['[::1]', '::/127', true],
  ['[::1]', '::/128', false],
  ['[::1]', '[::1]', false],
  ['[::1]', '::2', false],
  ['[::1]', '127.0.0.1', false],
  ['[2001:db8::5]', '2001:db8::/32', true],
  ['[2001:db8::5]', '2001:db9::/32', false],
  ['[2001:db8::5]', '2001:db8::/129', false],
  ['[2001:db8:8000::1]', '2001:db8:8000::/33', true],
  ['[2001:db8:7fff::1]', '2001:db8:8000::/33', false],
  ['[2001:db8::5]', '2001:db8::5/0', true],
  ['[::ffff:127.0.0.1]', '::ffff:127.0.0.1', true],
];

test('NO_PROXY matches as curl does', () => {
  const wrong = CASES.filter(([host, noProxy, direct]) => bypassesProxy(host, noProxy) !== direct);
  assert.deepEqual(
    wrong.map(
      ([host, noProxy, direct]) =>
        `${host} with no_proxy='${noProxy}' should ${direct ? 'go direct' : 'use the proxy'}`,
    ),
    [],
  );
});
