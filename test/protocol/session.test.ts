// Socket-free tests of the sans-I/O session: bytes in, handler events and exact frame bytes out. Pings,
// fragmentation of outgoing messages, every ordering of the closing handshake, failing the connection,
// every 2-way split of an input stream, and the RSV1 rules of permessage-deflate with the pause of input
// that the inflating driver relies on.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';

import {
  CloseCode,
  encodeClosePayload,
  encodeFrameHeader,
  Opcode,
  SessionStateError,
  WebSocketSession,
  type CloseFrame,
  type DataOpcode,
  type ProtocolError,
  type SessionHandler,
  type SessionOptions,
} from '../../src/protocol/index.js';
import { concat, frame, frameFor, splitAt, TEST_KEY, type FrameSpec } from './helpers.js';

type Role = SessionOptions['role'];
const ROLES: readonly Role[] = ['server', 'client'];

type SessionEvent =
  | { type: 'start'; opcode: DataOpcode; compressed?: true }
  | { type: 'data'; hex: string }
  | { type: 'end' }
  | { type: 'close'; code: number; reason: string; midMessage: boolean }
  | { type: 'violation'; closeCode: number };

/** A session with a recording handler; frames it hands out are serialized unmasked, as a server sends. */
class Harness implements SessionHandler {
  readonly session: WebSocketSession<number>;
  private events: SessionEvent[] = [];
  private frames: string[] = [];

  constructor(
    readonly role: Role,
    maxMessageSize?: number,
    perMessageDeflate = false,
  ) {
    const options = { role, perMessageDeflate, ...(maxMessageSize === undefined ? {} : { maxMessageSize }) };
    this.session = new WebSocketSession(options, this, {
      writeFrame: (opcode, fin, payload, rsv1) => {
        const header = encodeFrameHeader({ opcode, fin, rsv1, payloadLength: payload.length });
        return this.frames.push(concat(header, payload).toString('hex'));
      },
    });
  }

  /** Feeds frames built as the role's peer sends them (masked to a server), one chunk per frame. */
  receive(...specs: FrameSpec[]): void {
    for (const spec of specs) this.session.receive(frameFor(this.role, spec));
  }

  /** The events reported since the last call; adjacent data sections are joined. */
  takeEvents(): SessionEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  /** The frames sent since the last call, as hex. */
  takeSent(): string[] {
    const frames = this.frames;
    this.frames = [];
    return frames;
  }

  onMessageStart(opcode: DataOpcode, compressed: boolean): void {
    this.events.push(compressed ? { type: 'start', opcode, compressed } : { type: 'start', opcode });
  }
  onMessageData(section: Buffer): void {
    const last = this.events.at(-1);
    const hex = section.toString('hex');
    if (last?.type === 'data') last.hex += hex;
    else this.events.push({ type: 'data', hex });
  }
  onMessageEnd(): void {
    this.events.push({ type: 'end' });
  }
  onCloseReceived(closeFrame: CloseFrame, midMessage: boolean): void {
    this.events.push({ type: 'close', ...closeFrame, midMessage });
  }
  onViolation(violation: ProtocolError): void {
    this.events.push({ type: 'violation', closeCode: violation.closeCode });
  }
}

function hex(...bytes: number[]): string {
  return Buffer.from(bytes).toString('hex');
}

function closeSpec(code?: number, reason = ''): FrameSpec {
  return { opcode: Opcode.Close, payload: encodeClosePayload(code, reason) };
}

/** The exact bytes of a close frame a server sends: 88, the length, the code, the reason. */
function closeBytes(code: number, reason = ''): string {
  const payload = encodeClosePayload(code, reason);
  return concat(Buffer.of(0x88, payload.length), payload).toString('hex');
}

function closeEvent(code: number, reason = '', midMessage = false): SessionEvent {
  return { type: 'close', code, reason, midMessage };
}

