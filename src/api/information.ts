// StreamWebSocketInformation / MessageWebSocketInformation: what is known about a socket, at any time.

import type { X509Certificate } from 'node:crypto';

import type { ServerCertificateReport } from '../client/certificate-check.js';
import { SocketSslErrorSeverity, type ChainValidationResult } from '../client/chain-validation-result.js';
import type { BandwidthMeter, BandwidthStatistics } from '../connection/bandwidth-meter.js';

export type { BandwidthStatistics };

const NO_STATISTICS: BandwidthStatistics = {
  outboundBitsPerSecond: 0,
  inboundBitsPerSecond: 0,
  outboundBitsPerSecondInstability: 0,
  inboundBitsPerSecondInstability: 0,
  outboundBandwidthPeaked: false,
  inboundBandwidthPeaked: false,
};

export class WebSocketInformation {
  private local: string | null = null;
  private chosenProtocol: string | null = null;
  private agreedExtensions = '';
  /** The connection's meter, asked for only when read (an idle connection has none). */
  private metered: { readonly meter: BandwidthMeter } | undefined;
  private certificate: ServerCertificateReport | undefined;

  /** The local IP address of the connection; null before connect. */
  get localAddress(): string | null {
    return this.local;
  }

  /** The subprotocol the server chose; null before connect, '' when it chose none. */
  get protocol(): string | null {
    return this.chosenProtocol;
  }

  /** The Sec-WebSocket-Extensions value the server answered ('' when none), e.g. permessage-deflate. */
  get extensions(): string {
    return this.agreedExtensions;
  }

  /** Throughput measured from the bytes this socket moved over the last second. */
  get bandwidthStatistics(): BandwidthStatistics {
    return this.metered?.meter.statistics() ?? { ...NO_STATISTICS };
  }

  /** Payload and frame bytes received and sent so far (a Node addition). */
  get bytesReceived(): number {
    return this.metered?.meter.bytesReceived ?? 0;
  }

  get bytesSent(): number {
    return this.metered?.meter.bytesSent ?? 0;
  }

  /** The server's certificate after a wss: connect; null otherwise. */
  get serverCertificate(): X509Certificate | null {
    return this.certificate?.certificate ?? null;
  }

  /** The intermediate certificates the server sent with it. */
  get serverIntermediateCertificates(): readonly X509Certificate[] {
    return this.certificate?.intermediates ?? [];
  }

  /** Every problem the default validation found (those the connect was allowed to ignore). */
  get serverCertificateErrors(): readonly ChainValidationResult[] {
    return this.certificate?.errors ?? [];
  }

  get serverCertificateErrorSeverity(): SocketSslErrorSeverity {
    return this.certificate?.severity ?? SocketSslErrorSeverity.None;
  }

  /** @internal Filled in by the socket once the handshake is done. */
  connected(
    localAddress: string | undefined,
    protocol: string | null,
    extensions: string,
    metered: { readonly meter: BandwidthMeter },
    certificate?: ServerCertificateReport,
  ): void {
    this.local = localAddress ?? null;
    this.chosenProtocol = protocol ?? '';
    this.agreedExtensions = extensions;
    this.metered = metered;
    this.certificate = certificate;
  }
}
