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
    ['examples/resumable-answer/server.ts', 3002],
  ])('gives the default port of %s: %d', (file, port) => {
    expect(read(file)).toContain(`process.env.PORT ?? ${port}`);
  });

  it('lists every file of src/ once in its layout, and no file that does not exist', () => {
    const layout = read('CONTRIBUTING.md').split('### `src/`, in the order data flows')[1]!;
    const listed = [...layout.matchAll(/`([\w/]+\.ts)`/g)].map((match) => match[1]!);
    const files = fs
      .readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => file.split(path.sep).join('/'));
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual(files.filter((file) => !file.endsWith('index.ts')).sort());
  });
});
