import { readmeSectionBlocks, runReadmeBlock } from './readmeBlocks.js';

// Every example of the README's test-kit section, run as written: its it() calls register here.
describe('README: the test-kit examples', () => {
  const blocks = readmeSectionBlocks('Testing: `express-async-stream/testing`');

  it('are all here', () => {
    expect(blocks).toHaveLength(2);
  });

  blocks.forEach((block, index) => {
    describe(`example ${index + 1}`, () => runReadmeBlock(block, { it, expect }));
  });
});
