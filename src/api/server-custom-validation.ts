// WebSocketServerCustomValidationRequestedEventArgs: the application's own look at a wss: server's
// certificate, after the default validation passed and before the upgrade request is sent.

import type { X509Certificate } from 'node:crypto';

import type { ServerCertificateReport } from '../client/certificate-check.js';
import type { ChainValidationResult, SocketSslErrorSeverity } from '../client/chain-validation-result.js';
import { HResult, WebErrorStatus, WebSocketError } from '../errors.js';
import { createDeferral, type Deferral } from './deferral.js';

export class WebSocketServerCustomValidationRequestedEventArgs {
  readonly serverCertificate: X509Certificate;
  readonly serverIntermediateCertificates: readonly X509Certificate[];
  readonly serverCertificateErrors: readonly ChainValidationResult[];
  readonly serverCertificateErrorSeverity: SocketSslErrorSeverity;
  private rejected = false;
  private readonly pending: Promise<void>[] = [];

  /** Not for applications: the client sockets create it during connectAsync. */
  constructor(report: ServerCertificateReport) {
    this.serverCertificate = report.certificate;
    this.serverIntermediateCertificates = report.intermediates;
    this.serverCertificateErrors = report.errors;
    this.serverCertificateErrorSeverity = report.severity;
  }

  /** Refuses the server: connectAsync fails with CertificateIsInvalid (0x800C000E). Any handler's reject wins. */
  reject(): void {
    this.rejected = true;
  }

  /** Holds the connect until complete() is called (bounded by control.connectTimeout). */
  getDeferral(): Deferral {
    let release!: () => void;
    this.pending.push(new Promise((resolve) => (release = resolve)));
    return createDeferral(release);
  }

  /** @internal Waits for the handlers and their deferrals; throws if any of them rejected the server. */
  async decide(handlerResults: readonly unknown[]): Promise<void> {
    await Promise.all([...handlerResults, ...this.pending]);
    if (this.rejected) {
      throw new WebSocketError(
        WebErrorStatus.CertificateIsInvalid,
        'the server certificate was rejected by the application',
        {
          hresult: HResult.INET_E_SECURITY_PROBLEM,
        },
      );
    }
  }
}
