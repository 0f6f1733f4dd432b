// Step: events → source. Encodes each event, and adds keep-alive comments and the error event.
import { describeValue, millisecondsOption, type OptionRule } from '../arguments.js';
import type { Timeout } from '../idleTimeout.js';
import { valueSource, type ChunkSource, type ValueFormat, type Values } from '../source.js';
import { warn } from '../warn.js';
import { formatEvent, type SseEvent } from './encodeEvent.js';

/** What `errorEvent` may be, once checked. */
export type ErrorEventOption = boolean | ((error: unknown) => SseEvent | string);

// A comment line every 15 seconds or so keeps legacy proxies from dropping the connection:
// https://html.spec.whatwg.org/multipage/server-sent-events.html#authoring-notes
const KEEP_ALIVE_FRAME = ': keep-alive\n\n';
// Fixed text: an internal error message is not the client's to read. Not named `error`: that is
// also the name of EventSource's own event for a failed connection, which a page listens to with
// addEventListener('error') and could not tell from this one.
const ERROR_FRAME = 'event: stream-error\ndata: Internal Server Error\n\n';

/** The `keepAlive` option: milliseconds, or `null` for no comments. */
export const keepAliveOption = millisecondsOption(15_000, {
  means: 'no keep-alive comments',
  fix: 'send no keep-alive comments',
});

/** The `errorEvent` option: `false`, `true` or a function. */
export const errorEventOption: OptionRule<ErrorEventOption> = {
  default: false,
  check(value, label) {
    if (typeof value === 'boolean' || typeof value === 'function') return value as ErrorEventOption;
    throw new TypeError(
      `${label} must be a boolean or a function (error) => event, but received ${describeValue(value)}.`,
    );
  },
};

/**
 * How a route's events become a `text/event-stream` body, built once per route: each event encoded
 * by the pump as it comes, a keep-alive comment whenever `keepAlive` ms pass with nothing written
 * while it waits for one (so none while a slow client holds the stream back), and the error event
 * (if configured) when the events fail.
 */
export function eventFormat(keepAlive: Timeout, errorEvent: ErrorEventOption): ValueFormat {
  return {
    encode: formatEvent,
    framed: true,
    heartbeat: keepAlive === null ? undefined : { every: keepAlive, chunk: KEEP_ALIVE_FRAME },
    lastWords: errorEvent === false ? undefined : (error) => errorFrame(errorEvent, error),
  };
}

/** The source of one stream's events, in the route's {@link eventFormat}. */
export function eventSource(events: Values, format: ValueFormat): ChunkSource {
  return valueSource(events, format);
}

function errorFrame(errorEvent: true | ((error: unknown) => unknown), error: unknown): string | undefined {
  if (errorEvent === true) return ERROR_FRAME;
  let event: unknown;
  try {
    event = errorEvent(error);
  } catch (failure) {
    return warnNoErrorEvent(`threw ${describeError(failure)}`);
  }
  try {
    return formatEvent(event, 'sse(): the event returned by `errorEvent`');
  } catch (failure) {
    return warnNoErrorEvent(`returned an event that cannot be sent (${(failure as Error).message})`);
  }
}

function warnNoErrorEvent(what: string): undefined {
  warn(
    'sse()',
    `\`errorEvent\` ${what}, so no error event was sent before the stream was closed. Make it return an event object or a string.`,
  );
  return undefined;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name} (${error.message})` : describeValue(error);
}
