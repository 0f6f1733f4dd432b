// Suites that need a program on the machine (nginx, redis-server): run, skipped with a hint, or failed on CI.

/** A program that a suite starts, such as `redis-server`. */
export interface RequiredProgram {
  /** Its name, as messages show it. */
  readonly name: string;
  /** Its path, or `undefined` when it is not installed. */
  readonly path: string | undefined;
  /** The command that installs it, e.g. `apt-get install -y redis-server`. */
  readonly install: string;
}

/** What becomes of a suite whose program is missing: skipped on a contributor's machine, failed on CI. */
export type SuitePlan = 'run' | 'skip' | 'fail';

/**
 * `run` when the program is installed. Otherwise `fail` on CI (`CI` set, and not `false` or `0`),
 * where `.ci/run` installs every program the tests need, so that a missing one cannot pass
 * unnoticed as skipped tests; `skip` elsewhere.
 */
export function suitePlan(installed: boolean, env: NodeJS.ProcessEnv = process.env): SuitePlan {
  if (installed) return 'run';
  const ci = env.CI ?? '';
  return ci === '' || ci === 'false' || ci === '0' ? 'skip' : 'fail';
}

/**
 * `describe(name, fn)` when `program` is installed. When it is not: off CI, `describe.skip` and
 * one line on stderr saying how to install it; on CI, a suite with one failing test that says so.
 */
export function describeWhenInstalled(
  program: RequiredProgram,
  name: string,
  fn: () => void,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const plan = suitePlan(program.path !== undefined, env);
  if (plan === 'run') return describe(name, fn);
  const missing = `${program.name} is not installed (${program.install})`;
  if (plan === 'fail') {
    return describe(name, () => {
      it(`finds ${program.name}`, () => {
        throw new Error(`${missing}. .ci/run installs it when it is missing: these tests must run on CI.`);
      });
    });
  }
  // One line, not console.warn, which jest prints with a stack trace.
  process.stderr.write(`Skipping "${name}": ${missing}.\n`);
  describe.skip(name, fn);
}
