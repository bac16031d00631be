// sws serve: a file server over WebSocket. GET /files/NAME streams the file out of --dir (through a
// ServerStreamWebSocket's outputStream, then a close with the digest); /upload/NAME stores what the
// client streams in, under a temporary name until the client's clean close confirms it is complete.
// One line per transfer on stdout (JSON lines with --json), with bytes and sha256.

import { realpath, stat, type FileHandle } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';

import { WebSocketListener, type ServerStreamWebSocket } from '../../index.js';
import { COMMON_OPTIONS, operands, parseCommand, parseCredential, parsePort } from '../args.js';
import { receiveAndCheck, sendAndClose } from '../byte-transfer.js';
import { peerOf, type Command } from '../command.js';
import { ExitCode, ioFailure, transferFailure } from '../errors.js';
import {
  closeReason,
  encodeHeader,
  FILE_PROTOCOL,
  FileCloseCode,
  isPlainFileName,
} from '../file-protocol.js';
import { formatRate } from '../format.js';
import { onInterrupt } from '../interrupt.js';
import { openServed, openUpload, READ_CHUNK_BYTES, type LocalOutput } from '../local-files.js';
import { Meter } from '../meter.js';
import { Output } from '../output.js';
import {
  closeFront,
  createFront,
  HANDSHAKE_TIMEOUT_OPTION,
  HANDSHAKE_TIMEOUT_USAGE,
  handshakeTimeout,
  listen,
  readTls,
  refuse,
} from '../upgrade-server.js';

const OPTIONS = {
  ...COMMON_OPTIONS,
  port: { type: 'string', short: 'p', default: '8080' },
  host: { type: 'string', default: '127.0.0.1' },
  dir: { type: 'string', short: 'd', default: '.' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  auth: { type: 'string' },
  ...HANDSHAKE_TIMEOUT_OPTION,
} as const;

const USAGE = `Usage: sws serve [--port P] [--host H] [--dir D] [options]

Serves the files of directory D over WebSocket and stores uploads into it:
  ws://H:P/files/NAME    download NAME (sws recv)
  ws://H:P/upload/NAME   upload to NAME (sws send); replaces NAME once the upload is complete
                         (never through a symbolic link: an upload replaces only regular files)
NAME must be a plain file name (no '/', no leading '.'); anything else is refused with HTTP 400,
a missing file with HTTP 404, a symbolic link that leads out of D (or an unreadable file) with 403. Prints one line per transfer with its size and sha256.

Protocol: the file's bytes as binary messages, then a close with code 1000 and the reason
"sha256=<hex> size=<n>"; the receiver checks both. A client that offers the subprotocol sws.file.v1
first gets one JSON line {"name":…,"size":…} (sws recv uses it for its progress and ETA).

Options:
  -p, --port P             port to listen on (default 8080; 0: any free port)
  --host H                 address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  -d, --dir D              directory to serve and store into (default: the current directory)
  --tls-cert FILE --tls-key FILE   serve wss: with this certificate and key (PEM)
  --auth user:pass         require these Basic credentials (sws send/recv --user user:pass)
${HANDSHAKE_TIMEOUT_USAGE}
  --json                   print JSON lines (a "listening" line first, then one per transfer)
  -q, --quiet              no startup line
  -h, --help               this help`;

type Job =
  | { kind: 'download'; name: string; file: FileHandle; size: number }
  | { kind: 'upload'; name: string; output: LocalOutput };

export const serve: Command = {
  name: 'serve',
  summary: 'serve a directory: downloads from /files/NAME, uploads to /upload/NAME',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommand('serve', argv, OPTIONS);
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.Ok;
    }
    operands('serve', positionals, []);
    const port = parsePort(values.port, '--port');
    const dir = path.resolve(values.dir);
    const auth = values.auth === undefined ? undefined : parseCredential(values.auth, '--auth');
    const tls = await readTls(values['tls-cert'], values['tls-key']);
    // The directory's real path: downloads through symbolic links must stay under it.
    let root: string;
    try {
      root = await realpath(dir);
      if (!(await stat(root)).isDirectory())
        throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (error) {
      throw ioFailure(error, `cannot serve ${dir}`);
    }
    const out = new Output({ quiet: values.quiet, json: values.json });

    const listener = new WebSocketListener({ mode: 'stream', supportedProtocols: [FILE_PROTOCOL] });
    const jobs = new WeakMap<http.IncomingMessage, Job>();
    listener.on('connectionReceived', ({ socket, request }) => {
      const job = jobs.get(request);
      jobs.delete(request);
      if (job === undefined) {
        socket.close(FileCloseCode.StorageFailed, 'no transfer for this request');
        return;
      }
      const peer = peerOf(request.socket);
      const transfer =
        job.kind === 'download' ? download(socket, job, peer, out) : upload(socket, job, peer, out);
      transfer.catch((error: unknown) => {
        out.warn(`internal error: ${String(error)}`);
      });
    });

    const server = createFront({
      tls,
      auth,
      handshakeTimeout: handshakeTimeout(values['handshake-timeout']),
      route: (request, socket, head) => {
        const target = parseTarget(request.url);
        if ('status' in target) {
          refuse(socket, target.status, target.message);
          return;
        }
        prepare(target.kind, target.name, root).then(
          (job) => {
            if ('status' in job) {
              refuse(socket, job.status, job.message);
              return;
            }
            jobs.set(request, job);
            listener.handleUpgrade(request, socket, head);
            // An upgrade that was refused (not a valid WebSocket request) leaves its job behind.
            if (jobs.has(request)) {
              jobs.delete(request);
              abandon(job).catch(() => undefined);
            }
          },
          () => {
            refuse(socket, 500, 'the server failed');
          },
        );
      },
    });
    const bound = await listen(server, values.host, port);
    const scheme = tls === undefined ? 'ws' : 'wss';
    const url = `${scheme}://${values.host.includes(':') ? `[${values.host}]` : values.host}:${bound}`;
    if (out.json) out.event('', { event: 'listening', url, port: bound, dir });
    else
      out.info(
        `serving ${dir} on ${url}/files/NAME (downloads) and ${url}/upload/NAME (uploads); Ctrl-C stops`,
      );

    const closed = new Promise<void>((resolve) => server.once('close', resolve));
    onInterrupt(async () => {
      await listener.closeAsync();
      await closeFront(server);
    });
    await closed;
    return ExitCode.Ok;
  },
};

