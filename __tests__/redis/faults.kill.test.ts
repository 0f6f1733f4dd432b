// Fault: an Express process with 1,000 SSE subscribers is killed (SIGKILL) while events are published
// through two others sharing the topic on Redis. The processes run __tests__/fixtures/topics/server.mjs
// on the build (dist/): run `npm run build` first (npm test does).
import { openFileLimit } from '../reliability/fdLimit.js';
import { watchProcess } from '../helpers/app.js';
import { clientLibraries, type TestClient } from '../helpers/redisClients.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';
import { ResumingClients } from '../helpers/resumingClient.js';
import { startTopicApp, type TopicApp } from '../helpers/topicApp.js';
import { compareWithTopic, keptEvents } from '../helpers/topicSequence.js';

jest.setTimeout(60_000);

const SUBSCRIBERS = 1_000;
/** Published before the kill, from the moment of the kill on (while the clients reconnect), and once they all have. */
const BEFORE = 10;
const DURING = 40;
const AFTER = 10;
const PREFIX = 'express-async-stream:topic:';
/** Generous bounds on real delays: 1,000 reconnections on 2 cores. */
const WAIT_MS = 30_000;
/** One socket per client in this process (the servers' sockets are in theirs), plus jest's own files. */
const FILES_NEEDED = SUBSCRIBERS + 500;

const fileLimit = openFileLimit();
const enoughFiles = fileLimit >= FILES_NEEDED;
const itWithEnoughFiles = enoughFiles ? it : it.skip;
// Jest lists no test titles for a file whose tests are all skipped: say why here.
if (!enoughFiles)
  console.warn(
    `faults.kill.test.ts: ${SUBSCRIBERS} clients need ${FILES_NEEDED} open files, but ulimit -n is ${fileLimit}: skipped.`,
  );

describeWithRedis('a process of a topic on Redis killed under 1,000 subscribers', () => {
  let watcher: ReturnType<typeof watchProcess>;
  let redis: RedisServer;
  let inspector: TestClient;
  let apps: TopicApp[] = [];
  const clients = new ResumingClients();

  beforeAll(async () => {
    watcher = watchProcess();
    redis = await startRedis();
    inspector = await clientLibraries[0]![1](redis.url);
  });
  afterAll(async () => {
    await clients.close();
    await Promise.all(apps.map((app) => app.stop()));
    await inspector?.close();
    await redis?.stop();
    watcher.stop();
  });

  itWithEnoughFiles(
    `resumes all ${SUBSCRIBERS} clients on the surviving processes with Last-Event-ID: none misses or repeats an event`,
    async () => {
      const topic = `kill-${Date.now()}`;
      apps = await Promise.all(
        (['redis', 'ioredis', 'redis'] as const).map((library) => startTopicApp(redis.url, library, topic)),
      );
      const [victim, ...survivors] = apps as [TopicApp, TopicApp, TopicApp];
      let reconnections = 0;
      // Each client's first stream is on the victim; after a break, it goes to the survivors in turn.
      const target = (attempt: number): string =>
        attempt === 0 ? victim.url : survivors[reconnections++ % survivors.length]!.url;
      await clients.open(SUBSCRIBERS, { target, path: '/events' });

      const publishAll = async (label: string, count: number): Promise<string[]> => {
        const ids: string[] = [];
        for (let n = 0; n < count; n++) ids.push(await survivors[n % survivors.length]!.publish(`${label} ${n}`));
        return ids;
      };
      const ids = await publishAll('before', BEFORE);
      await clients.eachHas(BEFORE, WAIT_MS);
      // Killed while events keep coming: the clients reconnect while the survivors publish.
      const [during] = await Promise.all([publishAll('during', DURING), victim.kill()]);
      await clients.eachHas(BEFORE + DURING, WAIT_MS);
      const after = await publishAll('after', AFTER);
      await clients.eachHas(BEFORE + DURING + AFTER, WAIT_MS);

      const kept = await keptEvents(inspector, PREFIX + topic);
      expect(kept.map((event) => event.id)).toEqual([...ids, ...during, ...after]);
      const checks = clients.clients.map((client) => compareWithTopic(client.events, kept));
      expect({
        clients: checks.length,
        exact: checks.filter((check) => check.exact).length,
        fromTheFirstEvent: clients.clients.filter((client) => client.events[0]?.id === kept[0]!.id).length,
        missing: checks.reduce((sum, check) => sum + check.missing, 0),
        repeated: checks.reduce((sum, check) => sum + check.repeated, 0),
        foreign: checks.reduce((sum, check) => sum + check.foreign, 0),
      }).toEqual({
        clients: SUBSCRIBERS,
        exact: SUBSCRIBERS,
        fromTheFirstEvent: SUBSCRIBERS,
        missing: 0,
        repeated: 0,
        foreign: 0,
      });
      // One cut stream each, and one resumed stream, on a survivor: what a browser's EventSource would do.
      const survivorUrls = new Set(survivors.map((app) => app.url));
      expect(clients.clients.filter((client) => client.breaks.join() !== 'aborted')).toEqual([]);
      expect(
        clients.clients.filter((client) => client.streams.length !== 2 || !survivorUrls.has(client.streams[1]!)),
      ).toEqual([]);
      expect(survivors.map((app) => app.isAlive)).toEqual([true, true]);
      expect(survivors.map((app) => app.stderr())).toEqual(['', '']);
    },
  );

  it('leaves no unhandled rejection or logged error in the test process', () => {
    expect(watcher.unhandled).toEqual([]);
    expect(watcher.logged).toEqual([]);
  });
});