void describe('WebSocketSession: pings and pongs', () => {
  for (const role of ROLES) {
    void it(`answers a ping with a pong of the same payload (${role})`, () => {
      const harness = new Harness(role);
      harness.receive({ opcode: Opcode.Ping, payload: 'abc' }, { opcode: Opcode.Ping });
      assert.deepEqual(harness.takeSent(), [hex(0x8a, 0x03, 0x61, 0x62, 0x63), hex(0x8a, 0x00)]);
      assert.deepEqual(harness.takeEvents(), []);
    });
  }

  void it('answers a ping byte-exactly: 89 03 61 62 63 in, 8a 03 61 62 63 out', () => {
    const harness = new Harness('client');
    harness.session.receive(Buffer.from('8903616263', 'hex'));
    assert.deepEqual(harness.takeSent(), ['8a03616263']);
  });

  void it('answers a 125-byte ping whose payload arrives in pieces', () => {
    const harness = new Harness('server');
    const payload = Buffer.alloc(125, 0x42);
    for (const chunk of splitAt(frameFor('server', { opcode: Opcode.Ping, payload }), [1, 3, 9, 70])) {
      harness.session.receive(chunk);
    }
    assert.deepEqual(harness.takeSent(), [concat(Buffer.of(0x8a, 125), payload).toString('hex')]);
  });

  void it('sends no pong once our close frame went out', () => {
    const harness = new Harness('server');
    harness.session.close(CloseCode.NormalClosure);
    assert.deepEqual(harness.takeSent(), [closeBytes(1000)]);
    harness.receive({ opcode: Opcode.Ping, payload: 'late' });
    assert.deepEqual(harness.takeSent(), []);
  });

  void it('ignores pongs, solicited or not', () => {
    const harness = new Harness('server');
    harness.session.ping(Buffer.from('hb'));
    assert.deepEqual(harness.takeSent(), [hex(0x89, 0x02, 0x68, 0x62)]);
    harness.receive({ opcode: Opcode.Pong, payload: 'hb' }, { opcode: Opcode.Pong, payload: 'other' });
    assert.deepEqual(harness.takeSent(), []);
    assert.deepEqual(harness.takeEvents(), []);
  });

  void it('sends our pings and unsolicited pongs only before our close frame', () => {
    const harness = new Harness('client');
    harness.session.pong(Buffer.from('x'));
    assert.deepEqual(harness.takeSent(), [hex(0x8a, 0x01, 0x78)]);
    harness.session.close();
    harness.takeSent();
    harness.session.ping(Buffer.from('x'));
    harness.session.pong(Buffer.from('x'));
    assert.deepEqual(harness.takeSent(), []);
  });
});

void describe('WebSocketSession: sending messages', () => {
  void it('fragments a message: the opcode first, then continuations, FIN on the last', () => {
    const harness = new Harness('server');
    const { session } = harness;
    assert.equal(session.isSendingMessage, false);
    session.send(Opcode.Text, false, Buffer.from('ab'));
    assert.equal(session.isSendingMessage, true);
    // The opcode passed with later fragments does not matter: the message is already typed.
    session.send(Opcode.Binary, false, Buffer.from('cd'));
    session.send(Opcode.Text, true, Buffer.from('ef'));
    assert.equal(session.isSendingMessage, false);
    assert.deepEqual(harness.takeSent(), ['01026162', '00026364', '80026566']);
  });

  void it('starts the next message with its own opcode, including an empty final fragment', () => {
    const harness = new Harness('client');
    harness.session.send(Opcode.Text, true, Buffer.from('a'));
    harness.session.send(Opcode.Binary, false, Buffer.of(1, 2));
    harness.session.send(Opcode.Binary, true, Buffer.alloc(0));
    harness.session.send(Opcode.Binary, true, Buffer.of(0xff));
    assert.deepEqual(harness.takeSent(), ['810161', '02020102', '8000', '8201ff']);
  });

  void it('returns what the output callback returned', () => {
    const harness = new Harness('server');
    assert.equal(harness.session.send(Opcode.Binary, true, Buffer.of(0)), 1);
    assert.equal(harness.session.send(Opcode.Binary, true, Buffer.of(0)), 2);
  });

  void it('refuses data after our close frame with a SessionStateError', () => {
    const harness = new Harness('server');
    assert.equal(harness.session.canSend, true);
    harness.session.close(CloseCode.NormalClosure);
    assert.equal(harness.session.canSend, false);
    assert.throws(() => harness.session.send(Opcode.Text, true, Buffer.from('x')), SessionStateError);
    assert.deepEqual(harness.takeSent(), [closeBytes(1000)]);
  });
});

