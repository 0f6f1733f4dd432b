import fs from 'node:fs';
import path from 'node:path';
import { docPage } from './docPage.js';
import { shellBlockProblems } from './shellBlock.js';

const root = path.join(__dirname, '..', '..');
const page = docPage('CONTRIBUTING.md');
afterAll(() => page.expectEveryBlockUsed());

const read = (file: string): string => fs.readFileSync(path.join(root, file), 'utf8');

describe('CONTRIBUTING.md', () => {
  it('names scripts of package.json and files that exist', () => {
    expect(page.blocks('sh').flatMap(shellBlockProblems)).toEqual([]);
  });

  it('describes the CI script as it is: npm ci, then test:node on each supported line', () => {
    const ci = read('.ci/run');
    expect(ci).toContain('npm ci');
    expect(ci).toContain('npm run test:node -- "$major"');
    expect(ci).toContain('20 22 24 26');
  });

  it.each([
    ['examples/clock/server.ts', 3000],
    ['examples/tokens/server.ts', 3001],
    ['examples/sse-chat/server.ts', 3000],
  ])('gives the default port of %s: %d', (file, port) => {
    expect(read(file)).toContain(`process.env.PORT ?? ${port}`);
  });
});
