// A clock that streams the time: the smallest tour of express-async-stream.
// Run: npm start (or PORT=4000 npm start), then follow the curl commands it prints.
import express, { type Express } from 'express';
import { setTimeout } from 'node:timers/promises';
import { asyncStream, closeStreams, currentSignal, makeResponse } from 'express-async-stream';

/** The current time as one line, every `intervalMs`, until the client leaves (as in /time). */
async function* ticks(intervalMs: number): AsyncGenerator<string> {
  const signal = currentSignal();
  for (;;) {
    yield `${new Date().toISOString()}\n`;
    await setTimeout(intervalMs, undefined, { signal });
  }
}

async function* reportLines(): AsyncGenerator<string> {
  yield 'day,visits\n';
  for (const [day, visits] of [
    ['mon', 120],
    ['tue', 98],
    ['wed', 143],
  ] as const) {
    yield `${day},${visits}\n`;
  }
}

/** The clock app, without listening: `npm start` listens, tests import it. */
export function createApp(): Express {
  const app = express();

  app.get(
    '/time',
    asyncStream(async function* () {
      // Handing the signal to the timer makes a disconnect end the wait at once; without it the
      // generator would sleep out the interval before noticing that nobody is listening.
      const signal = currentSignal();
      for (;;) {
        yield `${new Date().toISOString()}\n`;
        await setTimeout(1_000, undefined, { signal });
      }
    }),
  );

  // Status and headers wait for the first chunk, so a tuple can still set them. Without a
  // Content-Type, text is sent as text/html, like res.send().
  const reportHeaders = { 'Content-Type': 'text/csv; charset=utf-8', 'X-Report': 'v1' };
  app.get(
    '/report',
    asyncStream(() => [reportLines(), 200, reportHeaders]),
  );

  // A minute between chunks would trip the default 60 s idle timeout: switch it off for the route...
  app.get(
    '/slow',
    asyncStream(() => ticks(60_000), { timeout: null }),
  );

  // ...or for one response, when only the handler knows that this answer will be slow.
  app.get(
    '/slow-response',
    asyncStream(() => {
      const response = makeResponse(ticks(60_000));
      response.timeout = null;
      return response;
    }),
  );

  return app;
}

if (require.main === module) {
  const port = Number(process.env.PORT ?? 3000);
  const server = createApp().listen(port, () => {
    const base = `http://localhost:${port}`;
    console.log(`Clock listening on ${base}. Watch it stream (Ctrl-C stops curl):`);
    console.log(`  curl -N ${base}/time           # one line a second`);
    console.log(`  curl -i ${base}/report         # X-Report: v1, then CSV lines`);
    console.log(`  curl -N ${base}/slow           # one line a minute, no idle timeout`);
    console.log(`  curl -N ${base}/slow-response  # the same, switched off per response`);
  });
  // A deploy sends SIGTERM: refuse new connections, give each open stream up to 10 s to finish
  // (these never do, so they are cut), and exit once the last one is released.
  const shutDown = () => {
    server.close();
    void closeStreams({ grace: 10_000 });
  };
  process.once('SIGTERM', shutDown);
}
