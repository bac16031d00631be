// Issue 19, item 6: every socket's life ends once, whatever happens. A connectAsync that fails once it has
// begun — refused, an HTTP status instead of the upgrade, a certificate refused, aborted — closes the
// socket: 'closed' fires once with 1006, whenClosed() settles with it, reads and writes waiting on the
// socket end instead of hanging, and connecting again is E_ILLEGAL_METHOD_CALL. Real failures on
// 127.0.0.1, for both client classes.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { before, describe, it, type TestContext } from 'node:test';

import {
  HResult,
  MessageWebSocket,
  StreamWebSocket,
  WebErrorStatus,
  WebSocketError,
  WebSocketListener,
} from '../src/index.js';
import { createTestPki, type TestPki } from './helpers/pki.js';
import { rejectionOf } from './helpers/rejection.js';
import { within } from './helpers/within.js';

let pki: TestPki;
before(async () => {
  pki = await createTestPki();
});

/** A failure and the URL (and abort) that causes it. */
interface Failure {
  name: string;
  status: WebErrorStatus;
  /** Prepares the server; returns the URL to connect to, and optionally what to do once connecting. */
  setup: (t: TestContext) => Promise<{ url: string; whileConnecting?: () => Promise<void> }>;
}

async function listening(server: net.Server, t: TestContext): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

const failures: Failure[] = [
  {
    name: 'a refused connection',
    status: WebErrorStatus.CannotConnect,
    setup: async () => ({ url: `ws://127.0.0.1:${String(await freedPort())}/` }),
  },
  {
    name: 'an HTTP 404 for the upgrade',
    status: WebErrorStatus.NotFound,
    setup: async (t) => {
      const server = http.createServer();
      const listener = new WebSocketListener();
      listener.attach(server, '/ws');
      const port = await listening(server, t);
      t.after(() => listener.closeAsync());
      return { url: `ws://127.0.0.1:${String(port)}/elsewhere` };
    },
  },
  {
    name: 'a certificate refused (untrusted, self-signed)',
    status: WebErrorStatus.CertificateIsInvalid,
    setup: async (t) => {
      const listener = new WebSocketListener({ tls: { key: pki.selfSigned.key, cert: pki.selfSigned.cert } });
      listener.on('connectionReceived', () => undefined);
      await listener.bindServiceNameAsync(0, '127.0.0.1');
      t.after(() => listener.closeAsync());
      return { url: `wss://127.0.0.1:${String(listener.information.localPort ?? 0)}/` };
    },
  },
  {
    name: 'an aborted connect (the server never answers)',
    status: WebErrorStatus.OperationCanceled,
    setup: async (t) => {
      const accepted = new Set<net.Socket>();
      let arrived!: () => void;
      const connection = new Promise<void>((resolve) => (arrived = resolve));
      const server = net.createServer((socket) => {
        accepted.add(socket);
        arrived();
      });
      const port = await listening(server, t);
      t.after(() => {
        for (const socket of accepted) socket.destroy();
      });
      return { url: `ws://127.0.0.1:${String(port)}/`, whileConnecting: () => connection };
    },
  },
];

/** A port that was bound and released: nothing listens there. */
async function freedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

for (const Socket of [StreamWebSocket, MessageWebSocket]) {
  void describe(`${Socket.name}: a failed connectAsync closes the socket once`, () => {
    for (const failure of failures) {
      void it(failure.name, async (t) => {
        const { url, whileConnecting } = await failure.setup(t);
        const socket = new Socket();
        const closedEvents: unknown[] = [];
        socket.on('closed', (args) => closedEvents.push(args));
        const whenClosed = socket.whenClosed();
        // A read waiting on the socket from before the connect.
        const reading =
          socket instanceof StreamWebSocket
            ? socket.inputStream.readAsync(new Uint8Array(8))
            : socket.messages().next();
        const controller = new AbortController();
        const connecting = socket.connectAsync(url, { signal: controller.signal });
        if (whileConnecting !== undefined) {
          await within(whileConnecting(), 5000, 'the connection reaching the server');
          controller.abort();
        }
        const error = await rejectionOf(connecting, 'connectAsync');
        assert.equal(error.status, failure.status, error.message);

        assert.deepEqual(await within(whenClosed, 5000, 'whenClosed()'), { code: 1006, reason: '' });
        const readFailure = await rejectionOf(reading, 'the waiting read');
        assert.equal(readFailure.status, WebErrorStatus.OperationCanceled);
        await assert.rejects(socket.outputStream.writeAsync(new Uint8Array(1)), WebSocketError);

        // Neither a later close() nor a second connect ends it again.
        socket.close();
        await assert.rejects(socket.connectAsync(url), { hresult: HResult.E_ILLEGAL_METHOD_CALL });
        // close() reports on the next tick: by the turn after it, a second 'closed' would be there.
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(closedEvents, [{ code: 1006, reason: '' }], "'closed' fired once");
        assert.deepEqual(await socket.whenClosed(), { code: 1006, reason: '' });
      });
    }
  });
}

void it('a connectAsync refused for a bad argument changes nothing: the socket still connects', async (t) => {
  const listener = new WebSocketListener();
  listener.on('connectionReceived', () => undefined);
  await listener.bindServiceNameAsync(0, '127.0.0.1');
  t.after(() => listener.closeAsync());
  const socket = new StreamWebSocket();
  let closed = 0;
  socket.on('closed', () => closed++);
  await assert.rejects(socket.connectAsync('http://127.0.0.1/'), { hresult: HResult.E_INVALIDARG });
  await socket.connectAsync(`ws://127.0.0.1:${String(listener.information.localPort ?? 0)}/`);
  assert.equal(closed, 0);
  const whenClosed = socket.whenClosed();
  socket.close(1000);
  assert.deepEqual(await within(whenClosed, 5000, 'closed'), { code: 1000, reason: '' });
});
