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

/** The row of `contender` in the Node 26 section of bench/RESULTS.md whose first cell is `first`, as its cells. */
function rowOf(first: string, after = ''): string[] {
  const node26 = read('bench/RESULTS.md')
    .split(/^## /m)
    .find((section) => section.startsWith('Node 26'))!;
  const from = node26.indexOf(after);
  const row = node26
    .slice(from)
    .split('\n')
    .find((line) => line.startsWith(`| ${first} |`));
  if (row === undefined) throw new Error(`bench/RESULTS.md has no Node 26 row '${first}' after '${after}'`);
  return row.split('|').map((cell) => cell.trim());
}

/** The ratio in parentheses of a cell, `20.9 µs (1.11×)` → 1.11. */
const ratioOf = (cell: string): number => Number(/\(([\d.]+)×\)/.exec(cell)?.[1]);
/** The first number of a cell, `9.6 KB (1.95×)` → 9.6, `1,515 µs` → 1515. */
const numberOf = (cell: string): number => Number(/[\d,.]+/.exec(cell)![0].replace(/,/g, ''));

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
    expect(ratioToHandWritten('small', 'express asyncStream')).toBeGreaterThanOrEqual(2.2); // "about 2.5× a hand-written node:http loop"
  });

  it('states a fan-out headline that the published Node 26 figures bear out', () => {
    const topic = rowOf('createTopic', 'Fanout:');
    // "1.0× to 1.2× the server CPU", "about 9 KB of heap", "p50 about 1.0×; p99 … 1.0× to 1.3×", "about 2.6× or more the deliveries"
    expect(ratioOf(topic[4]!)).toBeLessThanOrEqual(1.2);
    expect(numberOf(topic[5]!)).toBeLessThan(10);
    expect(ratioOf(topic[2]!)).toBeLessThanOrEqual(1.2);
    expect(ratioOf(topic[3]!)).toBeLessThanOrEqual(1.35);
    expect(ratioOf(topic[7]!)).toBeGreaterThanOrEqual(2.5);
    // "better-sse's channel takes about 3× the loop's heap"
    expect(ratioOf(rowOf('better-sse channel', 'Fanout:')[5]!)).toBeGreaterThanOrEqual(2.5);
    // Many topics: "about 10.5 KB per subscriber", "under 5 ms (p99)", "two Redis connections"
    const [memory, redis] = [rowOf('in memory', 'many topics:'), rowOf('Redis', 'many topics:')];
    for (const row of [memory, redis]) expect(numberOf(row[3]!)).toBeLessThan(12);
    expect(numberOf(redis[5]!.split('/')[1]!)).toBeLessThan(5);
    expect(redis[8]).toMatch(/^2 /);
    // Many processes: "about 135 ms (p50) and 150 ms (p99) … at 2 events/s", "lost and repeated no event", "two Redis connections per process"
    const paced = rowOf('publish → last subscriber at 2 events/s, p50 / p99 (max)', 'fanout-redis:')[2]!.split('/');
    expect(numberOf(paced[0]!)).toBeLessThan(150);
    expect(numberOf(paced[1]!)).toBeLessThan(170);
    expect(rowOf('deliveries lost / repeated, of 10,200,000', 'fanout-redis:')[2]).toBe('0 / 0');
    expect(rowOf("Redis connections, the bench's own left out", 'fanout-redis:')[2]).toMatch(
      /2, 2, 2, 2 in the server processes/,
    );
    // Idle: "about 11 KB of heap each", "about 0.6× the CPU of one setInterval per stream"
    const idle = rowOf('express sse()', 'Idle SSE:');
    expect(numberOf(idle[2]!)).toBeLessThan(12);
    expect(ratioOf(idle[5]!)).toBeLessThanOrEqual(0.7);
  });
});
