// The example imports 'express-async-stream', which resolves to dist/: run `npm run build` first.
import { streamRequest } from '../../src/testing/index.js';
import { createApp } from '../../examples/clock/server.js';

describe('examples/clock', () => {
  describe('GET /report', () => {
    it('sends the tuple status and headers, then every line', async () => {
      const connection = await streamRequest(createApp(), '/report');
      expect(connection.status).toBe(200);
      expect(connection.headers['x-report']).toBe('v1');
      expect(connection.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(await connection.text()).toBe('day,visits\nmon,120\ntue,98\nwed,143\n');
    });
  });
});
