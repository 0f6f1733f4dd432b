// A stand-in for an LLM API's streaming call: the tokens of a fixed answer, one every `tokenDelay` ms.
import { setTimeout } from 'node:timers/promises';

/** What generates an answer: its tokens, in order, as a streaming LLM API gives them. */
export type Model = (question: string) => AsyncIterable<string>;

/** Options of {@link createFakeModel}. */
export interface FakeModelOptions {
  /**
   * Time the model takes per token, in milliseconds.
   *
   * @default 100
   */
  readonly tokenDelay?: number;
}

// Tokens as LLM APIs cut them: a word with the space before it.
const answer = (
  'Your answer keeps being generated while you are away. Every token goes to a topic that ' +
  'remembers it, whoever is listening, and the page remembers the id of the last token it ' +
  'showed. Reload the page, or close the tab and come back, and it asks the server for the ' +
  'tokens after that id: the answer goes on where you left it, with nothing missing and ' +
  'nothing twice.'
)
  .split(' ')
  .map((word, i) => (i === 0 ? word : ` ${word}`));

/** A model that answers every question with the same few sentences, at `tokenDelay` ms a token. */
export function createFakeModel(options: FakeModelOptions = {}): Model {
  const { tokenDelay = 100 } = options;
  return async function* fakeModel() {
    for (const token of answer) {
      await setTimeout(tokenDelay);
      yield token;
    }
  };
}
