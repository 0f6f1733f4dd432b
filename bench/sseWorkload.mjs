// The sse workload: one generator of small events, shared by every SSE contender
// (sseContenders.mjs), and the client that counts the events it receives.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** Each event's data (16 bytes); libraries that JSON-encode data send it quoted. */
export const SSE_DATA = 'abcdefghijklmnop';
const QUOTED = JSON.stringify(SSE_DATA);

export const sseWorkloads = {
  sse: { events: 100_000 },
  // Not measured: each child's first request.
  'sse-warmup': { events: 1000 },
};
for (const w of Object.values(sseWorkloads)) {
  w.gen = async function* events() {
    for (let i = 0; i < w.events; i++) yield SSE_DATA;
  };
}

/**
 * Counts dispatched events in a text/event-stream body, whatever each library adds:
 * a frame is the text between blank lines ("\n\n"; none of the contenders writes CR),
 * and it is an event when it has a `data` field (WHATWG HTML §9.2.6). Comments
 * (keep-alive) and retry-only frames are not events. Each event's data must be
 * SSE_DATA, plain or JSON-quoted, or the count throws.
 */
export class EventCounter {
  events = 0;
  tail = '';

  push(text) {
    const frames = (this.tail + text).split('\n\n');
    this.tail = frames.pop();
    for (const frame of frames) this.countFrame(frame);
  }

  countFrame(frame) {
    let data;
    for (const line of frame.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const value = line.slice(line.startsWith('data: ') ? 6 : 5);
      data = data === undefined ? value : `${data}\n${value}`;
    }
    if (data === undefined) return;
    if (data !== SSE_DATA && data !== QUOTED) {
      throw new Error(`sse: event ${this.events} has data ${JSON.stringify(data)}, expected ${QUOTED}`);
    }
    this.events++;
  }
}

const agent = new http.Agent({ keepAlive: false });

/** One SSE request, as EventSource sends it; checks the event count. Returns { ms, events }. */
export function runSse(baseUrl, route) {
  const expected = sseWorkloads[route].events;
  const counter = new EventCounter();
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(`${baseUrl}/${route}`, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (text) => {
        try {
          counter.push(text);
        } catch (err) {
          req.destroy();
          reject(err);
        }
      });
      res.on('end', () => {
        const ms = performance.now() - t0;
        const type = res.headers['content-type'] ?? '';
        if (
          res.statusCode !== 200 ||
          !type.startsWith('text/event-stream') ||
          counter.events !== expected ||
          counter.tail.trim()
        ) {
          return reject(
            new Error(
              `${route}: got status ${res.statusCode}, ${type || 'no content-type'}, ${counter.events} events ` +
                `and ${JSON.stringify(counter.tail.slice(0, 80))} after the last one; expected 200, ` +
                `text/event-stream and ${expected} events`,
            ),
          );
        }
        resolve({ ms, events: counter.events });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
