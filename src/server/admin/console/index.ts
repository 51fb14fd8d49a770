/**
 * The web console on the admin HTTP server: a page at /console/ (plain HTML, CSS and JS served
 * from this process), its JSON API under /console/api/, and a stream of Server-Sent Events that
 * carries the counters and the members every second.
 *
 * Security: the page builds its DOM from text only and is served with a Content-Security-Policy
 * that allows no inline script; reads apply the node's ACLs as the caller's identity (its address,
 * and the digest user of HTTP Basic credentials); writes are off unless admin.console.allowEdits,
 * need a POST with a custom header and JSON body from the same origin (a cross-site form or
 * script cannot send those), need signing in when a super user is configured, and run as the
 * caller's identity through the server's normal write path (edits.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Id } from '../../../protocol/records.ts';
import { pathError } from '../../../protocol/path.ts';
import { authenticate } from '../../auth/acl.ts';
import type { ServerConfig } from '../../config.ts';
import type { Member } from '../../quorum/member.ts';
import type { EnsembleServer } from '../../server.ts';
import { VERSION } from '../../version.ts';
import type { AdminRoute } from '../admin-http.ts';
import { runEdit, type EditRequest } from './edits.ts';
import { LiveFeed } from './live-feed.ts';
import { CONSOLE_CSS, CONSOLE_HTML, CONSOLE_ICON } from './page.ts';
import { CONSOLE_JS } from './script.ts';
import { ConsoleViews, MAX_PAGE } from './views.ts';

export interface ConsoleContext {
  server: EnsembleServer;
  member?: Member;
  config: ServerConfig;
}

/** The header every write must carry: a cross-site form cannot set it, a cross-site script needs a preflight we never grant. */
export const CSRF_HEADER = 'x-ensemble-console';

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

const json = (res: ServerResponse, status: number, body: unknown): void => send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));

interface Caller {
  address: string;
  /** "user:password" from HTTP Basic, as a digest client sends it. */
  credentials: string | null;
  user: string | null;
  authInfo: Id[];
}

