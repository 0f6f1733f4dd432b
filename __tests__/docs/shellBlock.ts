import fs from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const packageJson = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  scripts: Record<string, string>;
};

// Paths of this repository named in a command or its comment; bench/scratch/ is created by a run.
const repositoryPath = /(?<![\w/.-])(?:\.ci|__tests__|bench|docs|examples|scripts|src)\/[\w./-]*[\w/]/g;
const generated = ['bench/scratch/'];

/**
 * What a ```sh block of the docs claims that can be checked without running it: each `npm run X`,
 * `npm start` and `npm test` names a script of package.json, `npm install X` installs this package,
 * and each file or folder of the repository it names exists. Returns the problems found.
 */
export function shellBlockProblems(block: string): string[] {
  const problems: string[] = [];
  for (const line of block.split('\n')) {
    for (const command of line
      .replace(/\s#.*$/, '')
      .split('&&')
      .map((part) => part.trim())) {
      const words = command.split(/\s+/);
      if (words[0] !== 'npm') continue;
      if (words[1] === 'run' && !(words[2]! in packageJson.scripts)) problems.push(`no script "${words[2]}": ${line}`);
      if ((words[1] === 'start' || words[1] === 'test') && !(words[1] in packageJson.scripts))
        problems.push(`no script "${words[1]}": ${line}`);
      if (words[1] === 'install' && words.length > 2 && words[2] !== packageJson.name)
        problems.push(`installs ${words[2]}: ${line}`);
    }
    for (const [named] of line.matchAll(repositoryPath)) {
      if (generated.some((prefix) => named.startsWith(prefix))) continue;
      if (!fs.existsSync(path.join(root, named))) problems.push(`no such path ${named}: ${line}`);
    }
  }
  return problems;
}
