// Step: Redis → this process. The keys the doorbells name are read, and their entries handed to listeners.
import type { StoredEvent, StoreListener } from '../topics/topicStore.js';
import { warn } from '../warn.js';
import { Doorbells, type DoorbellHost } from './doorbells.js';
import { findGaps, findWrongTypes, isWrongType } from './lostKeys.js';
import type { RedisConnection } from './redisClient.js';
import { compareStreamIds, eventsOf, lastEntryId } from './streamEntry.js';

/** At most this many entries per key and read: a burst is read in several rounds, never all at once. */
const COUNT = 1_000;
/** Waits between reads that failed: doubled from the first to the last. */
const RETRY_MS = [50, 5_000] as const;

type Deliver = (event: StoredEvent) => void;
type Lost = (error: unknown) => void;

/** What a key is, for the reader: its stream, the doorbell its publishes ring, its topic's history. */
export interface ReadKey {
  readonly key: string;
  readonly doorbell: string;
  /** A read of fewer entries after the last id delivered cannot follow a trim past it. */
  readonly history: number;
}

/** One `listen()`: its own object, so that the same function listening twice is stopped once per call. */
interface Listener {
  readonly deliver: Deliver;
  readonly lost: Lost | undefined;
  readonly history: number;
}

/** One key being read: from where, and for whom. */
interface KeyState {
  /** The last id delivered: the next read starts after it. `undefined` until it is known. */
  lastId: string | undefined;
  readonly doorbell: string;
  readonly listeners: Set<Listener>;
  readonly ready: Promise<void>;
}

/**
 * Follows every key that has listeners in this process. A publish rings its store's doorbell (see
 * `StreamAppender`); the doorbells are read with one blocking `XREAD` on a connection of their own
 * (`Doorbells`), and only the keys they name are read, with one `XREAD` on the user's client, from
 * the last id delivered. So a ring costs the same whether the process follows one topic or ten
 * thousand. Every key is read after a quiet spell or a lost connection (with a check for a trim
 * past its position), so that nothing Redis still holds is missed.
 */
export class StreamReader implements DoorbellHost {
  private readonly keys = new Map<string, KeyState>();
  private readonly doorbells: Doorbells;
  /** Keys to read: rung, or started. */
  private dirty = new Set<string>();
  private fetching = false;
  /** Keys whose position must be checked before their next read is delivered: see `readAll`. */
  private readonly unsure = new Set<string>();

  constructor(private readonly main: RedisConnection) {
    this.doorbells = new Doorbells(main, this);
  }

