/**
 * `ensemble logs`, `ensemble snapshot` and `ensemble purge` on a data dir written by a real server:
 * the txns written appear with their types and paths, the snapshot summary counts what was written,
 * purge keeps COUNT snapshots and the log they need, damage is exit status 1 with a clear message,
 * bad input is exit status 2. The commands run as child processes of bin/ensemble.js (dist: `npm test`
 * builds it first).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from '../../src/index.ts';
import { startServer } from '../../src/server/index.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/ensemble.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ensemble(...args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** A message for people: one line, no stack trace. */
function assertClearError(r: Run, pattern: RegExp): void {
  assert.match(r.stderr.trimEnd(), pattern);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line expected:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
}

const hex = (n: number | bigint): string => `0x${BigInt.asUintN(64, BigInt(n)).toString(16)}`;
const jsonLines = (s: string): Array<Record<string, any>> => s.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
const files = (dir: string, prefix: string): string[] =>
  readdirSync(dir).filter((n) => new RegExp(`^${prefix}\\.[0-9a-f]+$`).test(n)).sort((a, b) => parseInt(a.split('.')[1], 16) - parseInt(b.split('.')[1], 16));

const SEQUENTIALS = 60;
let work: string;
let dataDir: string;
let session1: bigint;
let session2: bigint;
let lastZxid = 0;
let expectedDataBytes = 0;

