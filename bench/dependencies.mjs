// The contenders' packages: bench/ is an npm project of its own (bench/package.json), so that the
// frameworks it races are not the package's devDependencies. Installed on first use.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BENCH = fileURLToPath(new URL('./', import.meta.url));

/** Installs bench/package-lock.json into bench/node_modules when that folder is missing. */
export function installDependencies() {
  if (existsSync(`${BENCH}node_modules`)) return;
  console.error(`installing the contenders (bench/package-lock.json) into ${BENCH}node_modules`);
  // --prefix: bench's own lockfile, never the repository's.
  execFileSync('npm', ['ci', '--prefix', BENCH, '--no-audit', '--no-fund'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
