// examples/resumable-answer in headless Chromium: a page reloaded, or left and come back to,
// mid-answer. The example imports 'express-async-stream', which resolves to dist/: run `npm run build`
// first (npm test does).
import type { Browser, Page } from 'playwright-core';
import { memoryStore } from '../../src/index.js';
import type { AnswerChange, Answers } from '../../examples/resumable-answer/answers.js';
import { createApp } from '../../examples/resumable-answer/server.js';
import { createProducer, type Producer } from '../helpers/producer.js';
import { within } from '../helpers/within.js';
import { describeInChromium, launchChromium } from './chromium.js';
import { RestartableServer } from './restartableServer.js';

// Launching Chromium takes a second or two on a busy machine; every wait below is for an event.
jest.setTimeout(30_000);

describeInChromium('examples/resumable-answer in Chromium', () => {
  let browser: Browser;
  let model: Producer<string>;
  let answers: Answers;
  let finished: Promise<AnswerChange>;
  let server: RestartableServer;
  /** The URL of each `GET /answers/:id/events` request, in order, without its host. */
  let followed: string[];
  let page: Page;

  beforeAll(async () => (browser = await launchChromium()));
  afterAll(() => browser?.close());

  beforeEach(async () => {
    model = createProducer<string>();
    let onFinished!: (change: AnswerChange) => void;
    finished = new Promise((resolve) => (onFinished = resolve));
    const onAnswer = (change: AnswerChange): void => {
      if (change.state === 'finished') onFinished(change);
    };
    const example = createApp({ store: memoryStore(), model: () => model.generate(), onAnswer });
    answers = example.answers;
    server = new RestartableServer(example.app);
    followed = [];
    server.onRequest((req) => {
      if (req.url?.startsWith('/answers/') === true) followed.push(req.url);
    });
    await server.start();
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
  });

  afterEach(async () => {
    try {
      await page.close();
      model.end();
      await answers.settled();
    } finally {
      await server.stop();
    }
  });

  /** Asks `question` with the page's form; resolves once the page follows the answer. */
  async function ask(question: string): Promise<void> {
    await page.goto(server.url);
    await page.getByRole('textbox', { name: 'Question' }).fill(question);
    await page.getByRole('button', { name: 'Ask' }).click();
    await page.getByRole('heading', { name: question }).waitFor();
  }

  const answerText = (): Promise<string> => page.getByLabel('Answer').innerText();

  /** Resolves once the page shows `text` as the answer so far. */
  const untilAnswer = (text: string): Promise<void> =>
    page
      .getByLabel('Answer')
      .filter({ hasText: new RegExp(`^${text}$`) })
      .waitFor();

  describe('when the page is reloaded mid-answer', () => {
    it('goes on after the last token it showed, with nothing missing or twice', async () => {
      await ask('Why?');
      model.push('One', ' two');
      await untilAnswer('One two');

      await page.reload();
      await page.getByRole('status').getByText('Answering…').waitFor();
      expect(await answerText()).toBe('One two');
      model.push(' three');
      model.end();
      await page.getByRole('status').getByText('Done.').waitFor();

      expect(await answerText()).toBe('One two three');
      expect(followed).toHaveLength(2);
      expect(followed[0]).not.toContain('?after=');
      expect(followed[1]).toMatch(/\?after=[^&]+$/);
    });
  });

  describe('when the tab leaves mid-answer and comes back', () => {
    it('shows the tokens generated while it was away, then the end', async () => {
      await ask('Why?');
      const answerUrl = page.url();
      model.push('One', ' two');
      await untilAnswer('One two');

      await page.goto('about:blank');
      model.push(' three', ' four');
      model.end();
      // Generated to the end while no page followed it.
      expect(await within(finished, 'the end of the generation')).toMatchObject({ tokens: 4, complete: true });

      await page.goto(answerUrl);
      await page.getByRole('status').getByText('Done.').waitFor();
      expect(await answerText()).toBe('One two three four');
    });

    it('once it has the whole answer, shows it on a reload without asking the server again', async () => {
      await ask('Why?');
      model.push('All of it.');
      model.end();
      await page.getByRole('status').getByText('Done.').waitFor();

      await page.reload();
      await page.getByRole('status').getByText('Done.').waitFor();
      expect(await answerText()).toBe('All of it.');
      expect(followed).toHaveLength(1);
    });
  });
});
