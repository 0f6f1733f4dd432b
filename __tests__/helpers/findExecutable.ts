// Finding a program the tests run (nginx, redis-server) on PATH, or where Debian installs it.
import fs from 'node:fs';
import path from 'node:path';

/**
 * The first executable file named `name` in a PATH directory, then in `otherDirs` (for programs
 * Debian installs off a non-root user's PATH, such as `/usr/sbin/nginx`). `undefined` when none.
 */
export function findExecutable(name: string, otherDirs: readonly string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...otherDirs];
  return dirs.map((dir) => path.join(dir, name)).find((file) => isExecutable(file));
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
