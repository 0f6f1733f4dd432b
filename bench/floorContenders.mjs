// The floor contenders: node:http and coalescingLoop.mjs, nothing else, for the
// throughput workloads (big, small, latency; sse). The best a correct coalescing pump
// can do on this machine, so every row also shows its ratio to the floor. The
// "+ AsyncLocalStorage" twins run each request inside AsyncLocalStorage.run() with a
// store, and nothing else changes: what a request context costs on this Node line.
// Not in the resource workloads: with no abort wiring, an idle or endless generator
// outlives its client there, which would say nothing about the floor.
import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import { coalescingLoop } from './coalescingLoop.mjs';
import { listenNode } from './servers.mjs';
import { sseWorkloads } from './sseWorkload.mjs';
import { workloads } from './workloads.mjs';

const OCTET = { 'content-type': 'application/octet-stream' };
const EVENT_STREAM = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
const asIs = (chunk) => chunk;
const asEvent = (data) => `data: ${data}\n\n`;

/** A node:http server streaming routes[route].gen() through coalescingLoop. */
function serveFloor(routes, headers, encode, { withContext = false } = {}) {
  const handle = (req, res) => {
    const w = routes[req.url.slice(1)];
    if (!w) return res.writeHead(404).end();
    res.writeHead(200, headers);
    coalescingLoop(res, w.gen(), encode).catch((error) => res.destroy(error));
  };
  if (!withContext) return listenNode(http.createServer(handle));
  const context = new AsyncLocalStorage();
  return listenNode(http.createServer((req, res) => context.run({ req, res }, handle, req, res)));
}

export const floorContenders = {
  floor: () => serveFloor(workloads, OCTET, asIs),
  'floor + AsyncLocalStorage': () => serveFloor(workloads, OCTET, asIs, { withContext: true }),
};

export const sseFloorContenders = {
  'floor SSE': () => serveFloor(sseWorkloads, EVENT_STREAM, asEvent),
  'floor SSE + AsyncLocalStorage': () => serveFloor(sseWorkloads, EVENT_STREAM, asEvent, { withContext: true }),
};