  /**
   * Starts delivering `key`'s new entries to `deliver`; `ready` resolves once the start position is
   * fixed. `lost` is called if the key cannot be read any more; see `TopicStore.listen`.
   */
  listen({ key, doorbell, history }: ReadKey, deliver: Deliver, lost?: Lost): StoreListener {
    let state = this.keys.get(key);
    if (state === undefined) {
      const created: KeyState = { lastId: undefined, doorbell, listeners: new Set(), ready: Promise.resolve() };
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

  rang(keys: ReadonlySet<string>): void {
    for (const key of keys) if (this.keys.get(key)?.lastId !== undefined) this.dirty.add(key);
    this.fetch();
  }

  readAll(unsure: boolean): void {
    for (const [key, state] of this.keys) {
      if (state.lastId === undefined) continue;
      this.dirty.add(key);
      if (unsure) this.unsure.add(key);
    }
    this.fetch();
  }

  /**
   * Fixes where `key` starts: after its last entry now. Its doorbell, if new here, is placed first
   * (sent before, answered before): every publish after the start rings after that place.
   */
  private async startAt(key: string, state: KeyState): Promise<void> {
    const unplaced = this.doorbells.add(state.doorbell);
    try {
      const [bell, last] = await Promise.all([
        unplaced ? this.main.send(['XREVRANGE', state.doorbell, '+', '-', 'COUNT', '1']) : undefined,
        this.main.send(['XREVRANGE', key, '+', '-', 'COUNT', '1']),
      ]);
      if (this.keys.get(key) !== state) return;
      if (unplaced) this.doorbells.place(state.doorbell, bell);
      // The last entry, whoever wrote it: from '0-0', the whole stream would come as new events.
      state.lastId = lastEntryId(last) ?? '0-0';
    } catch (error) {
      if (this.keys.get(key) === state) this.forget(key);
      throw error;
    }
    // Published between the start and the first ring read: read once now.
    this.dirty.add(key);
    this.fetch();
  }

  private unlisten(key: string, listener: Listener): void {
    const state = this.keys.get(key);
    if (state === undefined || !state.listeners.delete(listener) || state.listeners.size > 0) return;
    this.forget(key);
  }

  /** `key` leaves the read, and its doorbell with the last key of its prefix. */
  private forget(key: string): void {
    const state = this.keys.get(key);
    if (state === undefined) return;
    this.keys.delete(key);
    this.dirty.delete(key);
    this.unsure.delete(key);
    this.doorbells.remove(state.doorbell);
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

  /** Reads the dirty keys, one `XREAD` at a time, until none is left. */
  private fetch(): void {
    if (this.fetching || this.dirty.size === 0) return;
    this.fetching = true;
    void this.fetchAll().finally(() => {
      this.fetching = false;
      this.fetch();
    });
  }

  private async fetchAll(): Promise<void> {
    for (let attempt = 0; this.dirty.size > 0;) {
      const keys = [...this.dirty].filter((key) => this.keys.get(key)?.lastId !== undefined);
      this.dirty = new Set();
      if (keys.length === 0) return;
      try {
        await this.fetchKeys(keys);
        attempt = 0;
      } catch (error) {
        // The rings that named these keys are spent: they are read again once the key that is no
        // longer a stream has left, or Redis answers again (checked then: it may have trimmed meanwhile).
        for (const key of keys) if (this.keys.has(key)) this.dirty.add(key);
        if (isWrongType(error) && (await this.dropWrongTypes(keys))) continue;
        for (const key of keys) if (this.keys.has(key)) this.unsure.add(key);
        if (!(await this.pause(attempt++))) return;
      }
    }
  }

  /**
   * Waits until the client is ready and `attempt`'s delay (doubled from the first to the last) has
   * passed, so that a command Redis keeps refusing is not sent in a loop. Resolves false when the
   * client ended: the next ring or `readAll` tries again.
   */
  private async pause(attempt: number): Promise<boolean> {
    const delay = Math.min(RETRY_MS[0] * 2 ** attempt, RETRY_MS[1]);
    const [ready] = await Promise.all([
      this.main.whenReady().then(
        () => true,
        () => false,
      ),
      new Promise((resolve) => setTimeout(resolve, delay)),
    ]);
    return ready;
  }

  /** One `XREAD` of `keys` from their last ids; checked for trims, then delivered. Keys read to `COUNT` are read again. */
  private async fetchKeys(keys: readonly string[]): Promise<void> {
    const ids = keys.map((key) => this.keys.get(key)!.lastId!);
    const suspects = keys.filter((key) => this.unsure.has(key));
    const reply = await this.main.send(['XREAD', 'COUNT', String(COUNT), 'STREAMS', ...keys, ...ids]);
    await this.checkPlaces(reply, suspects);
    for (const key of suspects) this.unsure.delete(key);
    this.deliver(reply);
    if (!Array.isArray(reply)) return;
    for (const [key, entries] of reply as [string, unknown][])
      if (Array.isArray(entries) && entries.length >= COUNT) this.dirty.add(key);
  }

  /**
   * Before a read is delivered: a key trimmed past its last id delivered is lost, so that its
   * subscribers resume from the history and are told to reset, rather than go on past a gap. The
   * `suspects` are checked (the reader was away), and the keys this read brought at least `history`
   * entries of (or a full `COUNT`): `MAXLEN ~ history` keeps at least `history` entries, so a trim
   * past the position leaves that many after it, and a shorter read proves none.
   */
  private async checkPlaces(reply: unknown, suspects: readonly string[]): Promise<void> {
    // The states as checked: a key that left and came back meanwhile starts afresh, and is kept.
    const states = new Map(this.keys);
    const places = new Map<string, string>();
    for (const key of [...suspects, ...longReads(reply, states)]) {
      const lastId = states.get(key)?.lastId;
      if (lastId !== undefined) places.set(key, lastId);
    }
    if (places.size === 0) return;
    for (const key of await findGaps(this.main, places)) this.lose(key, states.get(key), undefined);
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
      // stream, would otherwise be read again by every read that follows.
      const last = lastEntryId(entries);
      if (last !== undefined && (state.lastId === undefined || compareStreamIds(last, state.lastId) > 0))
        state.lastId = last;
    }
  }

  /** Loses the keys that are no longer streams, with an error naming each. Resolves whether it found any. */
  private async dropWrongTypes(keys: readonly string[]): Promise<boolean> {
    const states = new Map(this.keys);
    const wrong = await findWrongTypes(this.main, keys).catch(() => new Map<string, Error>());
    for (const [key, error] of wrong) this.lose(key, states.get(key), error);
    return wrong.size > 0;
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
