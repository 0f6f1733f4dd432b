// The public surface of the package root: re-exports only. Factories first, then what a handler
// returns, its context, and the errors.
export { asyncStream, type AsyncStreamHandler, type AsyncStreamOptions } from './asyncStream.js';
export { sse, lastEventId, type SseOptions, type SseHandler } from './sse/sse.js';
export { encodeEvent, type SseEvent } from './sse/encodeEvent.js';
export { ndjson, type NdjsonHandler, type NdjsonOptions } from './ndjson.js';
export type { StreamHandler } from './streamHandler.js';
export type { HandlerResult } from './result.js';
export {
  isStreamResponse,
  makeResponse,
  StreamResponse,
  type BodyInput,
  type JsonBody,
  type StreamBody,
} from './response.js';
export type { Chunk } from './chunk.js';
export type { HeadersInput, HeaderValue } from './headers.js';
export { DEFAULT_TIMEOUT, TIMEOUT_SETTING, type Timeout } from './idleTimeout.js';
export { currentRequest, currentResponse, currentSignal, type StreamContext } from './context.js';
export { withContext } from './withContext.js';
export {
  createTopic,
  type PublishOptions,
  type SubscribeOptions,
  type Topic,
  type TopicOptions,
  type TopicSubscription,
} from './topics/topic.js';
export type { TopicEvent, TopicReset } from './topics/topicEvent.js';
export { memoryStore, type MemoryStore } from './topics/memoryStore.js';
export type { HistoryRead, StoredEvent, StoreListener, TopicStore } from './topics/topicStore.js';
export { closeStreams, type CloseStreamsOptions } from './shutdown.js';
export {
  AsyncStreamError,
  isAsyncStreamError,
  ServerShutdownError,
  StreamTimeoutError,
  type StreamTimeoutDetails,
} from './errors.js';
