import { streamRequest, type StreamConnection } from '../../src/testing/index.js';

/**
 * For a `describe` block: `streamRequest`, with every connection it opened disconnected after each
 * test, so that a test failing halfway through an endless stream does not keep jest from exiting.
 */
export function useConnections(): typeof streamRequest {
  const opened: StreamConnection[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((connection) => connection.disconnect().catch(() => {})));
  });
  return async (...args) => {
    const connection = await streamRequest(...args);
    opened.push(connection);
    return connection;
  };
}