before(async () => {
  if (!existsSync(join(ROOT, 'dist/cli/storage-tools.js'))) {
    throw new Error('dist/cli/storage-tools.js is missing: build first (npm run build; npm test does it)');
  }
  work = mkdtempSync(join(tmpdir(), 'ensemble-tools-'));
  dataDir = join(work, 'data');
  // Segments preallocated 1 MiB at a time instead of 64 MiB: the commands read every segment whole.
  const config = { dataDir, clientPort: 0, clientPortAddress: '127.0.0.1', snapCount: 10, preAllocSizeBytes: 1024 * 1024 };
  const server = await startServer(config);
  const zk = await connect(`127.0.0.1:${server.port}`, { sessionTimeoutMs: 10_000 });
  const zk2 = await connect(`127.0.0.1:${server.port}`, { sessionTimeoutMs: 12_000 });
  try {
    session1 = zk.sessionId;
    session2 = zk2.sessionId;
    await zk.create('/t', 'root');
    await zk.create('/t/a', 'hello');
    await zk.setData('/t/a', 'hello!', { version: 0 });
    await zk.create('/t/b', null);
    await zk.delete('/t/b');
    await zk.transaction().create('/t/m', 'x').setData('/t/a', 'v3').commit();
    await assert.rejects(zk.transaction().create('/t/n', 'x').check('/t', 42).commit());
    await assert.rejects(zk.create('/t', 'again'));
    await zk.create('/t/ro', 'r');
    await zk.setACL('/t/ro', [{ perms: 1 | 2, id: { scheme: 'world', id: 'anyone' } }]);
    await zk2.create('/t/eph', 'e', { mode: 'ephemeral' });
    expectedDataBytes = 'root'.length + 'v3'.length + 'x'.length + 'r'.length + 'e'.length;
    for (let i = 0; i < SEQUENTIALS; i++) {
      await zk.create('/t/seq-', `s${i}`, { mode: 'persistent_sequential' });
      expectedDataBytes += `s${i}`.length;
    }
    await zk.close();
  } finally {
    // zk2's session is still open when the server stops: it is in the state, with its ephemeral.
    await zk.close();
    await server.close();
    await zk2.close();
  }
  // A restart replays the log and snapshots the whole state at once: the newest snapshot is the final state.
  const again = await startServer(config);
  await again.close();
  const snaps = files(dataDir, 'snapshot');
  lastZxid = parseInt(snaps[snaps.length - 1].split('.')[1], 16);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function flipByte(path: string, at: number, mask: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] ^= mask;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

/** A copy of the data dir, log segments kept sparse (they are mostly preallocated zeros). */
function copyOf(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  const zeros = Buffer.alloc(64 * 1024);
  for (const file of readdirSync(dataDir)) {
    const buf = readFileSync(join(dataDir, file));
    const fd = openSync(join(dir, file), 'w');
    try {
      for (let at = 0; at < buf.length; at += zeros.length) {
        const block = buf.subarray(at, at + zeros.length);
        if (!block.equals(zeros.subarray(0, block.length))) writeSync(fd, block, 0, block.length, at);
      }
      ftruncateSync(fd, buf.length);
    } finally {
      closeSync(fd);
    }
  }
  return dir;
}

test('logs: every txn in zxid order, with its type and what it did; every segment ends clean', async () => {
  const r = await ensemble('logs', dataDir);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const txns = r.stdout.split('\n').filter((l) => l.startsWith('0x'));
  // zxids 1..last, each once, in order.
  assert.deepEqual(txns.map((l) => parseInt(l.split(' ')[0], 16)), Array.from({ length: lastZxid }, (_, i) => i + 1));
  const s1 = `session ${hex(session1)}`;
  const has = (re: RegExp): void => assert.ok(txns.some((l) => re.test(l)), `no line matches ${re}`);
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  has(new RegExp(`^0x1 \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${esc(s1)} cxid 0x0 createSession timeout=10000ms$`));
  has(/ create2 \/t data=4B acl=world:anyone:cdrwa persistent parentCVersion=1$/);
  has(/ create2 \/t\/a data=5B acl=world:anyone:cdrwa persistent parentCVersion=1$/);
  has(/ setData \/t\/a version=1 data=6B$/);
  has(/ create2 \/t\/b data=null /);
  has(/ delete \/t\/b$/);
  has(/ multi 2 ops: \[create \/t\/m data=1B acl=world:anyone:cdrwa persistent parentCVersion=\d+; setData \/t\/a version=2 data=2B\]$/);
  has(/ multi 2 ops failed at op 1 \(BADVERSION \(-103\)\), none applied: \[create \/t\/n .*; error BADVERSION \(-103\)\]$/);
  has(/ error NODEEXISTS \(-110\)$/);
  has(/ setACL \/t\/ro version=1 acl=world:anyone:rw$/);
  has(new RegExp(`session ${esc(hex(session2))} cxid 0x1 create2 /t/eph data=1B acl=world:anyone:cdrwa ephemeralOwner=${esc(hex(session2))} `));
  assert.equal(txns.filter((l) => / create2 \/t\/seq-\d{10} data=\d+B acl=world:anyone:cdrwa persistent /.test(l)).length, SEQUENTIALS);
  has(new RegExp(`${esc(s1)} cxid 0x[0-9a-f]+ closeSession ephemerals=none$`));
  // The log rolled at each snapshot: several segments, each reported, each clean.
  const ends = r.stdout.split('\n').filter((l) => /^\S+\/log\.[0-9a-f]+: (clean|TORN|CORRUPT)/.test(l));
  assert.ok(ends.length >= 2, r.stdout);
  assert.equal(ends.length, files(dataDir, 'log').length);
  for (const l of ends) assert.match(l, /: clean end after \d+ txns? 0x[0-9a-f]+\.\.0x[0-9a-f]+ \(\d+ bytes used\)$/);
  assert.match(r.stdout, new RegExp(`\\n${lastZxid} txns; every segment intact\\n$`));
});

test('logs --json: one object per line, txns then how the segment ended', async () => {
  const r = await ensemble('logs', dataDir, '--json');
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const txns = lines.filter((o) => o.type === 'txn');
  assert.equal(txns.length, lastZxid);
  const create = txns.find((o) => o.txn.path === '/t/eph')!;
  assert.equal(create.op, 'create2');
  assert.equal(create.session, hex(session2));
  assert.deepEqual(create.txn, {
    kind: 'create', path: '/t/eph', dataLength: 1, acl: [{ scheme: 'world', id: 'anyone', perms: 'cdrwa' }],
    ephemeralOwner: hex(session2), mode: 'ephemeral', parentCVersion: create.txn.parentCVersion,
  });
  const failed = txns.find((o) => o.op === 'multi' && o.txn.failedAt !== null)!;
  assert.equal(failed.txn.failedAt, 1);
  assert.deepEqual(failed.txn.ops[1], { type: -1, typeName: 'error', kind: 'error', err: -103, errName: 'BADVERSION' });
  const segments = lines.filter((o) => o.type === 'segment');
  assert.equal(segments.length, files(dataDir, 'log').length);
  for (const s of segments) assert.equal(s.end, 'clean');
  assert.equal(segments.reduce((n, s) => n + s.txns, 0), lastZxid);
});

test('logs --from/--to: only the txns in range', async () => {
  const r = await ensemble('logs', dataDir, '--from', '0x5', '--to', '12', '--json');
  assert.equal(r.code, 0, r.stderr);
  const zxids = jsonLines(r.stdout).filter((o) => o.type === 'txn').map((o) => parseInt(o.zxid, 16));
  assert.deepEqual(zxids, [5, 6, 7, 8, 9, 10, 11, 12]);
  const tail = await ensemble('logs', dataDir, '--from', String(lastZxid));
  assert.equal(tail.code, 0, tail.stderr);
  assert.deepEqual(tail.stdout.split('\n').filter((l) => l.startsWith('0x')).map((l) => l.split(' ')[0]), [hex(lastZxid)]);
});

test('snapshot: the newest snapshot counts what was written', async () => {
  const r = await ensemble('snapshot', dataDir);
  assert.equal(r.code, 0, r.stderr);
  const znodes = 4 + 5 + SEQUENTIALS; // /, /zookeeper, quota, config; /t, a, m, ro, eph; the sequentials
  assert.match(r.stdout, new RegExp(`^snapshot ${join(dataDir, `snapshot.${lastZxid.toString(16)}`).replace(/[.\\]/g, '\\$&')} \\(\\d+ bytes\\)$`, 'm'));
  assert.match(r.stdout, new RegExp(`^zxid: +${hex(lastZxid)} `, 'm'));
  assert.match(r.stdout, new RegExp(`^znodes: +${znodes}$`, 'm'));
  assert.match(r.stdout, new RegExp(`^data bytes: +${expectedDataBytes}$`, 'm'));
  assert.match(r.stdout, /^distinct ACLs: +3$/m); // cdrwa, r (/zookeeper/config), rw (/t/ro)
  assert.match(r.stdout, /^ephemerals: +1$/m);
  assert.match(r.stdout, /^sessions: +1$/m);
  assert.match(r.stdout, new RegExp(`^  ${hex(session2)}  timeout 12000 ms  ephemerals 1$`, 'm'));

  const j = await ensemble('snapshot', dataDir, '--json', '--nodes');
  assert.equal(j.code, 0, j.stderr);
  const [summary, ...nodes] = jsonLines(j.stdout);
  assert.equal(summary.type, 'snapshot');
  assert.equal(summary.zxid, hex(lastZxid));
  assert.equal(summary.znodes, znodes);
  assert.equal(summary.dataBytes, expectedDataBytes);
  assert.deepEqual(summary.sessions, [{ id: hex(session2), timeoutMs: 12000, ephemerals: 1 }]);
  assert.equal(nodes.length, znodes);
  assert.deepEqual(nodes.slice(0, 3).map((n) => n.path), ['/', '/t', '/t/a']);
  const t = nodes.find((n) => n.path === '/t')!;
  assert.equal(t.numChildren, 4 + SEQUENTIALS);
  const a = nodes.find((n) => n.path === '/t/a')!;
  assert.equal(a.dataVersion, 2);
  assert.equal(a.dataLength, 2);
  const eph = nodes.find((n) => n.path === '/t/eph')!;
  assert.equal(eph.ephemeralOwner, hex(session2));
  assert.equal(eph.mode, 'ephemeral');
  assert.deepEqual(nodes.find((n) => n.path === '/t/ro')!.acl, [{ scheme: 'world', id: 'anyone', perms: 'rw' }]);

  const text = await ensemble('snapshot', join(dataDir, files(dataDir, 'snapshot')[0]), '--nodes');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^\/zookeeper\/config\n  cZxid = 0x0\n  ctime = .*\n  mZxid = 0x0\n  mtime = .*\n  pZxid = 0x0\n  cversion = 0\n  dataVersion = 0\n  aclVersion = -1\n  ephemeralOwner = 0x0\n  dataLength = 0\n  numChildren = 0\n  acl = world:anyone:r\n----$/m);
});

test('purge keeps COUNT snapshots and the log segments needed after the oldest of them', async () => {
  const dir = copyOf('purge');
  const snapsBefore = files(dir, 'snapshot');
  const logsBefore = files(dir, 'log');
  assert.ok(snapsBefore.length >= 4, `the server took ${snapsBefore.length} snapshots: too few for this test`);
  const r = await ensemble('purge', dir, '-n', '3');
  assert.equal(r.code, 0, r.stderr);
  const kept = files(dir, 'snapshot');
  assert.deepEqual(kept, snapsBefore.slice(-3));
  const oldestKept = parseInt(kept[0].split('.')[1], 16);
  const logsKept = files(dir, 'log');
  const zxidOf = (n: string): number => parseInt(n.split('.')[1], 16);
  // The first kept segment holds oldestKept + 1; the one after it starts past it.
  assert.ok(zxidOf(logsKept[0]) <= oldestKept + 1);
  assert.ok(logsKept.length === 1 || zxidOf(logsKept[1]) > oldestKept + 1);
  assert.deepEqual(logsKept, logsBefore.slice(logsBefore.length - logsKept.length));
  const removed = [...snapsBefore.slice(0, -3), ...logsBefore.slice(0, logsBefore.length - logsKept.length)].map((n) => join(dir, n));
  for (const path of removed) assert.match(r.stdout, new RegExp(`^removed ${path.replace(/[.\\]/g, '\\$&')}$`, 'm'));
  assert.match(r.stdout, new RegExp(`^removed ${snapsBefore.length - 3} snapshots? and ${logsBefore.length - logsKept.length} log segments?$`, 'm'));
  assert.match(r.stdout, new RegExp(`^kept 3 snapshots \\(${kept.join(', ').replace(/\./g, '\\.')}\\) and ${logsKept.length} log segment`, 'm'));
  // What is left still reads back whole from the oldest kept snapshot on.
  const logs = await ensemble('logs', dir, '--json');
  assert.equal(logs.code, 0, logs.stderr);
  const zxids = jsonLines(logs.stdout).filter((o) => o.type === 'txn').map((o) => parseInt(o.zxid, 16));
  assert.ok(zxids[0] <= oldestKept + 1 && zxids[zxids.length - 1] === lastZxid);
  // Nothing more to remove the second time.
  const again = await ensemble('purge', dir, '-n', '3');
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^nothing to remove: 3 snapshots, at most 3 are kept$/m);
});

