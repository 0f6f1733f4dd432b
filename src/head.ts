// Step: the status and headers, fixed at the first chunk and sent with it.
import type { Response } from 'express';
import { toHeaderEntries, type HeadersInput } from './headers.js';

/** The status and headers a result asks for; `undefined` keeps what the handler set on `res`. */
export interface Head {
  readonly status?: number | undefined;
  readonly headers?: HeadersInput | undefined;
}

const textTypePattern = /^\s*text\//i;
const charsetPattern = /;\s*charset\s*=/i;

/**
 * Applies the result's status and headers to `res`, replacing headers the handler set with
 * `res.set()`. Called once, just before the first byte, so both may change until then.
 */
export function applyHead(res: Response, response: Head): void {
  if (response.status !== undefined) res.statusCode = response.status;
  if (response.headers === undefined) return;
  for (const { name, value } of toHeaderEntries(response.headers, 'asyncStream()').values()) {
    res.setHeader(name, value);
  }
}

/**
 * Sends the status and headers of a streamed body, with `firstChunk` (or none for an empty body or
 * HEAD). A handler that already sent the headers itself (`res.flushHeaders()`) keeps them.
 *
 * @throws TypeError when the headers were sent already and the result still asks for a status or headers.
 */
export function commitHead(res: Response, response: Head, firstChunk?: string | Uint8Array): void {
  if (res.headersSent) {
    if (response.status === undefined && response.headers === undefined) return;
    throw new TypeError(
      'asyncStream(): the handler sent the headers itself (res.flushHeaders() or res.write()), so the status ' +
        'and headers of its result cannot be applied. Set them with res.status() and res.set() before sending.',
    );
  }
  applyHead(res, response);
  if (firstChunk !== undefined) applyDefaultContentType(res, firstChunk);
}

/**
 * Defaults `Content-Type` from the first chunk as `res.send()` would: text is
 * `text/html; charset=utf-8`, bytes are `application/octet-stream`. A type already set is kept;
 * a `text/*` one that names no charset gets `charset=utf-8` when the chunks are strings, since that
 * is how they are encoded (`res.send()` does the same).
 */
function applyDefaultContentType(res: Response, firstChunk: string | Uint8Array): void {
  const type = res.getHeader('Content-Type');
  const isText = typeof firstChunk === 'string';
  if (type === undefined) {
    res.setHeader('Content-Type', isText ? 'text/html; charset=utf-8' : 'application/octet-stream');
  } else if (isText && typeof type === 'string' && textTypePattern.test(type) && !charsetPattern.test(type)) {
    res.setHeader('Content-Type', `${type}; charset=utf-8`);
  }
}
