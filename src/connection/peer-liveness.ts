// Keep-alive's judgement of the peer, without I/O or timers: fed on every keep-alive tick with what
// happened since the last one, it says when to ping and when the peer is gone.
//
// A peer is alive while it sends anything, and while it takes our data: our output moving on while some
// of it was waiting in the socket (the OS accepts more only once the peer has acknowledged what it holds,
// so a slow download that the peer is still reading keeps the connection). After a whole interval with
// neither, a ping goes out; its answer may wait behind everything queued before it, so the timeout runs
// from the moment the ping left our process, not from when it was queued. A ping that cannot leave
// (the peer takes none of our data) counts from the end of the quiet interval: a half-open peer is
// dropped after interval + timeout either way.

/** What a tick asks of the connection. */
export type KeepAliveAction = 'ping' | 'dead' | undefined;

/** What the connection observed since the last tick. */
export interface LivenessSample {
  /** Input arrived since the last tick. */
  heard: boolean;
  /** Our own reading is paused (backpressure): answers cannot be seen, so the peer counts as alive. */
  readingPaused: boolean;
  /** Bytes the socket has passed on to the OS so far: written minus what it still buffers. */
  passedOn: number;
  /** Bytes the socket still buffers: the OS has not taken them yet. */
  buffered: number;
  /** The socket holds more than it wants (writers wait for drain): no ping is added then. */
  congested: boolean;
}

export class PeerLiveness {
  /** When the peer last showed it was alive (or the connection opened). */
  private lastSign: number;
  private passedOn = 0;
  /** At the last tick, some of our output waited for the OS. */
  private waiting = false;
  /** The ping of the current quiet period, when it was handed to the socket. */
  private pingQueuedAt: number | undefined;
  /** When that ping left our process (its write completed). */
  private pingLeftAt: number | undefined;

  constructor(
    readonly interval: number,
    readonly timeout: number,
    now: number,
  ) {
    this.lastSign = now;
  }

  /**
   * One keep-alive tick at `now`. 'ping': send a ping now, and report with pingLeft(queuedAt) when it
   * has left; 'dead': the peer is gone.
   */
  tick(now: number, sample: LivenessSample): KeepAliveAction {
    const outputMoved = this.waiting && sample.passedOn > this.passedOn;
    this.passedOn = sample.passedOn;
    this.waiting = sample.buffered > 0;
    if (sample.heard || outputMoved || sample.readingPaused) this.alive(now);
    if (sample.readingPaused) {
      // No answer can be seen while we do not read; the pings still go out (while the socket takes
      // them), so that a peer that has vanished makes them fail in the end.
      return sample.congested ? undefined : 'ping';
    }
    if (now - this.lastSign < this.interval) return undefined;
    if (this.pingLeftAt !== undefined) return now - this.pingLeftAt > this.timeout ? 'dead' : undefined;
    if (now - this.lastSign > this.interval + this.timeout) return 'dead';
    if (this.pingQueuedAt !== undefined || sample.congested) return undefined;
    this.pingQueuedAt = now;
    return 'ping';
  }

  /** The ping that tick() asked for at `queuedAt` has left our process at `now`. */
  pingLeft(queuedAt: number, now: number): void {
    if (queuedAt === this.pingQueuedAt) this.pingLeftAt = now;
  }

  private alive(now: number): void {
    this.lastSign = now;
    this.pingQueuedAt = undefined;
    this.pingLeftAt = undefined;
  }
}
