// Validation of the URI given to connectAsync, before any I/O (WinRT: E_INVALIDARG).

import { invalidArgument } from '../errors.js';

/** A ws: or wss: URL, absolute, without a fragment; anything else throws E_INVALIDARG. */
export function parseWebSocketUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch (cause) {
    throw invalidArgument(`'${String(input)}' is not an absolute URI`, cause);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw invalidArgument(`the URI scheme must be ws: or wss:, not ${url.protocol}`);
  }
  if (url.hash !== '' || String(input).includes('#')) {
    throw invalidArgument('URI fragments are not supported in WebSocket URIs');
  }
  if (url.hostname === '') throw invalidArgument('the URI has no host');
  return url;
}

/** The host to connect to: an IPv6 literal without its brackets. */
export function connectHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

export function connectPort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'wss:' ? 443 : 80;
}
