import fs from 'node:fs';
import path from 'node:path';
import { docPage } from './docPage.js';
import { shellBlockProblems } from './shellBlock.js';

const root = path.join(__dirname, '..', '..');
const page = docPage('docs/performance.md');
afterAll(() => page.expectEveryBlockUsed());

const read = (file: string): string => fs.readFileSync(path.join(root, file), 'utf8');

/** The ratio to the hand-written node:http loop, from the same table. */
function ratioToHandWritten(workload: string, contender: string): number {
  return ratioIn(workload, contender, 4);
}

/** The ratio to the floor of `contender` in `workload`, from the Node 26 section of bench/RESULTS.md. */
function ratioToFloor(workload: string, contender: string): number {
  return ratioIn(workload, contender, 5);
}

function ratioIn(workload: string, contender: string, column: number): number {
  const node26 = read('bench/RESULTS.md')
    .split(/^## /m)
    .find((section) => section.startsWith('Node 26'))!;
  const row = node26.split('\n').find((line) => line.startsWith(`| ${workload} | ${contender} |`))!;
  return Number(row.split('|')[column]!.trim().replace('×', ''));
}

describe('docs/performance.md', () => {
  it('runs the bench with scripts and flags that exist', () => {
    expect(page.blocks('sh').flatMap(shellBlockProblems)).toEqual([]);
    const runner = read('bench/run.mjs');
    expect(runner).toMatch(/quick: \{ type: 'boolean'/);
    expect(runner).toMatch(/node: \{ type: 'string'/);
  });

  it('links the figures rather than copying the table', () => {
    expect(read('docs/performance.md')).not.toMatch(/^\|/m);
    expect(read('docs/performance.md')).toContain('](../bench/RESULTS.md)');
  });

  it('states a headline that the published Node 26 figures bear out', () => {
    expect(ratioToFloor('big', 'express asyncStream')).toBeGreaterThanOrEqual(0.9); // "0.9× the floor or better"
    expect(ratioToFloor('small', 'express asyncStream')).toBeGreaterThanOrEqual(0.85); // "about 0.9× the floor"
    expect(ratioToFloor('sse', 'express sse()')).toBeGreaterThanOrEqual(0.9); // "level with the SSE floor"
    expect(ratioToHandWritten('small', 'express asyncStream')).toBeGreaterThanOrEqual(2.5); // "about 2.8× a hand-written node:http loop"
  });
});
