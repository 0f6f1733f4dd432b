// examples/sse-chat in headless Chromium: what a user sees in real tabs. The example imports
// 'express-async-stream', which resolves to dist/: run `npm run build` first (npm test does).
import type { Express } from 'express';
import type { Browser, Page } from 'playwright-core';
import { memoryStore, type Topic } from '../../src/index.js';
import { createApp, createChat, type ChatMessage } from '../../examples/sse-chat/server.js';
import { describeInChromium, launchChromium, until } from './chromium.js';
import { RestartableServer } from './restartableServer.js';

// Launching Chromium takes a second or two on a busy machine; every wait below is for an event.
jest.setTimeout(30_000);

/** Releases `GET /ticks` one chunk at a time, and tells whether the server is waiting for one. */
class TickGate {
  private readonly waiting: Array<() => void> = [];

  /** `waitForTick` for the app: resolves when the test releases the next chunk. */
  readonly wait = (signal: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      this.waiting.push(resolve);
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });

  /** True while the server holds its next chunk back until `release()`. */
  get isHolding(): boolean {
    return this.waiting.length > 0;
  }

  release(): void {
    const next = this.waiting.shift();
    if (next === undefined) throw new Error('The server is not waiting for a tick.');
    next();
  }
}

/** The `<li>` texts of `list` in `page`, in order. */
const itemsOf = (page: Page, list: '#messages' | '#ticks'): Promise<string[]> =>
  page.locator(`${list} li`).allTextContents();

/** The `data-id` of each message `page` shows, in order: the event ids the topic gave them. */
async function messageIds(page: Page): Promise<string[]> {
  const items = await page.locator('#messages li').all();
  return Promise.all(items.map(async (item) => (await item.getAttribute('data-id')) ?? ''));
}

/** Resolves once `page` shows at least `count` items in `list` (the tests' only wait in the page). */
const untilItems = (page: Page, list: '#messages' | '#ticks', count: number): Promise<void> =>
  page
    .locator(`${list} li`)
    .nth(count - 1)
    .waitFor();