void describe('WebSocketSession: closing handshake', () => {
  for (const role of ROLES) {
    void it(`we close first, then the peer answers (${role})`, () => {
      const harness = new Harness(role);
      const { session } = harness;
      session.close(CloseCode.NormalClosure, 'bye');
      assert.deepEqual(harness.takeSent(), ['880503e8627965']);
      assert.deepEqual(session.closeSent, { code: 1000, reason: 'bye' });
      assert.equal(session.isAnswerDue, false);
      assert.equal(session.shouldEndTransport, false);

      harness.receive(closeSpec(1000, 'ok'));
      assert.deepEqual(harness.takeEvents(), [closeEvent(1000, 'ok')]);
      assert.deepEqual(session.closeReceived, { code: 1000, reason: 'ok' });
      assert.deepEqual(harness.takeSent(), [], 'no second close frame');
      assert.equal(session.isAnswerDue, false);
      // §7.1.1: the server ends TCP now; the client waits for the server's end of TCP.
      assert.equal(session.shouldEndTransport, role === 'server');
      session.receiveEnd();
      assert.equal(session.shouldEndTransport, true);
    });

    void it(`the peer closes first, the driver answers (${role})`, () => {
      const harness = new Harness(role);
      const { session } = harness;
      harness.receive(closeSpec(CloseCode.GoingAway, 'going'));
      assert.deepEqual(harness.takeEvents(), [closeEvent(1001, 'going')]);
      assert.equal(session.isAnswerDue, true);
      assert.equal(session.canSend, true, 'the application may still finish its message');
      assert.equal(session.shouldEndTransport, false);
      assert.deepEqual(harness.takeSent(), [], 'nothing is sent automatically');

      session.answerClose();
      assert.deepEqual(harness.takeSent(), [hex(0x88, 0x02, 0x03, 0xe9)], 'the code echoed, no reason');
      assert.deepEqual(session.closeSent, { code: 1001, reason: '' });
      assert.equal(session.isAnswerDue, false);
      assert.equal(session.shouldEndTransport, role === 'server');
      session.receiveEnd();
      assert.equal(session.shouldEndTransport, true);
    });
  }

  void it('still delivers incoming messages after our close frame, until the peer’s', () => {
    const harness = new Harness('client');
    harness.session.close(1000);
    harness.takeSent();
    harness.receive({ opcode: Opcode.Binary, payload: Buffer.of(9) }, closeSpec(1000));
    assert.deepEqual(harness.takeEvents(), [
      { type: 'start', opcode: Opcode.Binary },
      { type: 'data', hex: '09' },
      { type: 'end' },
      closeEvent(1000),
    ]);
    assert.deepEqual(harness.takeSent(), []);
  });

  void it('answers a close frame without a code with one without a code: 88 00', () => {
    const harness = new Harness('server');
    harness.receive(closeSpec());
    assert.deepEqual(harness.takeEvents(), [closeEvent(CloseCode.NoStatusReceived)]);
    harness.session.answerClose();
    assert.deepEqual(harness.takeSent(), ['8800']);
    assert.deepEqual(harness.session.closeSent, { code: CloseCode.NoStatusReceived, reason: '' });
  });

  void it('sends an empty close frame without a code, and drops a reason given without one', () => {
    const harness = new Harness('client');
    harness.session.close(undefined, 'ignored');
    assert.deepEqual(harness.takeSent(), ['8800']);
    assert.deepEqual(harness.session.closeSent, { code: CloseCode.NoStatusReceived, reason: '' });
  });

  void it('echoes a private-range code', () => {
    const harness = new Harness('server');
    harness.receive(closeSpec(4321, 'custom'));
    harness.session.answerClose();
    assert.deepEqual(harness.takeSent(), [hex(0x88, 0x02, 0x10, 0xe1)]);
  });

  void it('both close at once: ours went out, theirs arrives, no second frame', () => {
    const harness = new Harness('server');
    harness.session.close(3000, 'mine');
    harness.receive(closeSpec(3001, 'theirs'));
    assert.equal(harness.session.isAnswerDue, false);
    harness.session.answerClose();
    harness.session.close(1000);
    assert.deepEqual(harness.takeSent(), [closeBytes(3000, 'mine')]);
    assert.deepEqual(harness.takeEvents(), [closeEvent(3001, 'theirs')]);
    assert.deepEqual(harness.session.closeSent, { code: 3000, reason: 'mine' });
    assert.equal(harness.session.shouldEndTransport, true);
  });

  void it('sends one close frame when close() is called twice', () => {
    const harness = new Harness('client');
    harness.session.close(1000, 'first');
    harness.session.close(3000, 'second');
    assert.deepEqual(harness.takeSent(), [closeBytes(1000, 'first')]);
    assert.deepEqual(harness.session.closeSent, { code: 1000, reason: 'first' });
  });

  void it('closes during an outgoing message: the message is abandoned', () => {
    const harness = new Harness('server');
    harness.session.send(Opcode.Binary, false, Buffer.of(1));
    harness.session.close(1000);
    assert.equal(harness.session.isSendingMessage, false);
    assert.throws(() => harness.session.send(Opcode.Binary, true, Buffer.of(2)), SessionStateError);
    assert.deepEqual(harness.takeSent(), ['020101', closeBytes(1000)]);
  });

  for (const role of ROLES) {
    void it(`reports a close frame that cuts an incoming message short (${role})`, () => {
      const harness = new Harness(role);
      harness.receive({ opcode: Opcode.Text, fin: false, payload: 'par' }, closeSpec(1000));
      assert.deepEqual(harness.takeEvents(), [
        { type: 'start', opcode: Opcode.Text },
        { type: 'data', hex: Buffer.from('par').toString('hex') },
        closeEvent(1000, '', true),
      ]);
    });
  }

  void it('ignores everything after the peer’s close frame, in the same chunk or later', () => {
    const harness = new Harness('server');
    const after = frameFor('server', { opcode: Opcode.Text, payload: 'late' });
    const ping = frameFor('server', { opcode: Opcode.Ping, payload: 'p' });
    harness.session.receive(concat(frameFor('server', closeSpec(1000)), after, ping));
    harness.session.receive(ping);
    // Bytes that are not even a valid frame cause no violation either.
    harness.session.receive(Buffer.of(0xff, 0xff));
    assert.deepEqual(harness.takeEvents(), [closeEvent(1000)]);
    assert.deepEqual(harness.takeSent(), []);
    assert.equal(harness.session.failure, undefined);
  });
});

