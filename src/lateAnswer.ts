// Step: a handler that returned nothing and was answered for by the timeout may still answer late, harmlessly.
import type { Response } from 'express';

// What Express's res.send(), res.json(), res.redirect(), res.set() and res.write() end up calling.
const answeringMethods = ['setHeader', 'writeHead', 'write', 'end'] as const;

/**
 * Once the timeout's 503 has gone out for a handler that returned `undefined`, turns what that
 * handler can still call to answer into no-ops that report it (`onLate`, once). Without this, its
 * late `res.send()` throws `ERR_HTTP_HEADERS_SENT` in a callback of its own (a database query's,
 * a timer's), where nothing catches it and the process goes down.
 */
export function dropLateAnswer(res: Response, onLate: () => void): void {
  let reported = false;
  const dropped = function droppedAnswer(this: Response): Response {
    if (!reported) {
      reported = true;
      onLate();
    }
    return this;
  };
  const target = res as unknown as Record<(typeof answeringMethods)[number], unknown>;
  for (const name of answeringMethods) target[name] = dropped;
}
