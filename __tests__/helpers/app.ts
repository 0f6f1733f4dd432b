// What an app did with a request besides answering it: the errors it passed on, what it logged.
import type { ErrorRequestHandler, Express } from 'express';
import { nodeProcess } from './warnings.js';

/**
 * Appends an error handler that records every error passed to `next(err)` and hands it on to
 * Express's default handler (which answers it, or closes a started response). Call after the routes.
 */
export function recordErrors(app: Express): unknown[] {
  const errors: unknown[] = [];
  const record: ErrorRequestHandler = (error, _req, _res, next) => {
    errors.push(error);
    next(error);
  };
  app.use(record);
  return errors;
}

/**
 * Like {@link recordErrors}, but keyed by request URL (`req.originalUrl`), so that an error is
 * attributed to the request that caused it when one app serves many. Call after the routes.
 */
export function recordErrorsByUrl(app: Express): Map<string, unknown[]> {
  const errors = new Map<string, unknown[]>();
  const record: ErrorRequestHandler = (error, req, _res, next) => {
    errors.set(req.originalUrl, [...(errors.get(req.originalUrl) ?? []), error]);
    next(error);
  };
  app.use(record);
  return errors;
}

/**
 * Collects unhandled rejections and `console.error` calls until `stop()`. Listens on Node's own
 * process object: jest's copy of `process` never receives `'unhandledRejection'`.
 */
export function watchProcess(): { readonly unhandled: unknown[]; readonly logged: unknown[][]; stop(): void } {
  const unhandled: unknown[] = [];
  const logged: unknown[][] = [];
  const target = nodeProcess();
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  target.on('unhandledRejection', onUnhandled);
  const consoleError = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    logged.push(args);
  });
  return {
    unhandled,
    logged,
    stop() {
      target.off('unhandledRejection', onUnhandled);
      consoleError.mockRestore();
    },
  };
}

/**
 * For a `describe` block: watches for unhandled rejections and `console.error` calls during each
 * test (see {@link watchProcess}); read them through the returned object.
 */
export function useProcessWatch(): { readonly unhandled: unknown[]; readonly logged: unknown[][] } {
  let current: ReturnType<typeof watchProcess> | undefined;
  beforeEach(() => {
    current = watchProcess();
  });
  afterEach(() => {
    current?.stop();
    current = undefined;
  });
  return {
    get unhandled() {
      return current!.unhandled;
    },
    get logged() {
      return current!.logged;
    },
  };
}
