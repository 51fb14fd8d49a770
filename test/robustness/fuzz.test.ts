/**
 * Property-based fuzzing of the client port with fast-check. Three generators: (a) random bytes as
 * the first bytes of a connection, (b) a valid handshake followed by random frames, (c) mutations
 * of valid request frames. After every run a healthy session still reads a protected znode with
 * its data intact, and no exception escaped; at the end the server holds no connection but the
 * healthy one, and the heap has not grown without bound.
 *
 * FUZZ_SEED=<int> replays a run (the seed is printed in every failure); FUZZ_RUNS=<n> sets the
 * number of runs per property (default 300).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { OpCode } from '../../src/protocol/constants.ts';
import { JuteReader, JuteWriter } from '../../src/protocol/jute.ts';
import { writeACLs } from '../../src/protocol/records.ts';
import {
  HealthyClient, JUTE_MAX_BUFFER, OPEN_ACL, RawClient, REPLY_WAIT_MS, body, connectBody, createRecord, frameOf,
  pathWatchRecord, requestFrame, validRequestFrames,
} from './frames.ts';
import { assertNothingEscaped, eventually, installUncaughtGuard, startInProcess, type InProcess } from './harness.ts';

installUncaughtGuard();

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20240611;
const RUNS = process.env.FUZZ_RUNS !== undefined ? Number(process.env.FUZZ_RUNS) : 300;
/** xid of the exists('/') sent after the fuzzed bytes: its reply proves the connection is in step. */
const MARK = 0x7ffffff0;
const SENTINEL = '/keep/sentinel';
const SENTINEL_DATA = Buffer.from('precious');

const KNOWN_OPS = [
  OpCode.create, OpCode.delete, OpCode.exists, OpCode.getData, OpCode.setData, OpCode.getACL, OpCode.setACL,
  OpCode.getChildren, OpCode.sync, OpCode.ping, OpCode.getChildren2, OpCode.check, OpCode.multi, OpCode.create2,
  OpCode.reconfig, OpCode.checkWatches, OpCode.removeWatches, OpCode.createContainer, OpCode.deleteContainer,
  OpCode.createTTL, OpCode.multiRead, OpCode.auth, OpCode.setWatches, OpCode.sasl, OpCode.getEphemerals,
  OpCode.getAllChildrenNumber, OpCode.setWatches2, OpCode.addWatch, OpCode.whoAmI, OpCode.createSession,
  OpCode.closeSession, OpCode.error,
];

const HUGE = [0x7fffffff, -1, -2, -0x80000000, JUTE_MAX_BUFFER, JUTE_MAX_BUFFER + 1, 0x0fffffff, 65536, 1000];

// ---- generators ----

/** Jute-shaped tokens, so that random bodies sometimes parse far enough to reach the tree. */
const pathish = fc.oneof(
  fc.constantFrom('/', '/fuzz-target', '/keep', SENTINEL, '/zookeeper', '/zookeeper/quota', '/zookeeper/config', '//', 'a', '/a/', '/a\0', '/.', '/..', ''),
  fc.string({ maxLength: 12 }).map((s) => '/' + s),
  fc.string({ maxLength: 12 }),
);
const token = fc.oneof(
  fc.integer().map((v) => body((w) => w.int(v))),
  fc.constantFrom(...HUGE).map((v) => body((w) => w.int(v))),
  fc.boolean().map((v) => body((w) => w.bool(v))),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) => body((w) => w.bigLong(v))),
  pathish.map((p) => body((w) => w.ustring(p))),
  fc.uint8Array({ maxLength: 40 }).map((b) => body((w) => w.buffer(b))),
  fc.constant(body((w) => writeACLs(w, OPEN_ACL))),
  fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
);
const recordBody = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.array(token, { maxLength: 8 }).map((ts) => Buffer.concat(ts)),
);

/** How the declared length relates to the body: honest most of the time. */
const lengthLie = fc.oneof(
  { weight: 8, arbitrary: fc.constant<number | null>(null) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 4096 }) },
  { weight: 1, arbitrary: fc.constantFrom(...HUGE) },
);

interface RandomFrame { xid: number; op: number; record: Buffer; length: number | null }
const randomFrame: fc.Arbitrary<RandomFrame> = fc.record({
  xid: fc.oneof(fc.integer(), fc.constantFrom(-1, -2, -4, -8, 0, 1)),
  op: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KNOWN_OPS) }, { weight: 1, arbitrary: fc.integer({ min: -20, max: 120 }) }, { weight: 1, arbitrary: fc.integer() }),
  record: recordBody,
  length: lengthLie,
});

function encodeRandomFrame(f: RandomFrame): Buffer {
  const w = new JuteWriter(16 + f.record.length);
  w.int(f.xid).int(f.op).raw(f.record);
  const b = Buffer.from(w.bytes());
  const framed = frameOf(b);
  if (f.length !== null) framed.writeInt32BE(f.length | 0, 0);
  return framed;
}

type Mutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate'; at: number; len: number; to: number }
  | { kind: 'insertInt'; at: number; value: number }
  | { kind: 'overwriteInt'; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }), to: fc.nat() }),
  fc.record({ kind: fc.constant('insertInt' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...HUGE), fc.integer()) }),
  fc.record({ kind: fc.constant('overwriteInt' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...HUGE), fc.integer()) }),
);

/** Apply mutations to a frame body (the bytes after the length prefix). */
function mutate(b: Buffer, ms: Mutation[]): Buffer {
  let out = Buffer.from(b);
  for (const m of ms) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    switch (m.kind) {
      case 'flip':
        if (out.length > 0) out[m.at % out.length] ^= m.xor;
        break;
      case 'truncate':
        out = out.subarray(0, at);
        break;
      case 'duplicate': {
        const piece = out.subarray(at, at + m.len);
        const to = m.to % (out.length + 1);
        out = Buffer.concat([out.subarray(0, to), piece, out.subarray(to)]);
        break;
      }
      case 'insertInt':
        out = Buffer.concat([out.subarray(0, at), body((w) => w.int(m.value)), out.subarray(at)]);
        break;
      case 'overwriteInt': {
        const i = Math.min(at, Math.max(0, out.length - 4));
        const v = body((w) => w.int(m.value));
        out = Buffer.concat([out.subarray(0, i), v, out.subarray(i + 4)]);
        break;
      }
    }
  }
  return out;
}

const FRAME_KINDS = Object.keys(validRequestFrames(1));

// ---- one exchange ----

interface ExchangeResult { closed: boolean; marked: boolean; frames: Buffer[] }

/**
 * Send `chunks` (one TCP write each, a turn of the event loop between them), then an exists('/')
 * with xid MARK when `mark`, and collect replies until the MARK reply, a close, or `waitMs`.
 */
async function exchange(s: InProcess, handshake: boolean, chunks: Buffer[], mark: boolean, waitMs: number): Promise<ExchangeResult> {
  const c = await RawClient.connect(s.host, s.port);
  const frames: Buffer[] = [];
  try {
    if (handshake) {
      const r = await c.handshake();
      assert.ok(r.timeOutMs > 0, 'handshake refused');
    }
    for (const [i, chunk] of chunks.entries()) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      c.send(chunk);
    }
    if (mark) c.send(requestFrame(MARK, OpCode.exists, pathWatchRecord('/')));
    const deadline = Date.now() + waitMs;
    for (;;) {
      const f = await c.nextFrame(Math.max(1, deadline - Date.now()));
      if (!f) break;
      frames.push(f);
      if (handshake && f.length >= 4 && f.readInt32BE(0) === MARK) return { closed: false, marked: true, frames };
    }
    return { closed: c.closed, marked: false, frames };
  } finally {
    c.destroy();
  }
}

/** After a handshake every frame from the server is a reply: header (16 bytes) and maybe a body. */
function checkReplies(frames: Buffer[]): void {
  for (const f of frames) {
    assert.ok(f.length >= 16, `reply frame of ${f.length} bytes: ${f.toString('hex')}`);
    const r = new JuteReader(f);
    r.int();
    r.long();
    const err = r.int();
    assert.ok(err <= 0 && err >= -200, `implausible error code ${err}`);
  }
}

let outcomes = { answered: 0, closed: 0, silent: 0 };
function tally(r: ExchangeResult): void {
  if (r.marked) outcomes.answered++;
  else if (r.closed) outcomes.closed++;
  else outcomes.silent++;
}

