// Property: whatever the interleaving, every subscriber of a topic gets the topic's events as issue 12 promises.
import { memoryStore, type MemoryStore } from '../../src/index.js';
import { useProcessWatch } from '../helpers/app.js';
import { PROPERTY_TIMEOUT } from './support.js';
import { checkTopicProperty, nextTurn, type StoreUnderTest } from './topicRun.js';
import { topicProperties } from './topicScenario.js';

// Per property and row; a run is up to 40 steps in this process, a few milliseconds.
const RUNS = 150;

const stores: [string, StoreUnderTest][] = [
  [
    'predicted exactly',
    {
      open: async () => ({ topic: 'feed', stores: [memoryStore()], settle: nextTurn, dispose: async () => {} }),
      exact: true,
      forget: (store, topic) => (store as MemoryStore).delete(topic),
    },
  ],
  [
    // The model a store behind a connection gets (topics.redis.property.test.ts), here on a store
    // that trims exactly: its range checks meet trimmed positions in every run, which on Redis
    // they do not (see there). No forget: a topic forgotten with no subscriber starts its ids over.
    'checked by bounds, as a store behind a connection is',
    {
      async open() {
        const store = memoryStore();
        return {
          topic: 'feed',
          stores: [store],
          settle: nextTurn,
          async inspect(_on, id) {
            const [kept, found] = await Promise.all([store.readAfter('feed', '0'), store.readAfter('feed', id)]);
            return { holds: found.exact, oldest: kept.events[0]?.id };
          },
          dispose: async () => {},
        };
      },
      exact: false,
    },
  ],
];

describe.each(stores)(
  'createTopic(name, { store: memoryStore() }) under random publishers and subscribers, %s',
  (_how, store) => {
    const watcher = useProcessWatch();

    it.each(topicProperties)(
      '%s',
      async (_title, shape) => {
        await checkTopicProperty(store, shape, RUNS);
        expect(watcher.unhandled).toEqual([]);
        expect(watcher.logged).toEqual([]);
      },
      PROPERTY_TIMEOUT,
    );
  },
);
