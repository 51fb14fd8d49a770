/**
 * The web console: its JSON API (reads as the caller's identity, edits through the normal write
 * path, the CSRF guard, the event stream), then the page in a real browser (Debian's chromium,
 * driven by puppeteer-core): a node with 10,000 children, live changes, the members of a
 * three-member ensemble across a change of leader, edits refused and done, hostile names and data
 * shown as text. Screenshots go to test-artifacts/console/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { connect, CreateMode, digestId, Perms, type WatchedEvent, type ZooKeeperClient } from '../../src/client/index.ts';
import { startAdminHttp, type AdminHttp } from '../../src/server/admin/admin-http.ts';
import { CONSOLE_JS } from '../../src/server/admin/console/script.ts';
import { ConsoleViews } from '../../src/server/admin/console/views.ts';
import { resolveConfig, type ServerConfig } from '../../src/server/config.ts';
import { realEnvironment } from '../../src/server/env/real.ts';
import { Member } from '../../src/server/quorum/member.ts';
import { MemoryNetwork } from '../../src/server/quorum/memory-transport.ts';
import { EnsembleServer } from '../../src/server/server.ts';
import { SUPER_AUTH, SUPER_DIGEST } from '../support/servers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url));
const silent = pino({ level: 'silent' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function consoleConfig(settings: Partial<ServerConfig>): ServerConfig {
  return resolveConfig({
    clientPort: 0, clientPortAddress: '127.0.0.1', tickTimeMs: 200, fourLetterWhitelist: ['*'],
    adminEnableServer: true, adminServerAddress: '127.0.0.1', adminServerPort: 0, adminConsole: true,
    ...settings,
  });
}

/** A standalone server (in memory) with its admin server and console. */
class ConsoleServer {
  private readonly clients: ZooKeeperClient[] = [];

  private constructor(readonly server: EnsembleServer, readonly admin: AdminHttp, readonly clientPort: number) {}

  static async start(settings: Partial<ServerConfig> = {}): Promise<ConsoleServer> {
    const config = consoleConfig(settings);
    const server = new EnsembleServer(config, { log: silent });
    const { port } = await server.listen();
    const admin = await startAdminHttp({ config, server, log: silent });
    assert.ok(admin !== null);
    return new ConsoleServer(server, admin, port);
  }

  get base(): string {
    return `http://127.0.0.1:${this.admin.port}/console/`;
  }

  async client(auth?: string): Promise<ZooKeeperClient> {
    const c = await connect(`127.0.0.1:${this.clientPort}`, auth === undefined ? {} : { auth: [{ scheme: 'digest', auth }] });
    this.clients.push(c);
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.clients) await c.close().catch(() => {});
    await this.admin.close();
    await this.server.close();
  }
}

const basic = (credentials: string): string => `Basic ${Buffer.from(credentials).toString('base64')}`;

async function getJson(base: string, path: string, credentials?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(path, base), { headers: credentials === undefined ? {} : { Authorization: basic(credentials) } });
  return { status: res.status, body: await res.json() };
}

