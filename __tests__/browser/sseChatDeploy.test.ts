// examples/sse-chat across a deploy: the server process gets SIGTERM (its handler calls
// closeStreams()), exits, and a new process takes over the same port and the same message log,
// while a real Chromium tab stays open. The example is run as users run it (ts-node), and it
// imports 'express-async-stream', which resolves to dist/: run `npm run build` first (npm test does).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './chromium.js';

jest.setTimeout(60_000);

const root = path.join(__dirname, '..', '..');

/** One process of the chat example, as `npm run example:sse` starts it. */
interface ChatProcess {
  readonly port: number;
  /** Everything it wrote to stderr. */
  readonly errors: () => string;
  /** SIGTERM, as a deploy sends it: resolves with the exit code once the process has exited. */
  stop(): Promise<number | null>;
}

async function startChat(port: number, log: string): Promise<ChatProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', 'examples/sse-chat/server.ts'],
    { cwd: root, env: { ...process.env, PORT: String(port), CHAT_LOG: log }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  let stdout = '';
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /localhost:(\d+)/.exec(stdout);
      if (match) resolve(Number(match[1]));
    });
    void exited.then(([code]) => reject(new Error(`The chat process exited with ${code}: ${stderr}`)));
  });
  return {
    port: await listening,
    errors: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      const [code] = await exited;
      return code;
    },
  };
}

/** The `data-id` of each message `page` shows, in order. */
async function messageIds(page: Page): Promise<number[]> {
  const items = await page.locator('#messages li').all();
  return Promise.all(items.map(async (item) => Number(await item.getAttribute('data-id'))));
}

const untilMessages = (page: Page, count: number): Promise<void> =>
  page
    .locator('#messages li')
    .nth(count - 1)
    .waitFor();

/** Sends `text` from the page's form and waits until the page shows it as message number `count`. */
async function say(page: Page, text: string, count: number): Promise<void> {
  await page.getByRole('textbox', { name: 'Name' }).fill('me');
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await untilMessages(page, count);
  // The form clears its field once the post is answered: the next message waits for that.
  await page.waitForFunction("document.querySelector('#post [name=text]').value === ''");
}

// Skipped until it runs on Redis: the chat no longer keeps a file log (CHAT_LOG), and a memory
// topic does not outlive its process.
describe.skip('examples/sse-chat when its server process is replaced (a deploy)', () => {
  let browser: Browser;
  let directory: string | undefined;
  const running: ChatProcess[] = [];

  beforeAll(async () => (browser = await launchChromium()));
  afterAll(async () => {
    await browser?.close();
    await Promise.all(running.map((chat) => chat.stop()));
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  });

  it('keeps the open tab going on the new process, with no lost or repeated message', async () => {
    directory = mkdtempSync(path.join(tmpdir(), 'sse-chat-deploy-'));
    const log = path.join(directory, 'chat.jsonl');
    const first = await startChat(0, log);
    running.push(first);
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`http://127.0.0.1:${first.port}/`);
    await page.getByRole('status').getByText('Connected').waitFor();
    for (const [i, text] of ['one', 'two', 'three'].entries()) await say(page, text, i + 1);

    // The deploy: SIGTERM ends the stream cleanly and the old process exits by itself (no SIGKILL).
    running.splice(running.indexOf(first), 1);
    expect(await first.stop()).toBe(0);
    expect(first.errors()).toBe('');
    await page.getByRole('status').getByText('Reconnecting…').waitFor();

    const second = await startChat(first.port, log);
    running.push(second);
    await page.getByRole('status').getByText('Connected').waitFor();
    for (const [i, text] of ['four', 'five'].entries()) await say(page, text, i + 4);

    expect(await messageIds(page)).toEqual([1, 2, 3, 4, 5]);
    expect(await page.locator('#messages li').allTextContents()).toEqual(
      ['one', 'two', 'three', 'four', 'five'].map((text) => `me: ${text}`),
    );
    running.splice(running.indexOf(second), 1);
    expect(await second.stop()).toBe(0);
    expect(second.errors()).toBe('');
  });
});
