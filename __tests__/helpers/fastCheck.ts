// How a property test draws its values, and how to replay a failure.
import type fc from 'fast-check';

/**
 * fast-check parameters for one property. A failure prints its seed and path; to replay it, run
 * `FC_SEED=<seed> FC_PATH=<path> npx jest <test file>`. Without them every run draws new values
 * (Date.now() seed), so the suite keeps exploring.
 */
export function runs<T>(numRuns: number): fc.Parameters<T> {
  const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
  const path = process.env.FC_PATH;
  return { numRuns, ...(seed === undefined ? {} : { seed }), ...(path === undefined ? {} : { path }) };
}