test('a torn tail and a damaged record mid-log: exit 1, the segment and offset named', async () => {
  const dir = copyOf('damaged-log');
  const segments = jsonLines((await ensemble('logs', dir, '--json')).stdout);
  const txns = segments.filter((o) => o.type === 'txn');
  // Tear the last record of the newest segment: a byte of its txn flipped, nothing after it.
  const last = txns[txns.length - 1];
  flipByte(last.segment, last.offset + 20, 0xff);
  let r = await ensemble('logs', dir);
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`^${last.segment.replace(/[.\\]/g, '\\$&')}: TORN at offset ${last.offset}: checksum mismatch, nothing intact after it`, 'm'));
  assertClearError(r, /^ensemble logs: damaged: .*log\.[0-9a-f]+$/);
  const json = jsonLines((await ensemble('logs', dir, '--json')).stdout).filter((o) => o.type === 'segment' && o.end !== 'clean');
  assert.deepEqual(json.map((o) => [o.segment, o.end, o.offset, o.reason]), [[last.segment, 'torn', last.offset, 'checksum mismatch']]);

  // Damage in the oldest segment's first record, intact records after it.
  const first = txns[0];
  flipByte(first.segment, first.offset + 4, 0x01); // in the crc
  r = await ensemble('logs', dir);
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`^${first.segment.replace(/[.\\]/g, '\\$&')}: CORRUPT at offset ${first.offset}: checksum mismatch, intact records resume at offset ${txns[1].offset} \\(no txns before it\\)$`, 'm'));
  assert.match(r.stdout, /; 2 damaged segments\n$/);

  // A segment cut inside its header.
  truncateSync(last.segment, 10);
  r = await ensemble('logs', dir, '--from', last.zxid);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /: unreadable: no complete header/);
});

