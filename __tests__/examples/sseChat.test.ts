// examples/sse-chat over HTTP, on both stores it runs on. The example imports 'express-async-stream',
// which resolves to dist/: run `npm run build` first.
import type { Express } from 'express';
import type { ServerSentEvent } from '../../src/testing/index.js';
import { createApp, createChat, type ChatMessage } from '../../examples/sse-chat/server.js';
import { useStreamRequest } from '../helpers/connections.js';
import { describeOnEachStore } from '../helpers/exampleStores.js';

describeOnEachStore('examples/sse-chat', (store) => {
  const streamRequest = useStreamRequest();
  let chat: ReturnType<typeof createChat>;
  let app: Express;

  beforeEach(() => {
    chat = createChat(store().store);
    app = createApp({ chat, retry: 100 });
  });
  afterEach(() => chat.close());

  /** Posts a message as the page does; resolves the id the server gave it. */
  async function post(author: string, text: string): Promise<string> {
    const response = await streamRequest(app, '/messages', { method: 'POST', body: { author, text } });
    expect(response.status).toBe(201);
    const { id, ...message } = JSON.parse(await response.text()) as ChatMessage & { id: string };
    expect(message).toEqual({ author, text });
    return id;
  }

  const event = (id: string, author: string, text: string): ServerSentEvent => ({
    id,
    data: JSON.stringify({ author, text }),
  });

  describe('GET /events', () => {
    it('sends the retry delay with the kept messages, then each new one to every client', async () => {
      const kept = await post('ada', 'first');
      const [alice, bob] = [await streamRequest(app, '/events'), await streamRequest(app, '/events')];
      for (const client of [alice, bob])
        expect(await client.receiveEvent()).toEqual({ retry: 100, ...event(kept, 'ada', 'first') });
      // Both have received the kept message: both are subscribed.
      const ids = [await post('alice', 'hello bob'), await post('bob', 'hi alice')];
      for (const client of [alice, bob]) {
        expect(await client.receiveEvent()).toEqual(event(ids[0]!, 'alice', 'hello bob'));
        expect(await client.receiveEvent()).toEqual(event(ids[1]!, 'bob', 'hi alice'));
      }
    });

    it('ends the subscription when the client leaves', async () => {
      await post('ada', 'one');
      const client = await streamRequest(app, '/events');
      await client.receiveEvent();
      expect(chat.subscriberCount).toBe(1);
      await client.disconnect();
      expect(chat.subscriberCount).toBe(0);
    });
  });

  describe('when a client reconnects with Last-Event-ID', () => {
    it('sends the messages it missed, then new ones, none twice', async () => {
      const first = await streamRequest(app, '/events');
      const seen = await post('ada', 'one');
      expect(await first.receiveEvent()).toEqual({ retry: 100, ...event(seen, 'ada', 'one') });
      await first.disconnect();
      const missed = [await post('ada', 'two'), await post('ada', 'three')];

      const again = await streamRequest(app, '/events', { headers: { 'Last-Event-ID': seen } });
      expect(await again.receiveEvent()).toEqual({ retry: 100, ...event(missed[0]!, 'ada', 'two') });
      expect(await again.receiveEvent()).toEqual(event(missed[1]!, 'ada', 'three'));
      const live = await post('ada', 'four');
      expect(await again.receiveEvent()).toEqual(event(live, 'ada', 'four'));
    });

    it('sends a reset event, then the kept messages, when it cannot place the id (another server)', async () => {
      const kept = await post('ada', 'one');
      const client = await streamRequest(app, '/events', { headers: { 'Last-Event-ID': 'elsewhere-7' } });
      expect(await client.receiveEvent()).toEqual({
        retry: 100,
        event: 'reset',
        data: '{"lastEventId":"elsewhere-7"}',
      });
      expect(await client.receiveEvent()).toEqual(event(kept, 'ada', 'one'));
    });
  });

  describe('POST /messages', () => {
    it('refuses an empty message with 400 and what to send', async () => {
      const response = await streamRequest(app, '/messages', { method: 'POST', body: { text: ' ' } });
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/^Send a `text` of 1 to 500 characters/);
    });
  });
});