/** Who asks: its address, and the identities its Basic credentials give (as an addauth digest would); null for malformed credentials. */
function callerOf(req: IncomingMessage, superDigest: string | undefined): Caller | null {
  const address = (req.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/, '');
  const authInfo: Id[] = [{ scheme: 'ip', id: address }];
  const header = req.headers.authorization;
  if (header === undefined) return { address, credentials: null, user: null, authInfo };
  const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
  const credentials = m === null ? '' : Buffer.from(m[1], 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  if (colon <= 0) return null;
  authInfo.push(...authenticate('digest', Buffer.from(credentials), address, superDigest)!);
  return { address, credentials, user: credentials.slice(0, colon), authInfo };
}

/** The same-origin rules a write must pass (null: it does). */
function forgeryCheck(req: IncomingMessage): string | null {
  if (req.headers[CSRF_HEADER] !== '1') return `the ${CSRF_HEADER} header is missing`;
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return 'the body must be application/json';
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) return 'cross-origin request';
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'cross-site request';
  return null;
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new Error('body too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** A write's body: { path, data?, encoding? ('text' | 'base64'), version?, sequential? }. */
function editOf(op: string, body: unknown): EditRequest | string {
  if (typeof body !== 'object' || body === null) return 'the body must be a JSON object';
  const b = body as Record<string, unknown>;
  if (typeof b.path !== 'string') return 'path is missing';
  const data = typeof b.data === 'string' ? Buffer.from(b.data, b.encoding === 'base64' ? 'base64' : 'utf8') : Buffer.alloc(0);
  const version = typeof b.version === 'number' && Number.isInteger(b.version) ? b.version : -1;
  switch (op) {
    case 'create': return { op, path: b.path, data, sequential: b.sequential === true };
    case 'set': return { op, path: b.path, data, version };
    case 'delete': return { op, path: b.path, version };
    default: return `no such edit: ${op}`;
  }
}

const EDIT_STATUS: Record<string, number> = { NONODE: 404, NODEEXISTS: 409, BADVERSION: 409, NOTEMPTY: 409, NOCHILDRENFOREPHEMERALS: 409, NOAUTH: 403, UNAVAILABLE: 503 };

export function consoleRoute(ctx: ConsoleContext): AdminRoute {
  const { server, member, config } = ctx;
  const views = new ConsoleViews(server, member);
  const feed = new LiveFeed(server.clock, server.scheduler, () => ({ stats: views.stats(), members: views.members() }));

  const info = (caller: Caller): object => ({
    version: VERSION.ensemble,
    mode: member === undefined ? 'standalone' : 'ensemble',
    serverId: member?.id ?? 0,
    editsEnabled: config.adminConsoleEdits,
    signInRequired: config.adminConsoleEdits && config.superDigest !== undefined,
    user: caller.user,
    superUser: caller.authInfo.some((id) => id.scheme === 'super'),
  });

  const events = (res: ServerResponse): void => {
    if (feed.full) return json(res, 503, { error: 'too many open event streams' });
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream' });
    feed.open(res);
  };

  const edit = async (req: IncomingMessage, res: ServerResponse, op: string, caller: Caller): Promise<void> => {
    if (!config.adminConsoleEdits) return json(res, 403, { error: 'edits are not enabled (admin.console.allowEdits=true enables them)' });
    const forged = forgeryCheck(req);
    if (forged !== null) return json(res, 403, { error: `refused: ${forged}` });
    if (config.superDigest !== undefined && caller.credentials === null) return json(res, 401, { error: 'sign in to edit' });
    let body: unknown;
    try {
      body = await readBody(req, 2 * config.juteMaxBufferBytes + 4096);
    } catch (err) {
      return json(res, 400, { error: (err as Error).message });
    }
    const request = editOf(op, body);
    if (typeof request === 'string') return json(res, 400, { error: request });
    const bad = pathError(request.path, request.op === 'create' && request.sequential);
    if (bad !== null) return json(res, 400, { error: bad });
    const result = await runEdit(server, caller.address, caller.credentials, request);
    if (result.ok) return json(res, 200, { path: result.path });
    const status = result.code === 'NOAUTH' && caller.credentials === null ? 401 : (EDIT_STATUS[result.code] ?? 400);
    return json(res, status, { error: result.message, code: result.code });
  };

  return async (req, res, url) => {
    const path = url.pathname;
    if (path === '/console') {
      res.writeHead(301, { ...SECURITY_HEADERS, Location: '/console/' });
      res.end();
      return true;
    }
    if (!path.startsWith('/console/')) return false;
    const caller = callerOf(req, config.superDigest);
    if (caller === null) {
      json(res, 400, { error: 'malformed Authorization header (Basic user:password)' });
      return true;
    }
    if (path.startsWith('/console/api/edit/')) {
      if (req.method !== 'POST') json(res, 405, { error: 'edits are POST requests' });
      else await edit(req, res, path.slice('/console/api/edit/'.length), caller);
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: `${req.method} is not allowed here` });
      return true;
    }
    const q = url.searchParams;
    const znode = q.get('path') ?? '/';
    const int = (name: string, fallback: number): number => {
      const v = Number.parseInt(q.get(name) ?? '', 10);
      return Number.isFinite(v) && v >= 0 ? v : fallback;
    };
    switch (path) {
      case '/console/': send(res, 200, 'text/html; charset=utf-8', CONSOLE_HTML); break;
      case '/console/console.css': send(res, 200, 'text/css; charset=utf-8', CONSOLE_CSS); break;
      case '/console/favicon.svg': send(res, 200, 'image/svg+xml', CONSOLE_ICON); break;
      case '/console/console.js': send(res, 200, 'text/javascript; charset=utf-8', CONSOLE_JS); break;
      case '/console/api/info': json(res, 200, info(caller)); break;
      case '/console/api/node': {
        const node = views.node(znode, caller.authInfo);
        json(res, node === null ? 404 : 200, node ?? { error: `no node ${znode}` });
        break;
      }
      case '/console/api/children': {
        const page = views.children(znode, int('offset', 0), int('limit', 100) || MAX_PAGE, q.get('filter') ?? '', caller.authInfo);
        json(res, page === null ? 404 : 200, page ?? { error: `no node ${znode}` });
        break;
      }
      case '/console/api/search': json(res, 200, views.search(q.get('q') ?? '', caller.authInfo)); break;
      case '/console/api/sessions': json(res, 200, views.sessions()); break;
      case '/console/api/members': json(res, 200, views.members()); break;
      case '/console/api/stats': json(res, 200, views.stats()); break;
      case '/console/api/events':
        if (req.method === 'GET') events(res);
        else json(res, 405, { error: 'the event stream is a GET' });
        break;
      default: json(res, 404, { error: `Not found: ${path}` });
    }
    return true;
  };
}
