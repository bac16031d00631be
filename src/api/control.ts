// StreamWebSocketControl and the settings every client socket shares (WinRT IWebSocketControl and kin):
// settable before connectAsync, an error after (E_ILLEGAL_METHOD_CALL) unless WinRT says otherwise —
// the lists included: a change to them after connectAsync is refused the same way.

import type { Buffer } from 'node:buffer';

import type { ChainValidationResult } from '../client/chain-validation-result.js';
import type { PasswordCredential } from '../client/http-auth.js';
import type { ClientCertificate } from '../client/transport.js';
import { DEFAULT_OUTBOUND_BUFFER_SIZE } from '../connection/frame-output.js';
import { illegalMethodCall, invalidArgument } from '../errors.js';
import { deflateOptionsProblem, type PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
import { MessageWebSocketReceiveMode, SocketMessageType } from './enums.js';

export const DEFAULT_CONNECT_TIMEOUT = 60_000;
export const DEFAULT_CLOSE_TIMEOUT = 10_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT = 30_000;

/** The settings shared by StreamWebSocketControl and MessageWebSocketControl. */
export class WebSocketControl {
  /** Subprotocols offered in Sec-WebSocket-Protocol, in order of preference. Read at connect. */
  readonly supportedProtocols: string[] = this.settingList('supportedProtocols');

  /**
   * wss: certificate errors to accept: Untrusted, Expired, InvalidName, IncompleteChain (others cannot
   * be ignored). Empty by default: every error fails the connect. Read at connect.
   */
  readonly ignorableServerCertificateErrors: ChainValidationResult[] = this.settingList(
    'ignorableServerCertificateErrors',
  );

  /** Trust anchors in PEM beyond the system's (a Node addition, like tls.connect's `ca`). Read at connect. */
  readonly ca: (string | Buffer)[] = this.settingList('ca');

  private connected = false;
  private outboundBufferSize = DEFAULT_OUTBOUND_BUFFER_SIZE;
  private pongInterval = 0;
  private appliedPongInterval = 0;
  private connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT;
  private closeTimeoutMs = DEFAULT_CLOSE_TIMEOUT;
  private maxMessageSizeValue = Infinity;
  private keepAliveIntervalMs = 0;
  private keepAliveTimeoutMs = DEFAULT_KEEP_ALIVE_TIMEOUT;
  private clientCertificateValue: ClientCertificate | null = null;
  private serverCredentialValue: PasswordCredential | null = null;
  private proxyCredentialValue: PasswordCredential | null = null;
  private proxyValue: string | null | undefined = undefined;
  private perMessageDeflateValue: boolean | Readonly<PerMessageDeflateOptions> = false;

  /**
   * Bytes the socket may buffer before writes wait (WinRT maps it to SO_SNDBUF; here it is the socket's
   * write high-water mark). Default 262 144; 0: Node's default (16 KiB). Set after connect it has no
   * effect, as in WinRT.
   */
  get outboundBufferSizeInBytes(): number {
    return this.outboundBufferSize;
  }
  set outboundBufferSizeInBytes(value: number) {
    if (this.connected) return;
    this.outboundBufferSize = nonNegativeInteger('outboundBufferSizeInBytes', value);
  }

  /** Milliseconds between unsolicited pongs, a one-way heartbeat; 0 (the default) sends none. */
  get desiredUnsolicitedPongInterval(): number {
    return this.pongInterval;
  }
  set desiredUnsolicitedPongInterval(value: number) {
    this.assertConfigurable('desiredUnsolicitedPongInterval');
    this.pongInterval = nonNegativeInteger('desiredUnsolicitedPongInterval', value);
  }

  /** The interval in effect once connected (0 before connect or when off). */
  get actualUnsolicitedPongInterval(): number {
    return this.appliedPongInterval;
  }

  /** Milliseconds for the whole of connectAsync (DNS, TCP, TLS, handshake). Default 60 000. */
  get connectTimeout(): number {
    return this.connectTimeoutMs;
  }
  set connectTimeout(value: number) {
    this.assertConfigurable('connectTimeout');
    this.connectTimeoutMs = positiveInteger('connectTimeout', value);
  }

  /** Milliseconds to wait for the peer's close frame after ours, then the TCP connection is dropped. */
  get closeTimeout(): number {
    return this.closeTimeoutMs;
  }
  set closeTimeout(value: number) {
    this.assertConfigurable('closeTimeout');
    this.closeTimeoutMs = positiveInteger('closeTimeout', value);
  }

  /** The certificate this client presents for mutual TLS: `{ cert, key, passphrase? }` or `{ pfx, passphrase? }`. */
  get clientCertificate(): ClientCertificate | null {
    return this.clientCertificateValue;
  }
  set clientCertificate(value: ClientCertificate | null) {
    this.assertConfigurable('clientCertificate');
    this.clientCertificateValue = value;
  }

  /**
   * Credential for the server's HTTP authentication: a 401 on the upgrade is answered with Basic or
   * Digest (MD5, SHA-256), once, to the URL's own host only.
   */
  get serverCredential(): PasswordCredential | null {
    return this.serverCredentialValue;
  }
  set serverCredential(value: PasswordCredential | null) {
    this.assertConfigurable('serverCredential');
    this.serverCredentialValue = value;
  }

  /** Credential for the forward proxy: a 407 on CONNECT is answered with Basic or Digest. */
  get proxyCredential(): PasswordCredential | null {
    return this.proxyCredentialValue;
  }
  set proxyCredential(value: PasswordCredential | null) {
    this.assertConfigurable('proxyCredential');
    this.proxyCredentialValue = value;
  }

  /**
   * The forward proxy, an http:// URL (a Node addition); null connects directly. Undefined (the default)
   * takes it from the environment as curl does: http_proxy for ws:, https_proxy/HTTPS_PROXY for wss:,
   * all_proxy/ALL_PROXY otherwise, except for hosts in no_proxy/NO_PROXY.
   */
  get proxy(): string | null | undefined {
    return this.proxyValue;
  }
  set proxy(value: string | null | undefined) {
    this.assertConfigurable('proxy');
    this.proxyValue = value;
  }

  /**
   * Largest message accepted, in bytes; a larger one closes the connection with 1009. Not set (Infinity):
   * 16 MiB for messages taken whole (FullMessage mode), unlimited where messages stream.
   */
  get maxMessageSize(): number {
    return this.maxMessageSizeValue;
  }
  set maxMessageSize(value: number) {
    this.assertConfigurable('maxMessageSize');
    this.maxMessageSizeValue = value === Infinity ? Infinity : positiveInteger('maxMessageSize', value);
  }

  /**
   * Keep-alive (a Node addition): after this many ms without input a ping is sent, and the connection is
   * declared dead (ConnectionAborted, 1006) when nothing arrives within keepAliveTimeout after it. This
   * finds half-open TCP connections. 0 (the default) sends no pings.
   */
  get keepAliveInterval(): number {
    return this.keepAliveIntervalMs;
  }
  set keepAliveInterval(value: number) {
    this.assertConfigurable('keepAliveInterval');
    this.keepAliveIntervalMs = nonNegativeInteger('keepAliveInterval', value);
  }

  /** Milliseconds after a keep-alive ping before a silent peer is declared dead. Default 30 000. */
  get keepAliveTimeout(): number {
    return this.keepAliveTimeoutMs;
  }
  set keepAliveTimeout(value: number) {
    this.assertConfigurable('keepAliveTimeout');
    this.keepAliveTimeoutMs = positiveInteger('keepAliveTimeout', value);
  }

  /**
   * permessage-deflate (RFC 7692, a Node addition): true offers it with the defaults, an object with
   * these settings; false (the default) offers nothing. Off by default because it costs CPU and, with
   * context takeover, up to about 300 KiB per connection (see the README), and because compressing
   * secrets together with data an attacker chooses can leak them through the compressed size (as CRIME
   * and BREACH did over TLS). Received messages are inflated in sections, in bounded memory, and
   * maxMessageSize counts inflated bytes. information.extensions tells what the server accepted.
   */
  get perMessageDeflate(): boolean | Readonly<PerMessageDeflateOptions> {
    return this.perMessageDeflateValue;
  }
  set perMessageDeflate(value: boolean | PerMessageDeflateOptions) {
    this.assertConfigurable('perMessageDeflate');
    const problem = deflateOptionsProblem(value);
    if (problem !== undefined) throw invalidArgument(problem);
    this.perMessageDeflateValue = typeof value === 'boolean' ? value : Object.freeze({ ...value });
  }

  /** @internal Called by connectAsync: from now on settings are fixed. */
  lock(): void {
    this.connected = true;
    this.appliedPongInterval = this.pongInterval;
  }

  /** @internal */
  protected assertConfigurable(name: string): void {
    if (this.connected) throw illegalMethodCall(`control.${name} can only be set before connectAsync`);
  }

  /** A list setting: a plain array until connectAsync, then every change (push, splice…) is refused. */
  private settingList<T>(name: string): T[] {
    return new Proxy<T[]>([], {
      set: (list, property, value) => {
        this.assertConfigurable(name);
        return Reflect.set(list, property, value);
      },
      defineProperty: (list, property, descriptor) => {
        this.assertConfigurable(name);
        return Reflect.defineProperty(list, property, descriptor);
      },
      deleteProperty: (list, property) => {
        this.assertConfigurable(name);
        return Reflect.deleteProperty(list, property);
      },
    });
  }
}

/** Windows.Networking.Sockets.StreamWebSocketControl. */
export class StreamWebSocketControl extends WebSocketControl {
  private noDelayValue = true;

  /** TCP_NODELAY: true (the default) disables Nagle's algorithm. */
  get noDelay(): boolean {
    return this.noDelayValue;
  }
  set noDelay(value: boolean) {
    this.assertConfigurable('noDelay');
    this.noDelayValue = value;
  }
}

/** Windows.Networking.Sockets.MessageWebSocketControl. */
export class MessageWebSocketControl extends WebSocketControl {
  /** The type of the messages outputStream and send*FrameAsync send; may change at any time. */
  messageType: SocketMessageType = SocketMessageType.Binary;
  /** FullMessage: messageReceived once per message; PartialMessage: once per piece as it arrives. */
  receiveMode: MessageWebSocketReceiveMode = MessageWebSocketReceiveMode.FullMessage;
}

/** Windows.Networking.Sockets.ServerMessageWebSocketControl. */
export class ServerMessageWebSocketControl {
  messageType: SocketMessageType = SocketMessageType.Binary;
  receiveMode: MessageWebSocketReceiveMode = MessageWebSocketReceiveMode.FullMessage;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw invalidArgument(`${name} must be a whole number ≥ 0`);
  return value;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw invalidArgument(`${name} must be a whole number > 0`);
  return value;
}
