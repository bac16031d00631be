// Where the CLI's words go. stdout: results (one line per transfer or connection; JSON lines with
// --json), unless stdout carries the data, then they go to stderr. stderr: information (silenced by
// --quiet), progress, and errors.

import type { Buffer } from 'node:buffer';

export interface OutputOptions {
  quiet?: boolean | undefined;
  json?: boolean | undefined;
  /** stdout carries the transferred bytes (recv -o -, connect): results go to stderr. */
  dataOnStdout?: boolean;
}

export type JsonRecord = Record<string, string | number | boolean | null | undefined>;

export class Output {
  readonly quiet: boolean;
  readonly json: boolean;
  private readonly results: NodeJS.WriteStream;

  constructor(options: OutputOptions = {}) {
    this.quiet = options.quiet === true;
    this.json = options.json === true;
    this.results = options.dataOnStdout === true ? process.stderr : process.stdout;
  }

  /** Information for a person (stderr); --quiet silences it. */
  info(message: string): void {
    if (!this.quiet) process.stderr.write(`${message}\n`);
  }

  /** A warning that --quiet does not silence (stderr). */
  warn(message: string): void {
    process.stderr.write(`sws: ${message}\n`);
  }

  /** A server's line per transfer or connection: always printed, as JSON with --json. */
  event(human: string, record: JsonRecord): void {
    this.results.write(this.json ? `${JSON.stringify(record)}\n` : `${human}\n`);
  }

  /** A client's closing summary: a JSON line with --json, else information. */
  summary(human: string, record: JsonRecord): void {
    if (this.json) this.results.write(`${JSON.stringify(record)}\n`);
    else this.info(human);
  }
}

/** Writes data to stdout; resolves once it is taken, rejects when stdout fails (a reader gone). */
export function writeStdout(chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (error) => {
      if (error === null || error === undefined) resolve();
      else reject(error);
    });
  });
}
