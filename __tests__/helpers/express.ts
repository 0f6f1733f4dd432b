// The Express majors every behavioural test runs against.
import express5 from 'express';
import express4 from 'express4';
import type { Express } from 'express';

/** Both supported Express majors, for `describe.each(expressVersions)('%s', (_, createApp) => …)`. */
export const expressVersions: ReadonlyArray<readonly [string, () => Express]> = [
  ['express 5', () => express5()],
  ['express 4', () => express4()],
];
