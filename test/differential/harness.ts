/**
 * Differential testing: the same scripted scenario runs against Apache ZooKeeper (the oracle) and
 * Ensemble, each run produces a normalized transcript, and the two transcripts must be equal.
 *
 * A transcript entry is one operation: the client, the op, its arguments, the error name, the
 * normalized result, and the watch events that client received before the reply, in order.
 * Normalization keeps what must match and masks what legitimately differs:
 *  - zxids become `z+N`, N relative to the server's last zxid when the scenario started, so the
 *    whole sequence (gaps from failed writes and session creation included) must match;
 *  - times become `<time>` after a plausibility check (0, or within a minute of now);
 *  - session ids become s1, s2, … in order of first appearance;
 *  - children lists keep the server's order.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Err, errName, opName } from '../../src/protocol/constants.ts';
import { ConnectionClosedError, outcomeOf, RawClient, type ConnectOptions, type LogEntry } from '../support/raw-client.ts';
import { withBothServers, type RunningServer, type ServerName, type ServerOptions } from '../support/servers.ts';

type TryMethod = {
  [K in keyof RawClient]: K extends `try${string}` ? (RawClient[K] extends (...a: never[]) => Promise<unknown> ? K : never) : never;
}[keyof RawClient];

export type Entry = Record<string, unknown>;
/** [method name, ...its arguments] */
export type Call = [TryMethod, ...unknown[]];

const SETTLE_MS = 150;

export class Script {
  readonly transcript: Entry[] = [];
  private readonly clients: RawClient[] = [];
  private readonly names = new Map<RawClient, string>();
  private readonly seen = new Map<RawClient, number>();
  private readonly sessions = new Map<bigint, string>();
  private readonly startedAt = Date.now();
  /** Cleared once the servers may have used different numbers of zxids: all zxids then read `z`. */
  zxidsComparable = true;

  constructor(readonly server: RunningServer, readonly root: string, readonly baseZxid: number) {}

  get name(): ServerName {
    return this.server.name;
  }

  // ---- normalization ----

  zxid(z: number): string | number {
    if (z <= 0) return z;
    if (!this.zxidsComparable) return 'z';
    const d = z - this.baseZxid;
    return d >= 0 ? `z+${d}` : `z-${-d}`;
  }

  session(id: bigint): string {
    if (id === 0n) return '0';
    let label = this.sessions.get(id);
    if (label === undefined) {
      label = `s${this.sessions.size + 1}`;
      this.sessions.set(id, label);
    }
    return label;
  }

  private time(t: number, what: string): string | number {
    if (t === 0) return 0;
    const now = Date.now();
    assert.ok(t >= this.startedAt - 60_000 && t <= now + 60_000, `${this.name}: implausible ${what} ${t} (now ${now})`);
    return '<time>';
  }

