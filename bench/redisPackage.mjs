// The package's Redis entry point (`express-async-stream/redis`), from the root build, by path
// for the reason package.mjs gives.
export * from '../dist/esm/redis/index.js';
