// Step: handler → result. Reads what a handler returned: a body, a tuple or a StreamResponse.
import { isJsonBody } from './body.js';
import { describeValue } from './arguments.js';
import { isHeadersInput, type HeadersInput } from './headers.js';
import { isStreamResponse, StreamResponse, type BodyInput } from './response.js';
import { isStatus } from './status.js';

/**
 * What a handler may return: a body, a tuple `[body, status]`, `[body, headers]` or
 * `[body, status, headers]`, a {@link StreamResponse}, or `undefined` when it answered the request
 * (or called `next`) itself. An array is always a tuple, never a body. `[body, headers]` is refused
 * when the body is JSON data (a plain object or an array) and the headers a plain object or an
 * array: two rows of data have that shape too (`[rows, 200]` sends an array as JSON).
 */
export type HandlerResult =
  | BodyInput
  | StreamResponse
  | readonly [body: BodyInput, status: number]
  | readonly [body: BodyInput, headers: HeadersInput]
  | readonly [body: BodyInput, status: number, headers: HeadersInput]
  | undefined
  | void;

const tupleShapes = 'An array result is a tuple: [body, status], [body, headers] or [body, status, headers]';

/**
 * Normalises a handler's awaited result into a {@link StreamResponse}.
 *
 * @throws TypeError when an array is not a well-formed tuple.
 */
export function toStreamResponse(result: unknown, where: string): StreamResponse {
  if (isStreamResponse(result)) return result;
  if (!Array.isArray(result)) return StreamResponse.create(result as BodyInput, undefined, undefined, where);
  const [body, second, third] = result as unknown[];
  if (result.length === 2 && isStatus(second))
    return StreamResponse.create(body as BodyInput, second, undefined, where);
  if (result.length === 2 && isHeadersInput(second)) {
    if (couldBeData(body, second)) throw ambiguityError(result, where);
    return StreamResponse.create(body as BodyInput, undefined, second, where);
  }
  if (result.length === 3 && isStatus(second) && isHeadersInput(third)) {
    return StreamResponse.create(body as BodyInput, second, third, where);
  }
  throw new TypeError(
    `${where}: the handler returned ${describeTuple(result)}. ${tupleShapes}, where status is an integer from 200 to 599 and headers a plain object, a Headers instance or an array of [name, value] pairs. To send a JSON array, return [array, 200].`,
  );
}

/**
 * Whether `[body, headers]` could as well be two items of data (rows from a query): a JSON body
 * beside headers written as a plain object or an array. A stream, text or bytes beside headers,
 * or a `Headers` instance, cannot be mistaken for data.
 */
function couldBeData(body: unknown, headers: HeadersInput): boolean {
  return isJsonBody(body) && !(headers instanceof Headers);
}

function ambiguityError(tuple: unknown[], where: string): TypeError {
  return new TypeError(
    `${where}: the handler returned [${describeValue(tuple[0])}, ${describeValue(tuple[1])}], which could be two ` +
      'items of data (rows from a query) as well as [body, headers], so it is refused rather than guessed. ' +
      'To send an array as JSON, return [array, 200]; to send a JSON body with headers, return ' +
      '[body, 200, headers] or makeResponse(body, 200, headers).',
  );
}

function describeTuple(tuple: unknown[]): string {
  if (tuple.length < 2 || tuple.length > 3) return `an array of length ${tuple.length}`;
  const [, second, third] = tuple;
  if (tuple.length === 2) return `[body, ${describeValue(second)}]`;
  return `[body, ${describeValue(second)}, ${describeValue(third)}]`;
}
