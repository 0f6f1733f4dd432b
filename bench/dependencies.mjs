// The contenders' packages: bench/ is an npm project of its own (bench/package.json), so that the
// frameworks it races are not the package's devDependencies. Installed on first use.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BENCH = fileURLToPath(new URL('./', import.meta.url));

/**
 * Installs bench/package-lock.json into bench/node_modules when that folder is missing, or lacks
 * one of bench/package.json's dependencies (a clone whose folder predates a dependency added since).
 */
export function installDependencies() {
  const { dependencies } = JSON.parse(readFileSync(`${BENCH}package.json`, 'utf8'));
  const missing = Object.keys(dependencies).filter((name) => !existsSync(`${BENCH}node_modules/${name}/package.json`));
  if (missing.length === 0) return;
  console.error(
    `installing the bench's dependencies (bench/package-lock.json; missing: ${missing.join(', ')}) into ${BENCH}node_modules`,
  );
  // --prefix: bench's own lockfile, never the repository's.
  execFileSync('npm', ['ci', '--prefix', BENCH, '--no-audit', '--no-fund'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