test('a damaged snapshot: exit 1, a clear message naming it', async () => {
  const dir = copyOf('damaged-snapshot');
  const snaps = files(dir, 'snapshot');
  const newest = join(dir, snaps[snaps.length - 1]);
  const size = statSync(newest).size;
  flipByte(newest, Math.floor(size / 2), 0x10);
  let r = await ensemble('snapshot', dir);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assertClearError(r, new RegExp(`^ensemble snapshot: ${newest.replace(/[.\\]/g, '\\$&')} is damaged: checksum mismatch in the chunk at \\d+; recovery would try .*snapshot\\.[0-9a-f]+ next$`));
  truncateSync(newest, size - 7);
  r = await ensemble('snapshot', newest, '--nodes');
  assert.equal(r.code, 1);
  assertClearError(r, /is damaged: chunk at \d+ cut short$/);
  // The older ones still read.
  r = await ensemble('snapshot', join(dir, snaps[0]));
  assert.equal(r.code, 0, r.stderr);
});

test('a data dir written before log format 2 and snapshot format 3 reads as it is', async () => {
  const fixture = join(ROOT, 'test/storage/fixtures/v1-log-v2-snapshot');
  const logs = await ensemble('logs', fixture);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /log\.1: log format 1, first zxid 0x1$/m);
  assert.match(logs.stdout, /log\.5: log format 1, first zxid 0x5$/m);
  assert.match(logs.stdout, /\n7 txns; every segment intact\n$/);
  const json = jsonLines((await ensemble('logs', fixture, '--json')).stdout).filter((o) => o.type === 'txn');
  assert.deepEqual(json.map((o) => [o.index, o.term, o.zxid]), [1, 2, 3, 4, 5, 6, 7].map((z) => [z, 0, hex(z)]));
  const snap = await ensemble('snapshot', fixture);
  assert.equal(snap.code, 0, snap.stderr);
  assert.match(snap.stdout, /^format: +2$/m);
  assert.match(snap.stdout, /^index: +4 \(term 0\)$/m);
  assert.match(snap.stdout, /^settings: +none \(format 2/m);
});

