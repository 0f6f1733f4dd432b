import fs from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
// Written in parallel by another change; checked here once they exist.
const pagesToCome = ['docs/proxy.md', 'docs/llm.md'];

function pages(): string[] {
  const docs = fs.readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md'));
  return ['README.md', 'CONTRIBUTING.md', ...docs.map((name) => `docs/${name}`)];
}

function read(page: string): string {
  return fs.readFileSync(path.join(root, page), 'utf8');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(markdown: string): Set<string> {
  const outside = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  return new Set([...outside.matchAll(/^#+ (.*)$/gm)].map((match) => anchor(match[1]!)));
}

/** The relative links of a page (not http, not mailto), outside code blocks: `[text](target)`. */
function relativeLinks(markdown: string): string[] {
  const outside = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  return [...outside.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1]!)
    .filter((target) => !/^[a-z]+:/.test(target));
}

describe('the documentation pages', () => {
  it.each(pages())('%s has a test file that runs its code blocks', (page) => {
    const name = page === 'README.md' ? 'readme' : path.basename(page, '.md').toLowerCase();
    const testFile = path.join(__dirname, `${name}.test.ts`);
    expect(fs.existsSync(testFile)).toBe(true);
    const test = fs.readFileSync(testFile, 'utf8');
    expect(test).toContain(`docPage('${page}')`);
    expect(test).toContain('expectEveryBlockUsed()');
  });

  it.each(pages())('%s links only to files and headings that exist', (page) => {
    const broken = relativeLinks(read(page)).filter((link) => {
      const [file, hash] = link.split('#') as [string, string | undefined];
      const target = file === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
      if (!fs.existsSync(path.join(root, target))) return !pagesToCome.includes(target);
      return hash !== undefined && target.endsWith('.md') && !anchors(read(target)).has(hash);
    });
    expect(broken).toEqual([]);
  });

  it.each(pages())('%s cites the WHATWG HTML standard by anchor, never by section number', (page) => {
    const text = read(page);
    expect(text).not.toMatch(/WHATWG[^.\n]*§/);
    expect([...text.matchAll(/https:\/\/html\.spec\.whatwg\.org\/\S*/g)].filter(([url]) => !url.includes('#'))).toEqual(
      [],
    );
  });

  it.each(pages())('%s reads as documentation, not as a diary', (page) => {
    expect(read(page)).not.toMatch(
      /\b(today|yesterday|last session|this session|last run|latest (full )?runs?|issue \d+|issues \d+)\b/i,
    );
  });

  it('names Quart once, in the README, as the inspiration', () => {
    expect(read('README.md').match(/Quart/g)).toHaveLength(1);
    expect(read('README.md')).toMatch(/inspired by \[Quart\]/);
    expect(pages().filter((page) => page !== 'README.md' && /Quart/.test(read(page)))).toEqual([]);
  });

  it('never suggests percent-encoding a header value by hand', () => {
    expect(pages().filter((page) => read(page).includes('encodeURIComponent'))).toEqual([]);
  });

  it('keeps the README to a ten-minute read (about 3,000 words at most)', () => {
    expect(read('README.md').split(/\s+/).filter(Boolean).length).toBeLessThanOrEqual(3_000);
  });
});
