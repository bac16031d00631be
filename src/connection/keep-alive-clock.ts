// One timer per keep-alive interval for every connection that uses it, instead of one timer each: ten
// thousand idle connections cost ten thousand set entries, not ten thousand timers.

/** Something to do on every tick of its interval. */
export type KeepAliveCheck = () => void;

interface Clock {
  readonly timer: NodeJS.Timeout;
  readonly checks: Set<KeepAliveCheck>;
}

const clocks = new Map<number, Clock>();

/** Runs check every intervalMs (the first time within one interval) until the returned function is called. */
export function onKeepAliveTick(intervalMs: number, check: KeepAliveCheck): () => void {
  let clock = clocks.get(intervalMs);
  if (clock === undefined) {
    const checks = new Set<KeepAliveCheck>();
    const timer = setInterval(() => {
      for (const each of checks) each();
    }, intervalMs);
    // The connections' sockets keep the process alive, not their keep-alive.
    timer.unref();
    clock = { timer, checks };
    clocks.set(intervalMs, clock);
  }
  const { checks, timer } = clock;
  checks.add(check);
  return () => {
    checks.delete(check);
    if (checks.size > 0) return;
    clearInterval(timer);
    clocks.delete(intervalMs);
  };
}
