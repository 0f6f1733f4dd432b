// StreamReader against a scripted connection: reply orders that a real Redis gives only now and then.
import type { RedisConnection } from '../../src/redis/redisClient.js';
import { StreamReader } from '../../src/redis/streamReader.js';
import { deferred, settle, type Deferred } from '../helpers/deferred.js';

interface Sent {
  readonly args: readonly string[];
  readonly reply: Deferred<unknown>;
}

/** Connections that answer CLIENT at once and leave every other command for the test to answer. */
class ScriptedRedis {
  private readonly sent: Sent[] = [];

  connection(): RedisConnection {
    return {
      library: 'ioredis',
      isReady: true,
      connects: 1,
      send: (args) => {
        if (args[0] === 'CLIENT') return Promise.resolve(args[1] === 'ID' ? 7 : 1);
        const reply = deferred<unknown>();
        this.sent.push({ args, reply });
        return reply.promise;
      },
      transaction: () => Promise.reject(new Error('not scripted')),
      whenReady: () => Promise.resolve(),
      duplicate: () => Promise.resolve(this.connection()),
      // A reply already on its way still arrives, as with ioredis 5, whose disconnect() ends the socket and reads on.
      close: () => {},
    };
  }

  /** The oldest command not answered yet whose arguments start with `start`, once the reader has sent it. */
  async next(...start: string[]): Promise<Sent> {
    await settle();
    const found = this.sent.find(
      (sent) => start.every((arg, index) => sent.args[index] === arg) && !sent.reply.settled,
    );
    if (found === undefined) throw new Error(`the reader sent no ${start.join(' ')}`);
    return found;
  }
}

/** An entry as XRANGE and XREAD give it. */
const entry = (id: string): [string, string[]] => [id, ['type', 'text', 'data', id]];

const key = { key: 'k', doorbell: 'k#doorbell', history: 1_000 };

describe('StreamReader', () => {
  describe('when a key gets a new listener while a read for its previous one is in flight', () => {
    it('delivers nothing from that read to it: its events begin after its own start, with no gap', async () => {
      const redis = new ScriptedRedis();
      const reader = new StreamReader(redis.connection());
      const first = reader.listen(key, () => {});
      (await redis.next('XREVRANGE', 'k#doorbell')).reply.resolve([]);
      (await redis.next('XREVRANGE', 'k')).reply.resolve([]);
      await first.ready;
      // The read that follows a start, not the doorbell's blocking one.
      const stale = await redis.next('XREAD', 'COUNT', '1000', 'STREAMS');
      // The last listener leaves, and the key is listened to again before that read answers.
      first.stop();
      const received: string[] = [];
      const second = reader.listen(key, (event) => received.push(event.id));
      const stream = ['1-0', '2-0', '3-0'];
      // Redis answers the first listener's read with 1-0; the second listener's start is then 2-0.
      stale.reply.resolve([['k', [entry('1-0')]]]);
      await settle();
      // The doorbell left with the last key, and is placed again with this one.
      (await redis.next('XREVRANGE', 'k#doorbell')).reply.resolve([]);
      (await redis.next('XREVRANGE', 'k')).reply.resolve([entry('2-0')]);
      await second.ready;
      const read = await redis.next('XREAD', 'COUNT', '1000', 'STREAMS');
      const from = read.args.at(-1)!;
      read.reply.resolve([['k', stream.filter((id) => id > from).map(entry)]]);
      await settle();
      expect(received).toEqual(['3-0']);
      second.stop();
    });
  });
});