test('bad input: exit 2 and one line', async () => {
  const missing = join(work, 'no-such-dir');
  const cases: Array<[string[], RegExp]> = ['logs', 'snapshot', 'purge'].map((command) => [
    command === 'purge' ? [command, missing, '-n', '3'] : [command, missing],
    new RegExp(`^ensemble ${command}: ${missing.replace(/[.\\]/g, '\\$&')}: no such (file or )?directory$`),
  ]);
  const snap = join(dataDir, files(dataDir, 'snapshot')[0]);
  const log = join(dataDir, files(dataDir, 'log')[0]);
  cases.push(
    [['logs', snap], /^ensemble logs: .*: not a transaction log segment \(bad magic\)$/],
    [['snapshot', log], /^ensemble snapshot: .*: not a snapshot \(bad magic\)$/],
    [['logs', dataDir, '--from', 'zz'], /^ensemble logs: --from: bad zxid "zz"/],
    [['logs', dataDir, '--to', '0x'], /^ensemble logs: --to: bad zxid "0x"/],
    [['logs', dataDir, '--from', '9', '--to', '3'], /^ensemble logs: --from 0x9 is after --to 0x3$/],
    [['logs'], /^ensemble logs: a data \(log\) dir or a log segment is required$/],
    [['logs', dataDir, '--frm', '3'], /^ensemble logs: unknown option --frm$/],
    [['logs', work], /^ensemble logs: no log segments \(log\.<zxid>\) in /],
    [['snapshot', work], /^ensemble snapshot: no snapshots \(snapshot\.<zxid>\) in /],
    [['purge', dataDir], /^ensemble purge: -n COUNT is required/],
    [['purge', dataDir, '-n', '2'], /^ensemble purge: -n: COUNT must be an integer of at least 3, got "2"$/],
    [['purge', dataDir, dataDir, dataDir, '-n', '3'], /^ensemble purge: a data dir and a log dir at most, got 3 paths$/],
  );
  const runs = await Promise.all(cases.map(([args]) => ensemble(...args)));
  cases.forEach(([args, pattern], i) => {
    assert.equal(runs[i].code, 2, `${args.join(' ')}: ${runs[i].stderr}`);
    assertClearError(runs[i], pattern);
  });
  const help = await ensemble('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^ {2}logs DIR\|SEGMENT/m);
  assert.match(help.stdout, /^ {2}snapshot DIR\|FILE/m);
  assert.match(help.stdout, /^ {2}purge DATA_DIR \[LOG_DIR\] -n COUNT/m);
});