describe('fuzzing the client port', () => {
  let s: InProcess;
  let healthy: HealthyClient;
  let heapBefore = 0;

  before(async () => {
    s = await startInProcess();
    healthy = await HealthyClient.connect(s.host, s.port);
    // A znode nobody but its creator's ACL lets change: /keep is read-only once set up.
    const steps: Array<[number, Buffer]> = [
      [OpCode.create, createRecord('/keep')],
      [OpCode.create, createRecord(SENTINEL, SENTINEL_DATA, 0, [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }])],
      [OpCode.setACL, body((w) => { w.ustring('/keep'); writeACLs(w, [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }]); w.int(-1); })],
      [OpCode.create, createRecord('/fuzz-target', Buffer.from('target'))],
    ];
    for (const [op, rec] of steps) assert.equal((await healthy.call(op, rec)).err, 0);
    heapBefore = process.memoryUsage().heapUsed;
  });

  after(async () => {
    healthy?.close();
    await s?.stop();
  });

  /** The healthy session is served, the protected data is intact, nothing escaped. */
  async function invariants(): Promise<void> {
    assertNothingEscaped();
    const r = await healthy.call(OpCode.getData, pathWatchRecord(SENTINEL));
    assert.equal(r.err, 0, `getData ${SENTINEL} failed with ${r.err}`);
    assert.deepEqual(new JuteReader(r.body).buffer(), SENTINEL_DATA, 'protected data changed');
    assertNothingEscaped();
  }

  async function backToBaseline(): Promise<void> {
    assert.ok(await eventually(() => s.server.connections.size === 1), `server still holds ${s.server.connections.size} connections (1 expected)`);
  }

  async function check<T extends [unknown, ...unknown[]]>(t: { diagnostic(msg: string): void }, name: string, prop: fc.IAsyncPropertyWithHooks<T>): Promise<void> {
    t.diagnostic(`${name}: seed ${SEED}, ${RUNS} runs (FUZZ_SEED=${SEED} to replay)`);
    outcomes = { answered: 0, closed: 0, silent: 0 };
    try {
      await fc.assert(prop, { seed: SEED, numRuns: RUNS, endOnFailure: true });
    } catch (e) {
      const cause = (e as Error).cause;
      throw new Error(`${name} failed; replay with FUZZ_SEED=${SEED}\n${(e as Error).message}\ncause: ${cause instanceof Error ? cause.stack : String(cause)}`);
    }
    t.diagnostic(`${name}: connections answered to the end ${outcomes.answered}, closed by the server ${outcomes.closed}, left waiting ${outcomes.silent}`);
    await backToBaseline();
    await invariants();
  }

  test('(a) random bytes as the first bytes of a connection', async (t) => {
    const firstBytes = fc.oneof(
      fc.uint8Array({ maxLength: 120 }).map((b) => [Buffer.from(b)]),
      // a plausible length prefix and a random body
      fc.uint8Array({ maxLength: 120 }).map((b) => [frameOf(b)]),
      // a ConnectRequest with random fields / mutations
      fc.record({
        pv: fc.integer(), zxid: fc.oneof(fc.constant(0), fc.nat()), to: fc.integer(),
        sid: fc.oneof(fc.constant(0n), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
        pw: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 40 })), ro: fc.option(fc.boolean()),
      }).map((c) => [frameOf(body((w) => {
        w.int(c.pv).long(c.zxid).int(c.to).bigLong(c.sid).buffer(c.pw === null ? null : Buffer.from(c.pw));
        if (c.ro !== null) w.bool(c.ro);
      }))]),
      fc.tuple(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean()).map(([ms, fix]) => {
        const b = mutate(connectBody(), ms);
        const framed = frameOf(b);
        if (!fix) framed.writeInt32BE(45, 0);
        return [framed];
      }),
    );
    await check(t, '(a)', fc.asyncProperty(firstBytes, async (chunks) => {
      const r = await exchange(s, false, chunks, false, 20);
      // Whatever was sent, the server answered, hung up, or is waiting for more: all fine, as long as
      // the healthy session is untouched.
      tally(r);
      await invariants();
    }));
  });

  test('(b) a valid handshake followed by random frames', async (t) => {
    const frames = fc.array(randomFrame, { minLength: 1, maxLength: 5 });
    await check(t, '(b)', fc.asyncProperty(frames, fc.boolean(), async (fs, split) => {
      const bytes = fs.map(encodeRandomFrame);
      const honest = fs.every((f) => f.length === null);
      const chunks = split ? bytes : [Buffer.concat(bytes)];
      // Honest framing: the server must answer MARK or hang up; silence would be a hang.
      const r = await exchange(s, true, chunks, true, honest ? REPLY_WAIT_MS : 100);
      checkReplies(r.frames);
      tally(r);
      if (honest) assert.ok(r.marked || r.closed, `connection neither answered nor closed (frames: ${bytes.map((b) => b.toString('hex')).join(' ')})`);
      await invariants();
    }));
  });

  test('(c) mutations of valid request frames', async (t) => {
    const mutated = fc.record({
      kind: fc.constantFrom(...FRAME_KINDS),
      mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      fixLength: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      splitAt: fc.option(fc.nat()),
      xid: fc.integer({ min: 1, max: 1_000_000 }),
    });
    await check(t, '(c)', fc.asyncProperty(mutated, async (m) => {
      const valid = validRequestFrames(m.xid)[m.kind];
      const b = mutate(valid.subarray(4), m.mutations);
      const framed = frameOf(b);
      if (!m.fixLength) framed.writeInt32BE(valid.length - 4, 0);
      const honest = m.fixLength || b.length === valid.length - 4;
      let chunks = [framed];
      if (m.splitAt !== null && framed.length > 1) {
        const at = 1 + (m.splitAt % (framed.length - 1));
        chunks = [framed.subarray(0, at), framed.subarray(at)];
      }
      const r = await exchange(s, true, chunks, true, honest ? REPLY_WAIT_MS : 100);
      checkReplies(r.frames);
      tally(r);
      if (honest) {
        assert.ok(r.marked || r.closed, `connection neither answered nor closed (frame: ${framed.toString('hex')})`);
      }
      await invariants();
    }));
  });

  test('the valid frames themselves are answered (the mutations start from working requests)', async () => {
    for (const kind of FRAME_KINDS) {
      const r = await exchange(s, true, [validRequestFrames(424242)[kind]], true, REPLY_WAIT_MS);
      assert.ok(r.marked, `${kind}: no reply`);
      checkReplies(r.frames);
    }
    await backToBaseline();
  });

  test('no connections left behind and the heap has not grown without bound', async () => {
    await backToBaseline();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(grown < 128 * 1024 * 1024, `heap grew by ${grown} bytes over the fuzz runs`);
    await invariants();
  });
});
