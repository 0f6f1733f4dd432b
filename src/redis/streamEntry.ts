// Step: Redis Stream entry ⇄ stored event. The fields an event is kept in, and the order of stream ids.
import type { StoredEvent } from '../topics/topicStore.js';

/** `XADD` arguments after the id: the event's fields (`event` only when it has a type). */
export function entryFields(event: Omit<StoredEvent, 'id'>): string[] {
  const fields = ['type', event.json ? 'json' : 'text', 'data', event.text];
  if (event.event !== undefined) fields.push('event', event.event);
  return fields;
}

/**
 * The events in an `XRANGE` or `XREAD` reply's entries (`[id, [field, value, …]]`). An entry this
 * package did not write (no `data`, an unknown `type`) is skipped: someone else's key is not ours to read.
 */
export function eventsOf(entries: unknown): StoredEvent[] {
  const events: StoredEvent[] = [];
  if (!Array.isArray(entries)) return events;
  for (const entry of entries) {
    const event = eventOf(entry);
    if (event !== undefined) events.push(event);
  }
  return events;
}

/** The id of the last entry in an `XRANGE` or `XREAD` reply's entries, whoever wrote it. */
export function lastEntryId(entries: unknown): string | undefined {
  const last: unknown = Array.isArray(entries) ? entries.at(-1) : undefined;
  return Array.isArray(last) && typeof last[0] === 'string' ? last[0] : undefined;
}

function eventOf(entry: unknown): StoredEvent | undefined {
  if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) return undefined;
  const [id, fields] = entry as [string, unknown[]];
  let type: unknown;
  let text: unknown;
  let event: unknown;
  for (let index = 0; index + 1 < fields.length; index += 2) {
    const value = fields[index + 1];
    if (fields[index] === 'type') type = value;
    else if (fields[index] === 'data') text = value;
    else if (fields[index] === 'event') event = value;
  }
  if (typeof text !== 'string' || (type !== 'json' && type !== 'text')) return undefined;
  return { id, event: typeof event === 'string' ? event : undefined, text, json: type === 'json' };
}

/** A stream id, `<milliseconds>-<sequence>`: what `XADD … *` assigns. */
export const STREAM_ID = /^(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$/;

/** Orders two stream ids (their parts can exceed 2^53, so they are compared as digit strings). */
export function compareStreamIds(a: string, b: string): number {
  const [aTime = '', aSequence = ''] = a.split('-');
  const [bTime = '', bSequence = ''] = b.split('-');
  return compareDigits(aTime, bTime) || compareDigits(aSequence, bSequence);
}

function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
