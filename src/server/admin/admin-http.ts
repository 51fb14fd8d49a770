/**
 * The admin HTTP server, as Apache ZooKeeper 3.8's AdminServer: `GET <commandURL>/<name>` answers a
 * command in JSON. Other routes (the web console) are mounted on it. Off unless admin.enableServer is
 * true, and on the loopback interface unless admin.serverAddress says otherwise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.ts';
import type { Member } from '../quorum/member.ts';
import type { EnsembleServer } from '../server.ts';
import { commandRoute } from './commands.ts';
import { consoleRoute } from './console/index.ts';

/** Answers a request it knows (true), or leaves it to the next route (false). */
export type AdminRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface AdminHttp {
  readonly host: string;
  readonly port: number;
  mount(route: AdminRoute): void;
  close(): Promise<void>;
}

export interface AdminHttpOptions {
  config: ServerConfig;
  server: EnsembleServer;
  member?: Member;
  log: Logger;
}

/** Writes `body` as JSON (ZooKeeper's outputter indents with two spaces). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The address the server is bound to reaches this machine only. */
export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^(::ffff:)?127\./.test(host);

/** Starts the admin server; null when admin.enableServer is false. */
export async function startAdminHttp(options: AdminHttpOptions): Promise<AdminHttp | null> {
  const { config, log } = options;
  if (!config.adminEnableServer) return null;
  const routes: AdminRoute[] = [commandRoute(options)];
  if (config.adminConsole) routes.push(consoleRoute(options));
  const http = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log.warn({ err: (err as Error).message, url: req.url }, 'admin request failed');
      if (!res.headersSent) sendJson(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://admin');
    for (const route of routes) {
      if (await route(req, res, url)) return;
    }
    sendJson(res, 404, { error: `Not found: ${url.pathname}` });
  };
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen({ port: config.adminServerPort, host: config.adminServerAddress }, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('admin server: no address');
  const where = { host: address.address, port: address.port, commandURL: config.adminCommandUrl };
  if (isLoopback(address.address)) log.info(where, 'admin server listening on the loopback interface only');
  else log.warn(where, 'admin server listening beyond the loopback interface: anyone who reaches it can read the server state');
  return {
    host: address.address,
    port: address.port,
    mount: (route) => routes.push(route),
    close: () => new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    }),
  };
}
