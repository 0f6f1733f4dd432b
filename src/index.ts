export { asyncStream, type AsyncStreamHandler, type AsyncStreamOptions } from './asyncStream.js';
export { currentRequest, currentResponse, currentSignal, type StreamContext } from './context.js';
export { AsyncStreamError, isAsyncStreamError, StreamTimeoutError, type StreamTimeoutDetails } from './errors.js';
export type { HeadersInput, HeaderValue } from './headers.js';
export {
  isStreamResponse,
  makeResponse,
  StreamResponse,
  type BodyInput,
  type Chunk,
  type JsonBody,
  type StreamBody,
} from './response.js';
export type { HandlerResult } from './result.js';
export { DEFAULT_TIMEOUT, TIMEOUT_SETTING, type Timeout } from './timeout.js';
export { withContext } from './withContext.js';
export { encodeEvent, type SseEvent } from './encodeEvent.js';
export { sse, lastEventId, type SseOptions, type SseHandler } from './sse.js';
export { ndjson, type NdjsonHandler, type NdjsonOptions } from './ndjson.js';
