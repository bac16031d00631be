// The listener's open sockets as applications see them (listener.clients): a live Set that the listener
// keeps up to date, and that applications may read and iterate but not change.

import { illegalMethodCall } from '../errors.js';

export class OpenSockets<T> extends Set<T> {
  override add(): never {
    throw readOnly();
  }

  override delete(): never {
    throw readOnly();
  }

  override clear(): never {
    throw readOnly();
  }
}

/** The listener's own changes, around the refusing methods. */
export function admit<T>(sockets: OpenSockets<T>, socket: T): void {
  Set.prototype.add.call(sockets, socket);
}

export function release<T>(sockets: OpenSockets<T>, socket: T): void {
  Set.prototype.delete.call(sockets, socket);
}

function readOnly(): Error {
  return illegalMethodCall('listener.clients is read-only: the listener adds and removes its sockets');
}
