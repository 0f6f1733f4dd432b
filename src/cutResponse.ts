// Step: after a late error, the bytes already written reach the client, then the connection is cut.
import type { Response } from 'express';

/** The part of a zlib stream that `compression` keeps private and that the cut needs. */
interface Encoder {
  flush(callback: () => void): void;
  off(event: 'drain', listener: () => void): unknown;
}

const ignore = (): void => {};
const EMPTY = Buffer.alloc(0);

/** How long a client that stopped reading may hold a failed response open before it is cut anyway. */
const DELIVERY_LIMIT = 10_000;

/**
 * Cuts a started response so the client sees it truncated, never complete (RFC 9112 §7.1: a
 * chunked body without its last chunk is incomplete), after every byte written so far has reached
 * the socket; then calls `then`. At once in the common case; later only behind `compression`,
 * whose zlib stream holds the last chunks until it has flushed them, or when the socket still
 * holds bytes the client has not taken (destroying it would drop them), and never later than
 * {@link DELIVERY_LIMIT} ms. With `deliver` false (a client that stopped reading), only what
 * Node holds back is handed to the socket before the cut.
 */
export function cutResponse(res: Response, deliver: boolean, then: () => void): void {
  const encoder = deliver ? encoderOf(res) : undefined;
  if (encoder === undefined) {
    uncork(res);
    if (!deliver || !isHeldBack(res)) return destroyThen(res, then);
  }
  let done = false;
  const cut = (): void => {
    if (done) return;
    done = true;
    clearTimeout(limit);
    res.off('close', cut);
    uncork(res);
    destroyThen(res, then);
  };
  const limit = setTimeout(cut, DELIVERY_LIMIT);
  limit.unref();
  // The client may go first: then there is nothing left to deliver.
  res.once('close', cut);
  const whenDelivered = (): void => {
    if (done) return;
    uncork(res);
    // An empty write's callback runs once every earlier write has reached the kernel; 'drain'
    // would come only after a write the socket refused.
    if (isHeldBack(res)) res.socket!.write(EMPTY, cut);
    else cut();
  };
  if (encoder === undefined) whenDelivered();
  else encoder.flush(whenDelivered);
}

function isHeldBack(res: Response): boolean {
  return (res.socket?.writableLength ?? 0) > 0;
}

function destroyThen(res: Response, then: () => void): void {
  res.destroy();
  then();
}

/**
 * Hands what Node holds back to the socket. Node corks a chunked response until the next tick
 * (`OutgoingMessage.write`); on Node 24 and 26 the response keeps those chunks in a buffer of its
 * own that only `res.uncork()` releases, so uncorking the socket is not enough.
 */
function uncork(res: Response): void {
  while (res.writableCorked > 0) res.uncork();
  const socket = res.socket;
  while (socket !== null && socket.writableCorked > 0) socket.uncork();
}

/**
 * The zlib stream of the `compression` middleware, if it compresses this response. compression
 * hands `'drain'` listeners to that stream and returns what its `on()` returns, the stream itself;
 * it exposes no other way to know when a flush has reached the response.
 */
function encoderOf(res: Response): Encoder | undefined {
  if (typeof (res as Response & { flush?: unknown }).flush !== 'function') return undefined;
  const target: unknown = res.on('drain', ignore);
  if (target === res) {
    res.off('drain', ignore);
    return undefined;
  }
  const encoder = target as Partial<Encoder> | null;
  if (typeof encoder?.flush !== 'function' || typeof encoder.off !== 'function') {
    res.off('drain', ignore);
    return undefined;
  }
  encoder.off('drain', ignore);
  return encoder as Encoder;
}
