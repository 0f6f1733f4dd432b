// Fault: Redis goes away mid-stream and comes back, under 60 subscribers of three Express processes
// (two on node-redis, one on ioredis) sharing a topic. The processes run
// __tests__/fixtures/topics/server.mjs on the build (dist/): run `npm run build` first (npm test does).
import { watchProcess } from '../helpers/app.js';
import { clientLibraries, type TestClient } from '../helpers/redisClients.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';
import { ResumingClients } from '../helpers/resumingClient.js';
import { startTopicApp, type PublishAnswer, type RedisLibrary, type TopicApp } from '../helpers/topicApp.js';
import { compareWithTopic, keptEvents, type KeptEvent } from '../helpers/topicSequence.js';
import { within } from '../helpers/within.js';

jest.setTimeout(60_000);

const LIBRARIES: readonly RedisLibrary[] = ['redis', 'ioredis', 'redis'];
const SUBSCRIBERS_PER_PROCESS = 20;
/** Published before the outage, tried during it (each must fail), and published after it. */
const BEFORE = 10;
const DURING = 9;
const AFTER = 10;
const PREFIX = 'express-async-stream:topic:';
/** Generous bounds on real delays: the clients' reconnection backoff, redis-server starting. */
const WAIT_MS = 20_000;

/** The answer of a publish while Redis is away: 503 and the store's message, the event not published. */
function refused(topic: string, library: RedisLibrary): PublishAnswer {
  return {
    ok: false,
    status: 503,
    error:
      `redisStore(): could not publish to ${PREFIX}${topic} (${library}): the client is not connected. ` +
      'The event was not published; retry once Redis is reachable.',
  };
}

