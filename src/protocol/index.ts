// The sans-I/O protocol core: everything about RFC 6455 (and RFC 7692) bytes, nothing about sockets or timers.

export * from './close.js';
export * from './error-response.js';
export * from './extension-header.js';
export * from './frame-parser.js';
export * from './frame-writer.js';
export * from './handshake.js';
export * from './mask.js';
export * from './mask-keys.js';
export * from './opcodes.js';
export * from './permessage-deflate.js';
export * from './protocol-error.js';
export * from './session.js';
export * from './utf8.js';
