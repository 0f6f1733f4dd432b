// Which Node runs the benchmark: a Node line's official binary, as the npm registry
// ships it (the node-<os>-<arch> package), installed once into .cache/node/<major>/
// (git-ignored) and reused from there, where scripts/test-node.sh keeps them too.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const CACHE = fileURLToPath(new URL('../.cache/node/', import.meta.url));
// The npm package names the OS as Node's release tarballs do: linux, darwin.
const PACKAGE = `node-${process.platform}-${process.arch}`;

/** Path of Node `major`'s binary, installed from the npm registry unless cached. */
export async function nodeBinary(major) {
  if (!/^[1-9]\d*$/.test(major)) {
    throw new RangeError(
      `--node must be a Node major version such as 26 or 20, but received ${JSON.stringify(major)}.`,
    );
  }
  const prefix = `${CACHE}${major}`;
  const binary = `${prefix}/node_modules/${PACKAGE}/bin/node`;
  if (existsSync(binary)) return binary;
  // Installed beside the cache and moved into place, so that an interrupted install is never
  // taken for a complete one (scripts/test-node.sh does the same).
  const partial = `${prefix}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  console.error(`installing ${PACKAGE}@${major} from the npm registry into ${prefix}`);
  // --prefix: the folder is its own npm project, never the repository's package.json.
  execFileSync('npm', ['install', '--prefix', partial, '--no-save', '--no-audit', '--no-fund', `${PACKAGE}@${major}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await rm(prefix, { recursive: true, force: true });
  await rename(partial, prefix);
  if (!existsSync(binary)) throw new Error(`npm installed ${PACKAGE}@${major}, but ${binary} is missing.`);
  return binary;
}