interface ViolationCase {
  name: string;
  /** The roles it applies to (both when absent). */
  roles?: readonly Role[];
  /** The offending input, built for the role. */
  input: (role: Role) => Buffer;
  closeCode: number;
  maxMessageSize?: number;
  /** Negotiate permessage-deflate: RSV1 is then allowed on the first frame of a data message only. */
  perMessageDeflate?: boolean;
}

const VIOLATIONS: readonly ViolationCase[] = [
  {
    name: 'an unmasked frame to a server',
    roles: ['server'],
    input: () => frame({ opcode: Opcode.Text, payload: 'a' }),
    closeCode: CloseCode.ProtocolError,
  },
  {
    name: 'a masked frame to a client',
    roles: ['client'],
    input: () => frame({ opcode: Opcode.Text, payload: 'a', maskKey: TEST_KEY }),
    closeCode: CloseCode.ProtocolError,
  },
  ...(['rsv1', 'rsv2', 'rsv3'] as const).map((bit) => ({
    name: `${bit} set without an extension`,
    input: (role: Role) => frameFor(role, { opcode: Opcode.Binary, [bit]: true }),
    closeCode: CloseCode.ProtocolError,
  })),
  ...(['rsv2', 'rsv3'] as const).map((bit) => ({
    name: `${bit} set with permessage-deflate (which uses RSV1 only)`,
    input: (role: Role) => frameFor(role, { opcode: Opcode.Binary, rsv1: true, [bit]: true }),
    closeCode: CloseCode.ProtocolError,
    perMessageDeflate: true,
  })),
  {
    name: 'RSV1 on a continuation frame with permessage-deflate',
    input: (role) =>
      concat(
        frameFor(role, { opcode: Opcode.Binary, fin: false, rsv1: true, payload: Buffer.of(0x4a) }),
        frameFor(role, { opcode: Opcode.Continuation, rsv1: true, payload: Buffer.of(0x04, 0x00) }),
      ),
    closeCode: CloseCode.ProtocolError,
    perMessageDeflate: true,
  },
  ...[Opcode.Ping, Opcode.Pong, Opcode.Close].map((opcode) => ({
    name: `RSV1 on a control frame (0x${opcode.toString(16)}) with permessage-deflate`,
    input: (role: Role) => frameFor(role, { opcode, rsv1: true }),
    closeCode: CloseCode.ProtocolError,
    perMessageDeflate: true,
  })),
  ...[0x3, 0x7, 0xb, 0xf].map((opcode) => ({
    name: `reserved opcode 0x${opcode.toString(16)}`,
    input: (role: Role) => frameFor(role, { opcode }),
    closeCode: CloseCode.ProtocolError,
  })),
  {
    name: 'a control frame over 125 bytes',
    input: (role) => frameFor(role, { opcode: Opcode.Ping, payload: Buffer.alloc(126) }),
    closeCode: CloseCode.ProtocolError,
  },
  {
    name: 'a fragmented control frame',
    input: (role) => frameFor(role, { opcode: Opcode.Ping, fin: false, payload: 'p' }),
    closeCode: CloseCode.ProtocolError,
  },
  {
    name: 'a continuation with no message open',
    input: (role) => frameFor(role, { opcode: Opcode.Continuation, payload: 'c' }),
    closeCode: CloseCode.ProtocolError,
  },
  {
    name: 'invalid UTF-8 in a text message',
    input: (role) => frameFor(role, { opcode: Opcode.Text, payload: Buffer.of(0x61, 0xc3, 0x28) }),
    closeCode: CloseCode.InvalidPayload,
  },
  {
    name: 'a text message ending inside a code point split over fragments',
    input: (role) =>
      concat(
        frameFor(role, { opcode: Opcode.Text, fin: false, payload: Buffer.of(0x61, 0xe2) }),
        frameFor(role, { opcode: Opcode.Continuation, payload: Buffer.of(0x82) }),
      ),
    closeCode: CloseCode.InvalidPayload,
  },
  {
    name: 'an invalid close code (1005 on the wire)',
    input: (role) => frameFor(role, { opcode: Opcode.Close, payload: Buffer.of(0x03, 0xed) }),
    closeCode: CloseCode.ProtocolError,
  },
  {
    name: 'a one-byte close payload',
    input: (role) => frameFor(role, { opcode: Opcode.Close, payload: Buffer.of(0x03) }),
    closeCode: CloseCode.ProtocolError,
  },
  {
    name: 'a close reason that is not UTF-8',
    input: (role) => frameFor(role, { opcode: Opcode.Close, payload: Buffer.of(0x03, 0xe8, 0xff) }),
    closeCode: CloseCode.InvalidPayload,
  },
  {
    name: 'a message over maxMessageSize, counted over fragments',
    input: (role) =>
      concat(
        frameFor(role, { opcode: Opcode.Binary, fin: false, payload: 'abc' }),
        frameFor(role, { opcode: Opcode.Continuation, payload: 'de' }),
      ),
    closeCode: CloseCode.MessageTooBig,
    maxMessageSize: 4,
  },
];

