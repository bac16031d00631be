// One test body for every WebSocketStream client: it runs in Node with our WebSocketStream and in
// headless Chromium with its native one (the function's source is sent to the page, so it must use
// nothing but its parameters and the platform), against the same server (webstream-server.ts). It opens,
// sends text and bytes and reads them back, closes with a code and a reason, checks close()'s argument
// rules, reads a flood slowly (backpressure), aborts the writable, cancels the readable and aborts a
// handshake. It returns what it saw; the tests assert the same things of both clients.

/** What the server side offers the scenario besides the sockets (functions exposed to the page). */
export interface ScenarioHooks {
  /**
   * Waits until the /flood connection's server has stopped sending (its writes wait for the reader), and
   * tells how many bytes its writes had handed over by then, and how many it will send in all.
   */
  floodQuiet(): Promise<{ taken: number; total: number }>;
  /** Resolves once the server holds the upgrade request for /hold (the handshake is in progress). */
  handshakeArrived(): Promise<void>;
}

export interface ScenarioReport {
  url: string;
  protocol: string;
  extensions: string;
  /** The echoed messages: text as it came; binary as its kind (constructor's name) and bytes. */
  echoed: ({ text: string } | { kind: string; ownBuffer: boolean; bytes: number[] })[];
  closed: { closeCode: number; reason: string };
  readAfterClose: boolean;
  writeAfterClose: string;
  /** The DOMException name close() threw for each bad argument. */
  closeArgumentErrors: Record<string, string>;
  flood: {
    takenBeyondRead: number;
    read: number;
    total: number;
    closed: { closeCode: number; reason: string };
  };
  abortedWritable: { closeCode: number; reason: string };
  cancelledReadable: { closeCode: number; reason: string };
  /** How `opened` and `closed` rejected after an abort during the handshake: "reason" (the signal's) or the error's name. */
  abortedHandshake: { opened: string; closed: string };
  /** How `opened` and `closed` rejected when the server answered 404. */
  refused: { opened: RejectionReport; closed: RejectionReport };
  webSocketError: { name: string; isDOMException: boolean; closeCode: number | null; reason: string };
}

export interface RejectionReport {
  name: string;
  tag: string;
  closeCode: number | null | undefined;
  reason: string | undefined;
}

interface StreamLike {
  readonly url: string;
  readonly opened: Promise<{
    readable: ReadableStream<string | Uint8Array | ArrayBuffer>;
    writable: WritableStream<unknown>;
    protocol: string;
    extensions: string;
  }>;
  readonly closed: Promise<{ closeCode: number; reason: string }>;
  close(info?: unknown): void;
}

type StreamConstructor = new (
  url: string,
  options?: { protocols?: string[]; signal?: AbortSignal },
) => StreamLike;
type ErrorConstructor = new (
  message?: string,
  init?: { closeCode?: number; reason?: string },
) => Error & {
  closeCode: number | null;
  reason: string;
};

/** What the scenario is told (plain data: it crosses into the page as JSON). */
export interface ScenarioSettings {
  /** The server's ws: URL, ending in '/'. */
  base: string;
  /** The text message sent and echoed. */
  text: string;
}

