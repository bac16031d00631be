// The WinRT enumerations a certificate judgement is reported in, and which of its errors WinRT calls
// ignorable.

/** Windows.Security.Cryptography.Certificates.ChainValidationResult. */
export const ChainValidationResult = {
  Success: 0,
  Untrusted: 1,
  Revoked: 2,
  Expired: 3,
  IncompleteChain: 4,
  InvalidSignature: 5,
  WrongUsage: 6,
  InvalidName: 7,
  InvalidCertificateAuthorityPolicy: 8,
  BasicConstraintsError: 9,
  UnknownCriticalExtension: 10,
  RevocationInformationMissing: 11,
  RevocationFailure: 12,
  OtherErrors: 13,
} as const;
export type ChainValidationResult = (typeof ChainValidationResult)[keyof typeof ChainValidationResult];

/** Windows.Networking.Sockets.SocketSslErrorSeverity. */
export const SocketSslErrorSeverity = {
  None: 0,
  Ignorable: 1,
  Fatal: 2,
} as const;
export type SocketSslErrorSeverity = (typeof SocketSslErrorSeverity)[keyof typeof SocketSslErrorSeverity];

/** The name of a ChainValidationResult value ('Untrusted'…). */
export function chainValidationResultName(error: ChainValidationResult): string {
  return Object.entries(ChainValidationResult).find(([, value]) => value === error)?.[0] ?? String(error);
}
