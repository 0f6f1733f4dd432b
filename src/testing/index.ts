export { ReceiveTimeoutError, ResponseAbortedError } from './errors.js';
export { type ServerSentEvent } from './eventStream.js';
export { DEFAULT_RECEIVE_TIMEOUT } from './options.js';
export { StreamConnection, type BodyEnd, type ReceiveOptions } from './streamConnection.js';
export { streamRequest, type StreamRequestInit, type StreamTarget } from './streamRequest.js';
