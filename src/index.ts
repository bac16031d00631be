// stream-websocket: WebSockets for Node.js that stream, shaped like Windows.Networking.Sockets.

export { StreamWebSocket } from './api/stream-websocket.js';
export { MessageWebSocket } from './api/message-websocket.js';
export { ServerStreamWebSocket } from './api/server-stream-websocket.js';
export { ServerMessageWebSocket } from './api/server-message-websocket.js';
export { MessageWebSocketMessageReceivedEventArgs } from './api/message-received-event-args.js';
export { DEFAULT_WHOLE_MESSAGE_LIMIT, type MessageReceivedHandler } from './api/message-socket.js';
export type { WebSocketIncomingMessage } from './connection/incoming-message.js';
export { WebSocketListener } from './api/websocket-listener.js';
export { WebSocketStream, type WebSocketStreamOptions } from './api/websocket-stream.js';
export { ServerWebSocketStream } from './api/server-websocket-stream.js';
export type { WebSocketClosedInfo, WebSocketOpenInfo } from './api/websocket-stream-base.js';
export type { WebSocketMessageStream } from './api/websocket-stream-readable.js';
export type { BufferSource, WebSocketStreamWrite } from './api/websocket-stream-writable.js';
export { WebSocketStreamError, type WebSocketCloseInfo } from './api/websocket-stream-error.js';
export type {
  ConnectionReceivedEventArgs,
  ListenerMode,
  WebSocketListenerMode,
  ServerSocketOf,
  WebSocketListenerInformation,
  UpgradeVerdict,
  WebSocketListenerOptions,
} from './api/websocket-listener.js';
export { MAX_REFUSAL_BODY, type UpgradeRefusal } from './protocol/error-response.js';
export {
  MessageWebSocketControl,
  ServerMessageWebSocketControl,
  StreamWebSocketControl,
  WebSocketControl,
} from './api/control.js';
export { WebSocketInformation, type BandwidthStatistics } from './api/information.js';
export type { WebSocketClosedEventArgs } from './api/websocket-base.js';
export type { ConnectAsyncOptions, ServerCustomValidationHandler } from './api/client-connector.js';
export { WebSocketServerCustomValidationRequestedEventArgs } from './api/server-custom-validation.js';
export type { Deferral } from './api/deferral.js';
export { WebSocketCloseReceivedEventArgs } from './api/close-received-event-args.js';
export type { ClientCertificate } from './client/transport.js';
export { parseBasicAuthorization, type PasswordCredential } from './client/http-auth.js';
export {
  ChainValidationResult,
  MessageWebSocketReceiveMode,
  SocketMessageType,
  SocketSslErrorSeverity,
} from './api/enums.js';
export { InputStream, InputStreamOptions } from './api/input-stream.js';
export type { PerMessageDeflateOptions } from './protocol/permessage-deflate.js';
export { OutputStream } from './api/output-stream.js';
export { MessageOutputStream, type MessageWriteOptions } from './api/message-output-stream.js';
export { WebErrorStatus, WebSocketError, HResult, webErrorStatusName } from './errors.js';
