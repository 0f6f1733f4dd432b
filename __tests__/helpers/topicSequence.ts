// What Redis kept of a topic, and how a client's received events differ from it.
import { eventsOf } from '../../src/redis/streamEntry.js';
import type { ServerSentEvent } from '../../src/testing/index.js';
import type { TestClient } from './redisClients.js';

/** An event of a topic whose events are text, as a browser receives it. */
export interface KeptEvent {
  readonly data: string;
  readonly id: string;
}

/** Every entry of the stream `key` (`XRANGE key - +`), as the events a subscriber receives. */
export async function keptEvents(inspector: TestClient, key: string): Promise<KeptEvent[]> {
  return eventsOf(await inspector.send(['XRANGE', key, '-', '+'])).map(({ id, text }) => ({ data: text, id }));
}

/** How a client's events compare with the topic's, from the first one it received on. */
export interface SequenceCheck {
  /** The received events are the topic's from the first received on, in order, each once, nothing else. */
  readonly exact: boolean;
  /** Events of the topic from the client's first on that it never received. */
  readonly missing: number;
  /** Events it received more than once. */
  readonly repeated: number;
  /** Events it received that the topic does not hold (another id, or another payload under a kept id). */
  readonly foreign: number;
}

export function compareWithTopic(received: readonly ServerSentEvent[], kept: readonly KeptEvent[]): SequenceCheck {
  const first = kept.findIndex((event) => event.id === received[0]?.id);
  const expected = first < 0 ? [] : kept.slice(first);
  const byId = new Map(kept.map((event) => [event.id, event.data]));
  const seen = new Set<string>();
  let repeated = 0;
  let foreign = 0;
  for (const { id, data } of received) {
    if (id === undefined || byId.get(id) !== data) foreign++;
    else if (seen.has(id)) repeated++;
    else seen.add(id);
  }
  const exact =
    received.length === expected.length &&
    received.every(
      (event, index) =>
        event.id === expected[index]!.id && event.data === expected[index]!.data && Object.keys(event).length === 2,
    );
  return { exact, missing: expected.filter((event) => !seen.has(event.id)).length, repeated, foreign };
}
