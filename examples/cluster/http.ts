/** JSON over HTTP on loopback: the workers' endpoints and the calls the leader and the checks make. */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type Handler = (body: unknown) => unknown | Promise<unknown>;
export type Routes = Record<string, Handler>;

const MAX_BODY_BYTES = 1024 * 1024;

/** Serves `METHOD /path` routes on 127.0.0.1 (port 0: any free port); resolves with the port. */
export async function serve(routes: Routes, port = 0): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => void handle(routes, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { server, port: address.port };
}

async function handle(routes: Routes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const route = routes[`${req.method} ${req.url}`];
  const reply = (status: number, value: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  if (!route) return reply(404, { error: `no route ${req.method} ${req.url}` });
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return reply(413, { error: 'body too large' });
      chunks.push(chunk);
    }
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    reply(200, await route(body));
  } catch (err) {
    reply(500, { error: err instanceof Error ? err.message : String(err) });
  }
}

/** GET (no body) or POST (a JSON body) to http://host:port/path; rejects on a non-200 or after timeoutMs. */
export function call<T>(host: string, port: number, path: string, body?: unknown, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request({ host, port, path, method: payload ? 'POST' : 'GET', timeout: timeoutMs, headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`${host}:${port}${path}: HTTP ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text) as T);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${host}:${port}${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
