// Connections of the test kit that a test leaves open, closed after it.
import { streamRequest as kitStreamRequest, type StreamConnection } from '../../src/testing/index.js';

/**
 * For a `describe` block: the kit's `streamRequest()`, whose connections are disconnected after each
 * test. A test that leaves a stream open (a generator parked for ever) would otherwise keep the
 * kit's server, and jest, running. A teardown that does not settle in time is not this hook's
 * concern: the tests that check teardown await `disconnect()` themselves.
 */
export function useStreamRequest(): typeof kitStreamRequest {
  const open: StreamConnection[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((connection) => connection.disconnect({ timeout: 1_000 }).catch(() => {})));
  });
  return async (...args) => {
    const connection = await kitStreamRequest(...args);
    open.push(connection);
    return connection;
  };
}
