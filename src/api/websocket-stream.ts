// WebSocketStream: the WHATWG shape (the WICG explainer, Chromium's WebSocketStream) for Node clients —
// `opened` gives a ReadableStream of messages and a WritableStream, with backpressure down to TCP both
// ways. The client settings of MessageWebSocket's control are Node additions in the options, as is
// `messageStreams`, which hands out each message as a stream of its bytes.

import type { Buffer } from 'node:buffer';

import type { ChainValidationResult } from '../client/chain-validation-result.js';
import type { PasswordCredential } from '../client/http-auth.js';
import type { ClientCertificate } from '../client/transport.js';
import { parseWebSocketUrl } from '../client/websocket-url.js';
import { toWebSocketError } from '../errors.js';
import { requestHeaderProblem, subprotocolsProblem } from '../protocol/handshake.js';
import type { PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
import type { ServerCustomValidationHandler } from './client-connector.js';
import { WebSocketControl } from './control.js';
import { WebStreamSocket } from './web-stream-socket.js';
import { WebSocketStreamBase } from './websocket-stream-base.js';
import { stringOf } from './websocket-stream-error.js';

export interface WebSocketStreamOptions<MessageStreams extends boolean = false> {
  /** Subprotocols offered, in order of preference (a duplicate or a non-token: SyntaxError). */
  protocols?: readonly string[];
  /** Aborting it before the connection is open abandons the connect: `opened` and `closed` reject with its reason. */
  signal?: AbortSignal;

  // ---- Node additions ----------------------------------------------------------------------------------
  /**
   * Each readable chunk is one message as { type: 'text' | 'binary', readable: ReadableStream<Uint8Array> },
   * its bytes streaming in as frames arrive: messages of any size in bounded memory. Reading the next
   * message drops what was not read of the previous one. Default false: whole messages.
   */
  messageStreams?: MessageStreams;
  /** Headers added to the opening handshake. */
  headers?: Readonly<Record<string, string>> | Iterable<readonly [string, string]>;
  /** The forward proxy (http:// URL); null connects directly; absent: from the environment (see control.proxy). */
  proxy?: string | null;
  /** Answers the proxy's 407 (Basic or Digest). */
  proxyCredential?: PasswordCredential | null;
  /** Answers the server's 401 (Basic or Digest). */
  serverCredential?: PasswordCredential | null;
  /** Trust anchors in PEM beyond the system's. */
  ca?: readonly (string | Buffer)[];
  /** The certificate presented for mutual TLS. */
  clientCertificate?: ClientCertificate | null;
  /** wss: certificate errors to accept (Untrusted, Expired, InvalidName, IncompleteChain). */
  ignorableServerCertificateErrors?: readonly ChainValidationResult[];
  /** Judges the server's certificate after the built-in checks (call args.reject() to refuse). */
  serverCustomValidation?: ServerCustomValidationHandler;
  /** Milliseconds for DNS, TCP, TLS and the handshake together. Default 60 000. */
  connectTimeout?: number;
  /** Milliseconds to wait for the peer's side of the closing handshake. Default 10 000. */
  closeTimeout?: number;
  /** Ping a server quiet this many ms; 0 (default) sends none. */
  keepAliveInterval?: number;
  /** Milliseconds after that ping before a silent server is declared gone. Default 30 000. */
  keepAliveTimeout?: number;
  /**
   * Largest message received, in bytes (inflated ones counted inflated); 1009 beyond it. Default 16 MiB
   * for whole messages, unlimited with messageStreams.
   */
  maxMessageSize?: number;
  /** Offer permessage-deflate (true, or settings; see control.perMessageDeflate). Default false. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

export class WebSocketStream<
  MessageStreams extends boolean = false,
> extends WebSocketStreamBase<MessageStreams> {
  /** The URL connected to, serialized (http: and https: become ws: and wss:). */
  readonly url: string;

  /**
   * Starts connecting at once. Throws a SyntaxError (DOMException) for a URL that is not ws:, wss:,
   * http: or https:, absolute and without a fragment, or for bad protocols; a TypeError for a bad
   * header; a WebSocketError (E_INVALIDARG) for a bad Node option.
   */
  constructor(url: string | URL, options: WebSocketStreamOptions<MessageStreams> = {}) {
    const target = webSocketUrl(url);
    const control = new WebSocketControl();
    configure(control, options);
    const headers = headerList(options.headers);
    super(new WebStreamSocket(), (options.messageStreams ?? false) as MessageStreams);
    this.url = target.href;
    if (options.serverCustomValidation !== undefined) {
      this.webSocket.on('serverCustomValidationRequested', options.serverCustomValidation);
    }
    const { signal } = options;
    if (signal?.aborted === true) {
      this.failToOpen({ aborted: signal.reason });
      return;
    }
    this.webSocket.connect(target, control, headers, signal).then(
      () => {
        this.start();
      },
      (error: unknown) => {
        this.failToOpen(signal?.aborted === true ? { aborted: signal.reason } : toWebSocketError(error));
      },
    );
  }
}

/** The URL as the explainer takes it: http(s): stands for ws(s):; anything else wrong is a SyntaxError. */
function webSocketUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(stringOf(input));
  } catch (cause) {
    throw new DOMException(`'${String(input)}' is not an absolute URL`, { name: 'SyntaxError', cause });
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  try {
    return parseWebSocketUrl(url);
  } catch (cause) {
    throw new DOMException((cause as Error).message, { name: 'SyntaxError', cause });
  }
}

/** Applies the options to a control; its setters check the values. */
function configure(control: WebSocketControl, options: WebSocketStreamOptions<boolean>): void {
  const protocols = [...(options.protocols ?? [])].map(stringOf);
  const problem = subprotocolsProblem(protocols);
  if (problem !== undefined) throw new DOMException(problem, 'SyntaxError');
  control.supportedProtocols.push(...protocols);
  control.ca.push(...(options.ca ?? []));
  control.ignorableServerCertificateErrors.push(...(options.ignorableServerCertificateErrors ?? []));
  if (options.proxy !== undefined) control.proxy = options.proxy;
  if (options.proxyCredential !== undefined) control.proxyCredential = options.proxyCredential;
  if (options.serverCredential !== undefined) control.serverCredential = options.serverCredential;
  if (options.clientCertificate !== undefined) control.clientCertificate = options.clientCertificate;
  if (options.connectTimeout !== undefined) control.connectTimeout = options.connectTimeout;
  if (options.closeTimeout !== undefined) control.closeTimeout = options.closeTimeout;
  if (options.keepAliveInterval !== undefined) control.keepAliveInterval = options.keepAliveInterval;
  if (options.keepAliveTimeout !== undefined) control.keepAliveTimeout = options.keepAliveTimeout;
  if (options.maxMessageSize !== undefined) control.maxMessageSize = options.maxMessageSize;
  if (options.perMessageDeflate !== undefined) control.perMessageDeflate = options.perMessageDeflate;
}

function headerList(headers: WebSocketStreamOptions<boolean>['headers']): [string, string][] {
  if (headers === undefined) return [];
  const list: [string, string][] = isIterable(headers)
    ? [...headers].map(([name, value]) => [name, value])
    : Object.entries(headers);
  for (const [name, value] of list) {
    const problem = requestHeaderProblem(name, value);
    if (problem !== undefined) throw new TypeError(problem);
  }
  return list;
}

function isIterable(value: object): value is Iterable<readonly [string, string]> {
  return Symbol.iterator in value;
}