void describe('WebSocketSession: failing the connection', () => {
  for (const violation of VIOLATIONS) {
    for (const role of violation.roles ?? ROLES) {
      void it(`fails on ${violation.name} with ${violation.closeCode} (${role})`, () => {
        const harness = new Harness(role, violation.maxMessageSize, violation.perMessageDeflate);
        const { session } = harness;
        session.receive(violation.input(role));
        const events = harness.takeEvents();
        assert.deepEqual(events.at(-1), { type: 'violation', closeCode: violation.closeCode });
        assert.equal(events.filter((event) => event.type === 'violation').length, 1);
        assert.equal(session.failure?.closeCode, violation.closeCode);
        assert.deepEqual(harness.takeSent(), [], 'nothing is sent before the driver fails');
        assert.equal(session.shouldEndTransport, false);

        // Input after the violation is ignored: no pong, no events, no second violation.
        harness.receive({ opcode: Opcode.Ping, payload: 'p' }, closeSpec(1000));
        assert.deepEqual(harness.takeEvents(), []);
        assert.deepEqual(harness.takeSent(), []);

        session.fail(violation.closeCode, 'bad');
        assert.deepEqual(harness.takeSent(), [closeBytes(violation.closeCode, 'bad')]);
        assert.equal(session.shouldEndTransport, true);
        session.fail(CloseCode.InternalError, 'again');
        assert.deepEqual(harness.takeSent(), [], 'one close frame only');
      });
    }
  }

  void it('answers what arrived before the violation, then stops', () => {
    const harness = new Harness('server');
    harness.session.receive(
      concat(
        frameFor('server', { opcode: Opcode.Text, payload: 'ok' }),
        frameFor('server', { opcode: Opcode.Ping, payload: 'p' }),
        frame({ opcode: Opcode.Text, payload: 'unmasked' }),
        frameFor('server', { opcode: Opcode.Ping, payload: 'q' }),
      ),
    );
    assert.deepEqual(harness.takeEvents(), [
      { type: 'start', opcode: Opcode.Text },
      { type: 'data', hex: Buffer.from('ok').toString('hex') },
      { type: 'end' },
      { type: 'violation', closeCode: CloseCode.ProtocolError },
    ]);
    assert.deepEqual(harness.takeSent(), [hex(0x8a, 0x01, 0x70)]);
  });

  const REASONS: readonly { name: string; reason: string; sent: string }[] = [
    { name: 'ASCII', reason: 'x'.repeat(200), sent: 'x'.repeat(123) },
    { name: '3-byte characters', reason: '€'.repeat(50), sent: '€'.repeat(41) },
    { name: 'a 2-byte character across the limit', reason: `${'a'.repeat(122)}é`, sent: 'a'.repeat(122) },
    { name: 'a reason that fits exactly', reason: 'r'.repeat(123), sent: 'r'.repeat(123) },
  ];
  for (const { name, reason, sent } of REASONS) {
    void it(`cuts the reason to 123 UTF-8 bytes at a character boundary: ${name}`, () => {
      const harness = new Harness('server');
      harness.session.fail(CloseCode.ProtocolError, reason);
      assert.deepEqual(harness.takeSent(), [closeBytes(CloseCode.ProtocolError, sent)]);
      assert.deepEqual(harness.session.closeSent, { code: CloseCode.ProtocolError, reason: sent });
    });
  }

  void it('cuts the reason before a 4-byte character across the limit', () => {
    const harness = new Harness('server');
    harness.session.fail(CloseCode.ProtocolError, `${'a'.repeat(120)}😀`);
    assert.deepEqual(harness.takeSent(), [closeBytes(CloseCode.ProtocolError, 'a'.repeat(120))]);
  });

  for (const role of ROLES) {
    void it(`ends the transport after the driver fails for a limit of its own (${role})`, () => {
      const harness = new Harness(role);
      harness.session.fail(CloseCode.MessageTooBig, 'sink limit');
      assert.deepEqual(harness.takeSent(), [closeBytes(CloseCode.MessageTooBig, 'sink limit')]);
      assert.equal(harness.session.failure, undefined, 'no violation by the peer');
      // The parser is stopped: the peer's close frame will never be read, so there is nothing to wait for.
      assert.equal(harness.session.shouldEndTransport, true);
      harness.receive(closeSpec(1000), { opcode: Opcode.Ping });
      assert.deepEqual(harness.takeEvents(), []);
      assert.deepEqual(harness.takeSent(), []);
    });
  }
});

