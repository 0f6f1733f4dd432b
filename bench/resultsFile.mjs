// The results file holds one section per Node line: a run replaces its own line's
// section and keeps the others, so the lines' tables sit side by side, each from
// its own run.
import { readFile, writeFile } from 'node:fs/promises';

const SECTION = /^## Node (\d+)\n/m;

/** Writes `report` as the section of Node `major` in the Markdown file at `url`. */
export async function writeResults(url, major, report) {
  const sections = new Map(await readSections(url));
  sections.set(Number(major), report.trim());
  const ordered = [...sections].sort(([a], [b]) => b - a);
  await writeFile(
    url,
    '# Benchmark results\n\n' +
      'One section per Node line, each from its own run of `npm run bench -- --node <major>` ' +
      '(a run replaces its own section). Newest line first.\n\n' +
      ordered.map(([line, text]) => `## Node ${line}\n\n${text}\n`).join('\n'),
  );
}

/** [major, text] of each section already in the file; none if there is no file, or none in it. */
async function readSections(url) {
  let text;
  try {
    text = await readFile(url, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  // split() with a capturing group: [before, major, text, major, text, …].
  const parts = text.split(SECTION);
  const sections = [];
  for (let i = 1; i < parts.length; i += 2) sections.push([Number(parts[i]), parts[i + 1].trim()]);
  return sections;
}
