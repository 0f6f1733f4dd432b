// The package under test, from the root build (`npm run build`). bench/ is a package of its own,
// whose dependencies are the contenders, so the package's name no longer resolves to the root by
// self-reference: the build is imported by path, and bench's lockfile holds the contenders alone.
export * from '../dist/esm/index.js';
