import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { Broadcaster } from './broadcaster';

/** One chat message, as stored and as sent in each event's `data` (JSON). */
export interface ChatMessage {
  /** 1, 2, 3…: also the event's `id`, which the browser sends back as `Last-Event-ID`. */
  readonly id: number;
  readonly author: string;
  readonly text: string;
}

/**
 * The chat's state: a bounded log of recent messages (to replay after a reconnect) and a
 * broadcaster (to reach the tabs that are connected now). Given a file, the log outlives the
 * process: a new process on the same file (a deploy) goes on from the same ids, so a tab that
 * reconnects to it with `Last-Event-ID` misses nothing and sees nothing twice.
 */
export class ChatRoom {
  private readonly log: ChatMessage[] = [];
  private readonly broadcaster = new Broadcaster<ChatMessage>();
  private lastId = 0;

  /**
   * @param capacity how many recent messages are kept for replay.
   * @param file where messages are kept across restarts, one JSON line each; none by default.
   */
  constructor(
    private readonly capacity = 1000,
    private readonly file?: string,
  ) {
    if (file === undefined || !existsSync(file)) return;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line !== '') this.keep(JSON.parse(line) as ChatMessage);
    }
    this.lastId = this.log.at(-1)?.id ?? 0;
  }

  /** Tabs whose event stream is open now; back to 0 once every tab has left. */
  get subscriberCount(): number {
    return this.broadcaster.subscriberCount;
  }

  /** Gives the message the next id, keeps it for replay and sends it to every open stream. */
  post(author: string, text: string): ChatMessage {
    const message: ChatMessage = { id: ++this.lastId, author, text };
    // Written before anyone sees it: a message a tab has shown is never lost by a restart.
    if (this.file !== undefined) appendFileSync(this.file, `${JSON.stringify(message)}\n`);
    this.keep(message);
    this.broadcaster.publish(message);
    return message;
  }

  private keep(message: ChatMessage): void {
    this.log.push(message);
    if (this.log.length > this.capacity) this.log.shift();
  }

  /**
   * The messages after `afterId` (all kept ones for 0), then every new one, until `signal`
   * aborts. No message is missed or repeated: the subscription starts before the log is read,
   * in the same synchronous step, and live messages the replay already sent are skipped anyway.
   * A client that was away longer than the log reaches back resumes at the oldest kept message;
   * one that saw ids this room never gave (another server process) gets every kept message.
   */
  async *messagesAfter(afterId: number, signal: AbortSignal): AsyncGenerator<ChatMessage> {
    const live = this.broadcaster.subscribe(signal);
    try {
      let sentId = afterId > this.lastId ? 0 : afterId;
      for (const message of this.log.filter((kept) => kept.id > sentId)) {
        yield message;
        sentId = message.id;
      }
      for await (const message of live) {
        if (message.id <= sentId) continue;
        yield message;
        sentId = message.id;
      }
    } finally {
      await live.return(undefined);
    }
  }
}
