// Step: Redis → this process. One blocking XREAD over every key with local listeners, on its own connection.
import type { StoredEvent, StoreListener } from '../topics/topicStore.js';
import { warn } from '../warn.js';
import { findGaps, findWrongTypes, isWrongType } from './lostKeys.js';
import type { RedisConnection } from './redisClient.js';
import { compareStreamIds, eventsOf, lastEntryId } from './streamEntry.js';

/**
 * How long one `XREAD` blocks. New keys wake it at once (`CLIENT UNBLOCK`); the limit bounds how
 * long a connection that died silently goes unnoticed, and how late a new key is read where a
 * server refuses `CLIENT UNBLOCK` (an ACL without it).
 */
const BLOCK_MS = 5_000;
/** At most this many entries per key and read: a burst is read in several rounds, never all at once. */
const COUNT = 1_000;
/** Waits between attempts while Redis is unreachable: doubled from the first to the last. */
const RETRY_MS = [50, 5_000] as const;

type Deliver = (event: StoredEvent) => void;
type Lost = (error: unknown) => void;

/** One `listen()`: its own object, so that the same function listening twice is stopped once per call. */
interface Listener {
  readonly deliver: Deliver;
  readonly lost: Lost | undefined;
  /** Its topic's history: a read of fewer entries after the last id delivered cannot follow a trim past it. */
  readonly history: number;
}

/** One key being read: from where, and for whom. */
interface KeyState {
  /** The last id delivered: the next read starts after it. `undefined` until it is known. */
  lastId: string | undefined;
  readonly listeners: Set<Listener>;
  readonly ready: Promise<void>;
}

/**
 * Reads every key that has listeners in this process with one blocking `XREAD`, on a connection of
 * its own (`client.duplicate()`), and hands each entry to the key's listeners. One reader per
 * client: a topic per user (thousands of keys) is one connection, not thousands. It resumes from
 * the last id it delivered after a lost connection, so nothing Redis still holds is missed; it
 * stops, and closes its connection, when the last listener leaves.
 */
export class StreamReader {
  private readonly keys = new Map<string, KeyState>();
  private connection: RedisConnection | undefined;
  private running = false;
  /** Aborts the `duplicate()` under way, if any: see `stop()`. */
  private opening: AbortController | undefined;
  /** The reading connection's `CLIENT ID` while an `XREAD` blocks, for `CLIENT UNBLOCK`. */
  private blockedClient: string | undefined;
  /** A key was added after the running `XREAD` was sent: it must be woken. */
  private wakeWanted = false;
  private idle: (() => void) | undefined;
  /** The reading connection's `connects` at the last read: a new value means a reconnect, see `unsure`. */
  private readerConnects: number | undefined;
  /**
   * The reader was away from Redis (a failed read, or ioredis sending the XREAD again on a new
   * connection): entries it never read may have been trimmed since, which the next read must check.
   */
  private unsure = false;

  constructor(private readonly main: RedisConnection) {}

  /**
   * Starts delivering `key`'s new entries to `deliver`; `ready` resolves once the start position is
   * fixed. `lost` is called if the key cannot be read any more; see `TopicStore.listen`. Without
   * `history`, every read of the key is checked for a trim past its position.
   */
  listen(key: string, deliver: Deliver, lost?: Lost, history = 1): StoreListener {
    let state = this.keys.get(key);
    if (state === undefined) {
      const created: KeyState = { lastId: undefined, listeners: new Set(), ready: Promise.resolve() };
      const ready = this.startAt(key, created);
      state = Object.assign(created, { ready });
      this.keys.set(key, state);
    }
    const listener: Listener = { deliver, lost, history };
    state.listeners.add(listener);
    const { ready } = state;
    // Whoever listens awaits `ready`; this keeps a rejection nobody awaits any more from being unhandled.
    ready.catch(() => {});
    return { ready, stop: () => this.unlisten(key, listener) };
  }

  /** Fixes where `key` starts: after its last entry now. Entries added later are all delivered. */
  private async startAt(key: string, state: KeyState): Promise<void> {
    try {
      const reply = await this.main.send(['XREVRANGE', key, '+', '-', 'COUNT', '1']);
      // The last entry, whoever wrote it: from '0-0', the whole stream would come as new events.
      state.lastId = lastEntryId(reply) ?? '0-0';
    } catch (error) {
      if (this.keys.get(key) === state) this.forget(key);
      throw error;
    }
    if (this.keys.get(key) !== state) return;
    this.wake();
    this.run();
  }

