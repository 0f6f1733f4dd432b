// Three Express processes share one topic on Redis (two on node-redis, one on ioredis): clients of
// different processes receive the same sequence, and a client moved to another process resumes
// from its Last-Event-ID. The processes run __tests__/fixtures/topics/server.mjs on the build
// (dist/, through helpers/topicApp.ts): run `npm run build` first (npm test does).
import { streamRequest, type ServerSentEvent, type StreamConnection } from '../../src/testing/index.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';
import { startTopicApp, type TopicApp } from '../helpers/topicApp.js';

jest.setTimeout(60_000);

async function events(connection: StreamConnection, count: number): Promise<ServerSentEvent[]> {
  const received: ServerSentEvent[] = [];
  while (received.length < count) {
    const event = await connection.receiveEvent({ timeout: 10_000 });
    if (event === null) throw new Error(`the stream ended after ${received.length} of ${count} events`);
    received.push(event);
  }
  return received;
}

describeWithRedis('a topic on Redis shared by three Express processes', () => {
  let redis: RedisServer;
  let apps: TopicApp[] = [];
  const connections: StreamConnection[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const topic = `chat-${Date.now()}`;
    apps = await Promise.all(
      (['redis', 'ioredis', 'redis'] as const).map((library) => startTopicApp(redis.url, library, topic)),
    );
  });
  afterAll(async () => {
    await Promise.all(connections.map((connection) => connection.disconnect().catch(() => {})));
    const codes = await Promise.all(apps.map((app) => app.stop()));
    await redis.stop();
    expect(codes.filter((code) => code !== null && code !== 0)).toEqual([]);
    expect(apps.map((app) => app.stderr())).toEqual(apps.map(() => ''));
  });

  async function connect(app: TopicApp, lastEventId?: string): Promise<StreamConnection> {
    const headers = lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId };
    const connection = await streamRequest(app.url, '/events', { headers });
    connections.push(connection);
    return connection;
  }

  it('gives clients of different processes the same events, in the same order, with the same ids', async () => {
    // sse() sends its headers once the subscription is live: from here on, nothing is missed.
    const clients = await Promise.all(apps.map((app) => connect(app)));
    const ids: string[] = [];
    for (let n = 0; n < 30; n++) ids.push(await apps[n % 3]!.publish(`message ${n}`));
    const expected = ids.map((id, n) => ({ id, data: `message ${n}` }));
    for (const client of clients) expect(await events(client, 30)).toEqual(expected);
    await Promise.all(clients.map((client) => client.disconnect()));
  });

  it('resumes a client moved to another process from its Last-Event-ID, nothing lost or repeated', async () => {
    const [first, second, third] = apps as [TopicApp, TopicApp, TopicApp];
    const client = await connect(first);
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push(await second.publish(`before ${n}`));
    const seen = await events(client, 5);
    await client.disconnect();
    // Published while the client is away, by every process.
    for (let n = 0; n < 6; n++) ids.push(await apps[n % 3]!.publish(`away ${n}`));
    const moved = await connect(third, seen.at(-1)!.id);
    ids.push(await first.publish('after'));
    expect((await events(moved, 7)).map((event) => event.id)).toEqual(ids.slice(5));
    await moved.disconnect();
  });

  it('resumes the clients of a process that crashed on the others', async () => {
    const topic = `crash-${Date.now()}`;
    const [victim, survivor] = await Promise.all([
      startTopicApp(redis.url, 'ioredis', topic),
      startTopicApp(redis.url, 'redis', topic),
    ]);
    apps.push(victim, survivor);
    const client = await connect(victim);
    const first = await victim.publish('one');
    const [seen] = await events(client, 1);
    expect(seen!.id).toBe(first);
    await victim.kill();
    await expect(client.receiveEvent()).rejects.toThrow();
    const second = await survivor.publish('two');
    const moved = await connect(survivor, seen!.id);
    expect(await events(moved, 1)).toEqual([{ id: second, data: 'two' }]);
    await moved.disconnect();
  });
});
