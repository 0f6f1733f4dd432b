// Step: Redis → this process, the signal. One blocking XREAD of the stores' doorbells, on its own connection.
import type { RedisConnection } from './redisClient.js';
import { lastEntryId } from './streamEntry.js';

/**
 * How long one `XREAD` blocks. A quiet spell this long has every key read (see `readAll`); a new
 * doorbell wakes the read at once (`CLIENT UNBLOCK`), or after this where an ACL refuses it.
 */
const BLOCK_MS = 5_000;
/** At most this many rings per doorbell and read. A full read may follow a trim past the position. */
const COUNT = 1_000;
/** Waits between attempts while Redis is unreachable: doubled from the first to the last. */
const RETRY_MS = [50, 5_000] as const;

/** The doorbell of a store's prefix: a stream of the keys appended to, one entry (`key`) per publish. */
export function doorbellOf(prefix: string): string {
  return `${prefix}#doorbell`;
}

/** What the doorbells tell. */
export interface DoorbellHost {
  /** The stream keys these rings name, each once. */
  rang(keys: ReadonlySet<string>): void;
  /**
   * Rings may have been missed: every key should be read. `unsure`: the reader was away from Redis,
   * and each key's position must be checked for a trim before what follows it is delivered.
   */
  readAll(unsure: boolean): void;
}

/** One doorbell being read: from where, and for how many keys. */
interface Bell {
  /** The last ring read; `undefined` until `place()` fixes where reading starts. */
  position: string | undefined;
  keys: number;
}

/**
 * Reads the doorbells of every store prefix with listeners in this process, with one blocking
 * `XREAD` on a connection of its own (`client.duplicate()`): the cost of a ring is one entry,
 * however many topics the process follows. Opens the connection with the first doorbell and closes
 * it with the last.
 */
export class Doorbells {
  private readonly bells = new Map<string, Bell>();
  private connection: RedisConnection | undefined;
  private running = false;
  /** Aborts the `duplicate()` under way, if any: see `stop()`. */
  private opening: AbortController | undefined;
  /** The reading connection's `CLIENT ID` while an `XREAD` blocks, for `CLIENT UNBLOCK`. */
  private blockedClient: string | undefined;
  /** A doorbell was placed after the running `XREAD` was sent: it must be woken. */
  private wakeWanted = false;
  private idle: (() => void) | undefined;
  /** The reading connection's `connects` at the last read: a new value means a reconnect. */
  private readerConnects: number | undefined;

  constructor(
    private readonly main: RedisConnection,
    private readonly host: DoorbellHost,
  ) {}

  /** A key of `doorbell`'s prefix is listened to. Resolves whether the doorbell's position is still to be fixed. */
  add(doorbell: string): boolean {
    const bell = this.bells.get(doorbell) ?? { position: undefined, keys: 0 };
    this.bells.set(doorbell, bell);
    bell.keys += 1;
    return bell.position === undefined;
  }

  /** Reading `doorbell` starts after `position` (its last ring when a key started), unless it started already. */
  place(doorbell: string, reply: unknown): void {
    const bell = this.bells.get(doorbell);
    if (bell === undefined || bell.position !== undefined) return;
    bell.position = lastEntryId(reply) ?? '0-0';
    this.wake();
    this.run();
  }

  /** A key of `doorbell`'s prefix left; the last key leaving stops the read. */
  remove(doorbell: string): void {
    const bell = this.bells.get(doorbell);
    if (bell === undefined || --bell.keys > 0) return;
    this.bells.delete(doorbell);
    if (this.bells.size === 0) this.stop();
  }

  /** Starts the read loop unless it runs. */
  private run(): void {
    if (this.running) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
      if (this.bells.size > 0) this.run();
    });
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; this.bells.size > 0;) {
      if (![...this.bells.values()].some((bell) => bell.position !== undefined)) {
        await new Promise<void>((resolve) => (this.idle = resolve));
        continue;
      }
      try {
        const connection = this.connection ?? (await this.open());
        if (this.bells.size === 0) break;
        const reply = await this.read(connection);
        attempt = 0;
        this.ring(reply);
      } catch {
        if (this.bells.size === 0) break;
        // Redis went away: once it is back, every key is read from its last id, and checked.
        this.readerConnects = undefined;
        await this.pause(attempt++);
        this.host.readAll(true);
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

  /** One blocking `XREAD` of every placed doorbell, from its last ring. */
  private async read(connection: RedisConnection): Promise<unknown> {
    // Taken together with clearing `wakeWanted`: a doorbell placed from now on wakes this read.
    this.wakeWanted = false;
    const keys: string[] = [];
    const ids: string[] = [];
    for (const [doorbell, { position }] of this.bells) {
      if (position === undefined) continue;
      keys.push(doorbell);
      ids.push(position);
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
    // ioredis sends a command again on a new connection: rings between the two may be gone.
    if (this.readerConnects !== undefined && connection.connects !== this.readerConnects) this.host.readAll(true);
    this.readerConnects = connection.connects;
    return result;
  }

  /** Tells the host the keys the rings name, or to read every key after a quiet spell or a full read. */
  private ring(reply: unknown): void {
    if (!Array.isArray(reply)) {
      // A quiet spell: an entry written without a ring (another writer), a key that is no longer a
      // stream, are found now rather than never.
      this.host.readAll(false);
      return;
    }
    const keys = new Set<string>();
    let full = false;
    for (const [doorbell, entries] of reply as [string, unknown][]) {
      const bell = this.bells.get(doorbell);
      if (bell?.position === undefined || !Array.isArray(entries)) continue;
      full ||= entries.length >= COUNT;
      for (const entry of entries as unknown[]) {
        const key = ringOf(entry);
        if (key !== undefined) keys.add(key);
      }
      bell.position = lastEntryId(entries) ?? bell.position;
    }
    // As many rings as a read takes: the doorbell may have been trimmed past the position.
    if (full) this.host.readAll(false);
    else if (keys.size > 0) this.host.rang(keys);
  }

  /** A doorbell is placed: the blocked `XREAD` is woken to include it. */
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
   * Waits before reading again: `attempt` doubles the wait; the connection coming back, a new
   * doorbell or the last key leaving ends it sooner.
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

  /** The last doorbell left: the blocked read is dropped with its connection. */
  private stop(): void {
    this.readerConnects = undefined;
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

/** The stream key a ring names (its `key` field). */
function ringOf(entry: unknown): string | undefined {
  if (!Array.isArray(entry) || !Array.isArray(entry[1])) return undefined;
  const fields = entry[1] as unknown[];
  for (let index = 0; index + 1 < fields.length; index += 2) {
    if (fields[index] === 'key' && typeof fields[index + 1] === 'string') return fields[index + 1] as string;
  }
  return undefined;
}