/** The transfer a path asks for, or the HTTP status that refuses it. */
function parseTarget(
  url: string | undefined,
): { kind: 'download' | 'upload'; name: string } | { status: number; message: string } {
  const pathname = new URL(url ?? '/', 'http://localhost').pathname;
  const match = /^\/(files|upload)\/([^/]*)$/.exec(pathname);
  if (match === null) return { status: 404, message: 'sws serve answers /files/NAME and /upload/NAME' };
  let name: string;
  try {
    name = decodeURIComponent(match[2]!);
  } catch {
    return { status: 400, message: 'the file name is not valid percent-encoding' };
  }
  if (!isPlainFileName(name)) return { status: 400, message: 'NAME must be a plain file name' };
  return { kind: match[1] === 'files' ? 'download' : 'upload', name };
}

/** Opens the file before the upgrade is accepted, so that a missing or unwritable one gets an HTTP status. */
async function prepare(
  kind: 'download' | 'upload',
  name: string,
  root: string,
): Promise<Job | { status: number; message: string }> {
  const file = path.join(root, name);
  if (kind === 'upload') {
    try {
      return { kind, name, output: await openUpload(file) };
    } catch (error) {
      const exists = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'EEXIST';
      return exists
        ? { status: 409, message: `${name} exists and is not a regular file` }
        : { status: 500, message: `cannot store ${name}` };
    }
  }
  try {
    const served = await openServed(file, root);
    return { kind, name, file: served.handle, size: served.size };
  } catch (error) {
    const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    return code === 'EACCES' || code === 'EPERM'
      ? { status: 403, message: `${name} may not be downloaded` }
      : { status: 404, message: `no file ${name}` };
  }
}

async function abandon(job: Job): Promise<void> {
  if (job.kind === 'download') await job.file.close();
  else await job.output.discard();
}

async function download(
  socket: ServerStreamWebSocket,
  job: Job & { kind: 'download' },
  peer: string,
  out: Output,
): Promise<void> {
  const meter = new Meter();
  // Whatever the client sends is not needed; reading it on lets its close frame through.
  socket.inputStream.resume();
  try {
    if (socket.information.protocol === FILE_PROTOCOL) {
      await socket.outputStream.writeAsync(encodeHeader({ name: job.name, size: job.size }));
    }
    await sendAndClose(
      socket,
      job.file.createReadStream({ highWaterMark: READ_CHUNK_BYTES }),
      meter,
      job.name,
    );
    report(out, 'download', job.name, peer, meter);
  } catch (error) {
    await job.file.close().catch(() => undefined);
    report(out, 'download', job.name, peer, meter, transferFailure(error).message);
  }
}

async function upload(
  socket: ServerStreamWebSocket,
  job: Job & { kind: 'upload' },
  peer: string,
  out: Output,
): Promise<void> {
  const meter = new Meter();
  try {
    await receiveAndCheck(socket, job.output.stream, meter, {
      sinkName: job.name,
      keep: () => job.output.commit(),
    });
    report(out, 'upload', job.name, peer, meter);
  } catch (error) {
    const failure = transferFailure(error);
    socket.close(FileCloseCode.StorageFailed, closeReason(`not stored: ${failure.message}`));
    await job.output.discard();
    report(out, 'upload', job.name, peer, meter, failure.message);
  }
}

function report(
  out: Output,
  event: 'download' | 'upload',
  name: string,
  peer: string,
  meter: Meter,
  error?: string,
): void {
  const seconds = Number(meter.seconds.toFixed(3));
  if (error !== undefined) {
    out.event(
      `failed ${event} ${name} ${event === 'upload' ? 'from' : 'to'} ${peer} after ${meter.bytes} bytes: ${error}`,
      {
        event,
        name,
        ok: false,
        bytes: meter.bytes,
        seconds,
        peer,
        error,
      },
    );
    return;
  }
  const verb = event === 'upload' ? 'stored' : 'sent';
  out.event(
    `${verb} ${name}: ${meter.bytes} bytes, sha256 ${meter.sha256}, ${seconds} s, ${formatRate(meter.rate)}, ${event === 'upload' ? 'from' : 'to'} ${peer}`,
    { event, name, ok: true, bytes: meter.bytes, sha256: meter.sha256, seconds, peer },
  );
}
