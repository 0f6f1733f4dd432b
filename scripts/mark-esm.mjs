// dist/esm holds ES modules, but the package itself is CommonJS ("type" unset): this marker makes
// Node, and TypeScript reading dist/esm/*.d.ts, treat that folder as ESM.
import { writeFileSync } from 'node:fs';

writeFileSync(new URL('../dist/esm/package.json', import.meta.url), '{ "type": "module" }\n');
