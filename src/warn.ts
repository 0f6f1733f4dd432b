// Step: reports a handler mistake that the package survived, as a process warning anyone can watch.

/** Emits an `AsyncStreamWarning` (`process.on('warning')`; printed by Node unless `--no-warnings`). */
export function warn(where: string, message: string): void {
  process.emitWarning(`${where}: ${message}`, 'AsyncStreamWarning');
}

/** The handler answered (or called `next()`) and also returned a body. */
export function warnIgnoredResult(route: string): void {
  warn(
    'asyncStream()',
    `the handler for ${route} answered the request itself (or called next()) and also returned a body, ` +
      'which was closed unsent. Return undefined instead.',
  );
}

/** Other code ended the response while the body streamed. */
export function warnEndedElsewhere(route: string): void {
  warn(
    'asyncStream()',
    `the response to ${route} was ended by other code (res.end(), res.send(), res.redirect() or ` +
      'another middleware) while its body was still streaming, so the body was closed and nothing more was ' +
      'written. A handler that answers by itself should return undefined and yield nothing.',
  );
}

/** The handler returned `undefined`, never answered, and the idle timeout answered 503 for it. */
export function warnNoAnswer(route: string, timeout: number): void {
  warn(
    'asyncStream()',
    `the handler for ${route} returned undefined and did not answer within ${timeout} ms, so the ` +
      'request was answered with 503. Return the body (a missing `return`?), or answer with res.send() or next().',
  );
}

/** The handler answered after the idle timeout's 503. */
export function warnLateAnswer(route: string): void {
  warn(
    'asyncStream()',
    `the handler for ${route} answered after its idle timeout had already answered 503; that late ` +
      'answer was dropped. Raise `timeout` for this route, or answer sooner.',
  );
}
