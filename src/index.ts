// stream-websocket: WebSockets for Node.js that stream, shaped like Windows.Networking.Sockets.

export { StreamWebSocket } from './api/stream-websocket.js';
export { ServerStreamWebSocket } from './api/server-stream-websocket.js';
export { WebSocketListener } from './api/websocket-listener.js';
export type {
  ConnectionReceivedEventArgs,
  WebSocketListenerInformation,
  WebSocketListenerOptions,
} from './api/websocket-listener.js';
export { StreamWebSocketControl, WebSocketControl } from './api/control.js';
export { WebSocketInformation, type BandwidthStatistics } from './api/information.js';
export type { WebSocketClosedEventArgs } from './api/websocket-base.js';
export type { ConnectAsyncOptions } from './api/client-connector.js';
export {
  ChainValidationResult,
  MessageWebSocketReceiveMode,
  SocketMessageType,
  SocketSslErrorSeverity,
} from './api/enums.js';
export { InputStream, InputStreamOptions } from './connection/input-stream.js';
export { OutputStream } from './connection/output-stream.js';
export { WebErrorStatus, WebSocketError, HResult } from './errors.js';
