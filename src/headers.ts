// Step: the headers a result asks for, in any accepted shape, checked before anything is sent.
import { isPlainObject } from './body.js';
import { describeValue } from './arguments.js';

/** A header value: arrays send the header once per element (`Set-Cookie`). */
export type HeaderValue = string | number | readonly string[];

/**
 * Response headers, in any of the shapes the Fetch API accepts: a plain object, a
 * `Headers` instance, or an array of `[name, value]` pairs (a name may repeat).
 */
export type HeadersInput =
  Readonly<Record<string, HeaderValue | undefined>> | Headers | ReadonlyArray<readonly [string, HeaderValue]>;

/** Headers reduced to one entry per lower-cased name, repeated values gathered in an array. */
export type HeaderEntries = Map<string, { name: string; value: string | string[] }>;

// RFC 9110 §5.1: a field name is a token; §5.5: a value must not contain CR, LF or NUL, which
// would let a value smuggle extra header lines (response splitting).
const tokenPattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const forbiddenValuePattern = /[\r\n\0]/;
// §5.5: the rest of a value is visible ASCII, space, tab and obs-text (bytes 0x80-0xFF). Node's
// setHeader() throws ERR_INVALID_CHAR for anything else, but only when the first chunk is sent and
// without naming the value: checked here so the error comes early and says what to do.
const invalidValueCharPattern = /[^\t\x20-\x7e\x80-\xff]/;
// §8.6: Content-Length = 1*DIGIT; a client cannot frame a response whose length is anything else.
const contentLengthPattern = /^\d+$/;

/** Whether `value` has one of the shapes of {@link HeadersInput} (its entries are checked later). */
export function isHeadersInput(value: unknown): value is HeadersInput {
  return Array.isArray(value) || value instanceof Headers || isPlainObject(value);
}

/**
 * Validates `input` and converts it to entries ready for `res.setHeader`.
 *
 * @throws TypeError naming the header and the value when a shape, name or value is invalid.
 */
export function toHeaderEntries(input: HeadersInput, where: string): HeaderEntries {
  const entries: HeaderEntries = new Map();
  if (input instanceof Headers) {
    for (const [name, value] of input) if (name !== 'set-cookie') addHeader(entries, name, value, where);
    for (const cookie of input.getSetCookie()) addHeader(entries, 'Set-Cookie', cookie, where);
  } else if (Array.isArray(input)) {
    input.forEach((pair: unknown, index) => {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError(
          `${where}: headers[${index}] must be a [name, value] pair, but received ${describeValue(pair)}.`,
        );
      }
      addHeader(entries, pair[0], pair[1], where);
    });
  } else {
    for (const [name, value] of Object.entries(input)) if (value !== undefined) addHeader(entries, name, value, where);
  }
  return entries;
}

function addHeader(entries: HeaderEntries, name: unknown, value: unknown, where: string): void {
  if (typeof name !== 'string' || !tokenPattern.test(name)) {
    throw new TypeError(
      `${where}: ${describeValue(name)} is not a valid header name (RFC 9110 token). Use letters, digits and ` +
        "!#$%&'*+-.^_`|~ only, e.g. X-Request-Id.",
    );
  }
  const values = (Array.isArray(value) ? value : [value]).map((item: unknown) => headerValue(name, item, where));
  const key = name.toLowerCase();
  if (key === 'content-length') assertContentLength(name, [entries.get(key)?.value ?? [], values].flat(), where);
  const existing = entries.get(key);
  if (existing === undefined) {
    entries.set(key, { name, value: values.length === 1 ? values[0]! : values });
  } else {
    existing.value = [existing.value, values].flat();
  }
}

function headerValue(name: string, value: unknown, where: string): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') {
    throw new TypeError(
      `${where}: header "${name}" must be a string, a number or an array of strings, but received ${describeValue(value)}. ` +
        'Convert it with String(value), or leave the header out.',
    );
  }
  if (forbiddenValuePattern.test(value)) {
    throw new TypeError(
      `${where}: header "${name}" contains a CR, LF or NUL character (${JSON.stringify(value)}), ` +
        'which would split the response. Remove line breaks from header values.',
    );
  }
  const invalid = invalidValueCharPattern.exec(value);
  if (invalid !== null) {
    const code = `U+${value.codePointAt(invalid.index)!.toString(16).toUpperCase().padStart(4, '0')}`;
    throw new TypeError(
      `${where}: header "${name}" contains the character ${code} in ${describeValue(value)}, which a header ` +
        'value cannot carry (RFC 9110 §5.5: visible ASCII, space, tab and Latin-1 only). For a download ' +
        "filename, call res.attachment(filename) in the handler, which encodes it (filename*=UTF-8''…); encode " +
        'other values first.',
    );
  }
  return value;
}

function assertContentLength(name: string, values: string[], where: string): void {
  if (values.length === 1 && contentLengthPattern.test(values[0]!)) return;
  throw new TypeError(
    `${where}: header "${name}" must be one non-negative integer (RFC 9110 §8.6), but received ` +
      `${describeValue(values.length === 1 ? values[0] : values)}. Leave it out to send the body chunked.`,
  );
}
