import type { Response } from 'express';
import { toHeaderEntries } from './headers.js';
import type { StreamResponse } from './response.js';

/**
 * Applies the result's status and headers to `res`, replacing headers the handler set with
 * `res.set()`. Called once, just before the first byte, so both may change until then.
 */
export function applyHead(res: Response, response: StreamResponse): void {
  if (response.status !== undefined) res.statusCode = response.status;
  if (response.headers === undefined) return;
  for (const { name, value } of toHeaderEntries(response.headers, 'asyncStream()').values()) {
    res.setHeader(name, value);
  }
}

/**
 * Defaults `Content-Type` from the first chunk as `res.send()` would, unless one is already set:
 * text is `text/html; charset=utf-8`, bytes are `application/octet-stream`.
 */
export function applyDefaultContentType(res: Response, firstChunk: string | Uint8Array): void {
  if (res.hasHeader('Content-Type')) return;
  res.setHeader('Content-Type', typeof firstChunk === 'string' ? 'text/html; charset=utf-8' : 'application/octet-stream');
}
