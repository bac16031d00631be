// The WinRT enumerations of the WebSocket family, at their WinRT values.

export { SocketMessageType } from '../protocol/opcodes.js';

/** Windows.Networking.Sockets.MessageWebSocketReceiveMode. */
export const MessageWebSocketReceiveMode = {
  FullMessage: 0,
  PartialMessage: 1,
} as const;
export type MessageWebSocketReceiveMode =
  (typeof MessageWebSocketReceiveMode)[keyof typeof MessageWebSocketReceiveMode];

export { ChainValidationResult, SocketSslErrorSeverity } from '../client/chain-validation-result.js';
