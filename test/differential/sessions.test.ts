/** Differential: handshake, timeout negotiation, reconnects, close and expiry (tickTime 200 ms). */
import assert from 'node:assert/strict';
import { CreateFlag, EventType } from '../../src/protocol/constants.ts';
import { differential } from './harness.ts';

/** How long a server may take to close a connection it is due to close: generous, for a busy machine. */
const CLOSE_WAIT_MS = 15_000;
/** How long a due watch event may take to arrive: generous, for a busy machine (it returns once it has). */
const EVENT_WAIT_MS = 15_000;

differential('sessions', { tickTimeMs: 200 }, ({ scenario }) => {
  scenario('timeout negotiation', async (t) => {
    for (const timeoutMs of [1, 100, 399, 400, 1000, 3999, 4000, 4001, 100_000, 0, -5]) {
      const c = await t.connect({ timeoutMs });
      if (c) await t.close(c);
    }
    const low = await t.client({ timeoutMs: 1 });
    assert.equal(low.session.timeoutMs, 400, 'clamped to 2 ticks');
    const high = await t.client({ timeoutMs: 100_000 });
    assert.equal(high.session.timeoutMs, 4000, 'clamped to 20 ticks');
    assert.equal(high.session.passwd.length, 16);
  });

  scenario('reconnect: same session, wrong password, ahead of the server', async (t) => {
    const c = await t.client({ timeoutMs: 4000 });
    await t.op(c, 'tryCreate', t.root, '');
    await t.op(c, 'tryCreate', `${t.root}/e`, '', { flags: CreateFlag.ephemeral });
    const { sessionId, passwd } = c.session;
    const last = (await t.op(c, 'tryExists', t.root)).zxid;
    t.destroy(c);
    const wrong = Buffer.from(passwd);
    wrong[0] ^= 0xff;
    const bad = await t.connect({ sessionId, passwd: wrong, timeoutMs: 4000 }, 'reconnect with a wrong password');
    assert.ok(bad === null || bad.expired, 'refused');
    if (bad) await t.expectClose(bad, CLOSE_WAIT_MS);
    const ahead = await t.connect({ sessionId, passwd, lastZxidSeen: last + 1000, timeoutMs: 4000 }, 'reconnect ahead of the server');
    assert.equal(ahead, null, 'closed without an answer');
    const again = await t.client({ sessionId, passwd, lastZxidSeen: last, timeoutMs: 4000 });
    assert.equal(again.sessionId, sessionId);
    await t.op(again, 'tryExists', `${t.root}/e`);
    await t.op(again, 'tryGetEphemerals', t.root);
    await t.op(again, 'tryCreate', `${t.root}/e2`, '', { flags: CreateFlag.ephemeral });
    await t.close(again);
    const closed = await t.connect({ sessionId, passwd, timeoutMs: 4000 }, 'reconnect to a closed session');
    assert.ok(closed === null || closed.expired);
    if (closed) await t.expectClose(closed, CLOSE_WAIT_MS);
    const fresh = await t.client();
    await t.op(fresh, 'tryGetChildren', t.root);
  });

  scenario('closeSession deletes ephemerals and fires watches', async (t) => {
    const owner = await t.client();
    const w = await t.client();
    const r = t.root;
    await t.op(owner, 'tryCreate', r, '');
    await t.op(owner, 'tryCreate', `${r}/e1`, '', { flags: CreateFlag.ephemeral });
    await t.op(owner, 'tryCreate', `${r}/s-`, '', { flags: CreateFlag.ephemeralSequential });
    await t.op(w, 'tryExists', `${r}/e1`, true);
    await t.op(w, 'tryGetChildren', r, true);
    await t.op(owner, 'tryGetData', `${r}/e1`, true);
    await t.close(owner);
    await t.events(w, 2, EVENT_WAIT_MS);
    assert.ok(w.events().some((e) => e.type === EventType.NodeDeleted));
    await t.op(w, 'tryGetChildren2', r);
  });

  scenario('expiry deletes ephemerals', async (t) => {
    const owner = await t.client({ timeoutMs: 400 });
    const w = await t.client({ timeoutMs: 4000 });
    const r = t.root;
    await t.op(owner, 'tryCreate', r, '');
    await t.op(owner, 'tryCreate', `${r}/e`, '', { flags: CreateFlag.ephemeral });
    await t.op(w, 'tryExists', `${r}/e`, true);
    const { sessionId, passwd } = owner.session;
    t.destroy(owner);
    await t.events(w, 1, EVENT_WAIT_MS);
    assert.equal(w.events()[0]?.type, EventType.NodeDeleted, 'the ephemeral went with the session');
    await t.op(w, 'tryExists', r);
    const late = await t.connect({ sessionId, passwd, timeoutMs: 400 }, 'reconnect to an expired session');
    assert.ok(late === null || late.expired);
    if (late) await t.expectClose(late, CLOSE_WAIT_MS);
  });

  // What becomes of requests pipelined behind a closeSession is a race in ZooKeeper: it may answer
  // a write with SESSIONEXPIRED (using a zxid) or close the connection first. Only the close is compared.
  scenario('requests on a session that is closing', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    const results = await t.pipelined(c, [['tryClose']]);
    t.note('after close', results.length);
    await t.expectClose(c, CLOSE_WAIT_MS);
    const d = await t.client();
    await t.op(d, 'tryExists', `${t.root}/after`);
  });
});
