// Which sockets of an https server are still in their TLS handshake. An HTTP answer cannot reach such a
// socket (end() waits for a handshake that a stalled or hostile client never finishes), so a failure
// there destroys the socket instead.

import type https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

const secured = new WeakSet<Duplex>();

/** Records the sockets of `server` whose TLS handshake finished. */
export function trackTlsHandshakes(server: https.Server): void {
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    secured.add(socket);
  });
}

/** True for a TLS socket (of a tracked server) whose handshake has not finished. */
export function inTlsHandshake(socket: Duplex): boolean {
  return socket instanceof tls.TLSSocket && !secured.has(socket);
}
