// Step: event → text. One server-sent event in the text/event-stream format, checked field by field.
import { describeValue } from '../arguments.js';

/**
 * One server-sent event. Every field is optional, but an event needs at least one of them. Fields
 * go on the wire in this order: `comment`, `event`, `id`, `retry`, `data`.
 *
 * @example
 * import type { SseEvent } from 'express-async-stream';
 * const event: SseEvent = { event: 'price', id: '42', data: { symbol: 'ACME', price: 12.5 } };
 */
export interface SseEvent {
  /**
   * The payload, `MessageEvent.data` in the browser. A string is sent as it is (line breaks
   * included); any other value is sent as `JSON.stringify(data)`. Without `data` the browser
   * dispatches nothing, but still applies `id` and `retry`.
   */
  readonly data?: unknown;
  /** The event type the browser dispatches (`addEventListener(event, …)`); `message` when absent or empty. */
  readonly event?: string | undefined;
  /**
   * The id the browser sends back as `Last-Event-ID` when it reconnects. `''` resets it. A number
   * is sent as its decimal form.
   */
  readonly id?: string | number | undefined;
  /** The reconnection delay the browser should use from now on, in milliseconds (an integer, `0` allowed). */
  readonly retry?: number | undefined;
  /** A comment, which every client ignores; used to keep idle connections open. May span several lines. */
  readonly comment?: string | undefined;
}

// A line ends at CRLF, a lone CR or a lone LF: https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
const lineBreak = /\r\n|\r|\n/;
const hasLineBreakOrNul = /[\r\n\0]/;

/** Two indexOf() calls: cheaper than a regular expression on the path every event takes. */
function isOneLine(value: string): boolean {
  return value.indexOf('\n') === -1 && value.indexOf('\r') === -1;
}

/**
 * Encodes one event in the `text/event-stream` format of the WHATWG HTML standard, blank
 * line included. A string is a data-only event.
 *
 * @throws TypeError or RangeError naming the field when the event cannot be sent as given.
 * @example
 * import { encodeEvent } from 'express-async-stream';
 * encodeEvent('hello'); // 'data: hello\n\n'
 * encodeEvent({ event: 'tick', id: 7, data: { n: 7 } }); // 'event: tick\nid: 7\ndata: {"n":7}\n\n'
 */
export function encodeEvent(event: SseEvent | string): string {
  return formatEvent(event, 'encodeEvent()');
}

/**
 * Names the caller in error messages; a number is the event's index in an `sse()` stream, so that
 * the name is built only when a message is (a closure per event measurably slowed `sse()`).
 */
export type Where = string | number;

/**
 * An event that carries its text/event-stream frame, built once however many streams send it (a
 * topic's events, which one process fans out to every subscriber).
 */
export abstract class FramedEvent {
  /** The event's frame, blank line included. */
  abstract frame(): string;
}

/** {@link encodeEvent}, with `where` naming the caller in error messages. */
export function formatEvent(event: unknown, where: Where): string {
  // The commonest event (a token, a log line) built as one flat string.
  if (typeof event === 'string')
    return isOneLine(event) ? `${field('data', event)}\n\n` : `${fieldLines('data', event)}\n`;
  if (event instanceof FramedEvent) return event.frame();
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new TypeError(
      `${at(where)}: an event must be a string or an object with data, event, id, retry or comment, but received ` +
        `${describeValue(event)}. To send a value as JSON, use { data: value }.`,
    );
  }
  const { comment, event: type, id, retry, data } = event as SseEvent;
  if (comment === undefined && type === undefined && id === undefined && retry === undefined && data === undefined) {
    throw new TypeError(
      `${at(where)}: the event ${describeValue(event)} has none of data, event, id, retry or comment, so there ` +
        'is nothing to send. To send a value as JSON, use { data: value }.',
    );
  }
  let frame = '';
  if (comment !== undefined) frame += commentLines(comment, where);
  if (type !== undefined) frame += `${field('event', eventType(type, where))}\n`;
  if (id !== undefined) frame += `${field('id', eventId(id, where))}\n`;
  if (retry !== undefined) frame += `${field('retry', retryDelay(retry, where))}\n`;
  if (data !== undefined) frame += fieldLines('data', dataText(data, where));
  return `${frame}\n`;
}

// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation:
// the parser drops one space after the colon, so `name: value` round-trips any value,
// even one that starts with a space. An empty value is written `name:`, which reads the same.
function field(name: string, value: string): string {
  return value === '' ? `${name}:` : `${name}: ${value}`;
}

/** One `name: line` per line of `value`: a trailing line break gives an empty last line, so it survives. */
function fieldLines(name: string, value: string): string {
  if (isOneLine(value)) return `${field(name, value)}\n`;
  return value
    .split(lineBreak)
    .map((line) => `${field(name, line)}\n`)
    .join('');
}

function commentLines(comment: unknown, where: Where): string {
  if (typeof comment !== 'string') throw fieldTypeError('comment', 'a string', comment, where);
  // Event-stream interpretation: a line that starts with a colon is ignored.
  return fieldLines('', comment);
}

/** Checks an event type: a string without line breaks. */
export function eventType(type: unknown, where: Where): string {
  if (typeof type !== 'string') throw fieldTypeError('event', 'a string', type, where);
  if (!isOneLine(type)) {
    throw new TypeError(
      `${at(where)}: \`event\` must not contain CR or LF (a line break would end the field), but received ` +
        `${describeValue(type)}. Use a single-line event name.`,
    );
  }
  return type;
}

function eventId(id: unknown, where: Where): string {
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  if (typeof id !== 'string') throw fieldTypeError('id', 'a string or a finite number', id, where);
  // Event-stream interpretation: an id containing NULL is ignored by the browser; a line break would end the field.
  if (hasLineBreakOrNul.test(id)) {
    throw new TypeError(
      `${at(where)}: \`id\` must not contain CR, LF or NUL (the browser would cut or ignore it), but received ` +
        `${describeValue(id)}. Use a single-line id without NUL characters.`,
    );
  }
  return id;
}

function retryDelay(retry: unknown, where: Where): string {
  if (typeof retry !== 'number') throw fieldTypeError('retry', 'a number of milliseconds', retry, where);
  // Event-stream interpretation: the browser applies `retry` only when it is made of ASCII digits.
  if (!Number.isSafeInteger(retry) || retry < 0) {
    throw new RangeError(
      `${at(where)}: \`retry\` must be a non-negative integer number of milliseconds, but received ` +
        `${describeValue(retry)}. Round it, e.g. Math.round(ms).`,
    );
  }
  return String(retry);
}

/** `data` as the wire carries it: a string as it is, any other value as its JSON. */
export function dataText(data: unknown, where: Where): string {
  if (typeof data === 'string') return data;
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new TypeError(
      `${at(where)}: \`data\` is ${describeValue(data)}, which JSON.stringify() cannot serialise ` +
        `(${(error as Error).message}). Send a string, or a JSON-serialisable value.`,
      { cause: error },
    );
  }
  if (json === undefined) {
    throw new TypeError(
      `${at(where)}: \`data\` is ${describeValue(data)}, which JSON.stringify() turns into nothing. ` +
        'Send a string, or a JSON-serialisable value.',
    );
  }
  return json;
}

function at(where: Where): string {
  return typeof where === 'string' ? where : `sse(): event ${where}`;
}

function fieldTypeError(name: string, expected: string, value: unknown, where: Where): TypeError {
  return new TypeError(`${at(where)}: \`${name}\` must be ${expected}, but received ${describeValue(value)}.`);
}
