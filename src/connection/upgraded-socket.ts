// An upgraded socket, as the client's connect and the server's accept hand it over: the duplex after the
// HTTP 101, the bytes that arrived with the handshake, and the subprotocol chosen.

import type { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';

export interface UpgradedSocket {
  socket: Duplex & { localAddress?: string | undefined };
  /** Bytes read past the handshake: the first frames. */
  head: Buffer;
  protocol: string | null;
}