describeWithRedis('a topic on Redis shared by three processes, when Redis restarts mid-stream', () => {
  // Over the whole file: the last test checks that none of the others left a rejection behind.
  let watcher: ReturnType<typeof watchProcess>;
  beforeAll(() => {
    watcher = watchProcess();
  });
  afterAll(() => watcher.stop());

  /** Redis with an append-only file fsynced at every write: a crash keeps every acknowledged event too. */
  let redis: RedisServer;
  let inspector: TestClient;
  let counter = 0;
  const running: { apps: TopicApp[]; clients: ResumingClients }[] = [];
  /** Redis servers of a single test, stopped after its processes. */
  const ownServers: RedisServer[] = [];

  beforeAll(async () => {
    redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    inspector = await clientLibraries[0]![1](redis.url);
  });
  afterEach(async () => {
    for (const { apps, clients } of running.splice(0)) {
      await clients.close();
      await Promise.all(apps.map((app) => app.stop()));
    }
    await Promise.all(ownServers.splice(0).map((server) => server.stop()));
  });
  afterAll(async () => {
    await inspector?.close();
    await redis?.stop();
  });

  /** Three processes on a fresh topic, and 20 subscribers on each that resume on the same process. */
  async function startScenario(on = redis): Promise<{ topic: string; apps: TopicApp[]; clients: ResumingClients }> {
    const topic = `restart-${Date.now()}-${++counter}`;
    const apps = await Promise.all(LIBRARIES.map((library) => startTopicApp(on.url, library, topic)));
    const clients = new ResumingClients();
    running.push({ apps, clients });
    for (const app of apps) await clients.open(SUBSCRIBERS_PER_PROCESS, { target: () => app.url, path: '/events' });
    return { topic, apps, clients };
  }

  /** Publishes `count` events named `label n`, in turn through each process. */
  async function publishAll(apps: readonly TopicApp[], label: string, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let n = 0; n < count; n++) ids.push(await apps[n % apps.length]!.publish(`${label} ${n}`));
    return ids;
  }

  /** The checks every scenario ends with, per client: what a user of each browser tab would see. */
  function expectEveryClientToHave(clients: ResumingClients, kept: readonly KeptEvent[]): void {
    const checks = clients.clients.map((client) => compareWithTopic(client.events, kept));
    expect(checks.filter((check) => !check.exact)).toEqual([]);
    expect(clients.clients.filter((client) => client.events[0]?.id !== kept[0]?.id)).toEqual([]);
  }

  function expectAppsUnharmed(apps: readonly TopicApp[]): void {
    expect(apps.map((app) => app.isAlive)).toEqual(apps.map(() => true));
    expect(apps.map((app) => app.stderr())).toEqual(apps.map(() => ''));
  }

  it.each([
    ['restarted (SHUTDOWN SAVE, then started again)', 'restart'],
    ['crashed (SIGKILL, then started again on its append-only file)', 'crash'],
  ] as const)(
    'when Redis is %s: streams stay open, publish fails cleanly meanwhile, and every subscriber ends with every event Redis kept',
    async (_how, fault) => {
      const { topic, apps, clients } = await startScenario();
      const ids = await publishAll(apps, 'before', BEFORE);
      await clients.eachHas(BEFORE, WAIT_MS);

      const noticed = apps.map((app) => app.nextRedisEvent('reconnecting'));
      await (fault === 'restart' ? redis.shutdown() : redis.kill());
      await within(Promise.all(noticed), 'every process noticing that Redis is gone', WAIT_MS);
      const answers: PublishAnswer[] = [];
      for (let n = 0; n < DURING; n++) answers.push(await apps[n % apps.length]!.tryPublish(`during ${n}`));
      expect(answers).toEqual(answers.map((_answer, n) => refused(topic, apps[n % apps.length]!.library)));

      const back = apps.map((app) => app.nextRedisEvent('ready'));
      await redis.start();
      await within(Promise.all(back), 'every process reconnecting to Redis', WAIT_MS);
      ids.push(...(await publishAll(apps, 'after', AFTER)));
      await clients.eachHas(BEFORE + AFTER, WAIT_MS);

      const kept = await keptEvents(inspector, PREFIX + topic);
      // Every acknowledged event survived, and none of the refused ones was written.
      expect(kept.map((event) => event.id)).toEqual(ids);
      expect(kept.filter((event) => event.data.startsWith('during'))).toEqual([]);
      expectEveryClientToHave(clients, kept);
      // The reader paused and resumed from its last id: no stream ended or broke, none reconnected.
      expect(clients.clients.flatMap((client) => client.breaks)).toEqual([]);
      expectAppsUnharmed(apps);
    },
  );

  it('when Redis restarts without its data: every stream ends, and each client resumes with a reset, then every event Redis kept', async () => {
    // The helper's default: no RDB, no AOF, so a SIGKILL loses the stream with its history.
    const forgetful = await startRedis();
    ownServers.push(forgetful);
    const { topic, apps, clients } = await startScenario(forgetful);
    const before = await publishAll(apps, 'before', BEFORE);
    await clients.eachHas(BEFORE, WAIT_MS);
    const noticed = apps.map((app) => app.nextRedisEvent('reconnecting'));
    await forgetful.kill();
    await within(Promise.all(noticed), 'every process noticing that Redis is gone', WAIT_MS);
    const back = apps.map((app) => app.nextRedisEvent('ready'));
    await forgetful.start();
    await within(Promise.all(back), 'every process reconnecting to Redis', WAIT_MS);
    const after = await publishAll(apps, 'after', AFTER);
    // Each client: the events from before, the reset, then the events from after.
    await clients.eachHas(BEFORE + 1 + AFTER, WAIT_MS);

    const probe = await clientLibraries[0]![1](forgetful.url);
    const kept = await keptEvents(probe, PREFIX + topic).finally(() => probe.close());
    expect(kept.map((event) => event.id)).toEqual(after);
    const reset = { event: 'reset', data: JSON.stringify({ lastEventId: before.at(-1) }) };
    const seen = clients.clients.map((client) => ({
      before: client.events.slice(0, BEFORE).map((event) => event.id),
      reset: client.events[BEFORE],
      after: compareWithTopic(client.events.slice(BEFORE + 1), kept),
      // The reader found its place gone and ended every subscription: one clean end per stream.
      breaks: client.breaks,
    }));
    const expected = { before, reset, after: { exact: true, missing: 0, repeated: 0, foreign: 0 }, breaks: ['ended'] };
    expect(seen).toEqual(seen.map(() => expected));
    expect(clients.clients.filter((client) => client.events[BEFORE + 1]?.id !== after[0])).toEqual([]);
    expectAppsUnharmed(apps);
  });

  it('leaves no unhandled rejection or logged error in the test process', () => {
    expect(watcher.unhandled).toEqual([]);
    expect(watcher.logged).toEqual([]);
  });
});