export async function webSocketStreamScenario(
  WebSocketStreamClass: StreamConstructor,
  WebSocketErrorClass: ErrorConstructor,
  { base, text }: ScenarioSettings,
  hooks: ScenarioHooks,
): Promise<ScenarioReport> {
  const allBytes = Uint8Array.from({ length: 256 }, (_unused, index) => index);
  const describe = (value: string | Uint8Array | ArrayBuffer): ScenarioReport['echoed'][number] => {
    if (typeof value === 'string') return { text: value };
    const view = value instanceof ArrayBuffer ? new Uint8Array(value) : value;
    return {
      kind: value.constructor.name,
      ownBuffer: view.buffer.byteLength === view.byteLength,
      bytes: Array.from(view),
    };
  };

  // Open, send text and bytes, read them back, close with a code and a reason.
  const wss = new WebSocketStreamClass(`${base}echo`, { protocols: ['chat.v2', 'chat.v1'] });
  const { readable, writable, protocol, extensions } = await wss.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write(text);
  await writer.write(allBytes);
  await writer.write(new Uint8Array(0));
  await writer.write(allBytes.buffer.slice(250));
  const echoed: ScenarioReport['echoed'] = [];
  for (let count = 0; count < 4; count++) {
    const next = await reader.read();
    if (next.done) break;
    echoed.push(describe(next.value));
  }
  const closeArgumentErrors: Record<string, string> = {};
  const badArguments: [string, unknown][] = [
    ['code 1001', { closeCode: 1001 }],
    ['code 2999', { closeCode: 2999 }],
    ['code 5000', { closeCode: 5000 }],
    ['reason of 124 bytes', { reason: 'x'.repeat(124) }],
    ['reason of 62 two-byte characters', { closeCode: 1000, reason: 'é'.repeat(62) }],
  ];
  for (const [label, info] of badArguments) {
    try {
      wss.close(info);
      closeArgumentErrors[label] = 'no error';
    } catch (error) {
      closeArgumentErrors[label] = (error as Error).name;
    }
  }
  wss.close({ closeCode: 4001, reason: 'done ✓' });
  const closed = await wss.closed;
  const readAfterClose = (await reader.read()).done;
  const writeAfterClose = await writer.write('late').then(
    () => 'resolved',
    (error: unknown) => (error as Error).name,
  );

  // Backpressure: read one message of the flood, then let the server run until it cannot send more.
  const flooding = new WebSocketStreamClass(`${base}flood`);
  const floodReader = (await flooding.opened).readable.getReader();
  const first = await floodReader.read();
  let read = first.done ? 0 : (first.value as Uint8Array).byteLength;
  const { taken, total } = await hooks.floodQuiet();
  const takenBeyondRead = taken - read;
  while (read < total) {
    const next = await floodReader.read();
    if (next.done) break;
    read += (next.value as Uint8Array).byteLength;
  }
  flooding.close({ closeCode: 1000 });
  const floodClosed = await flooding.closed;

  // Aborting the writable with a WebSocketError closes with its code; cancelling without one, with none.
  const aborting = new WebSocketStreamClass(`${base}echo`);
  await (
    await aborting.opened
  ).writable.abort(new WebSocketErrorClass('stop', { closeCode: 4002, reason: 'abort' }));
  const abortedWritable = await aborting.closed;
  const cancelling = new WebSocketStreamClass(`${base}echo`);
  await (await cancelling.opened).readable.cancel();
  const cancelledReadable = await cancelling.closed;

  // Aborting during the opening handshake rejects both promises with the signal's reason.
  const controller = new AbortController();
  const held = new WebSocketStreamClass(`${base}hold`, { signal: controller.signal });
  await hooks.handshakeArrived();
  const reason = new Error('changed my mind');
  controller.abort(reason);
  const rejection = (error: unknown): string => (error === reason ? 'reason' : (error as Error).name);
  const abortedHandshake = {
    opened: await held.opened.then(() => 'opened', rejection),
    closed: await held.closed.then(() => 'closed', rejection),
  };

  // A refused upgrade (404) rejects `opened` (no close code) and `closed` (1006).
  const describeRejection = (error: unknown): RejectionReport => {
    const { name, closeCode, reason: why } = error as Error & { closeCode?: number | null; reason?: string };
    return { name, tag: Object.prototype.toString.call(error), closeCode, reason: why };
  };
  const missing = new WebSocketStreamClass(`${base}missing`);
  const refused = {
    opened: await missing.opened.then(() => describeRejection(null), describeRejection),
    closed: await missing.closed.then(() => describeRejection(null), describeRejection),
  };

  const made = new WebSocketErrorClass('made', { closeCode: 4000, reason: 'why' });
  return {
    url: wss.url,
    protocol,
    extensions,
    echoed,
    closed,
    readAfterClose,
    writeAfterClose,
    closeArgumentErrors,
    flood: { takenBeyondRead, read, total, closed: floodClosed },
    abortedWritable,
    cancelledReadable,
    abortedHandshake,
    refused,
    webSocketError: {
      name: made.name,
      isDOMException: made instanceof DOMException,
      closeCode: made.closeCode,
      reason: made.reason,
    },
  };
}
