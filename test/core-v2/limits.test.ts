// Issue 14, item 4: where a whole message is held (FullMessage mode, on the client and on the listener),
// maxMessageSize defaults to 16 MiB: exactly 16 MiB is accepted, one byte more is refused with 1009,
// and a client sending an unfinished 300 MiB message cannot make a default message listener grow past
// that. Where messages stream (messages(), PartialMessage, stream sockets) there is no default limit.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { test } from 'node:test';

import {
  MessageWebSocket,
  MessageWebSocketReceiveMode,
  type MessageWebSocketMessageReceivedEventArgs,
  type ServerMessageWebSocket,
} from '../../src/index.js';
import { startHelper } from '../helpers/child.js';
import { Arrivals, listen, MiB, wsClient, wsCloseCode, wsServer } from '../helpers/peers.js';
import { within } from '../helpers/within.js';

const DEFAULT_WHOLE_MESSAGE_LIMIT = 16 * MiB;

test('a default message listener refuses an unfinished 300 MiB message with 1009 and stays far below 300 MiB', async (t) => {
  const server = startHelper(t, 'pid-echo-server', ['--report-closes']);
  const [, port] = await server.line(/^PORT (\d+)$/, 10_000, 'the server listening');
  const client = new MessageWebSocket();
  const closed = client.whenClosed();
  await within(client.connectAsync(`ws://127.0.0.1:${port!}/`), 5000, 'connectAsync');
  const fragment = Buffer.alloc(MiB, 0x61);
  try {
    for (let sent = 0; sent < 300 * MiB; sent += fragment.length)
      await client.sendNonfinalFrameAsync(fragment);
  } catch {
    // Refused: the server closed the connection.
  }
  // A library without the limit takes all 300 MiB and waits for more: the client gives up then.
  const refused = await within(closed, 10_000, 'the server closing').catch(() => undefined);
  if (refused === undefined) client.close(1000, 'gave up');
  const code = refused?.code ?? (await within(closed, 5000, 'our own close')).code;
  const [, , growth] = await server.line(/^CLOSED (\d+) ([\d.]+)$/, 10_000, "the server's report");
  assert.ok(Number(growth) < 64, `the server's RSS grew by ${growth!} MiB`);
  assert.equal(code, 1009, 'the close code the client received');
});

/** The next messageReceived events of a socket, one at a time. */
function events(
  socket: MessageWebSocket | ServerMessageWebSocket,
): Arrivals<MessageWebSocketMessageReceivedEventArgs> {
  const arrivals = new Arrivals<MessageWebSocketMessageReceivedEventArgs>();
  socket.on('messageReceived', (args) => {
    arrivals.push(args);
  });
  return arrivals;
}

test('a default message listener (FullMessage) takes a message of exactly 16 MiB and refuses 16 MiB + 1 with 1009', async (t) => {
  const { url, next } = await listen(t, { mode: 'message' });
  const peer = await wsClient(t, url);
  const received = events(await next());
  peer.send(Buffer.alloc(DEFAULT_WHOLE_MESSAGE_LIMIT, 1));
  const accepted = await received.next(10_000, 'the 16 MiB message');
  assert.equal(accepted.getData().length, DEFAULT_WHOLE_MESSAGE_LIMIT);
  const closing = wsCloseCode(peer, 10_000);
  peer.send(Buffer.alloc(DEFAULT_WHOLE_MESSAGE_LIMIT + 1, 2));
  assert.equal(await closing, 1009, 'the close code the ws client received');
});

test('a default MessageWebSocket (FullMessage) takes a message of exactly 16 MiB and refuses 16 MiB + 1 with 1009', async (t) => {
  const server = await wsServer(t);
  const client = new MessageWebSocket();
  t.after(() => {
    client.close();
  });
  const received = events(client);
  const next = server.next();
  await within(client.connectAsync(server.url), 5000, 'connectAsync');
  const peer = await next;
  peer.send(Buffer.alloc(DEFAULT_WHOLE_MESSAGE_LIMIT, 1));
  const accepted = await received.next(10_000, 'the 16 MiB message');
  assert.equal(accepted.getData().length, DEFAULT_WHOLE_MESSAGE_LIMIT);
  const closing = wsCloseCode(peer, 10_000);
  peer.send(Buffer.alloc(DEFAULT_WHOLE_MESSAGE_LIMIT + 1, 2));
  assert.equal(await closing, 1009, 'the close code the ws server received');
  assert.equal((await within(client.whenClosed(), 5000, 'closed')).code, 1009);
});

/** Sums the bytes of the sections a `for await` source yields, stopping at `enough`. */
async function count(source: AsyncIterable<Buffer>, enough: number): Promise<number> {
  let bytes = 0;
  for await (const section of source) {
    bytes += section.length;
    if (bytes >= enough) break;
  }
  return bytes;
}

test('messages() on a default message listener has no limit: a 64 MiB message passes through', async (t) => {
  const { url, next } = await listen(t, { mode: 'message' });
  const peer = await wsClient(t, url);
  const socket = await next();
  peer.send(Buffer.alloc(64 * MiB, 3));
  const bytes = await within(
    (async () => {
      for await (const message of socket.messages()) return count(message, 64 * MiB);
      return 0;
    })(),
    30_000,
    'the 64 MiB message through messages()',
  );
  assert.equal(bytes, 64 * MiB);
});

test('PartialMessage mode has no limit: a 64 MiB message arrives in pieces, the last one complete', async (t) => {
  const server = await wsServer(t);
  const client = new MessageWebSocket();
  client.control.receiveMode = MessageWebSocketReceiveMode.PartialMessage;
  t.after(() => {
    client.close();
  });
  let bytes = 0;
  const complete = new Promise<void>((resolve) => {
    client.on('messageReceived', (args) => {
      bytes += args.getData().length;
      if (args.isMessageComplete) resolve();
    });
  });
  const next = server.next();
  await within(client.connectAsync(server.url), 5000, 'connectAsync');
  (await next).send(Buffer.alloc(64 * MiB, 4));
  await within(complete, 30_000, 'the last piece');
  assert.equal(bytes, 64 * MiB);
});

test('a stream socket has no limit: a 64 MiB message reaches inputStream whole', async (t) => {
  const { url, next } = await listen(t);
  const peer = await wsClient(t, url);
  const socket = await next();
  peer.send(Buffer.alloc(64 * MiB, 5));
  const bytes = await within(count(socket.inputStream, 64 * MiB), 30_000, 'the 64 MiB message');
  assert.equal(bytes, 64 * MiB);
});
