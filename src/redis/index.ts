// The public surface of `express-async-stream/redis`: topics on Redis Streams. Only this entry
// point touches Redis; the package root never loads it.
export { redisStore, type RedisStore, type RedisStoreOptions } from './redisStore.js';