  /** Recursively normalize a decoded value. */
  norm(v: unknown, key = ''): unknown {
    if (v === null || v === undefined) return v ?? null;
    if (Buffer.isBuffer(v)) return { buf: v.toString('utf8') };
    if (typeof v === 'bigint') {
      const label = this.sessions.get(v);
      return label ?? `0x${BigInt.asUintN(64, v).toString(16)}`;
    }
    if (Array.isArray(v)) return v.map((x) => this.norm(x));
    if (typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o)) {
        if ((k === 'czxid' || k === 'mzxid' || k === 'pzxid' || k === 'zxid') && typeof x === 'number') out[k] = this.zxid(x);
        else if ((k === 'ctime' || k === 'mtime') && typeof x === 'number') out[k] = this.time(x, k);
        else if (k === 'err' && typeof x === 'number') out[k] = errName.get(x) ?? x;
        else if (k === 'type' && typeof x === 'number' && key === 'multi') out[k] = opName.get(x) ?? x;
        else out[k] = this.norm(x, k);
      }
      return out;
    }
    return v;
  }

  private normEvents(entries: LogEntry[]): unknown[] {
    return entries.filter((e) => e.kind !== 'reply').map((e) =>
      e.kind === 'closed' ? 'closed' : { type: e.type, state: e.state, path: e.path, zxid: this.zxid(e.zxid) });
  }

  /** Log entries of c not yet recorded, up to and including the last reply if `toLastReply`. */
  private take(c: RawClient, toLastReply: boolean): LogEntry[] {
    const from = this.seen.get(c) ?? 0;
    let to = c.log.length;
    if (toLastReply) {
      let i = c.log.length - 1;
      while (i >= from && c.log[i].kind !== 'reply') i--;
      to = i >= from ? i + 1 : from;
    }
    this.seen.set(c, to);
    return c.log.slice(from, to);
  }

  record(e: Entry): void {
    this.transcript.push(e);
  }

  // ---- steps ----

  /** Open a client (recorded: negotiated timeout, session label, or that the server closed). */
  async connect(opts: ConnectOptions = {}, label = 'connect'): Promise<RawClient | null> {
    try {
      const c = await RawClient.connect(this.server.host, this.server.port, opts);
      const name = `c${this.clients.length + 1}`;
      this.clients.push(c);
      this.names.set(c, name);
      this.seen.set(c, 0);
      this.record({
        client: name, op: label, timeout: c.session.timeoutMs, session: this.session(c.session.sessionId),
        passwdLength: c.session.passwd.length, readOnly: c.session.readOnly,
      });
      return c;
    } catch (e) {
      if (!(e instanceof ConnectionClosedError)) throw e;
      this.record({ op: label, closedByServer: true });
      return null;
    }
  }

  /** Like connect, but the session must be granted. */
  async client(opts: ConnectOptions = {}): Promise<RawClient> {
    const c = await this.connect(opts);
    assert.ok(c && !c.expired, `${this.name}: session refused`);
    return c;
  }

  /** Run one typed operation of the client and record it. Returns the raw result. */
  async op<K extends TryMethod>(c: RawClient, method: K, ...args: Parameters<RawClient[K]>): Promise<Awaited<ReturnType<RawClient[K]>>> {
    const [r] = await this.pipelined(c, [[method, ...args] as unknown as Call]);
    return r as Awaited<ReturnType<RawClient[K]>>;
  }

  /** Run an operation without recording it (for results that depend on other scenarios); use note() for the parts that matter. */
  async unrecorded<K extends TryMethod>(c: RawClient, method: K, ...args: Parameters<RawClient[K]>): Promise<Awaited<ReturnType<RawClient[K]>>> {
    const fn = c[method] as unknown as (...a: unknown[]) => Promise<unknown>;
    const r = await fn.apply(c, args);
    const events = this.take(c, true).filter((e) => e.kind === 'event');
    if (events.length > 0) this.record({ client: this.names.get(c), op: 'events', events: this.normEvents(events) });
    return r as Awaited<ReturnType<RawClient[K]>>;
  }

  /**
   * Send several operations back to back without waiting, then record each in order (events go with
   * the last). A request the server never answers is recorded as noReply once a later one is answered;
   * one still unanswered after `timeoutMs` as well.
   */
  async pipelined(c: RawClient, calls: Call[], timeoutMs = 5_000): Promise<unknown[]> {
    type R = { zxid: number; err: number; value: unknown } | 'connectionClosed' | 'noReply';
    const promises = calls.map(([method, ...args]) => {
      const fn = c[method] as unknown as (...a: unknown[]) => Promise<{ zxid: number; err: number; value: unknown }>;
      return fn.apply(c, args);
    });
    for (const p of promises) p.catch(() => undefined);
    const results: R[] = [];
    for (const p of promises) results.push(await outcomeOf(p, timeoutMs));
    const entries = this.take(c, true);
    calls.forEach(([method, ...args], i) => {
      const r = results[i];
      const op = method.slice(3, 4).toLowerCase() + method.slice(4);
      this.record({
        client: this.names.get(c), op, args: this.norm(args),
        ...(r === 'connectionClosed' || r === 'noReply'
          ? { [r]: true }
          : { err: errName.get(r.err) ?? r.err, zxid: this.zxid(r.zxid), result: this.norm(r.value, op) }),
        events: i === calls.length - 1 ? this.normEvents(entries) : [],
      });
    });
    return results.map((r) => (typeof r === 'string' ? { zxid: -1, err: NaN, value: undefined, [r]: true } : r));
  }

  /** Wait until c has received `count` events not yet recorded, then record everything new. */
  async events(c: RawClient, count: number, timeoutMs = 15_000): Promise<void> {
    const from = this.seen.get(c) ?? 0;
    const newEvents = (): number => c.log.slice(from).filter((e) => e.kind === 'event').length;
    try {
      await c.waitFor(() => newEvents() >= count, timeoutMs, `${count} events`);
    } catch {
      /* recorded as what arrived */
    }
    this.record({ client: this.names.get(c), op: 'events', events: this.normEvents(this.take(c, false)) });
  }

  /** Wait for the server to close c's connection; records whether it did. */
  async expectClose(c: RawClient, timeoutMs = 15_000): Promise<void> {
    let closed = true;
    try {
      await c.waitForClose(timeoutMs);
    } catch {
      closed = false;
    }
    this.record({ client: this.names.get(c), op: 'waitClose', closed, events: this.normEvents(this.take(c, false)) });
  }

  /** closeSession (recorded). */
  async close(c: RawClient): Promise<void> {
    await c.close();
    this.record({ client: this.names.get(c), op: 'close', events: this.normEvents(this.take(c, false)) });
  }

  /** Drop the socket, keeping the session. */
  destroy(c: RawClient): void {
    c.destroy();
    this.record({ client: this.names.get(c), op: 'destroy' });
  }

  note(label: string, value: unknown): void {
    this.record({ op: 'note', label, value: this.norm(value) });
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  /** End of scenario: let late events arrive, record them, and close what is still open. */
  async finish(): Promise<void> {
    await this.sleep(SETTLE_MS);
    for (const c of this.clients) {
      const rest = this.take(c, false).filter((e) => e.kind === 'event');
      if (rest.length > 0) this.record({ client: this.names.get(c), op: 'late events', events: this.normEvents(rest) });
    }
    await Promise.all(this.clients.map((c) => c.close().catch(() => c.destroy())));
  }
}

