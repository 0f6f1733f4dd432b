// What each reader of a StreamConnection takes from the buffer they share.
import { describeValue } from '../arguments.js';
import { AsyncStreamError } from '../errors.js';
import type { Take } from './responseBody.js';
import type { ConnectionOrigin } from './streamConnection.js';

/** The rest of the oldest chunk, as the socket delivered it. */
export const shiftChunk: Take<Buffer> = (buffer) => buffer.shift();

/** The next line without its LF, decoded whole; at a clean end, what is left without one. */
export const takeLine: Take<string> = (buffer, ended) => {
  const line = buffer.takeLine() ?? (ended && !buffer.isEmpty ? buffer.takeAll() : undefined);
  return line?.toString('utf8');
};

/** The next line that is not blank: "The parser MAY silently ignore empty lines" (https://github.com/ndjson/ndjson-spec). */
export const takeJsonLine: Take<string> = (buffer, ended) => {
  for (let line = takeLine(buffer, ended); line !== undefined; line = takeLine(buffer, ended)) {
    if (line.trim() !== '') return line;
  }
  return undefined;
};

/**
 * Parses one line of a newline-delimited JSON body.
 *
 * @throws AsyncStreamError naming the line when it is not JSON; `cause` is the `SyntaxError`.
 */
export function parseJsonLine(line: string, origin: ConnectionOrigin): unknown {
  try {
    return JSON.parse(line);
  } catch (cause) {
    throw new AsyncStreamError(
      `${origin.method} ${origin.url}: receiveJson() read a line that is not JSON, ${describeValue(line)} ` +
        `(${(cause as Error).message}). Newline-delimited JSON holds one JSON value per line.`,
      { cause },
    );
  }
}
