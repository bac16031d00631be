// An upgraded socket, as the client's connect and the server's accept hand it over: the duplex after the
// HTTP 101, the bytes that arrived with the handshake, the subprotocol chosen and the extensions agreed.

import type { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';

import type { DeflateSettings } from '../protocol/permessage-deflate.js';

export interface UpgradedSocket {
  socket: Duplex & { localAddress?: string | undefined };
  /** Bytes read past the handshake: the first frames. */
  head: Buffer;
  protocol: string | null;
  /** The Sec-WebSocket-Extensions value of the 101 ('' or absent when none). */
  extensions?: string;
  /** permessage-deflate, when it was agreed. */
  deflate?: DeflateSettings | undefined;
}
