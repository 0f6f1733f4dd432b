// What a topic property run does: random steps over processes sharing one topic, and the shapes they are drawn in.
import fc from 'fast-check';

/** Where a subscriber starts: live only, a real id seen before, `'0'`, or an id the topic never gave. */
export type From = 'live' | 'seen' | 'start' | 'foreign';

/** How a subscriber is ended: `return()`, or its signal aborts. */
export type How = 'return' | 'abort';

/**
 * One step. `on` and `who` are taken modulo the number of processes and of subscribers, so that
 * a drawn scenario fits any store, with one process (memoryStore) or several (Redis).
 */
export type Step =
  /** `count` publishes in one tick from process `on`; awaited, or left in flight. */
  | { readonly step: 'publish'; readonly on: number; readonly count: number; readonly awaited: boolean }
  | {
      readonly step: 'subscribe';
      readonly on: number;
      readonly from: From;
      readonly pick: number;
      /** Reads as fast as events come (a `for await` loop), rather than when a `read` step says. */
      readonly eager: boolean;
      readonly signal: 'none' | 'controller' | 'aborted';
    }
  /** Takes up to `count` values from a subscriber that is not eager: the ones it is owed by now. */
  | { readonly step: 'read'; readonly who: number; readonly count: number }
  | { readonly step: 'end'; readonly who: number; readonly how: How }
  /** What a browser does: the subscriber ends, and a new one starts after the last id it received, in process `on`. */
  | { readonly step: 'resume'; readonly who: number; readonly how: How; readonly eager: boolean; readonly on: number }
  | { readonly step: 'tick'; readonly turn: 'microtask' | 'settle' }
  | { readonly step: 'forget' };

export interface Scenario {
  readonly history: number | undefined;
  readonly maxPending: number | undefined;
  readonly steps: readonly Step[];
}

export interface ScenarioShape {
  readonly history: fc.Arbitrary<number | undefined>;
  readonly maxPending: fc.Arbitrary<number | undefined>;
  readonly from: readonly From[];
  /** Weight of `read` steps: low for subscribers that fall behind. */
  readonly reads: number;
  /** Whether to draw `forget` steps, for a store that can forget a topic's history. */
  readonly forget: boolean;
}

/** The scenarios of one shape; `forget` steps only when `canForget`. */
export function scenario(shape: ScenarioShape, canForget: boolean): fc.Arbitrary<Scenario> {
  const who = fc.nat({ max: 15 });
  const on = fc.nat({ max: 7 });
  const how = fc.constantFrom<How>('return', 'abort');
  const steps: fc.WeightedArbitrary<Step>[] = [
    {
      weight: 6,
      arbitrary: fc.record({
        step: fc.constant('publish'),
        on,
        count: fc.integer({ min: 1, max: 4 }),
        awaited: fc.boolean(),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        step: fc.constant('subscribe'),
        on,
        from: fc.constantFrom(...shape.from),
        pick: fc.nat({ max: 200 }),
        eager: fc.boolean(),
        signal: fc.constantFrom<'none' | 'controller' | 'aborted'>('controller', 'controller', 'none', 'aborted'),
      }),
    },
    {
      weight: shape.reads,
      arbitrary: fc.record({ step: fc.constant('read'), who, count: fc.integer({ min: 1, max: 6 }) }),
    },
    { weight: 1, arbitrary: fc.record({ step: fc.constant('end'), who, how }) },
    { weight: 2, arbitrary: fc.record({ step: fc.constant('resume'), who, how, eager: fc.boolean(), on }) },
    { weight: 3, arbitrary: fc.record({ step: fc.constant('tick'), turn: fc.constantFrom('microtask', 'settle') }) },
  ];
  if (shape.forget && canForget) {
    steps.push({ weight: 1, arbitrary: fc.record({ step: fc.constant('forget') }) });
  }
  return fc.record({
    history: shape.history,
    maxPending: shape.maxPending,
    steps: fc.array(fc.oneof(...steps), { maxLength: 40, size: 'max' }),
  });
}

/** Issue 12's guarantees, each checked under its own shape of scenarios: the `it` titles, and the shapes. */
export const topicProperties: readonly (readonly [title: string, shape: ScenarioShape])[] = [
  [
    'gives each subscriber every event published after it subscribed, once and in order, and resuming from the last id it received continues with no gap',
    {
      history: fc.constant(undefined),
      maxPending: fc.constant(undefined),
      from: ['live', 'seen', 'start'],
      reads: 4,
      forget: false,
    },
  ],
  [
    'sends one reset first, with no id, for a position the topic cannot place (foreign, forgotten or trimmed), then every kept event, then the live ones',
    {
      history: fc.integer({ min: 1, max: 4 }),
      maxPending: fc.constant(undefined),
      from: ['live', 'seen', 'seen', 'start', 'foreign'],
      reads: 4,
      forget: true,
    },
  ],
  [
    'drops a subscriber more than maxPending events behind: it got a prefix with no gap, resuming continues it, and the others miss nothing',
    {
      history: fc.integer({ min: 1, max: 12 }),
      maxPending: fc.integer({ min: 1, max: 4 }),
      from: ['live', 'seen', 'start'],
      reads: 2,
      forget: false,
    },
  ],
];
