// Windows.Foundation.Deferral: lets an asynchronous event handler hold what follows the event until it
// has decided.

import { illegalMethodCall } from '../errors.js';

export interface Deferral {
  /** Signals that the handler has decided; a second call is an error. */
  complete(): void;
}

/** A deferral whose complete() runs `onComplete` once. */
export function createDeferral(onComplete: () => void): Deferral {
  let done = false;
  return {
    complete: () => {
      if (done) throw illegalMethodCall('Deferral.complete() was already called');
      done = true;
      onComplete();
    },
  };
}
