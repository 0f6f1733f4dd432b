// examples/sse-chat on Redis, in real processes under real Chromium tabs: a deploy replaces the
// process under an open tab, and two processes serve one tab each. The example runs as users run it
// (ts-node), and imports 'express-async-stream', which resolves to dist/: run `npm run build` first
// (npm test does).
import type { Browser, Page } from 'playwright-core';
import { startExample, type ExampleProcess } from '../helpers/exampleProcess.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';
import { describeInChromium, launchChromium } from './chromium.js';

jest.setTimeout(60_000);

const script = 'examples/sse-chat/server.ts';

/** The `data-id` of each message `page` shows, in order. */
async function messageIds(page: Page): Promise<string[]> {
  const items = await page.locator('#messages li').all();
  return Promise.all(items.map(async (item) => (await item.getAttribute('data-id')) ?? ''));
}

const messagesOf = (page: Page): Promise<string[]> => page.locator('#messages li').allTextContents();

const untilMessages = (page: Page, count: number): Promise<void> =>
  page
    .locator('#messages li')
    .nth(count - 1)
    .waitFor();

/** Sends `text` as `author` from the page's form, once the previous post is answered. */
async function say(page: Page, author: string, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Name' }).fill(author);
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  // The form clears its field once the post is answered: the next message waits for that.
  await page.waitForFunction("document.querySelector('#post [name=text]').value === ''");
}

/** Counts the messages the page ever removes from its list (a `reset` clears it). */
const countRemovals = (page: Page): Promise<void> =>
  page.evaluate(`
    window.removedMessages = 0;
    new MutationObserver((records) => {
      for (const record of records) window.removedMessages += record.removedNodes.length;
    }).observe(document.getElementById('messages'), { childList: true });
  `);

describeInChromium('examples/sse-chat in Chromium, on Redis', () => {
  describeWithRedis('processes', () => {
    let browser: Browser;
    let redis: RedisServer;
    const running: ExampleProcess[] = [];
    const pages: Page[] = [];

    beforeAll(async () => (browser = await launchChromium()));
    afterAll(() => browser?.close());
    // A Redis of its own for each test: the chat's history starts empty.
    beforeEach(async () => (redis = await startRedis()));
    afterEach(async () => {
      await Promise.all(pages.splice(0).map((page) => page.close()));
      await Promise.all(running.splice(0).map((chat) => chat.stop('SIGKILL')));
      await redis.stop();
    });

    /** Starts the chat as `npm run example:sse` does, on Redis; `args` and `port` as given. */
    async function startChat(port: number, args: string[] = [], servers = 1): Promise<ExampleProcess> {
      const env = { PORT: String(port), REDIS_URL: redis.url };
      const chat = await startExample({ script, args, env }, servers);
      running.push(chat);
      return chat;
    }

    /** Stops `chat` with SIGTERM, as a deploy does, and checks it exits by itself, cleanly. */
    async function deploy(chat: ExampleProcess): Promise<void> {
      running.splice(running.indexOf(chat), 1);
      expect(await chat.stop()).toBe(0);
      expect(chat.stderr()).toBe('');
    }

    async function openTab(url: string): Promise<Page> {
      const page = await browser.newPage();
      pages.push(page);
      page.setDefaultTimeout(20_000);
      await page.goto(url);
      await page.getByRole('status').getByText('Connected').waitFor();
      return page;
    }

    describe('when the server process is replaced (a deploy)', () => {
      it('keeps the open tab going on the new process, with no lost, repeated or cleared message', async () => {
        const first = await startChat(0);
        const port = Number(new URL(first.urls[0]!).port);
        const page = await openTab(first.urls[0]!);
        await countRemovals(page);
        for (const [i, text] of ['one', 'two', 'three'].entries()) {
          await say(page, 'me', text);
          await untilMessages(page, i + 1);
        }

        // The deploy: SIGTERM ends the stream cleanly and the old process exits by itself (no SIGKILL).
        await deploy(first);
        await page.getByRole('status').getByText('Reconnecting…').waitFor();
        const second = await startChat(port);
        await page.getByRole('status').getByText('Connected').waitFor();
        for (const [i, text] of ['four', 'five'].entries()) {
          await say(page, 'me', text);
          await untilMessages(page, i + 4);
        }

        expect(await messagesOf(page)).toEqual(['one', 'two', 'three', 'four', 'five'].map((text) => `me: ${text}`));
        expect(new Set(await messageIds(page)).size).toBe(5);
        // Resumed exactly from its Last-Event-ID: a reset would have cleared the list first.
        expect(await page.evaluate('window.removedMessages')).toBe(0);
        await deploy(second);
      });
    });

    describe('with one tab on each of two processes (--processes 2)', () => {
      it('shows a message from either tab in both', async () => {
        const chat = await startChat(0, ['--processes', '2'], 2);
        const [alice, bob] = [await openTab(chat.urls[0]!), await openTab(chat.urls[1]!)];

        await say(alice, 'alice', 'hello bob');
        await Promise.all([untilMessages(alice, 1), untilMessages(bob, 1)]);
        await say(bob, 'bob', 'hi alice');
        await Promise.all([untilMessages(alice, 2), untilMessages(bob, 2)]);

        const expected = ['alice: hello bob', 'bob: hi alice'];
        expect(await messagesOf(alice)).toEqual(expected);
        expect(await messagesOf(bob)).toEqual(expected);
        expect(await messageIds(bob)).toEqual(await messageIds(alice));
        await deploy(chat);
      });
    });
  });
});
