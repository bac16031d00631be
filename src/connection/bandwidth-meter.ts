// Measured throughput of one connection, for information.bandwidthStatistics (WinRT BandwidthStatistics).

/** WinRT's BandwidthStatistics: rates in bits per second over the last second, and their spread. */
export interface BandwidthStatistics {
  outboundBitsPerSecond: number;
  inboundBitsPerSecond: number;
  outboundBitsPerSecondInstability: number;
  inboundBitsPerSecondInstability: number;
  /** True when sending was limited by the network recently (the socket asked us to wait). */
  outboundBandwidthPeaked: boolean;
  /** True when data arrived faster than one read could take recently (full reads). */
  inboundBandwidthPeaked: boolean;
}

const SLOT_MS = 100;
const SLOTS = 10;
const FULL_READ_BYTES = 65536;

/** Bytes per 100 ms slot over the last second, in one direction. */
class DirectionMeter {
  /** Made at the first byte. */
  private slots: Float64Array | undefined;
  private slotStart = 0;
  private lastPeak = -Infinity;
  total = 0;

  add(bytes: number, now: number): void {
    this.advance(now);
    (this.slots ??= new Float64Array(SLOTS))[Math.floor(now / SLOT_MS) % SLOTS]! += bytes;
    this.total += bytes;
  }

  markPeak(now: number): void {
    this.lastPeak = now;
  }

  /** Bits per second over the last second, and the standard deviation of the per-slot rates. */
  rate(now: number): { bitsPerSecond: number; instability: number; peaked: boolean } {
    this.advance(now);
    const slots = this.slots ?? [];
    let sum = 0;
    for (const bytes of slots) sum += bytes;
    const mean = sum / SLOTS;
    let variance = 0;
    for (let slot = 0; slot < SLOTS; slot++) variance += ((slots[slot] ?? 0) - mean) ** 2;
    const slotsPerSecond = 1000 / SLOT_MS;
    return {
      bitsPerSecond: Math.round(sum * 8),
      instability: Math.round(Math.sqrt(variance / SLOTS) * 8 * slotsPerSecond),
      peaked: now - this.lastPeak < 1000,
    };
  }

  /** Clears the slots that have gone stale since the last update. */
  private advance(now: number): void {
    const current = Math.floor(now / SLOT_MS);
    const stale = Math.min(SLOTS, current - this.slotStart);
    const slots = this.slots;
    if (slots !== undefined) {
      for (let step = 1; step <= stale; step++) slots[(this.slotStart + step) % SLOTS] = 0;
    }
    this.slotStart = current;
  }
}

/** Each direction is made at its first byte: an idle connection should cost little. */
export class BandwidthMeter {
  private inbound: DirectionMeter | undefined;
  private outbound: DirectionMeter | undefined;

  get bytesReceived(): number {
    return this.inbound?.total ?? 0;
  }

  get bytesSent(): number {
    return this.outbound?.total ?? 0;
  }

  received(bytes: number): void {
    const now = performance.now();
    const inbound = (this.inbound ??= new DirectionMeter());
    inbound.add(bytes, now);
    if (bytes >= FULL_READ_BYTES) inbound.markPeak(now);
  }

  sent(bytes: number): void {
    (this.outbound ??= new DirectionMeter()).add(bytes, performance.now());
  }

  /** The socket's buffer filled: the network, not the application, is the limit. */
  sendLimited(): void {
    (this.outbound ??= new DirectionMeter()).markPeak(performance.now());
  }

  statistics(): BandwidthStatistics {
    const now = performance.now();
    const inbound = (this.inbound ??= new DirectionMeter()).rate(now);
    const outbound = (this.outbound ??= new DirectionMeter()).rate(now);
    return {
      outboundBitsPerSecond: outbound.bitsPerSecond,
      inboundBitsPerSecond: inbound.bitsPerSecond,
      outboundBitsPerSecondInstability: outbound.instability,
      inboundBitsPerSecondInstability: inbound.instability,
      outboundBandwidthPeaked: outbound.peaked,
      inboundBandwidthPeaked: inbound.peaked,
    };
  }
}
