// The fanout workload's clients, in a process of their own (`fanoutClients.mjs`), so
// that neither the server's process nor the runner's carries their sockets, memory or
// CPU: N subscribers, each one GET as EventSource sends it, reading and checking every
// event. Each is a bare TCP socket with a minimal HTTP/1.1 reader (status line,
// Content-Type, chunked body): Node's http client costs about as much CPU per event as
// the servers under test, which would blur their differences in the latency
// (bench/README.md). Answers the runner over IPC. Receipt times are
// performance.timeOrigin + performance.now(), the server's clock too.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { SequenceReader } from './fanoutWorkload.mjs';

// More at once would overflow the server's listen backlog (511) and cost SYN retries.
const OPEN_BATCH = 100;
const now = () => performance.timeOrigin + performance.now();

let subscribers = [];
let closing = false;
/** The first broken promise (an event missing, repeated or out of order; a stream ended), as an Error. */
let failure;
// Per sequence number: when its last subscriber got it, and how many have it.
let lastAt = [];
let received = [];
/** The expect() waiting for every subscriber to have event `seq`: { seq, resolve, reject }. */
let waiter;
/** When the data being read arrived: one reading per read, shared by the events in it. */
let readAt = 0;

function fail(message) {
  failure ??= new Error(`fanout: ${message}`);
  waiter?.reject(failure);
  waiter = undefined;
}

/** Event `seq` reached subscriber `sub`: it must be the one it expects next. */
function onEvent(sub, seq) {
  if (seq !== sub.next) return fail(`subscriber ${sub.index} received event ${seq} where ${sub.next} was due`);
  sub.next++;
  if (!(lastAt[seq] >= readAt)) lastAt[seq] = readAt;
  received[seq] = (received[seq] ?? 0) + 1;
  if (waiter?.seq === seq && received[seq] === subscribers.length) {
    waiter.resolve();
    waiter = undefined;
  }
}

/**
 * A chunked HTTP/1.1 body (RFC 9112 §7.1), fed as Latin-1 text (one character per
 * byte): hands the payload, without the chunk framing, to `onData`. The servers here
 * send no chunk extensions and no trailers.
 */
class ChunkedBody {
  left = 0; // payload bytes of the current chunk still to come
  crlf = 0; // bytes of the CRLF after a chunk still to skip
  pending = ''; // an incomplete chunk-size line
  ended = false;

  constructor(onData) {
    this.onData = onData;
  }

  push(text) {
    if (this.pending !== '') {
      text = this.pending + text;
      this.pending = '';
    }
    let i = 0;
    while (i < text.length && !this.ended) {
      if (this.left > 0) {
        const n = Math.min(this.left, text.length - i);
        this.onData(text.slice(i, i + n));
        i += n;
        this.left -= n;
        if (this.left === 0) this.crlf = 2;
      } else if (this.crlf > 0) {
        const n = Math.min(this.crlf, text.length - i);
        i += n;
        this.crlf -= n;
      } else {
        const eol = text.indexOf('\r\n', i);
        if (eol === -1) {
          this.pending = text.slice(i);
          return;
        }
        this.left = parseInt(text.slice(i, eol), 16);
        this.ended = this.left === 0;
        i = eol + 2;
      }
    }
  }
}

/** The response head's status line and the headers it has, lower-cased. */
function readHead(text) {
  const [status, ...lines] = text.toLowerCase().split('\r\n');
  const header = (name) =>
    lines
      .find((line) => line.startsWith(`${name}:`))
      ?.slice(name.length + 1)
      .trim() ?? '';
  return { status, type: header('content-type'), chunked: header('transfer-encoding') === 'chunked' };
}

/** Opens one subscriber, expecting events from `firstSeq` on; resolves once its head has arrived. */
function subscribe(url, index, firstSeq) {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const sub = { index, next: firstSeq, socket: undefined };
    const events = new SequenceReader((seq) => onEvent(sub, seq));
    let body;
    let head = '';
    const broken = (what) => {
      if (closing) return;
      if (body === undefined) reject(new Error(`fanout: subscriber ${index} ${what}`));
      else fail(`subscriber ${index} ${what} after event ${sub.next - 1}`);
    };
    sub.socket = net.connect(Number(port), hostname, () => {
      sub.socket.write(
        `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\n` +
          'Cache-Control: no-cache\r\nConnection: close\r\n\r\n',
      );
    });
    sub.socket.on('data', (bytes) => {
      readAt = now();
      const text = bytes.toString('latin1');
      if (body !== undefined) return body.push(text);
      head += text;
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const { status, type, chunked } = readHead(head.slice(0, end));
      if (!status.startsWith('http/1.1 200 ') || !type.startsWith('text/event-stream')) {
        broken(`got ${JSON.stringify(status)} with content-type ${JSON.stringify(type)}`);
        return sub.socket.destroy();
      }
      // Without chunked framing, the body runs until the connection closes.
      body = chunked ? new ChunkedBody((data) => events.push(data)) : events;
      resolve(sub);
      if (end + 4 < head.length) body.push(head.slice(end + 4));
    });
    sub.socket.on('end', () => broken('saw its stream end'));
    sub.socket.on('error', (err) => broken(`failed: ${err.message}`));
  });
}

const commands = {
  /** Opens `count` subscribers to `url`, expecting events from `firstSeq` on. */
  async open({ url, count, firstSeq }) {
    closing = false;
    failure = undefined;
    for (let i = 0; i < count; i += OPEN_BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + OPEN_BATCH); j++) batch.push(subscribe(url, j, firstSeq));
      subscribers.push(...(await Promise.all(batch)));
    }
    return { opened: subscribers.length };
  },
  /**
   * Resolves once every subscriber has events from, …, from + count - 1 (in order: the
   * last means all), with when the last subscriber got each, and this process's CPU
   * time; fails on a broken promise or after timeoutMs.
   */
  async expect({ from, count, timeoutMs }) {
    const last = from + count - 1;
    if (failure) throw failure;
    if (received[last] !== subscribers.length) {
      let timer;
      await new Promise((resolve, reject) => {
        waiter = { seq: last, resolve, reject };
        timer = setTimeout(
          () =>
            fail(
              `after ${timeoutMs} ms, ${received[last] ?? 0} of ${subscribers.length} subscribers had event ${last}; ` +
                `the slowest was due event ${Math.min(...subscribers.map((s) => s.next))}`,
            ),
          timeoutMs,
        );
      }).finally(() => clearTimeout(timer));
    }
    return { lastAt: lastAt.slice(from, last + 1), cpu: process.cpuUsage() };
  },
  cpu: () => ({ cpu: process.cpuUsage() }),
  /** Whether anything broke since the last open (an event repeated after the last expected one). */
  check() {
    if (failure) throw failure;
    return { ok: true };
  },
  /** Every subscriber leaves. */
  close() {
    closing = true;
    for (const { socket } of subscribers) socket.destroy();
    subscribers = [];
    lastAt = [];
    received = [];
    return { closed: true };
  },
};

process.on('message', async (msg) => {
  if (msg.cmd === 'stop') process.exit(0);
  try {
    process.send(await commands[msg.cmd](msg));
  } catch (err) {
    process.send({ error: String(err?.stack ?? err) });
  }
});
process.send({ ready: true });
