// An LLM-style token stream: each word reaches the client as soon as the "model" produces it,
// and the model stops working the moment the client goes away.
// Run: npm run example:tokens, then follow the curl command it prints.
import express, { type Express } from 'express';
import { setTimeout } from 'node:timers/promises';
import { asyncStream, closeStreams, currentSignal } from 'express-async-stream';

/** Options of the tokens app's {@link createApp}: the fake model's pace, length and end. */
export interface TokensAppOptions {
  /**
   * Time the fake model takes per token, in milliseconds.
   *
   * @default 150
   */
  readonly tokenDelay?: number;
  /**
   * How many tokens the fake model produces before it finishes: it repeats its answer as needed.
   * `Infinity` makes a model that only stops when its client leaves.
   *
   * @default the length of one answer
   */
  readonly maxTokens?: number;
  /**
   * Called once the fake model has stopped, whether it finished or was aborted.
   *
   * @default logs "upstream stopped after N tokens"
   */
  readonly onUpstreamStopped?: (stop: UpstreamStop) => void;
}

/** How the fake model stopped, as passed to `onUpstreamStopped`. */
export interface UpstreamStop {
  /** Tokens produced before stopping. */
  readonly tokens: number;
  /** True when the signal stopped it (the client left), false when it finished its answer. */
  readonly aborted: boolean;
}

const answer = (
  'Streaming sends every token as soon as the model produces it, so the reader sees the answer ' +
  'grow word by word instead of staring at a spinner. When the reader leaves, the server tells ' +
  'the model to stop, and nobody pays for tokens that no one will read.'
).split(' ');

function logStop({ tokens, aborted }: UpstreamStop): void {
  console.log(`upstream stopped after ${tokens} tokens${aborted ? ' (client disconnected)' : ' (answer complete)'}`);
}

/**
 * Stands in for an LLM API's streaming call. Like `fetch`, it takes an `AbortSignal`: that is
 * the only way to reach it while it is busy producing a token, since `return()` on a generator
 * waits for the generator's next `yield`.
 */
async function* fakeModel(signal: AbortSignal, options: TokensAppOptions): AsyncGenerator<string> {
  const { tokenDelay = 150, maxTokens = answer.length, onUpstreamStopped = logStop } = options;
  let tokens = 0;
  try {
    while (tokens < maxTokens) {
      await setTimeout(tokenDelay, undefined, { signal });
      const token = answer[tokens % answer.length]!;
      tokens++;
      yield token;
    }
  } finally {
    onUpstreamStopped({ tokens, aborted: signal.aborted });
  }
}

/** The tokens app, without listening: `npm run example:tokens` listens, tests import it. */
export function createApp(options: TokensAppOptions = {}): Express {
  const app = express();
  app.get(
    '/tokens',
    asyncStream(async function* () {
      for await (const token of fakeModel(currentSignal(), options)) yield `${token} `;
      yield '\n';
    }),
  );
  return app;
}

if (require.main === module) {
  const port = Number(process.env.PORT ?? 3001);
  const server = createApp().listen(port, () => {
    console.log(`Token stream listening on http://localhost:${port}. Watch it (Ctrl-C on curl stops the model):`);
    console.log(`  curl -N http://localhost:${port}/tokens`);
  });
  // On SIGTERM (a deploy): answers being generated get 10 s to finish, then are cut, and
  // currentSignal() stops the model.
  const shutDown = () => {
    server.close();
    void closeStreams({ grace: 10_000 });
  };
  process.once('SIGTERM', shutDown);
}
