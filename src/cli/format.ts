// Human-readable sizes (IEC: KiB, MiB, GiB), rates (decimal MB/s, as throughput is usually quoted) and
// durations for progress bars and summaries.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]!}`;
}

export function formatRate(bytesPerSecond: number): string {
  const megabytes = bytesPerSecond / 1e6;
  return megabytes >= 1 ? `${megabytes.toFixed(1)} MB/s` : `${(bytesPerSecond / 1e3).toFixed(1)} kB/s`;
}

/** m:ss, or h:mm:ss past an hour. */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const s = String(total % 60).padStart(2, '0');
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