/** A compact report of the entries that differ (null when the transcripts are equal). */
export function transcriptDiff(zk: Entry[], en: Entry[]): string | null {
  const lines: string[] = [];
  const n = Math.max(zk.length, en.length);
  for (let i = 0; i < n; i++) {
    const a = zk[i] === undefined ? '(none)' : JSON.stringify(zk[i]);
    const b = en[i] === undefined ? '(none)' : JSON.stringify(en[i]);
    if (a === b) continue;
    let head = '';
    let [x, y] = [a, b];
    if (zk[i] !== undefined && en[i] !== undefined) {
      // Show the operation once, then only the fields that differ.
      const keys = [...new Set([...Object.keys(zk[i]), ...Object.keys(en[i])])];
      const differing = keys.filter((k) => JSON.stringify(zk[i][k]) !== JSON.stringify(en[i][k]));
      head = ` ${String(zk[i].client ?? '')} ${String(zk[i].op)} ${JSON.stringify(zk[i].args ?? '').slice(0, 300)}`;
      x = JSON.stringify(Object.fromEntries(differing.map((k) => [k, zk[i][k]])));
      y = JSON.stringify(Object.fromEntries(differing.map((k) => [k, en[i][k]])));
    }
    lines.push(`#${i}${head}\n  zookeeper: ${x}\n  ensemble:  ${y}`);
    if (lines.length >= 6) {
      lines.push('…');
      break;
    }
  }
  return lines.length === 0 ? null : lines.join('\n');
}

export type ScenarioFn = (t: Script) => Promise<void>;

export interface Differential {
  /** Register one scenario: it runs against ZooKeeper, then Ensemble, and the transcripts must match. */
  scenario(name: string, fn: ScenarioFn, options?: { todo?: string; timeoutMs?: number }): void;
  servers: ReturnType<typeof withBothServers>;
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
}

/**
 * One ZooKeeper and one Ensemble for the file (suite hooks), and a `scenario` registrar.
 * Each scenario gets the root `/<file>-<scenario slug>` (it creates it itself, so that its zxids count).
 */
export function differential(file: string, opts: ServerOptions, body: (d: Differential) => void): void {
  describe(file, () => {
    const controls = new Map<ServerName, RawClient>();
    after(async () => {
      for (const c of controls.values()) await c.close().catch(() => c.destroy());
    });
    const servers = withBothServers(opts);
    const control = async (name: ServerName): Promise<RawClient> => {
      let c = controls.get(name);
      if (!c || !c.isOpen) {
        const s = servers.get(name);
        c = await RawClient.connect(s.host, s.port, { timeoutMs: 30_000 });
        controls.set(name, c);
      }
      return c;
    };
    const runOne = async (name: ServerName, root: string, fn: ScenarioFn): Promise<{ t: Script; error?: unknown }> => {
      const ctl = await control(name);
      // Background txns (session expiry, container reaping) of earlier scenarios must not leak in.
      const base = (await ctl.tryExists('/')).zxid;
      const t = new Script(servers.get(name), root, base);
      try {
        await fn(t);
        await t.finish();
        return { t };
      } catch (error) {
        await t.finish().catch(() => undefined);
        return { t, error };
      }
    };
    body({
      servers,
      scenario(name, fn, options = {}) {
        const root = `/${slug(file)}-${slug(name)}`;
        const run = async (): Promise<void> => {
          const zk = await runOne('zookeeper', root, fn);
          if (zk.error) {
            throw new Error(`scenario failed against Apache ZooKeeper (the oracle): ${String((zk.error as Error)?.stack ?? zk.error)}\n` +
              `transcript:\n${JSON.stringify(zk.t.transcript, null, 1)}`);
          }
          const en = await runOne('ensemble', root, fn);
          const diff = transcriptDiff(zk.t.transcript, en.t.transcript);
          if (diff !== null) assert.fail(`Ensemble's transcript differs from ZooKeeper's:\n${diff}${en.error ? `\nEnsemble run also failed: ${String((en.error as Error)?.stack ?? en.error)}` : ''}`);
          assert.deepStrictEqual(en.t.transcript, zk.t.transcript);
          if (en.error) throw en.error;
        };
        test(name, { todo: options.todo, timeout: options.timeoutMs ?? 60_000 }, run);
      },
    });
  });
}

export { Err };
