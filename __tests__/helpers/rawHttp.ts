// HTTP below the test kit: a bare TCP request, and requests over a keep-alive agent. The kit sends
// each request on a socket of its own, parsed by Node; these are for checks of the wire and of the
// connection itself.
import http from 'node:http';
import net from 'node:net';

/** Sends a bare GET over a TCP socket and resolves with every byte of the answer (as Latin-1). */
export function rawGet(baseUrl: string, path: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (part: Buffer) => parts.push(part));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
  });
}

/** A whole response, and whether it was cut before the end of its body. */
export interface WholeResponse {
  readonly status: number;
  readonly body: string;
  readonly aborted: boolean;
}

/** GETs `path` over `agent` (e.g. a keep-alive one, to reuse a connection) and reads the whole body. */
export function getOnAgent(baseUrl: string, path: string, agent: http.Agent): Promise<WholeResponse> {
  return new Promise((resolve, reject) => {
    http
      .get(`${baseUrl}${path}`, { agent }, (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        // A cut body emits 'error' too; 'close' with `complete` unset tells it apart.
        response.on('error', () => {});
        response.on('close', () =>
          resolve({
            status: response.statusCode!,
            body: Buffer.concat(parts).toString('utf8'),
            aborted: !response.complete,
          }),
        );
      })
      .on('error', reject);
  });
}
