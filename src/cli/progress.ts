// The progress bar of a long transfer, redrawn in place on a terminal (stderr) with bytes, rate and ETA.
// Off a terminal, or with --quiet, there is no bar at all: logs and pipes get no carriage returns.

import readline from 'node:readline';

import { formatBytes, formatDuration, formatRate } from './format.js';

/** A transfer shows its bar only once it has run this long. */
const SHOW_AFTER_MS = 400;
const REDRAW_MS = 200;
/** The rate is measured over this recent window. */
const RATE_WINDOW_MS = 3000;

export interface ProgressOptions {
  label: string;
  /** Expected bytes, when known: then a bar, a percentage and an ETA. */
  total?: number | undefined;
  /** Bytes moved so far. */
  bytes: () => number;
}

export class ProgressBar {
  private static readonly active = new Set<ProgressBar>();
  private readonly timer: NodeJS.Timeout;
  private readonly samples: { at: number; bytes: number }[] = [];
  private drawn = false;

  private constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly options: ProgressOptions,
  ) {
    const started = performance.now();
    this.samples.push({ at: started, bytes: options.bytes() });
    this.timer = setInterval(() => {
      if (performance.now() - started >= SHOW_AFTER_MS) this.draw();
    }, REDRAW_MS);
    this.timer.unref();
    ProgressBar.active.add(this);
  }

  /** Erases every bar still shown (before the process exits, e.g. on Ctrl-C). */
  static stopAll(): void {
    for (const bar of ProgressBar.active) bar.stop();
  }

  /** A bar on stderr when it is a terminal and not silenced; otherwise nothing (undefined). */
  static start(options: ProgressOptions, quiet: boolean): ProgressBar | undefined {
    // isTTY is undefined off a terminal, whatever the typings say.
    if (quiet || !process.stderr.isTTY) return undefined;
    return new ProgressBar(process.stderr, options);
  }

  /** Stops redrawing and erases the bar's line. */
  stop(): void {
    clearInterval(this.timer);
    ProgressBar.active.delete(this);
    if (!this.drawn) return;
    readline.cursorTo(this.stream, 0);
    readline.clearLine(this.stream, 0);
    this.drawn = false;
  }

  private draw(): void {
    const now = performance.now();
    const bytes = this.options.bytes();
    this.samples.push({ at: now, bytes });
    while (this.samples.length > 2 && now - this.samples[0]!.at > RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const rate = now > first.at ? ((bytes - first.bytes) * 1000) / (now - first.at) : 0;
    const { total, label } = this.options;
    const parts = [label];
    const width = this.stream.columns > 0 ? this.stream.columns : 80;
    if (total !== undefined && total > 0) {
      const fraction = Math.min(1, bytes / total);
      const eta = rate > 0 ? formatDuration((total - bytes) / rate) : '--:--';
      const tail = `${String(Math.floor(fraction * 100)).padStart(3)}%  ${formatBytes(bytes)} / ${formatBytes(total)}  ${formatRate(rate)}  ETA ${eta}`;
      const barWidth = Math.max(10, Math.min(40, width - label.length - tail.length - 6));
      const filled = Math.round(fraction * barWidth);
      parts.push(`[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`, tail);
    } else {
      parts.push(`${formatBytes(bytes)}  ${formatRate(rate)}`);
    }
    readline.cursorTo(this.stream, 0);
    this.stream.write(parts.join(' ').slice(0, width - 1));
    readline.clearLine(this.stream, 1);
    this.drawn = true;
  }
}
