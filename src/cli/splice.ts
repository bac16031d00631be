// One TCP connection spliced to one WebSocket, bytes both ways, for `sws tunnel` and `sws bridge`.
// Each TCP read goes out as one binary message; every received message's bytes go to TCP.
//
// Half-close: the library's close() ends reading as well as writing, so a TCP FIN cannot be passed on
// as a close frame without losing what the other side still sends. When both ends speak the subprotocol
// sws.tunnel.v1, an empty binary message means "no more data this way" (the FIN); the WebSocket closes
// with 1000 once both directions have ended. With any other peer (websockify, a browser), a FIN closes
// the WebSocket with 1000 and a close ends the TCP connection. A TCP reset, or a WebSocket lost or
// closed with another code, resets the other side (close code 4000 toward the WebSocket).

import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';

import type { MessageWebSocket, ServerMessageWebSocket, WebSocketClosedEventArgs } from '../index.js';

export const TUNNEL_PROTOCOL = 'sws.tunnel.v1';

/** Close code of the tunnel protocol: the TCP connection at the other end was reset. */
export const TUNNEL_RESET = 4000;

const EMPTY = Buffer.alloc(0);

export type MessageSocket = MessageWebSocket | ServerMessageWebSocket;

export interface SpliceResult {
  /** Bytes from TCP sent over the WebSocket. */
  sent: number;
  /** Bytes received from the WebSocket and written to TCP. */
  received: number;
  closed: WebSocketClosedEventArgs;
  /** Why the connection ended abnormally, if it did. */
  error: string | undefined;
}

/** Splices until both are closed; never rejects. */
export async function splice(socket: MessageSocket, tcp: Socket): Promise<SpliceResult> {
  const halfClose = socket.information.protocol === TUNNEL_PROTOCOL;
  let up = 0;
  let down = 0;
  let upEnded = false;
  let downEnded = false;
  let error: string | undefined;
  const tcpClosed = new Promise<void>((resolve) => {
    tcp.once('close', () => {
      resolve();
    });
  });
  const bothEnded = (): void => {
    if (upEnded && downEnded) socket.close(1000);
  };

  // Event-driven rather than `for await`, whose early exit would destroy the TCP socket before what
  // is still being written to it has been flushed.
  const upward = new Promise<void>((resolve) => {
    tcp.on('data', (chunk: Buffer) => {
      up += chunk.length;
      tcp.pause();
      socket.outputStream.writeAsync(chunk).then(
        () => tcp.resume(),
        () => undefined,
      );
    });
    tcp.once('end', () => {
      if (!halfClose) {
        socket.close(1000);
        resolve();
        return;
      }
      socket.outputStream
        .writeAsync(EMPTY)
        .then(() => {
          upEnded = true;
          bothEnded();
        })
        .catch(() => undefined)
        .finally(resolve);
    });
    tcp.on('error', (failure) => {
      error ??= `TCP: ${failure.message}`;
      socket.close(TUNNEL_RESET, 'TCP connection reset');
      resolve();
    });
    tcp.once('close', () => {
      resolve();
    });
  });

  const downward = (async () => {
    try {
      for await (const message of socket.messages()) {
        let size = 0;
        for await (const section of message) {
          size += section.length;
          down += section.length;
          if (!tcp.write(section)) await drained(tcp);
        }
        if (size === 0 && halfClose) {
          tcp.end();
          downEnded = true;
          bothEnded();
        }
      }
    } catch {
      // The WebSocket failed (or TCP went away while we waited to write); see below.
    }
  })();

  const closed = await socket.whenClosed();
  await downward;
  if (closed.code === 1000 || closed.code === 1005) {
    // Clean: whatever was written reaches the TCP peer, then the connection ends.
    tcp.end(() => tcp.destroy());
  } else {
    error ??= `WebSocket closed with ${closed.code}${closed.reason === '' ? '' : ` (${closed.reason})`}`;
    tcp.resetAndDestroy();
  }
  await upward;
  await tcpClosed;
  return { sent: up, received: down, closed, error };
}

/** Resolves when the socket can take more; rejects if it closes first. */
function drained(tcp: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      tcp.off('drain', done);
      tcp.off('close', gone);
      resolve();
    };
    const gone = (): void => {
      tcp.off('drain', done);
      tcp.off('close', gone);
      reject(new Error('the TCP connection closed'));
    };
    tcp.on('drain', done);
    tcp.on('close', gone);
  });
}