  private unlisten(key: string, listener: Listener): void {
    const state = this.keys.get(key);
    if (state === undefined || !state.listeners.delete(listener) || state.listeners.size > 0) return;
    this.forget(key);
  }

  /** `key` leaves the read; the last one to leave stops the reader. */
  private forget(key: string): void {
    this.keys.delete(key);
    if (this.keys.size === 0) this.stop();
  }

  /** `key` cannot be followed any more: it leaves the read, and its listeners are told why. */
  private lose(key: string, state: KeyState | undefined, error: unknown): void {
    if (state === undefined || this.keys.get(key) !== state) return;
    this.forget(key);
    for (const { lost } of state.listeners) {
      try {
        lost?.(error);
      } catch (thrown) {
        warn('redisStore()', `a listener of ${key} failed when told it lost the key: ${String(thrown)}`);
      }
    }
  }

  /** Starts the read loop unless it runs. */
  private run(): void {
    if (this.running) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
      if (this.keys.size > 0) this.run();
    });
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; this.keys.size > 0;) {
      if (![...this.keys.values()].some((state) => state.lastId !== undefined)) {
        await new Promise<void>((resolve) => (this.idle = resolve));
        continue;
      }
      try {
        const connection = this.connection ?? (await this.open());
        if (this.keys.size === 0) break;
        const reply = await this.read(connection);
        await this.checkPlaces(connection, reply);
        this.unsure = false;
        attempt = 0;
        this.deliver(reply);
      } catch (error) {
        if (this.keys.size === 0) break;
        // One key that is not a stream fails the XREAD of all: it leaves, and the others are read again at once.
        if (isWrongType(error) && (await this.dropWrongTypes())) continue;
        // Redis went away: read again from the last ids delivered once it is back.
        this.unsure = true;
        await this.pause(attempt++);
      }
    }
    this.closeConnection();
  }

  /** Opens the reading connection; `stop()` closes it even while it is still trying to reach Redis. */
  private async open(): Promise<RedisConnection> {
    const opening = (this.opening = new AbortController());
    try {
      return (this.connection = await this.main.duplicate(opening.signal));
    } finally {
      if (this.opening === opening) this.opening = undefined;
    }
  }

  /** One blocking `XREAD` of every key whose start is known, from its last id delivered. */
  private async read(connection: RedisConnection): Promise<unknown> {
    // Taken together with clearing `wakeWanted`: a key ready from now on wakes this read.
    this.wakeWanted = false;
    const keys: string[] = [];
    const ids: string[] = [];
    for (const [key, state] of this.keys) {
      if (state.lastId === undefined) continue;
      keys.push(key);
      ids.push(state.lastId);
    }
    // Sent together: the id is known while the XREAD blocks.
    const clientId = connection.send(['CLIENT', 'ID']);
    const reply = connection.send([
      'XREAD',
      'COUNT',
      String(COUNT),
      'BLOCK',
      String(BLOCK_MS),
      'STREAMS',
      ...keys,
      ...ids,
    ]);
    let blocking = true;
    clientId.then(
      (id) => {
        if (!blocking) return;
        this.blockedClient = String(id);
        if (this.wakeWanted) this.unblock();
      },
      () => {},
    );
    let result: unknown;
    try {
      result = await reply;
    } finally {
      blocking = false;
      this.blockedClient = undefined;
    }
    if (this.readerConnects !== undefined && connection.connects !== this.readerConnects) this.unsure = true;
    this.readerConnects = connection.connects;
    return result;
  }

  /**
   * Before a read is delivered: a key trimmed past its last id delivered is lost, so that its
   * subscribers resume from the history and are told to reset, rather than go on past a gap. Every
   * key is checked after the reader was away (`unsure`); otherwise only the keys this read brought
   * at least `history` entries of (or a full `COUNT`): `MAXLEN ~ history` keeps at least `history`
   * entries, so a trim past the position leaves that many after it, and a shorter read proves none.
   */
  private async checkPlaces(connection: RedisConnection, reply: unknown): Promise<void> {
    // The states as checked: a key that left and came back meanwhile starts afresh, and is kept.
    const states = new Map(this.keys);
    const suspects = this.unsure ? states.keys() : longReads(reply, states);
    const places = new Map<string, string>();
    for (const key of suspects) {
      const lastId = states.get(key)?.lastId;
      if (lastId !== undefined) places.set(key, lastId);
    }
    if (places.size === 0) return;
    for (const key of await findGaps(connection, places)) this.lose(key, states.get(key), undefined);
  }

  /** Hands each entry read to its key's listeners, in order, once. */
  private deliver(reply: unknown): void {
    if (!Array.isArray(reply)) return;
    for (const [key, entries] of reply as [string, unknown][]) {
      const state = this.keys.get(key);
      // A key listened to again while this read was in flight: its start, once fixed, says where
      // its events begin, and the next read continues from there. Taking these would skip the
      // entries between them and that start.
      if (state?.lastId === undefined) continue;
      for (const event of eventsOf(entries)) {
        if (compareStreamIds(event.id, state.lastId) <= 0) continue;
        state.lastId = event.id;
        for (const listener of state.listeners) {
          try {
            listener.deliver(event);
          } catch (error) {
            warn('redisStore()', `an event of ${key} could not be delivered: ${String(error)}`);
          }
        }
      }
      // Past every entry read, the skipped ones too: an entry of another writer, last in the
      // stream, would otherwise be returned at once by every XREAD that follows.
      const last = lastEntryId(entries);
      if (last !== undefined && (state.lastId === undefined || compareStreamIds(last, state.lastId) > 0))
        state.lastId = last;
    }
  }

  /** Loses the keys that are no longer streams, with an error naming each. Resolves whether it found any. */
  private async dropWrongTypes(): Promise<boolean> {
    const states = new Map(this.keys);
    const read = [...states].filter(([, state]) => state.lastId !== undefined).map(([key]) => key);
    const wrong = await findWrongTypes(this.main, read).catch(() => new Map<string, Error>());
    for (const [key, error] of wrong) this.lose(key, states.get(key), error);
    return wrong.size > 0;
  }

  /** A key is ready: the blocked `XREAD` is woken to include it. */
  private wake(): void {
    const idle = this.idle;
    this.idle = undefined;
    idle?.();
    this.wakeWanted = true;
    if (this.blockedClient !== undefined) this.unblock();
  }

  private unblock(): void {
    const client = this.blockedClient;
    this.wakeWanted = false;
    if (client === undefined || !this.main.isReady) return;
    // Refused by an ACL without CLIENT: the XREAD then ends at its BLOCK limit instead.
    this.main.send(['CLIENT', 'UNBLOCK', client]).catch(() => {});
  }

  /**
   * Waits before reading again: `attempt` doubles the wait; the connection coming back, a new key or
   * the last listener leaving ends it sooner.
   */
  private pause(attempt: number): Promise<void> {
    const delay = Math.min(RETRY_MS[0] * 2 ** attempt, RETRY_MS[1]);
    const connection = this.connection;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.idle === done) this.idle = undefined;
        resolve();
      };
      const timer = setTimeout(done, delay);
      this.idle = done;
      // A reply that failed on a live connection (not a lost one) waits the whole delay. A connection
      // that stopped reconnecting for good (its retry strategy gave up) is replaced by the next attempt.
      if (connection !== undefined && !connection.isReady)
        connection.whenReady().then(done, () => this.dropConnection(connection));
    });
  }

  /** The last listener left: the blocked read is dropped with its connection. */
  private stop(): void {
    // The keys that come next start afresh: there is no place of theirs to check.
    this.readerConnects = undefined;
    this.unsure = false;
    this.wake();
    this.opening?.abort();
    this.opening = undefined;
    this.closeConnection();
  }

  private dropConnection(connection: RedisConnection): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    connection.close();
  }

  private closeConnection(): void {
    if (this.connection !== undefined) this.dropConnection(this.connection);
  }
}

/** The keys of an `XREAD` reply with at least as many entries as the fewest a trim past their position leaves. */
function longReads(reply: unknown, states: ReadonlyMap<string, KeyState>): string[] {
  if (!Array.isArray(reply)) return [];
  const keys: string[] = [];
  for (const [key, entries] of reply as [string, unknown][]) {
    const state = states.get(key);
    if (state === undefined || !Array.isArray(entries)) continue;
    let history = COUNT;
    for (const listener of state.listeners) history = Math.min(history, listener.history);
    if (entries.length >= history) keys.push(key);
  }
  return keys;
}
