import fs from 'node:fs';
import path from 'node:path';
import { docPage, runBlock } from './docPage.js';

const page = docPage('docs/testing.md');
afterAll(() => page.expectEveryBlockUsed());

// Every example of the test-kit page, run as written: its it() calls register here.
describe('docs/testing.md: the test-kit examples', () => {
  describe('reading a body by line', () => {
    runBlock(page.block("it('streams three lines'"), { it, expect });
  });
  describe('disconnect() waits for the teardown', () => {
    runBlock(page.block("it('stops beating when the client goes away'"), { it, expect });
  });
});

describe('docs/testing.md: the Types table', () => {
  const markdown = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'testing.md'), 'utf8');
  const index = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'testing', 'index.ts'), 'utf8');

  it.each([...index.matchAll(/\btype (\w+)/g)].map((match) => match[1]!))('defines %s', (name) => {
    expect(markdown).toMatch(new RegExp(`^\\| \`${name}\``, 'm'));
  });
});
