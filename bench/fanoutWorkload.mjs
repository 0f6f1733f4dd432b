// The fanout workload: what is published to every subscriber, and how a client finds
// each event's sequence number in what it reads, whatever each contender adds.

export const FANOUT = {
  // Subscribers on the one server process; --quick: FANOUT.quickSubscribers.
  subscribers: 10_000,
  quickSubscribers: 1_000,
  // The paced part: `events` events, `gapMs` apart.
  events: 20,
  gapMs: 300,
  // The burst: this many events published in one tick; `bursts` of them, one after the
  // other is delivered, and a round's figure is their median (one burst is a noisy sample).
  burst: 100,
  bursts: 3,
  // Each child's unmeasured warm-up: as many subscribers (at most), the same events at a
  // faster pace and one burst, then every one of them leaves.
  warmup: { subscribers: 1_000, gapMs: 20 },
};

// 64 characters: with its sequence number and the JSON around it, each event's data is
// about 90 bytes, a small JSON message (a chat line, a price tick).
const TEXT = 'fan-out payload: the same object for every subscriber of an event';

/** What is published as event `seq`: an object, so that every contender sends it as JSON. */
export function payload(seq) {
  return { seq, text: TEXT };
}

// Every contender's event has a line `data: {"seq":<n>,…` (better-sse writes `data:{…`,
// without the space); comments (keep-alive) and retry-only frames have none.
const MARK = '{"seq":';

/**
 * Reads the sequence numbers out of an event stream, fed in pieces: `push(text)` calls
 * `onEvent(seq)` for each complete event it holds, in order. Only complete frames (up
 * to the last blank line) are scanned, so a mark split between two reads is found once.
 */
export class SequenceReader {
  tail = '';

  constructor(onEvent) {
    this.onEvent = onEvent;
  }

  push(text) {
    const all = this.tail + text;
    const end = all.lastIndexOf('\n\n');
    if (end === -1) {
      this.tail = all;
      return;
    }
    this.tail = all.slice(end + 2);
    for (let at = all.indexOf(MARK); at !== -1 && at < end; at = all.indexOf(MARK, at + MARK.length)) {
      let seq = 0;
      let i = at + MARK.length;
      for (let c = all.charCodeAt(i); c >= 48 && c <= 57; c = all.charCodeAt(++i)) seq = seq * 10 + c - 48;
      this.onEvent(seq);
    }
  }
}