void describe('WebSocketSession: every split of the input', () => {
  for (const role of ROLES) {
    void it(`reports the same events and sends the same bytes however the input is cut (${role})`, () => {
      const input = concat(
        frameFor(role, { opcode: Opcode.Text, fin: false, payload: 'Hel' }),
        frameFor(role, { opcode: Opcode.Ping, payload: 'p' }),
        frameFor(role, { opcode: Opcode.Continuation, fin: false, payload: Buffer.of(0x6c, 0x6f, 0xe2) }),
        frameFor(role, { opcode: Opcode.Continuation, payload: Buffer.of(0x82, 0xac) }),
        frameFor(role, { opcode: Opcode.Binary, payload: Buffer.alloc(130, 7) }),
        frameFor(role, closeSpec(1000, 'ok')),
        frameFor(role, { opcode: Opcode.Ping, payload: 'ignored' }),
      );
      const expectedEvents: SessionEvent[] = [
        { type: 'start', opcode: Opcode.Text },
        { type: 'data', hex: Buffer.from('Hello€').toString('hex') },
        { type: 'end' },
        { type: 'start', opcode: Opcode.Binary },
        { type: 'data', hex: Buffer.alloc(130, 7).toString('hex') },
        { type: 'end' },
        closeEvent(1000, 'ok'),
      ];
      for (let cut = 0; cut <= input.length; cut++) {
        const harness = new Harness(role);
        for (const chunk of splitAt(input, [cut])) harness.session.receive(chunk);
        assert.deepEqual(harness.takeEvents(), expectedEvents, `cut at ${cut}`);
        assert.deepEqual(harness.takeSent(), [hex(0x8a, 0x01, 0x70)], `cut at ${cut}`);
        assert.equal(harness.session.isAnswerDue, true, `cut at ${cut}`);
      }
    });
  }
});

