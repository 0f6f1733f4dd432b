import fs from 'node:fs';
import path from 'node:path';
import { docPage } from './docPage.js';

const root = path.join(__dirname, '..', '..');
const page = docPage('docs/reliability.md');
afterAll(() => page.expectEveryBlockUsed());

const packageJson = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
};

// The page has no code blocks; what it says the suites use and check is checked against the repository.
describe('docs/reliability.md', () => {
  it('describes `npm test` as it is: build, type-check of src, tests and examples, lint and format, API docs, jest with coverage', () => {
    expect(packageJson.scripts.test).toBe(
      'npm run build && npm run typecheck && npm run lint && npm run docs:check && jest --coverage',
    );
    const tsconfig = fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8');
    for (const folder of ['"src"', '"__tests__"', '"examples"']) expect(tsconfig).toContain(folder);
    expect(fs.readFileSync(path.join(root, 'jest.config.ts'), 'utf8')).toContain('coverageThreshold');
  });

  it('names suites and tools that exist', () => {
    for (const suite of ['property', 'reliability', 'browser', 'badInput.test.ts', 'installed.test.ts']) {
      expect(fs.existsSync(path.join(root, '__tests__', suite))).toBe(true);
    }
    for (const tool of [
      'fast-check',
      'eventsource-parser',
      'publint',
      '@arethetypeswrong/cli',
      'playwright-core',
      'express4',
    ]) {
      expect(packageJson.devDependencies).toHaveProperty([tool]);
    }
  });
});
