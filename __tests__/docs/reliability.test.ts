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

  it("states the fault tests' sizes as the tests have them", () => {
    const constants = (file: string): string => fs.readFileSync(path.join(root, '__tests__', file), 'utf8');
    const text = fs.readFileSync(path.join(root, 'docs', 'reliability.md'), 'utf8');
    expect(constants('redis/faults.restart.test.ts')).toMatch(
      /const SUBSCRIBERS_PER_PROCESS = 20;[\s\S]*const DURING = 9;/,
    );
    expect(text).toContain('60 (20 per process)');
    expect(constants('redis/faults.kill.test.ts')).toMatch(/const SUBSCRIBERS = 1_000;[\s\S]*const DURING = 40;/);
    expect(text).toContain('1,000 on the killed process');
    expect(constants('reliability/churnScenario.ts')).toMatch(
      /const RATE = 30;[\s\S]*subscribers: 150, churners: 50, events: 30 \* RATE/,
    );
    expect(text).toContain('150, of which 50 drop and resume');
    expect(text).toContain('at 30 events/s (900 events)');
    expect(constants('reliability/historyTrim.test.ts')).toContain('const HISTORY = 10;');
    expect(text).toContain('history 10;');
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
