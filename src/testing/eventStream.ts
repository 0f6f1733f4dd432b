// Reading server-sent events out of a body the way a browser's EventSource interprets them.
import { CR, LF, type BodyBuffer } from './bodyBuffer.js';

/**
 * One server-sent event, as a browser's `EventSource` would dispatch it. Optional fields are absent,
 * not empty, when the stream did not set them, so that `toEqual({ data: 'hi' })` holds for a plain
 * `data: hi` event.
 *
 * @example
 * import type { ServerSentEvent } from 'express-async-stream/testing';
 * const expected: ServerSentEvent = { event: 'tick', data: '1', id: '1' };
 */
export interface ServerSentEvent {
  /** The `data` lines of the event, joined with `'\n'`. */
  readonly data: string;
  /** The event type from an `event` field; absent for the default type, `'message'`. */
  readonly event?: string;
  /**
   * The event's last event ID, what `EventSource` reports as `lastEventId`: set by an `id` field and
   * kept for the events after it until another `id` field changes it; absent while it is empty.
   */
  readonly id?: string;
  /** The reconnection time in ms from a `retry` field received since the previous event, if any. */
  readonly retry?: number;
}

// The UTF-8 decode the spec applies to the stream strips one leading byte order mark.
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The fields of the event being read, up to the blank line that dispatches it. */
interface EventBlock {
  data: string;
  type: string;
  id: string;
  retry: number | undefined;
}

/**
 * The event-stream interpretation of the WHATWG HTML standard:
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 * It keeps what lasts across events (the last event ID, a pending `retry`) and takes from the buffer
 * one whole block at a time, so that bytes of an event still incomplete are left unread.
 */
export class EventStreamReader {
  private lastEventId = '';
  private retry: number | undefined;

  /** Takes blocks until one dispatches an event; `undefined` when the buffer holds no complete event. */
  take(buffer: BodyBuffer): ServerSentEvent | undefined {
    if (buffer.position === 0 && buffer.peek(0, BOM.length).equals(BOM)) buffer.skip(BOM.length);
    let block = this.newBlock();
    let offset = 0;
    for (;;) {
      const at = buffer.indexOf([CR, LF], offset);
      // A line without its line break is not interpreted yet (and discarded if the stream ends).
      if (at < 0) return undefined;
      const line = buffer.peek(offset, at).toString('utf8');
      // CRLF, LF and CR each end a line.
      const isCr = buffer.byteAt(at) === CR;
      offset = isCr && buffer.byteAt(at + 1) === LF ? at + 2 : at + 1;
      if (line !== '') {
        processField(block, line);
        continue;
      }
      buffer.skip(offset, isCr && offset === at + 1);
      offset = 0;
      const event = this.dispatch(block);
      if (event !== undefined) return event;
      block = this.newBlock();
    }
  }

  private newBlock(): EventBlock {
    return { data: '', type: '', id: this.lastEventId, retry: undefined };
  }

  private dispatch(block: EventBlock): ServerSentEvent | undefined {
    this.lastEventId = block.id;
    this.retry = block.retry ?? this.retry;
    // A block without data dispatches nothing (a comment, a lone `id` or `retry`, a keep-alive).
    if (block.data === '') return undefined;
    const retry = this.retry;
    this.retry = undefined;
    return {
      data: block.data.slice(0, -1),
      ...(block.type !== '' && { event: block.type }),
      ...(this.lastEventId !== '' && { id: this.lastEventId }),
      ...(retry !== undefined && { retry }),
    };
  }
}

function processField(block: EventBlock, line: string): void {
  if (line.startsWith(':')) return;
  const colon = line.indexOf(':');
  const name = colon < 0 ? line : line.slice(0, colon);
  let value = colon < 0 ? '' : line.slice(colon + 1);
  if (value.startsWith(' ')) value = value.slice(1);
  if (name === 'event') block.type = value;
  else if (name === 'data') block.data += `${value}\n`;
  else if (name === 'id' && !value.includes('\0')) block.id = value;
  else if (name === 'retry' && /^[0-9]+$/.test(value)) block.retry = Number(value);
  // Any other field is ignored.
}
