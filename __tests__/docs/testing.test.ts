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
