// tinyproxy (Debian's tinyproxy-bin, /usr/bin/tinyproxy) as the forward proxy of the interop tests:
// in the foreground (-d) on a free port of 127.0.0.1 with a generated configuration in a temporary
// directory. tinyproxy 1.11 restricts CONNECT to the ConnectPort lines of its configuration and allows
// every port when there is none, so the configuration has none (the targets' ports are random) unless
// `connectPorts` asks for some.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { freePort, makeWorkDir, requireExecutable, startDaemon, type Daemon } from './daemon.js';

export const TINYPROXY = '/usr/bin/tinyproxy';

export interface TinyproxyOptions {
  /** BasicAuth user and password: the proxy then answers 407 without them. */
  basicAuth?: { username: string; password: string };
  /** ConnectPort lines: only these ports may be CONNECTed to. None: every port. */
  connectPorts?: readonly number[];
}

export interface TinyproxyServer extends Daemon {
  readonly config: string;
  readonly url: string;
}

export async function startTinyproxy(options: TinyproxyOptions = {}): Promise<TinyproxyServer> {
  requireExecutable(TINYPROXY, 'tinyproxy-bin');
  for (let attempt = 1; ; attempt++) {
    const dir = await makeWorkDir('tinyproxy');
    const port = await freePort();
    const log = path.join(dir, 'tinyproxy.log');
    const config = [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 600',
      `LogFile "${log}"`,
      'LogLevel Info',
      `PidFile "${path.join(dir, 'tinyproxy.pid')}"`,
      'MaxClients 64',
      'Allow 127.0.0.1',
      'DisableViaHeader Yes',
      ...(options.basicAuth === undefined
        ? []
        : [`BasicAuth ${options.basicAuth.username} ${options.basicAuth.password}`]),
      ...(options.connectPorts ?? []).map((connectPort) => `ConnectPort ${connectPort}`),
      '',
    ].join('\n');
    const file = path.join(dir, 'tinyproxy.conf');
    await writeFile(file, config);
    try {
      const daemon = await startDaemon({
        name: 'tinyproxy',
        file: TINYPROXY,
        args: ['-d', '-c', file],
        port,
        dir,
        logs: [log],
      });
      return {
        ...daemon,
        config,
        url: `http://127.0.0.1:${port}`,
        describe: () => `${daemon.describe()}\n--- tinyproxy.conf ---\n${config}`,
      };
    } catch (error) {
      if (attempt < 3 && /already in use|Unable to listen/i.test(String(error))) continue;
      throw error;
    }
  }
}
