import { execFileSync } from 'node:child_process';

/** The soft limit on open files (`ulimit -n`) this process inherited, read from a child shell. */
export function openFileLimit(): number {
  const output = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  return output === 'unlimited' ? Infinity : Number(output);
}