async function postEdit(base: string, op: string, body: object, options: { credentials?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-Ensemble-Console': '1', ...options.headers };
  if (options.credentials !== undefined) headers.Authorization = basic(options.credentials);
  const res = await fetch(new URL(`api/edit/${op}`, base), { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** The next event a one-shot data watch of `path` gets. */
function nextDataEvent(c: ZooKeeperClient, path: string): Promise<WatchedEvent> {
  return new Promise((resolve, reject) => {
    c.getData(path, { watch: resolve }).catch(reject);
  });
}

describe('console API', () => {
  let open: ConsoleServer;
  let editable: ConsoleServer;
  let guarded: ConsoleServer;

  before(async () => {
    open = await ConsoleServer.start();
    editable = await ConsoleServer.start({ adminConsoleEdits: true });
    guarded = await ConsoleServer.start({ adminConsoleEdits: true, superDigest: SUPER_DIGEST });
  });
  after(async () => {
    await open?.close();
    await editable?.close();
    await guarded?.close();
  });

  it('is there only when admin.console.enable is true', async () => {
    const without = await ConsoleServer.start({ adminConsole: false });
    try {
      assert.equal((await fetch(without.base)).status, 404);
      assert.equal((await fetch(new URL('api/info', without.base))).status, 404);
    } finally {
      await without.close();
    }
    assert.equal((await fetch(new URL('api/info', open.base))).status, 200);
  });

  it('serves the page with a policy that allows no inline script, and a script that parses', async () => {
    const res = await fetch(open.base);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.doesNotMatch(res.headers.get('content-security-policy') ?? '', /unsafe-inline/);
    assert.match(await res.text(), /<script src="console.js"/);
    assert.doesNotThrow(() => new Script(CONSOLE_JS));
    assert.equal((await fetch(new URL('console.js', open.base))).headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal((await fetch(new URL('api/nothing', open.base))).status, 404);
  });

  it('pages through children sorted by name, filters them, and shows a node\'s data and stat', async () => {
    const c = await open.client();
    await c.create('/paged', Buffer.from('{"k":1}'));
    const names = Array.from({ length: 250 }, (_, i) => `n${String(i).padStart(3, '0')}`);
    await Promise.all(names.map((n) => c.create(`/paged/${n}`, Buffer.from(n))));
    const page = await getJson(open.base, 'api/children?path=/paged&offset=200&limit=100');
    assert.equal(page.status, 200);
    assert.equal(page.body.total, 250);
    assert.deepEqual(page.body.children.map((x: { name: string }) => x.name), names.slice(200));
    const filtered = await getJson(open.base, 'api/children?path=/paged&filter=n24');
    assert.deepEqual(filtered.body.children.map((x: { name: string }) => x.name), names.slice(240, 250));
    const node = await getJson(open.base, 'api/node?path=/paged');
    assert.equal(Buffer.from(node.body.data, 'base64').toString(), '{"k":1}');
    assert.equal(node.body.stat.numChildren, 250);
    assert.deepEqual(node.body.acl, [{ perms: 'cdrwa', scheme: 'world', id: 'anyone' }]);
    assert.equal((await getJson(open.base, 'api/node?path=/missing')).status, 404);
    const found = await getJson(open.base, 'api/search?q=n24');
    assert.deepEqual(found.body.results, names.slice(240, 250).map((n) => `/paged/${n}`));
  });

  it('lists the children of a node with too many to sort in the order they were added', async () => {
    const c = await open.client();
    await c.create('/unsorted');
    for (const name of ['c', 'a', 'b', 'ab']) await c.create(`/unsorted/${name}`);
    const views = new ConsoleViews(open.server, undefined, 3);
    assert.deepEqual(views.children('/unsorted', 1, 2, '', []), { path: '/unsorted', readable: true, sorted: false, total: 4, offset: 1, children: ['a', 'b'].map((name) => ({ name, numChildren: 0, dataLength: 0, ephemeral: false })) });
    assert.deepEqual((views.children('/unsorted', 0, 10, 'a', []) as { children: Array<{ name: string }> }).children.map((x) => x.name), ['a', 'ab']);
    assert.equal((new ConsoleViews(open.server, undefined).children('/unsorted', 0, 10, '', []) as { sorted: boolean }).sorted, true);
  });

  it('reads as the caller: data and children need READ, digests are masked without ADMIN', async () => {
    const c = await open.client('reader:secret');
    const acl = [{ perms: Perms.READ, id: { scheme: 'digest', id: digestId('reader:secret') } }];
    await c.create('/private', Buffer.from('hidden'), { acl });
    const anonymous = await getJson(open.base, 'api/node?path=/private');
    assert.equal(anonymous.body.readable, false);
    assert.equal(anonymous.body.data, null);
    assert.equal(anonymous.body.acl, null);
    assert.equal((await getJson(open.base, 'api/children?path=/private')).body.readable, false);
    const reader = await getJson(open.base, 'api/node?path=/private', 'reader:secret');
    assert.equal(Buffer.from(reader.body.data, 'base64').toString(), 'hidden');
    assert.deepEqual(reader.body.acl, [{ perms: 'r', scheme: 'digest', id: 'reader:x' }]);
    assert.equal((await getJson(open.base, 'api/info', 'reader:secret')).body.user, 'reader');
  });

  it('lists sessions with their ephemerals and watches, the standalone member, and the counters', async () => {
    const c = await open.client();
    await c.create('/eph', null, { mode: CreateMode.EPHEMERAL });
    await c.exists('/watched', { watch: () => {} });
    await c.getChildren('/', { watch: () => {} });
    const { body } = await getJson(open.base, 'api/sessions');
    const mine = body.sessions.find((s: { ephemerals: string[] }) => s.ephemerals.includes('/eph'));
    assert.ok(mine, JSON.stringify(body));
    assert.deepEqual(mine.dataWatches, ['/watched']);
    assert.deepEqual(mine.childWatches, ['/']);
    assert.match(mine.connection, /^127\.0\.0\.1:\d+$/);
    const members = await getJson(open.base, 'api/members');
    assert.deepEqual(members.body.members.map((m: { role: string }) => m.role), ['standalone']);
    const stats = await getJson(open.base, 'api/stats');
    assert.ok(stats.body.packetsReceived > 0 && stats.body.connections >= 1, JSON.stringify(stats.body));
  });

  it('streams the counters and members every second, and greets a new page with the samples kept', async () => {
    /** The events of one stream, read until it has sent `ticks` samples. */
    const stream = async (ticks: number): Promise<Array<{ event: string; data: any }>> => {
      const controller = new AbortController();
      const res = await fetch(new URL('api/events', open.base), { signal: controller.signal });
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      const reader = res.body!.getReader();
      let text = '';
      while ((text.match(/event: tick/g) ?? []).length < ticks) text += Buffer.from((await reader.read()).value!).toString();
      controller.abort();
      return [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({ event: m[1], data: JSON.parse(m[2]) }));
    };
    const first = await stream(3);
    assert.equal(first[0].event, 'history');
    const ticks = first.filter((e) => e.event === 'tick').map((e) => e.data);
    assert.equal(ticks[0].members.mode, 'standalone');
    assert.match(ticks[0].stats.zxid, /^0x[0-9a-f]+$/);
    assert.ok(ticks[1].t > ticks[0].t && ticks[2].t > ticks[1].t, 'a sample a second, each with the server\'s time');
    const second = await stream(1);
    assert.equal(second[0].event, 'history');
    assert.deepEqual(second[0].data.slice(-3), ticks, 'the samples the first page got');
  });

  it('refuses edits unless allowEdits is on', async () => {
    const c = await open.client();
    await c.create('/fixed', Buffer.from('v0'));
    const res = await postEdit(open.base, 'set', { path: '/fixed', data: 'v1' });
    assert.equal(res.status, 403);
    assert.match(res.body.error, /not enabled/);
    assert.equal((await c.getData('/fixed')).data?.toString(), 'v0');
  });

  it('edits through the normal write path: watches fire, versions are checked', async () => {
    const c = await editable.client();
    await c.create('/target', Buffer.from('before'));
    const event = nextDataEvent(c, '/target');
    const set = await postEdit(editable.base, 'set', { path: '/target', data: 'after', version: 0 });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal((await event).type, 'NodeDataChanged');
    assert.equal((await c.getData('/target')).data?.toString(), 'after');
    assert.equal((await postEdit(editable.base, 'set', { path: '/target', data: 'x', version: 0 })).body.code, 'BADVERSION');
    const created = await postEdit(editable.base, 'create', { path: '/target/seq-', data: 'AAE=', encoding: 'base64', sequential: true });
    assert.equal(created.status, 200);
    assert.match(created.body.path, /^\/target\/seq-\d{10}$/);
    assert.deepEqual((await c.getData(created.body.path)).data, Buffer.from([0, 1]));
    assert.equal((await postEdit(editable.base, 'create', { path: created.body.path })).status, 409);
    assert.equal((await postEdit(editable.base, 'delete', { path: '/target' })).body.code, 'NOTEMPTY');
    assert.equal((await postEdit(editable.base, 'delete', { path: created.body.path })).status, 200);
    assert.equal(await c.exists(created.body.path), null);
    assert.equal((await postEdit(editable.base, 'create', { path: 'relative' })).status, 400);
  });

  it('refuses edits without the custom header, from another origin, or not in JSON', async () => {
    const c = await editable.client();
    await c.create('/csrf', Buffer.from('safe'));
    const noHeader = await fetch(new URL('api/edit/set', editable.base), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"path":"/csrf","data":"x"}' });
    assert.equal(noHeader.status, 403);
    const form = await postEdit(editable.base, 'set', { path: '/csrf', data: 'x' }, { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 403);
    const crossOrigin = await postEdit(editable.base, 'set', { path: '/csrf', data: 'x' }, { headers: { Origin: 'http://elsewhere.test' } });
    assert.equal(crossOrigin.status, 403);
    assert.equal((await fetch(new URL('api/edit/set', editable.base))).status, 405);
    assert.equal((await c.getData('/csrf')).data?.toString(), 'safe');
  });

  it('with a super user configured, edits need signing in, and apply the node\'s ACLs as that identity', async () => {
    const owner = await guarded.client('owner:pw');
    await owner.create('/owned', Buffer.from('0'), { acl: [{ perms: Perms.ALL, id: { scheme: 'digest', id: digestId('owner:pw') } }] });
    assert.equal((await postEdit(guarded.base, 'set', { path: '/owned', data: '1' })).status, 401);
    const stranger = await postEdit(guarded.base, 'set', { path: '/owned', data: '1' }, { credentials: 'stranger:pw' });
    assert.equal(stranger.status, 403);
    assert.equal(stranger.body.code, 'NOAUTH');
    assert.equal((await postEdit(guarded.base, 'set', { path: '/owned', data: '2' }, { credentials: 'owner:pw' })).status, 200);
    assert.equal((await postEdit(guarded.base, 'set', { path: '/owned', data: '3' }, { credentials: SUPER_AUTH })).status, 200);
    assert.equal((await owner.getData('/owned')).data?.toString(), '3');
    const info = await getJson(guarded.base, 'api/info', SUPER_AUTH);
    assert.deepEqual([info.body.signInRequired, info.body.superUser], [true, true]);
  });
});

/** Three members over an in-memory network, each with a real client port; the console on one. */
class ConsoleEnsemble {
  static readonly IDS = [1, 2, 3];
  readonly network = new MemoryNetwork(realEnvironment.scheduler);
  readonly members = new Map<number, Member>();
  readonly admins = new Map<number, AdminHttp>();

  async start(): Promise<void> {
    for (const id of ConsoleEnsemble.IDS) {
      const m = new Member({ id, voters: ConsoleEnsemble.IDS, config: consoleConfig({ adminEnableServer: false }), transport: this.network.join(id), log: silent });
      this.members.set(id, m);
      await m.listen();
    }
    await this.leader();
  }

  async leader(except?: number): Promise<Member> {
    for (let i = 0; i < 1000; i++) {
      const l = [...this.members.values()].find((m) => m.isLeader && m.id !== except);
      if (l !== undefined) return l;
      await sleep(10);
    }
    throw new Error('no leader within 10 s');
  }

  /** The console of member `id` (edits allowed). */
  async console(id: number): Promise<string> {
    let admin = this.admins.get(id);
    if (admin === undefined) {
      const member = this.members.get(id)!;
      admin = (await startAdminHttp({ config: consoleConfig({ adminConsoleEdits: true }), server: member.server, member, log: silent }))!;
      this.admins.set(id, admin);
    }
    return `http://127.0.0.1:${admin.port}/console/`;
  }

  async stop(id: number): Promise<void> {
    this.network.isolate(id, ConsoleEnsemble.IDS);
    await this.admins.get(id)?.close();
    this.admins.delete(id);
    await this.members.get(id)!.close();
    this.members.delete(id);
  }

  async close(): Promise<void> {
    for (const admin of this.admins.values()) await admin.close();
    for (const m of this.members.values()) await m.close();
  }
}

const chromiumMissing = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium): the browser tests are skipped`;

/** One browser for the file, launched on first use; `page` is the tab the tests drive. */
let browser: Browser | undefined;
let page: Page;
after(() => browser?.close());

async function newPage(): Promise<Page> {
  if (browser === undefined) {
    mkdirSync(ARTIFACTS, { recursive: true });
    console.log(`console screenshots: ${ARTIFACTS}`);
    browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
  }
  await page?.close();
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('pageerror', (err) => console.log(`page error: ${String(err)}`));
  return page;
}
const shot = (name: string): Promise<unknown> => page.screenshot({ path: `${ARTIFACTS}${name}.png` });
const text = (selector: string): Promise<string> => page.$eval(selector, (e) => e.textContent ?? '');
/** What the edit forms say of the edit the click on `button` makes, once they say it. */
async function edit(button: string): Promise<string> {
  await page.$eval('#edit-status', (e) => (e.textContent = ''));
  await page.click(button);
  await page.waitForFunction(() => document.getElementById('edit-status')?.textContent !== '', { timeout: 30_000 });
  return text('#edit-status');
}

describe('console in a browser', { skip: chromiumMissing }, () => {
  let open: ConsoleServer;
  let editable: ConsoleServer;

  before(async () => {
    open = await ConsoleServer.start();
    editable = await ConsoleServer.start({ adminConsoleEdits: true });
  });
  after(async () => {
    await open?.close();
    await editable?.close();
  });

  it('shows the first page of a node with 10,000 children, staying responsive while it loads', async () => {
    const c = await open.client();
    await c.create('/big');
    for (let i = 0; i < 10_000; i += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, j) => c.create(`/big/child-${String(i + j).padStart(5, '0')}`, Buffer.from('x'))));
    }
    await newPage();
    await page.goto(`${open.base}#tree=${encodeURIComponent('/big')}`, { waitUntil: 'domcontentloaded' });
    // While the children load, the page answers a trivial script promptly.
    const loaded = page.waitForFunction(() => document.body.dataset.childrenShown === '100', { timeout: 30_000 });
    let slowestMs = 0;
    let done = false;
    void loaded.then(() => (done = true), () => (done = true));
    while (!done) {
      const t0 = performance.now();
      await page.evaluate(() => 1 + 1);
      slowestMs = Math.max(slowestMs, performance.now() - t0);
      await sleep(20);
    }
    await loaded;
    assert.ok(slowestMs < 5000, `a trivial script took ${slowestMs} ms`);
    assert.equal(await text('#children-info'), '10,000 children');
    assert.equal(await text('#page-info'), 'page 1 of 100');
    assert.equal(await page.$$eval('#children li', (lis) => lis.length), 100);
    assert.equal(await text('#children li a'), 'child-00000');
    await page.click('#next-page');
    await page.waitForFunction(() => document.querySelector('#children li a')?.textContent === 'child-00100');
    await shot('tree-10000-children');
  });

  it('shows a change made by a client live, without a reload', async () => {
    const c = await open.client();
    await c.create('/live', Buffer.from('first'));
    await newPage();
    await page.goto(`${open.base}#tree=${encodeURIComponent('/live')}`);
    await page.waitForFunction(() => document.getElementById('node-data')?.textContent === 'first');
    await page.evaluate(() => ((window as unknown as { marker: boolean }).marker = true));
    await c.setData('/live', Buffer.from('{"second": [1, 2]}'));
    await c.create('/live/new-child');
    await page.waitForFunction(() => document.getElementById('node-data')?.textContent === '{\n  "second": [\n    1,\n    2\n  ]\n}', { timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('#children li a')?.textContent === 'new-child', { timeout: 15_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: boolean }).marker), true, 'the page was not reloaded');
    await page.click('button[data-mode="hex"]');
    assert.match(await text('#node-data'), /^00000000 {2}7b 22 73 65/);
    await shot('tree-live-json');
  });

  it('shows hostile names and data as text: no element is made from them, no script runs', async () => {
    const c = await open.client();
    const name = '<img src=x onerror="window.__xss=1">';
    const data = '<script>window.__xss=2</script><img src=x onerror="window.__xss=3"><b>bold</b>';
    await c.create('/hostile', Buffer.from(data));
    await c.create(`/hostile/${name}`, Buffer.from(data));
    await c.create(`/hostile/${name}-eph`, null, { mode: CreateMode.EPHEMERAL });
    await c.exists(`/hostile/${name}`, { watch: () => {} });
    await newPage();
    await page.goto(`${open.base}#tree=${encodeURIComponent('/hostile')}`);
    await page.waitForFunction((d) => document.getElementById('node-data')?.textContent === d, {}, data);
    assert.deepEqual(await page.$$eval('#children li a', (as) => as.map((a) => a.textContent)), [name, `${name}-eph`]);
    await page.click('#children li a');
    await page.waitForFunction((n) => document.getElementById('node-path')?.textContent === `/hostile/${n}`, {}, name);
    await page.type('#search-input', 'onerror');
    await page.click('#search-form button');
    await page.waitForSelector('#search-results a');
    await page.goto(`${open.base}#sessions`);
    await page.waitForFunction((p) => [...document.querySelectorAll('#sessions details a')].filter((a) => a.textContent?.startsWith(p)).length === 2, {}, `/hostile/${name}`);
    await page.goto(`${open.base}#tree=${encodeURIComponent('/hostile')}`);
    await page.waitForFunction((d) => document.getElementById('node-data')?.textContent === d, {}, data);
    // Nothing was made an element: not in the data, the names, the search results, the sessions.
    assert.equal(await page.$$eval('img, script:not([src]), #node-data *, #children a *, #search-results a *, #sessions td *:not(details, summary, div, a, span)', (found) => found.length), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
    await shot('tree-hostile-names');
  });

  it('hides the edit forms and refuses a write when edits are not enabled', async () => {
    const c = await open.client();
    await c.create('/readonly', Buffer.from('kept'));
    await newPage();
    await page.goto(`${open.base}#tree=${encodeURIComponent('/readonly')}`);
    await page.waitForFunction(() => document.getElementById('node-data')?.textContent === 'kept');
    assert.equal(await page.$eval('#edits', (e) => getComputedStyle(e).display), 'none');
    const status = await page.evaluate(async () => (await fetch('api/edit/set', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Ensemble-Console': '1' }, body: '{"path":"/readonly","data":"changed"}' })).status);
    assert.equal(status, 403);
    assert.equal((await c.getData('/readonly')).data?.toString(), 'kept');
  });

  it('sets, creates and deletes through the forms when edits are enabled', async () => {
    const c = await editable.client();
    await c.create('/form', Buffer.from('old'));
    const changed = nextDataEvent(c, '/form');
    await newPage();
    await page.goto(`${editable.base}#tree=${encodeURIComponent('/form')}`);
    await page.waitForFunction(() => document.getElementById('node-data')?.textContent === 'old');
    assert.notEqual(await page.$eval('#edits', (e) => getComputedStyle(e).display), 'none');
    await page.$eval('#set-data', (e) => ((e as HTMLTextAreaElement).value = 'new from the console'));
    assert.match(await edit('#set-form button'), /^set done/);
    assert.equal((await changed).type, 'NodeDataChanged');
    assert.equal((await c.getData('/form')).data?.toString(), 'new from the console');
    await page.type('#create-name', 'kid');
    await page.type('#create-data', 'hello');
    assert.match(await edit('#create-form button'), /^create done/);
    await page.waitForFunction(() => document.querySelector('#children li a')?.textContent === 'kid');
    assert.equal((await c.getData('/form/kid')).data?.toString(), 'hello');
    await shot('tree-edits');
    await page.click('#children li a');
    await page.waitForFunction(() => document.getElementById('node-data')?.textContent === 'hello');
    await page.click('#delete-button');
    assert.match(await text('#delete-button'), /Click again/);
    await page.click('#delete-button');
    await page.waitForFunction(() => document.getElementById('node-path')?.textContent === '/form');
    assert.equal(await c.exists('/form/kid'), null);
  });

  it('signs in with digest credentials: reads and edits as that user, refused before and after', async () => {
    const guarded = await ConsoleServer.start({ adminConsoleEdits: true, superDigest: SUPER_DIGEST });
    try {
      const owner = await guarded.client('owner:pw');
      await owner.create('/mine', Buffer.from('for the owner'), { acl: [{ perms: Perms.ALL, id: { scheme: 'digest', id: digestId('owner:pw') } }] });
      await newPage();
      await page.goto(`${guarded.base}#tree=${encodeURIComponent('/mine')}`);
      await page.waitForFunction(() => document.getElementById('data-note')?.textContent === 'no READ permission for you');
      assert.match(await edit('#set-form button'), /^set refused \(401\): sign in to edit/);
      await page.type('#sign-in-user', 'owner');
      await page.type('#sign-in-password', 'pw');
      await page.click('#sign-in button');
      await page.waitForFunction(() => document.getElementById('node-data')?.textContent === 'for the owner');
      assert.equal(await text('#signed-in-user'), 'signed in as owner');
      assert.equal(await page.$eval('#sign-in', (e) => getComputedStyle(e).display), 'none');
      assert.equal(await page.$eval('#set-data', (e) => (e as HTMLTextAreaElement).value), 'for the owner');
      await page.$eval('#set-data', (e) => ((e as HTMLTextAreaElement).value = 'set by the owner'));
      assert.match(await edit('#set-form button'), /^set done/);
      assert.equal((await owner.getData('/mine')).data?.toString(), 'set by the owner');
      await shot('signed-in');
      await page.click('#sign-out');
      await page.waitForFunction(() => document.getElementById('data-note')?.textContent === 'no READ permission for you');
      assert.notEqual(await page.$eval('#sign-in', (e) => getComputedStyle(e).display), 'none');
      assert.equal(await page.$eval('#signed-in', (e) => getComputedStyle(e).display), 'none');
    } finally {
      await guarded.close();
    }
  });

  it('charts the request rate, and lists sessions with their ephemerals', async () => {
    const c = await open.client();
    await c.create('/session-eph', null, { mode: CreateMode.EPHEMERAL });
    await newPage();
    await page.goto(`${open.base}#overview`);
    for (let i = 0; i < 4; i++) {
      await Promise.all(Array.from({ length: 200 }, () => c.exists('/big')));
      await sleep(1000);
    }
    const points = (): Promise<number> => page.$eval('#chart-rate', (svg) => svg.querySelector('polyline')?.getAttribute('points')?.split(' ').length ?? 0);
    await page.waitForFunction(() => document.querySelector('#chart-rate polyline') !== null);
    assert.equal(await page.$eval('#members tr[data-member] .role', (e) => e.textContent), 'standalone');
    await shot('overview-standalone');
    // A page opened again starts with the samples the server kept, not an empty chart.
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ticks === '1');
    assert.ok(await points() >= 4, `${await points()} points right after a reload`);
    await page.goto(`${open.base}#sessions`);
    await page.waitForFunction(() => [...document.querySelectorAll('#sessions details a')].some((a) => a.textContent === '/session-eph'));
    await shot('sessions');
  });

});

describe('console on a member of a three-member ensemble', () => {
  const ensemble = new ConsoleEnsemble();
  before(() => ensemble.start());
  after(() => ensemble.close());

  it('edits through a follower are written by the leader and reach every member', async () => {
    const leader = await ensemble.leader();
    const follower = ConsoleEnsemble.IDS.find((id) => id !== leader.id)!;
    const base = await ensemble.console(follower);
    const created = await postEdit(base, 'create', { path: '/through-follower', data: 'replicated' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    for (let i = 0; i < 2000 && [...ensemble.members.values()].some((m) => m.server.tree.get('/through-follower') === undefined); i++) await sleep(10);
    for (const m of ensemble.members.values()) assert.equal(m.server.tree.get('/through-follower')?.data?.toString(), 'replicated', `member ${m.id}`);
    const members = await getJson(base, 'api/members');
    assert.equal(members.body.leader, leader.id);
    assert.deepEqual(members.body.members.map((m: { id: number; role: string }) => [m.id, m.role]), ConsoleEnsemble.IDS.map((id) => [id, id === leader.id ? 'leader' : id === follower ? 'follower' : 'unknown']));
    const onLeader = await getJson(await ensemble.console(leader.id), 'api/members');
    for (const m of onLeader.body.members) {
      assert.equal(m.role, m.id === leader.id ? 'leader' : 'follower');
      assert.ok(m.lag >= 0, JSON.stringify(m));
    }
  });

  it('shows the members in a browser, and a new leader once the leader is stopped', { skip: chromiumMissing }, async () => {
    const leader = await ensemble.leader();
    const watched = ConsoleEnsemble.IDS.find((id) => id !== leader.id)!;
    const base = await ensemble.console(watched);
    await newPage();
    await page.goto(`${await ensemble.console(leader.id)}#overview`);
    await page.waitForFunction(() => document.querySelectorAll('#members tr[data-role="follower"]').length === 2);
    await shot('members-on-the-leader');
    await page.goto(`${base}#overview`);
    const leaderRow = (): Promise<string | null> => page.$eval('#members', (t) => t.querySelector('tr[data-role="leader"]')?.getAttribute('data-member') ?? null);
    await page.waitForFunction(() => document.querySelector('#members tr[data-role="leader"]') !== null);
    assert.equal(await leaderRow(), String(leader.id));
    assert.equal(await page.$$eval('#members tr[data-member]', (rows) => rows.length), 3);
    await shot('members-before');
    await ensemble.stop(leader.id);
    const next = await ensemble.leader(leader.id);
    await page.waitForFunction((id) => document.querySelector('#members tr[data-role="leader"]')?.getAttribute('data-member') === id, { timeout: 20_000 }, String(next.id));
    assert.match(await text('#members-info'), new RegExp(`leader: member ${next.id}`));
    await shot('members-after-leader-change');
  });
});
