// The `ws` package twice in one process: once with its pure-JavaScript masking (as WS_NO_BUFFER_UTIL=1
// or a missing bufferutil leaves it) and once with the bufferutil native addon. ws decides when its
// lib/buffer-util.js is first required, so each variant is loaded from a cleared require cache.
// ws does not export lib/ in its package "exports", so the files are required by absolute path.

import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Writable } from 'node:stream';

const require = createRequire(import.meta.url);
const wsLib = path.join(path.dirname(require.resolve('ws')), 'lib');

/** ws/lib/buffer-util.js: unmask(buffer, mask) XORs in place. */
export interface WsBufferUtil {
  // Plain functions (they do not use `this`), so they may be taken off the module object.
  unmask: (buffer: Buffer, mask: Buffer) => void;
  mask: (source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number) => void;
}

/** The constructor options of ws/lib/receiver.js that the benchmarks use. */
export interface WsReceiverOptions {
  isServer?: boolean;
  binaryType?: 'nodebuffer' | 'arraybuffer' | 'fragments';
  maxPayload?: number;
  skipUTF8Validation?: boolean;
  allowSynchronousEvents?: boolean;
}

/** ws/lib/receiver.js: a Writable that emits 'message' (data: Buffer, isBinary: boolean). */
export type WsReceiverConstructor = new (options?: WsReceiverOptions) => Writable;

export interface WsVariant {
  id: 'ws-js' | 'ws-native';
  label: string;
  bufferUtil: WsBufferUtil;
  Receiver: WsReceiverConstructor;
}

function clearWsCache(): void {
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(wsLib + path.sep)) Reflect.deleteProperty(require.cache, key);
  }
}

function load(native: boolean): WsVariant {
  const saved = process.env.WS_NO_BUFFER_UTIL;
  clearWsCache();
  if (native) delete process.env.WS_NO_BUFFER_UTIL;
  else process.env.WS_NO_BUFFER_UTIL = '1';
  try {
    const bufferUtil = require(path.join(wsLib, 'buffer-util.js')) as WsBufferUtil;
    // Loaded right after, receiver.js gets this very buffer-util from the cache.
    const Receiver = require(path.join(wsLib, 'receiver.js')) as WsReceiverConstructor;
    return native
      ? { id: 'ws-native', label: 'ws + bufferutil', bufferUtil, Receiver }
      : { id: 'ws-js', label: 'ws (JS)', bufferUtil, Receiver };
  } finally {
    if (saved === undefined) delete process.env.WS_NO_BUFFER_UTIL;
    else process.env.WS_NO_BUFFER_UTIL = saved;
    clearWsCache();
  }
}

/**
 * Both variants, checked: the JS one must not call the addon, the native one must, and the addon
 * must be the compiled one rather than bufferutil's own JS fallback.
 */
export function loadWsVariants(): { js: WsVariant; native: WsVariant } {
  const js = load(false);
  const native = load(true);
  const addon = require('bufferutil') as { unmask: unknown };
  const fallback = require('bufferutil/fallback.js') as { unmask: unknown };
  if (addon.unmask === fallback.unmask) throw new Error('bufferutil loaded its JS fallback, not the addon');
  // Newer Node versions offer http.websocketUnmask, which ws prefers to everything else.
  const jsSource = js.bufferUtil.unmask.toString();
  if (jsSource.includes('bufferUtil') || jsSource.includes('websocketUnmask')) {
    throw new Error('ws (JS) does not use its JS unmask (does node:http have websocketUnmask?)');
  }
  if (!native.bufferUtil.unmask.toString().includes('bufferUtil.unmask')) {
    throw new Error('ws + bufferutil does not use bufferutil');
  }
  // Same results from both.
  const key = Buffer.from([1, 2, 3, 4]);
  const a = Buffer.alloc(100, 0x5a);
  const b = Buffer.alloc(100, 0x5a);
  js.bufferUtil.unmask(a, key);
  native.bufferUtil.unmask(b, key);
  if (!a.equals(b)) throw new Error('ws variants disagree on unmasking');
  return { js, native };
}
