// Keep-alive's judgement, without sockets or timers (issue 19, item 1): PeerLiveness fed tick by tick
// with what a connection observed. Taking our data counts as a sign of life only while some of it was
// waiting for the OS; a ping's timeout runs from the moment it left, not from when it was queued; a peer
// that neither answers nor takes anything is dead after interval + timeout.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { PeerLiveness, type KeepAliveAction, type LivenessSample } from '../src/connection/peer-liveness.js';

const INTERVAL = 100;
const TIMEOUT = 200;

const QUIET: LivenessSample = {
  heard: false,
  readingPaused: false,
  passedOn: 0,
  buffered: 0,
  congested: false,
};

/** Runs ticks at INTERVAL, t = 100, 200, …, with the sample each step gives; returns every action. */
function run(
  liveness: PeerLiveness,
  ticks: number,
  sample: (tick: number) => Partial<LivenessSample> = () => ({}),
): KeepAliveAction[] {
  const actions: KeepAliveAction[] = [];
  for (let tick = 1; tick <= ticks; tick++) {
    actions.push(liveness.tick(tick * INTERVAL, { ...QUIET, ...sample(tick) }));
  }
  return actions;
}

void describe('PeerLiveness', () => {
  void it('pings a quiet peer once, and drops it once the ping that left went unanswered past the timeout', () => {
    const liveness = new PeerLiveness(INTERVAL, TIMEOUT, 0);
    assert.equal(liveness.tick(100, QUIET), 'ping');
    liveness.pingLeft(100, 100);
    // 200 ms after the ping left is not past the timeout; 300 is.
    assert.deepEqual(
      [200, 300, 400].map((now) => liveness.tick(now, QUIET)),
      [undefined, undefined, 'dead'],
    );
  });

  void it('keeps a peer that answers', () => {
    const liveness = new PeerLiveness(INTERVAL, TIMEOUT, 0);
    const actions = run(liveness, 50, (tick) => {
      if (tick % 2 === 1) liveness.pingLeft(tick * INTERVAL, tick * INTERVAL);
      return { heard: tick % 2 === 0 };
    });
    assert.ok(!actions.includes('dead'));
    assert.equal(actions.filter((action) => action === 'ping').length, 25);
  });

  void it('times the answer from the moment the ping left, not from when it was queued', () => {
    const liveness = new PeerLiveness(INTERVAL, TIMEOUT, 0);
    assert.equal(liveness.tick(100, QUIET), 'ping');
    // The ping waits in the socket; timed from the queueing it would be overdue at 400.
    assert.deepEqual(
      [200, 300].map((now) => liveness.tick(now, QUIET)),
      [undefined, undefined],
    );
    liveness.pingLeft(100, 350);
    assert.deepEqual(
      [400, 500, 600].map((now) => liveness.tick(now, QUIET)),
      [undefined, undefined, 'dead'],
      'dead at the first tick more than 200 ms after the ping left at 350',
    );
  });

  void it('resets when our output that waited moves on, and a ping that left with it is no longer awaited', () => {
    const liveness = new PeerLiveness(INTERVAL, TIMEOUT, 0);
    assert.equal(liveness.tick(100, { ...QUIET, buffered: 500 }), 'ping');
    liveness.pingLeft(100, 150);
    // The OS took the waiting bytes (and the ping with them): the peer is reading.
    assert.equal(liveness.tick(200, { ...QUIET, passedOn: 506 }), undefined);
    assert.deepEqual(
      [300, 400].map((now) => liveness.tick(now, { ...QUIET, passedOn: 506 })),
      ['ping', undefined],
      'a new quiet interval from 200, with a new ping',
    );
  });

  void it('keeps a slow reader: output that waited moves on every few intervals, with no input at all', () => {
    const liveness = new PeerLiveness(INTERVAL, TIMEOUT, 0);
    // The OS takes a burst every third tick (the peer read some), and some output always waits.
    const actions = run(liveness, 300, (tick) => ({
      buffered: 64 * 1024,
      passedOn: Math.floor(tick / 3) * 1024 * 1024,
      congested: true,
    }));
    assert.ok(!actions.includes('dead'), `dropped at tick ${actions.indexOf('dead') + 1}`);
  });

  void it('drops a peer that stopped reading while we send: nothing moves, and no ping can even be queued', () => {
    const liveness = new PeerLiveness(INTERVAL, TIMEOUT, 0);
    const actions = run(liveness, 10, () => ({ buffered: 300_000, passedOn: 5_000_000, congested: true }));
    // Dead past interval + timeout (300 ms) from the last sign of life (the start): at 400.
    assert.deepEqual(actions.slice(0, 4), [undefined, undefined, undefined, 'dead']);
  });

  void it('drops a peer whose ping never left (queued behind data the OS does not take)', () => {
    const liveness = new PeerLiveness(INTERVAL, TIMEOUT, 0);
    const actions = run(liveness, 4, () => ({ buffered: 1000, passedOn: 10_000 }));
    assert.deepEqual(actions, ['ping', undefined, undefined, 'dead']);
  });

  void it('does not count output the OS took at once as a sign of life (a trickle into a vanished peer)', () => {
    const liveness = new PeerLiveness(INTERVAL, TIMEOUT, 0);
    assert.equal(liveness.tick(100, { ...QUIET, passedOn: 100 }), 'ping');
    liveness.pingLeft(100, 100);
    assert.deepEqual(
      [200, 300, 400].map((now) => liveness.tick(now, { ...QUIET, passedOn: now })),
      [undefined, undefined, 'dead'],
    );
  });

  void it('counts a paused reader of ours as alive, and still pings while the socket takes it', () => {
    const liveness = new PeerLiveness(INTERVAL, TIMEOUT, 0);
    assert.deepEqual(
      run(liveness, 20, (tick) => ({ readingPaused: true, congested: tick % 2 === 0 })),
      Array.from({ length: 20 }, (_, index) => ((index + 1) % 2 === 0 ? undefined : 'ping')),
    );
  });

  void it("ignores a ping that left after the peer had shown life: the next quiet period's ping counts", () => {
    const liveness = new PeerLiveness(INTERVAL, TIMEOUT, 0);
    assert.equal(liveness.tick(100, QUIET), 'ping');
    assert.equal(liveness.tick(200, { ...QUIET, heard: true }), undefined);
    liveness.pingLeft(100, 250);
    assert.equal(liveness.tick(300, QUIET), 'ping');
    liveness.pingLeft(300, 300);
    assert.deepEqual(
      [400, 500, 600].map((now) => liveness.tick(now, QUIET)),
      [undefined, undefined, 'dead'],
    );
  });
});