describeInChromium('examples/sse-chat in Chromium', () => {
  let browser: Browser;
  let chat: Topic<ChatMessage>;
  let app: Express;
  let gate: TickGate;
  let server: RestartableServer;
  /** The `Last-Event-ID` of each `GET /events` request, in order (null when absent). */
  let resumedFrom: Array<string | null>;
  const pages: Page[] = [];

  beforeAll(async () => (browser = await launchChromium()));
  afterAll(() => browser?.close());

  beforeEach(async () => {
    chat = createChat(memoryStore());
    gate = new TickGate();
    app = createApp({ chat, retry: 100, waitForTick: gate.wait });
    // Through `app`, which a test may replace while the server is down (a restart).
    server = new RestartableServer((req, res) => app(req, res));
    resumedFrom = [];
    server.onRequest((req) => {
      if (req.url === '/events') resumedFrom.push((req.headers['last-event-id'] as string | undefined) ?? null);
    });
    await server.start();
  });

  afterEach(async () => {
    try {
      await Promise.all(pages.splice(0).map((page) => page.close()));
      // Closing the tabs closed their event streams: no subscriber may be left behind.
      await until(() => chat.subscriberCount === 0, 'every subscriber leaving');
    } finally {
      chat.close();
      await server.stop();
    }
  });

  /** A new tab on the chat, once its event stream is open. */
  async function openChat(): Promise<Page> {
    const page = await browser.newPage();
    pages.push(page);
    page.setDefaultTimeout(10_000);
    await page.goto(server.url);
    await page.getByRole('status').getByText('Connected').waitFor();
    return page;
  }

  async function say(page: Page, author: string, text: string): Promise<void> {
    await page.getByRole('textbox', { name: 'Name' }).fill(author);
    await page.getByRole('textbox', { name: 'Message' }).fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
  }

  describe('when two tabs are open', () => {
    it('shows each message in both tabs', async () => {
      const [alice, bob] = [await openChat(), await openChat()];
      await until(() => chat.subscriberCount === 2, 'both tabs subscribing');

      await say(alice, 'alice', 'hello bob');
      await Promise.all([untilItems(alice, '#messages', 1), untilItems(bob, '#messages', 1)]);
      await say(bob, 'bob', 'hi alice');
      await Promise.all([untilItems(alice, '#messages', 2), untilItems(bob, '#messages', 2)]);

      const expected = ['alice: hello bob', 'bob: hi alice'];
      expect(await itemsOf(alice, '#messages')).toEqual(expected);
      expect(await itemsOf(bob, '#messages')).toEqual(expected);
      const ids = await messageIds(alice);
      expect(new Set(ids).size).toBe(2);
      expect(await messageIds(bob)).toEqual(ids);
    });
  });

  describe('when a tab opens after messages were sent', () => {
    it('shows the recent messages first', async () => {
      const ids = [
        await chat.publish({ author: 'ada', text: 'one' }),
        await chat.publish({ author: 'ada', text: 'two' }),
      ];
      const page = await openChat();
      await untilItems(page, '#messages', 2);
      expect(await itemsOf(page, '#messages')).toEqual(['ada: one', 'ada: two']);
      expect(await messageIds(page)).toEqual(ids);
    });
  });

  describe('when the server goes down mid-stream and comes back', () => {
    it('resumes from Last-Event-ID with no missing or repeated message', async () => {
      const page = await openChat();
      const ids: string[] = [];
      for (const text of ['one', 'two', 'three']) ids.push(await chat.publish({ author: 'server', text }));
      await untilItems(page, '#messages', 3);

      await server.stop();
      await until(() => chat.subscriberCount === 0, 'the cut stream unsubscribing');
      await page.getByRole('status').getByText('Reconnecting…').waitFor();
      // Posted while the tab is disconnected: only the catch-up from history can bring these.
      for (const text of ['four', 'five']) ids.push(await chat.publish({ author: 'server', text }));
      await server.start();

      await untilItems(page, '#messages', 5);
      // A live message after the catch-up: a duplicate from it would come before this one.
      await say(page, 'me', 'six');
      await untilItems(page, '#messages', 6);

      expect((await messageIds(page)).slice(0, 5)).toEqual(ids);
      expect(await itemsOf(page, '#messages')).toEqual(
        ['one', 'two', 'three', 'four', 'five'].map((text) => `server: ${text}`).concat('me: six'),
      );
      // Reconnect attempts while the server was down never reached it.
      expect(resumedFrom).toEqual([null, ids[2]]);
    });
  });

  describe('when the server comes back without the messages (a restart, in memory)', () => {
    it('clears the list and shows what the new server keeps', async () => {
      const page = await openChat();
      await say(page, 'me', 'before');
      await untilItems(page, '#messages', 1);

      await server.stop();
      await until(() => chat.subscriberCount === 0, 'the cut stream unsubscribing');
      chat.close();
      // A new process: a new memory store, whose ids the tab's Last-Event-ID is not one of.
      chat = createChat(memoryStore());
      app = createApp({ chat, retry: 100, waitForTick: gate.wait });
      await chat.publish({ author: 'server', text: 'after' });
      await server.start();

      await page.locator('#messages li', { hasText: 'server: after' }).waitFor();
      expect(await itemsOf(page, '#messages')).toEqual(['server: after']);
    });
  });

  describe('when the page reads an asyncStream response with fetch()', () => {
    it('receives each chunk before the server produces the next', async () => {
      const page = await openChat();
      await page.getByRole('button', { name: 'Count to 5' }).click();

      for (let i = 1; i <= 5; i++) {
        await until(() => gate.isHolding, `the server waiting to produce tick ${i}`);
        gate.release();
        await untilItems(page, '#ticks', i);
        const expected = Array.from({ length: i }, (_, k) => `tick ${k + 1}`);
        // The page has tick i while the server has yet to produce tick i + 1.
        expect(await itemsOf(page, '#ticks')).toEqual(expected);
        if (i < 5) expect(gate.isHolding).toBe(true);
      }
    });
  });
});
