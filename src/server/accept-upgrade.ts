// The server's half of the opening handshake on a raw upgraded socket: check the request, answer 101
// with the chosen subprotocol and extensions, or answer an HTTP error and close — never leave a client
// hanging.

import type { Buffer } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

import type { UpgradedSocket } from '../connection/upgraded-socket.js';
import { buildErrorResponse, type UpgradeRefusal } from '../protocol/error-response.js';
import { buildServerResponse, selectSubprotocol, validateClientRequest } from '../protocol/handshake.js';
import { answerDeflateOffers, type PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';

/**
 * Answers an HTTP error on a raw socket and closes it once the answer is written; a socket that cannot
 * carry an answer any more is destroyed. (One still in its TLS handshake never gets here: it has sent
 * no request.)
 */
export function rejectUpgrade(
  socket: Duplex,
  status: number,
  reason: string,
  headers: Record<string, string> = {},
): void {
  refuseUpgrade(socket, { status, headers, body: `${reason}\n` });
}

/** Answers an application's refusal (checked with refusalProblem) as rejectUpgrade does. */
export function refuseUpgrade(socket: Duplex, refusal: UpgradeRefusal): void {
  if (socket.writable) socket.end(buildErrorResponse(refusal));
  else socket.destroy();
}

/**
 * Validates the upgrade request and answers it, accepting permessage-deflate when `perMessageDeflate` is
 * given and the client offers it. Returns the open socket, or undefined after answering 400, 405 or 426.
 */
export function acceptUpgrade(
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  supportedProtocols: readonly string[],
  perMessageDeflate?: PerMessageDeflateOptions,
): UpgradedSocket | undefined {
  const check = validateClientRequest(request);
  if (!check.ok) {
    rejectUpgrade(socket, check.status, check.reason, check.status === 405 ? { Allow: 'GET' } : {});
    return undefined;
  }
  const protocol = selectSubprotocol(check.protocols, supportedProtocols);
  const { extensions, deflate } =
    perMessageDeflate === undefined
      ? { extensions: '', deflate: undefined }
      : answerDeflateOffers(request.headers['sec-websocket-extensions'], perMessageDeflate);
  socket.write(buildServerResponse(check.key, protocol, extensions));
  return { socket, head, protocol, extensions, deflate };
}
