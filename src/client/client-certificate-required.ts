// Mutual TLS refused: a server that requires a client certificate and got none ends the connection with
// TLS 1.3's certificate_required alert. The client's handshake has completed by then, so the alert
// arrives on the first read or write (the upgrade request). WinRT reports this case as
// WININET_E_CLIENT_AUTH_CERT_NEEDED; its closest WebErrorStatus is Unauthorized.

import { HResult, WebErrorStatus, WebSocketError } from '../errors.js';

const CERTIFICATE_REQUIRED = 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED';

/** The WebSocketError for `error` when it is that alert; undefined for anything else. */
export function clientCertificateRequired(error: unknown): WebSocketError | undefined {
  if ((error as NodeJS.ErrnoException | undefined)?.code !== CERTIFICATE_REQUIRED) return undefined;
  return new WebSocketError(
    WebErrorStatus.Unauthorized,
    'the server asked for a client certificate (mutual TLS) and refused the connection without one: set control.clientCertificate',
    { hresult: HResult.WININET_E_CLIENT_AUTH_CERT_NEEDED, cause: error },
  );
}
