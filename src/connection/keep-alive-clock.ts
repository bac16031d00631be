// One timer per keep-alive interval for every connection that uses it, instead of one timer each: ten
// thousand idle connections cost ten thousand set entries, not ten thousand timers (nor a closure each).

/** What the clock ticks for: a connection checking whether its peer is alive. */
export interface KeepAliveSubscriber {
  keepAliveTick(): void;
}

interface Clock {
  readonly timer: NodeJS.Timeout;
  readonly subscribers: Set<KeepAliveSubscriber>;
}

const clocks = new Map<number, Clock>();

/** Calls subscriber.keepAliveTick() every intervalMs (the first time within one interval) until stopped. */
export function startKeepAliveTicks(intervalMs: number, subscriber: KeepAliveSubscriber): void {
  let clock = clocks.get(intervalMs);
  if (clock === undefined) {
    const subscribers = new Set<KeepAliveSubscriber>();
    const timer = setInterval(() => {
      for (const each of subscribers) each.keepAliveTick();
    }, intervalMs);
    // The connections' sockets keep the process alive, not their keep-alive.
    timer.unref();
    clock = { timer, subscribers };
    clocks.set(intervalMs, clock);
  }
  clock.subscribers.add(subscriber);
}

/** Stops the ticks startKeepAliveTicks started (idempotent). */
export function stopKeepAliveTicks(intervalMs: number, subscriber: KeepAliveSubscriber): void {
  const clock = clocks.get(intervalMs);
  if (clock === undefined || !clock.subscribers.delete(subscriber) || clock.subscribers.size > 0) return;
  clearInterval(clock.timer);
  clocks.delete(intervalMs);
}
