/**
 * The replicated settings (extendedTypes, the session secret) live in the snapshots (format 3):
 * a fresh data dir records them at once; a data dir written before (log format 1, snapshot format
 * 2, `session.secret`) still loads and is migrated, its sessions resumable; a configured
 * extendedTypes that differs from the recorded one wins, with a warning.
 *
 * The fixture `fixtures/v1-log-v2-snapshot` was written by the server before log format 2: zxids
 * 1..4 in log.1 and snapshot.4, 5..7 in log.5, a session left open (session.json has its id and
 * password) with an ephemeral, a TTL node (extendedTypes on).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { connect } from '../../src/index.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { startServer, storageOptions } from '../../src/server/index.ts';
import { listFiles } from '../../src/server/storage/files.ts';
import { readSnapshot } from '../../src/server/storage/snapshot.ts';
import { Storage, type StorageLog } from '../../src/server/storage/storage.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/v1-log-v2-snapshot');
const legacy = JSON.parse(readFileSync(join(FIXTURE, 'session.json'), 'utf8')) as { sessionId: string; sessionPassword: string };
const work = mkdtempSync(join(tmpdir(), 'ensemble-settings-'));
after(() => rmSync(work, { recursive: true, force: true }));
let dirs = 0;

function fixtureCopy(without: string[] = []): string {
  const dir = join(work, `fixture-${dirs++}`);
  cpSync(FIXTURE, dir, { recursive: true });
  for (const name of ['session.json', ...without]) rmSync(join(dir, name));
  return dir;
}

const config = (dataDir: string, extendedTypes = true) =>
  ({ dataDir, clientPort: 0, clientPortAddress: '127.0.0.1', extendedTypesEnabled: extendedTypes, preAllocSizeBytes: 4096 });

interface Logged {
  level: 'info' | 'warn' | 'error';
  text: string;
}

function open(dataDir: string, extendedTypes = true): { storage: Storage; logged: Logged[] } {
  const logged: Logged[] = [];
  const at = (level: Logged['level']) => (obj: object | string, msg?: string): void =>
    void logged.push({ level, text: typeof obj === 'string' ? obj : `${msg} ${JSON.stringify(obj)}` });
  const log: StorageLog = { info: at('info'), warn: at('warn'), error: at('error') };
  return { storage: new Storage(storageOptions(resolveConfig(config(dataDir, extendedTypes))), log), logged };
}

const newestSnapshot = (dir: string) => readSnapshot(listFiles(dir, 'snapshot').at(-1)!.path, false);
const migrated = (logged: Logged[]): Logged[] => logged.filter((l) => /written before settings were recorded/.test(l.text));

test('a v1 log with a v2 snapshot loads, keeps its session.secret, and is recorded in a v3 snapshot', async () => {
  const dir = fixtureCopy();
  const secretFile = readFileSync(join(dir, 'session.secret'));
  const { storage, logged } = open(dir);
  const r = storage.recovered;
  assert.equal(r.snapshot, join(dir, 'snapshot.4'));
  assert.equal(r.replayed, 3);
  assert.deepEqual(r.last, { index: 7, term: 0, zxid: 7 });
  assert.equal(storage.tree.get('/legacy/a')!.data!.toString(), 'a2');
  assert.ok(storage.tree.get('/legacy/eph') && storage.tree.ttls.has('/legacy/ttl'));
  assert.deepEqual(storage.secret, secretFile);
  assert.equal(migrated(logged).length, 1);
  assert.match(migrated(logged)[0].text, /from session\.secret/);
  const snap = newestSnapshot(dir);
  assert.deepEqual([snap.version, snap.index, snap.zxid], [3, 7, 7]);
  assert.deepEqual(snap.settings, { extendedTypes: true, sessionSecret: secretFile });
  await storage.close();

  const again = open(dir);
  assert.equal(migrated(again.logged).length, 0, 'migrated once');
  assert.deepEqual(again.storage.secret, secretFile);
  assert.deepEqual(again.storage.recovered.settings, { extendedTypes: true, sessionSecret: secretFile });
  await again.storage.close();
});

test('a data dir with only v1 logs is migrated from the log; without session.secret it gets a new secret', async () => {
  const logsOnly = fixtureCopy(['snapshot.4']);
  const a = open(logsOnly);
  assert.equal(a.storage.recovered.snapshot, null);
  assert.equal(a.storage.recovered.replayed, 7);
  assert.deepEqual(a.storage.secret, readFileSync(join(logsOnly, 'session.secret')));
  assert.match(migrated(a.logged)[0].text, /"from":"the log"/);
  await a.storage.close();

  const noSecret = fixtureCopy(['session.secret']);
  const b = open(noSecret);
  assert.equal(b.storage.secret.length, 32);
  assert.match(migrated(b.logged)[0].text, /new \(no session\.secret/);
  assert.deepEqual(newestSnapshot(noSecret).settings!.sessionSecret, b.storage.secret);
  await b.storage.close();
});

test('a session of the legacy data dir is resumed after the upgrade: its password checks against the recorded secret', async () => {
  const dir = fixtureCopy();
  const server = await startServer(config(dir));
  try {
    const zk = await connect(`127.0.0.1:${server.port}`, {
      sessionTimeoutMs: 30_000, sessionId: BigInt(legacy.sessionId), sessionPassword: Buffer.from(legacy.sessionPassword, 'hex'),
    });
    assert.equal(zk.sessionId, BigInt(legacy.sessionId));
    assert.ok(await zk.exists('/legacy/eph'));
    await zk.close();
  } finally {
    await server.close();
  }
  // Without session.secret the migration makes a new secret: the same password no longer checks.
  const noSecret = fixtureCopy(['session.secret']);
  const other = await startServer(config(noSecret));
  try {
    await assert.rejects(connect(`127.0.0.1:${other.port}`, {
      sessionTimeoutMs: 30_000, sessionId: BigInt(legacy.sessionId), sessionPassword: Buffer.from(legacy.sessionPassword, 'hex'), connectTimeoutMs: 5_000,
    }), /SESSIONEXPIRED/);
  } finally {
    await other.close();
  }
});

test('a fresh data dir records its settings in snapshot.0 at once; a session survives a restart', async () => {
  const dir = join(work, 'fresh');
  const first = await startServer(config(dir));
  const snap0 = readSnapshot(join(dir, 'snapshot.0'), false);
  assert.deepEqual([snap0.version, snap0.index, snap0.zxid], [3, 0, 0]);
  assert.equal(snap0.settings!.sessionSecret.length, 32);
  assert.equal(snap0.settings!.extendedTypes, true);
  assert.equal(statSync(join(dir, 'snapshot.0')).mode & 0o777, 0o600, 'the secret is readable by the owner only');
  const zk = await connect(`127.0.0.1:${first.port}`, { sessionTimeoutMs: 30_000 });
  const [id, password] = [zk.sessionId, Buffer.from(zk.sessionPassword)];
  await zk.create('/mine', 'x', { mode: 'ephemeral' });
  await first.close();
  zk.close().catch(() => {});

  const second = await startServer(config(dir));
  try {
    const resumed = await connect(`127.0.0.1:${second.port}`, { sessionTimeoutMs: 30_000, sessionId: id, sessionPassword: password });
    assert.equal(resumed.sessionId, id);
    assert.ok(await resumed.exists('/mine'));
    await resumed.close();
  } finally {
    await second.close();
  }
  assert.deepEqual(newestSnapshot(dir).settings!.sessionSecret, snap0.settings!.sessionSecret);
});

test('a configured extendedTypes that differs from the recorded one wins, with a warning naming both', async () => {
  const dir = fixtureCopy();
  await open(dir, true).storage.close();
  const { storage, logged } = open(dir, false);
  const warning = logged.find((l) => l.level === 'warn' && /extendedTypesEnabled/.test(l.text));
  assert.ok(warning, JSON.stringify(logged));
  assert.match(warning.text, /is false in the configuration but true in the data dir/);
  assert.equal(storage.tree.extendedTypes, false);
  assert.ok(!storage.tree.ttls.has('/legacy/ttl'), 'owners indexed again');
  assert.equal(newestSnapshot(dir).settings!.extendedTypes, false);
  await storage.close();
});
