// A benchmark process that the parent talks to over Node's IPC channel, for benchmarks whose contenders
// run in processes of their own (a server in one, its client in another). Messages are JSON objects
// with a `kind`; the parent waits for the next message of a kind, and a failure of the child (a
// 'failed' message, an exit, a spawn error) rejects that wait instead of leaving it hanging.

import { fork, type ChildProcess } from 'node:child_process';

export interface PeerMessage {
  kind: string;
}

/** What a child sends when something went wrong; it keeps running until told to stop. */
export interface FailedMessage {
  kind: 'failed';
  message: string;
}

export interface PeerOptions {
  /** Arguments after the script. */
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Node flags for the child (none by default: the parent's are not inherited). */
  execArgv?: readonly string[];
}

interface Waiter<M> {
  kind: string;
  resolve: (message: M) => void;
  reject: (error: Error) => void;
}

function isFailedMessage(value: unknown): value is FailedMessage {
  return (
    typeof value === 'object' &&
    value !== null &&
    'kind' in value &&
    value.kind === 'failed' &&
    'message' in value &&
    typeof value.message === 'string'
  );
}

export class IpcPeer<M extends PeerMessage> {
  /** Resolves when the child has exited, with its exit code (null after a signal). */
  readonly exited: Promise<number | null>;

  private readonly child: ChildProcess;
  private readonly inbox: M[] = [];
  private readonly waiters: Waiter<M>[] = [];
  private failure: Error | undefined;
  private stopping = false;

  /** Forks `node script ...args`; the child's stdout and stderr go to the parent's stderr. */
  constructor(
    readonly name: string,
    script: string,
    isMessage: (value: unknown) => value is M,
    options: PeerOptions,
  ) {
    this.child = fork(script, [...options.args], {
      env: options.env,
      execArgv: [...(options.execArgv ?? [])],
      // The parent's stdout may be a JSON report; nothing of the children's may end up in it.
      stdio: ['ignore', 2, 2, 'ipc'],
    });
    this.exited = new Promise((resolve) => {
      // 'close' rather than 'exit': it comes after the IPC channel has delivered its last message.
      this.child.once('close', (code, signal) => {
        const how = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
        this.fail(new Error(`${name} exited (${how})`), true);
        resolve(code);
      });
    });
    this.child.on('error', (error) => {
      this.fail(new Error(`${name}: ${error.message}`, { cause: error }), true);
    });
    this.child.on('message', (message: unknown) => {
      if (isFailedMessage(message)) this.fail(new Error(`${name}: ${message.message}`), false);
      else if (isMessage(message)) this.deliver(message);
      else this.fail(new Error(`${name} sent an unexpected message: ${JSON.stringify(message)}`), false);
    });
  }

  /** The next message of this kind (one that came earlier and was not taken yet, or the next one). */
  expect<K extends M['kind']>(kind: K): Promise<Extract<M, { kind: K }>> {
    const index = this.inbox.findIndex((message) => message.kind === kind);
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0] as Extract<M, { kind: K }>);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiters.push({
        kind,
        resolve: (message) => {
          resolve(message as Extract<M, { kind: K }>);
        },
        reject,
      });
    });
  }

  send(message: PeerMessage): void {
    if (this.child.connected) this.child.send(message);
  }

  /**
   * From now on the child is expected to wind down: 'failed' reports (its peer going away first, say)
   * are ignored, and a clean exit is not a failure. An exit still fails what is being waited for.
   */
  stop(message: PeerMessage): void {
    this.stopping = true;
    this.send(message);
  }

  /** Kills the child if it is still running. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private deliver(message: M): void {
    const index = this.waiters.findIndex((waiter) => waiter.kind === message.kind);
    if (index < 0) {
      this.inbox.push(message);
      return;
    }
    this.waiters.splice(index, 1)[0]!.resolve(message);
  }

  private fail(error: Error, exited: boolean): void {
    if (this.stopping && !exited) return;
    this.failure ??= error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
  }
}

/** Rejects with a timeout error (after calling onTimeout) if the promise takes longer than `ms`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`${what} took longer than ${(ms / 1000).toFixed(0)} s`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
