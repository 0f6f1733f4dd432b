// Step: publish → one stream entry, however often the client library sends the command.
import { randomBytes } from 'node:crypto';
import { doorbellOf } from './doorbells.js';
import type { RedisConnection } from './redisClient.js';

/**
 * How many of a publisher's latest appends are remembered: a command sent again after a reconnect
 * is one of those in flight when the connection broke, far fewer than this.
 */
const REMEMBERED = 1_000;
/** How long a publisher's memory outlives its last append: longer than any reconnect. */
const REMEMBER_MS = 10 * 60_000;
/**
 * How many rings a doorbell keeps (about 50 bytes each): a reader further behind than this reads
 * every key it follows instead.
 */
const RINGS = 10_000;

/**
 * KEYS[1]: the topic's stream; KEYS[2]: the publisher's appends (number → id); KEYS[3]: the
 * prefix's doorbell. ARGV[1]: the append's number; ARGV[2]: the history to keep; ARGV[3…]: the
 * entry's fields. An append whose number is known answers the id it got then: ioredis sends
 * unanswered commands again after a reconnect (`autoResendUnfulfilledCommands`), and one that
 * Redis had already run would otherwise store the event twice, under two ids. Each append rings
 * the doorbell with its stream's key, which is how readers learn which keys to read.
 */
const SCRIPT = `
local seen = redis.call('HGET', KEYS[2], ARGV[1])
if seen then return seen end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', '${RINGS}', '*', 'key', KEYS[1])
redis.call('HSET', KEYS[2], ARGV[1], id)
redis.call('HDEL', KEYS[2], tostring(tonumber(ARGV[1]) - ${REMEMBERED}))
redis.call('PEXPIRE', KEYS[2], ${REMEMBER_MS})
return id
`;

/**
 * Appends to streams for one store object, each append stored once: every append has a number,
 * and Redis remembers the ids of the publisher's last {@link REMEMBERED} in a hash of its own,
 * `<prefix>#publisher:<random>` (no topic name holds `#`), which expires once it stops publishing.
 */
export class StreamAppender {
  private readonly publisherKey: string;
  private readonly doorbell: string;
  private appended = 0;

  constructor(
    private readonly connection: RedisConnection,
    prefix: string,
  ) {
    this.publisherKey = `${prefix}#publisher:${randomBytes(8).toString('hex')}`;
    this.doorbell = doorbellOf(prefix);
  }

  /** `XADD key MAXLEN ~ history * …fields`, once; resolves the entry's id. */
  async append(key: string, history: number, fields: readonly string[]): Promise<string> {
    const number = String(++this.appended);
    const id = await this.connection.send([
      'EVAL',
      SCRIPT,
      '3',
      key,
      this.publisherKey,
      this.doorbell,
      number,
      String(history),
      ...fields,
    ]);
    return String(id);
  }
}
