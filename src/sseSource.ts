import { describeValue } from './describe.js';
import { formatEvent, type SseEvent } from './encodeEvent.js';
import type { ChunkSource } from './source.js';
import type { Timeout } from './timeout.js';
import { warn } from './warn.js';

/** How an event stream behaves: resolved `sse()` options. */
export interface SseSourceConfig {
  /** Milliseconds with nothing written, while waiting for an event, before a keep-alive comment; `null` for none. */
  readonly keepAlive: Timeout;
  /** `false`, `true` (a fixed error event) or a function mapping the error to the event to send. */
  readonly errorEvent: boolean | ((error: unknown) => SseEvent | string);
}

// WHATWG HTML §9.2.7: a comment line every 15 seconds or so keeps legacy proxies from dropping the connection.
const KEEP_ALIVE_FRAME = ': keep-alive\n\n';
// Fixed text: an internal error message is not the client's to read. Not named `error`: that is
// also the name of EventSource's own event for a failed connection, which a page listens to with
// addEventListener('error') and could not tell from this one.
const ERROR_FRAME = 'event: stream-error\ndata: Internal Server Error\n\n';
// setTimeout() stores its delay in a signed 32-bit integer; larger values fire after 1 ms.
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Validates the `keepAlive` and `errorEvent` options of `sse()`.
 *
 * @throws TypeError or RangeError naming the option.
 */
export function resolveSseSourceConfig(keepAlive: unknown, errorEvent: unknown): SseSourceConfig {
  if (errorEvent !== undefined && typeof errorEvent !== 'boolean' && typeof errorEvent !== 'function') {
    throw new TypeError(
      `sse(): \`errorEvent\` must be a boolean or a function (error) => event, but received ${describeValue(errorEvent)}.`,
    );
  }
  return {
    keepAlive: resolveKeepAlive(keepAlive),
    errorEvent: (errorEvent ?? false) as SseSourceConfig['errorEvent'],
  };
}

function resolveKeepAlive(value: unknown): Timeout {
  if (value === undefined) return 15_000;
  if (value === null || value === Infinity) return null;
  if (typeof value !== 'number') {
    throw new TypeError(
      `sse(): \`keepAlive\` must be a number of milliseconds or null (no keep-alive comments), but received ${describeValue(value)}.`,
    );
  }
  if (!(value >= 1 && value <= MAX_DELAY)) {
    throw new RangeError(
      `sse(): \`keepAlive\` must be between 1 and ${MAX_DELAY} milliseconds, but received ${describeValue(value)}. ` +
        'Use null to send no keep-alive comments.',
    );
  }
  return value;
}

/**
 * The source of the `text/event-stream` body that `sse()` hands to asyncStream: the events of
 * `source`, encoded by the pump as they come, with a keep-alive comment whenever `keepAlive` ms
 * pass with nothing written while it waits for one (so none while a slow client holds the stream
 * back), and the error event (if configured) when the events fail.
 */
export function createSseSource(source: ChunkSource, config: SseSourceConfig): ChunkSource {
  const { keepAlive, errorEvent } = config;
  return {
    ...source,
    encode: formatEvent,
    heartbeat: keepAlive === null ? undefined : { every: keepAlive, chunk: KEEP_ALIVE_FRAME },
    lastWords: errorEvent === false ? undefined : (error) => errorFrame(errorEvent, error),
  };
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
  warn('sse()', `\`errorEvent\` ${what}, so no error event was sent before the stream was closed. Make it return an event object or a string.`);
  return undefined;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name} (${error.message})` : describeValue(error);
}