void describe('WebSocketSession: permessage-deflate (RFC 7692 §6)', () => {
  for (const role of ROLES) {
    void it(`reports a message with RSV1 on its first frame as compressed, not counting or checking its bytes (${role})`, () => {
      const harness = new Harness(role, 2, true);
      // 0xff is no UTF-8, and 3 bytes are over the limit: both are for the inflating driver to judge.
      harness.receive(
        { opcode: Opcode.Text, fin: false, rsv1: true, payload: Buffer.of(0xff, 0x01) },
        { opcode: Opcode.Continuation, payload: Buffer.of(0x02) },
        { opcode: Opcode.Text, payload: 'ok' },
      );
      assert.deepEqual(harness.takeEvents(), [
        { type: 'start', opcode: Opcode.Text, compressed: true },
        { type: 'data', hex: 'ff0102' },
        { type: 'end' },
        { type: 'start', opcode: Opcode.Text },
        { type: 'data', hex: Buffer.from('ok').toString('hex') },
        { type: 'end' },
      ]);
    });
  }

  void it('sets RSV1 on the first frame of a compressed message only, never on control frames', () => {
    const harness = new Harness('server', undefined, true);
    const { session } = harness;
    session.send(Opcode.Binary, false, Buffer.of(0x4a), true);
    session.ping(Buffer.alloc(0));
    session.send(Opcode.Binary, false, Buffer.of(0x04), true);
    session.send(Opcode.Binary, true, Buffer.of(0x00), true);
    session.send(Opcode.Text, true, Buffer.from('a'));
    session.close(CloseCode.NormalClosure);
    assert.deepEqual(harness.takeSent(), ['42014a', '8900', '000104', '800100', '810161', closeBytes(1000)]);
  });

  void it('refuses to compress when permessage-deflate was not negotiated', () => {
    const harness = new Harness('client');
    assert.throws(() => harness.session.send(Opcode.Text, true, Buffer.of(0), true), SessionStateError);
    assert.deepEqual(harness.takeSent(), []);
  });

  void it('reads no later frame while input is paused, and reads on in order when resumed', () => {
    const harness = new Harness('server', undefined, true);
    const { session } = harness;
    const paused: SessionEvent[][] = [];
    // Pause on the first section of the compressed message, as the inflating driver does.
    const onData = harness.onMessageData.bind(harness);
    harness.onMessageData = (section: Buffer): void => {
      onData(section);
      if (paused.length === 0) {
        session.pauseInput();
        paused.push(harness.takeEvents());
      }
    };
    session.receive(
      concat(
        frameFor('server', { opcode: Opcode.Binary, fin: false, rsv1: true, payload: 'ab' }),
        frameFor('server', { opcode: Opcode.Ping, payload: 'p' }),
        frameFor('server', { opcode: Opcode.Continuation, payload: 'c' }),
      ),
    );
    session.receive(frameFor('server', closeSpec(1000)));
    assert.deepEqual(paused, [
      [
        { type: 'start', opcode: Opcode.Binary, compressed: true },
        { type: 'data', hex: Buffer.from('ab').toString('hex') },
      ],
    ]);
    assert.deepEqual(harness.takeEvents(), [], 'no event while paused');
    assert.deepEqual(harness.takeSent(), [], 'the ping is not answered while paused');
    assert.equal(session.closeReceived, undefined);

    session.resumeInput();
    assert.deepEqual(harness.takeSent(), [hex(0x8a, 0x01, 0x70)]);
    assert.deepEqual(harness.takeEvents(), [
      { type: 'data', hex: Buffer.from('c').toString('hex') },
      { type: 'end' },
      closeEvent(1000),
    ]);
  });

  void it('fails on a violation that waited behind a pause, once resumed', () => {
    const harness = new Harness('server', undefined, true);
    const { session } = harness;
    harness.onMessageData = (): void => {
      session.pauseInput();
    };
    session.receive(
      concat(
        frameFor('server', { opcode: Opcode.Binary, rsv1: true, payload: 'x' }),
        frame({ opcode: Opcode.Binary, payload: 'unmasked' }),
      ),
    );
    // The frame being read is finished (its end reported); the next one waits.
    assert.deepEqual(harness.takeEvents(), [
      { type: 'start', opcode: Opcode.Binary, compressed: true },
      { type: 'end' },
    ]);
    session.resumeInput();
    assert.deepEqual(harness.takeEvents(), [{ type: 'violation', closeCode: CloseCode.ProtocolError }]);
  });

  void it('reports the same events however the input is cut, pausing on every section', () => {
    const input = concat(
      frameFor('server', { opcode: Opcode.Text, fin: false, rsv1: true, payload: Buffer.alloc(40, 1) }),
      frameFor('server', { opcode: Opcode.Ping, payload: 'p' }),
      frameFor('server', { opcode: Opcode.Continuation, payload: Buffer.alloc(0) }),
      frameFor('server', { opcode: Opcode.Binary, payload: 'plain' }),
      frameFor('server', closeSpec(1000)),
    );
    for (let cut = 0; cut <= input.length; cut++) {
      const harness = new Harness('server', undefined, true);
      const { session } = harness;
      const onData = harness.onMessageData.bind(harness);
      harness.onMessageData = (section: Buffer): void => {
        onData(section);
        session.pauseInput();
      };
      for (const chunk of splitAt(input, [cut])) {
        session.receive(chunk);
        for (let rounds = 0; rounds < 10 && session.closeReceived === undefined; rounds++)
          session.resumeInput();
      }
      assert.deepEqual(
        harness.takeEvents(),
        [
          { type: 'start', opcode: Opcode.Text, compressed: true },
          { type: 'data', hex: Buffer.alloc(40, 1).toString('hex') },
          { type: 'end' },
          { type: 'start', opcode: Opcode.Binary },
          { type: 'data', hex: Buffer.from('plain').toString('hex') },
          { type: 'end' },
          closeEvent(1000),
        ],
        `cut at ${cut}`,
      );
      assert.deepEqual(harness.takeSent(), [hex(0x8a, 0x01, 0x70)], `cut at ${cut}`);
    }
  });
});
