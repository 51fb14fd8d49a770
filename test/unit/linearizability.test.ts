import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLinearizable, type Op } from '../support/linearizability.ts';
import { prng } from '../support/prng.ts';

// Histories read as [invoked, returned] intervals in ms; '?' marks an outcome the client never learnt.
type Returned = number | '?';

function get(key: string, value: string | null, invokedAtMs: number, returned: Returned): Op {
  return { kind: 'get', key, invokedAtMs, outcome: returned === '?' ? 'unknown' : { returnedAtMs: returned, value } };
}
function put(key: string, value: string, invokedAtMs: number, returned: Returned): Op {
  return { kind: 'put', key, value, invokedAtMs, outcome: returned === '?' ? 'unknown' : { returnedAtMs: returned } };
}
function del(key: string, invokedAtMs: number, returned: Returned): Op {
  return { kind: 'delete', key, invokedAtMs, outcome: returned === '?' ? 'unknown' : { returnedAtMs: returned } };
}
function cas(key: string, expected: string | null, value: string, swapped: boolean, invokedAtMs: number, returned: Returned): Op {
  const outcome = returned === '?' ? 'unknown' : { returnedAtMs: returned, swapped };
  return { kind: 'cas', key, expected, value, invokedAtMs, outcome };
}

function assertLinearizable(history: Op[]): void {
  const result = checkLinearizable(history);
  assert.deepEqual(result, { ok: true });
}

function assertNotLinearizable(history: Op[], key: string): string {
  const result = checkLinearizable(history);
  assert.equal(result.ok, false, `expected a violation, got ${JSON.stringify(result)}`);
  assert.ok(result.ok === false);
  assert.equal(result.key, key);
  return result.explanation;
}

test('an empty history, and reads of a key never written, are linearizable', () => {
  assertLinearizable([]);
  assertLinearizable([get('x', null, 0, 5), get('y', null, 1, 2)]);
  assertNotLinearizable([get('x', 'a', 0, 5)], 'x');
});

test('a read after a completed write must see it: a stale read is not linearizable', () => {
  assertLinearizable([put('x', 'a', 0, 10), get('x', 'a', 20, 30)]);
  const explanation = assertNotLinearizable([put('x', 'a', 0, 10), put('x', 'b', 20, 30), get('x', 'a', 40, 50)], 'x');
  // The explanation names the placed writes and the read that cannot follow them.
  assert.match(explanation, /#1 \[20, 30\] put\("x", "b"\)/);
  assert.match(explanation, /leaves the value "b"/);
  assert.match(explanation, /#2 \[40, 50\] get\("x"\) -> "a"/);
});

test('a read concurrent with a write may see the old value or the new', () => {
  for (const seen of ['a', 'b']) {
    assertLinearizable([put('x', 'a', 0, 10), put('x', 'b', 20, 40), get('x', seen, 25, 35)]);
  }
  assertNotLinearizable([put('x', 'a', 0, 10), put('x', 'b', 20, 40), get('x', 'c', 25, 35)], 'x');
});

test('ops that touch at one instant count as overlapping', () => {
  assertLinearizable([put('x', 'a', 0, 10), get('x', null, 10, 20)]);
  assertNotLinearizable([put('x', 'a', 0, 10), get('x', null, 11, 20)], 'x');
});

test('two readers must not see two concurrent writes in opposite orders', () => {
  const writes = [put('x', 'a', 0, 100), put('x', 'b', 0, 100)];
  // Each reader alone is fine: it sees a then b, or b then a.
  assertLinearizable([...writes, get('x', 'a', 10, 20), get('x', 'b', 30, 40)]);
  assertLinearizable([...writes, get('x', 'b', 10, 20), get('x', 'a', 30, 40)]);
  assertNotLinearizable(
    [...writes, get('x', 'a', 10, 20), get('x', 'b', 30, 40), get('x', 'b', 10, 20), get('x', 'a', 30, 40)],
    'x',
  );
});

test('cas succeeds only on the expected value, and fails only on another', () => {
  assertLinearizable([put('x', 'a', 0, 10), cas('x', 'a', 'b', true, 20, 30), get('x', 'b', 40, 50)]);
  assertLinearizable([put('x', 'a', 0, 10), cas('x', 'z', 'b', false, 20, 30), get('x', 'a', 40, 50)]);
  assertLinearizable([cas('x', null, 'a', true, 0, 10), cas('x', null, 'b', false, 20, 30), get('x', 'a', 40, 50)]);
  assertNotLinearizable([put('x', 'a', 0, 10), cas('x', 'z', 'b', true, 20, 30)], 'x');
  assertNotLinearizable([put('x', 'a', 0, 10), cas('x', 'a', 'b', false, 20, 30)], 'x');
  assertNotLinearizable([put('x', 'a', 0, 10), cas('x', 'z', 'b', false, 20, 30), get('x', 'b', 40, 50)], 'x');
  // Two concurrent creates: only one may win.
  assertLinearizable([cas('x', null, 'a', true, 0, 10), cas('x', null, 'b', false, 0, 10)]);
  assertNotLinearizable([cas('x', null, 'a', true, 0, 10), cas('x', null, 'b', true, 0, 10)], 'x');
});

test('a write with an unknown outcome may take effect any time after its invocation, or never', () => {
  assertLinearizable([put('x', 'a', 0, '?'), get('x', null, 10, 20), get('x', 'a', 500, 510)]);
  assertLinearizable([put('x', 'a', 0, '?'), get('x', null, 10, 20)]);
  assertNotLinearizable([get('x', 'a', 0, 10), put('x', 'a', 20, '?')], 'x');
  // Once seen, it has happened, and it cannot happen again later.
  assertNotLinearizable(
    [put('x', 'a', 0, '?'), get('x', 'a', 10, 20), put('x', 'b', 30, 40), get('x', 'a', 50, 60)],
    'x',
  );
  // An unknown cas takes effect only if its expected value is there when it does.
  assertLinearizable([put('x', 'a', 0, 10), cas('x', 'a', 'b', false, 20, '?'), get('x', 'b', 30, 40)]);
  assertNotLinearizable([put('x', 'a', 0, 10), cas('x', 'z', 'b', false, 20, '?'), get('x', 'b', 30, 40)], 'x');
});

test('a read with an unknown outcome tells nothing', () => {
  assertLinearizable([put('x', 'a', 0, 10), get('x', 'never-written', 20, '?')]);
});

test('delete makes a key absent', () => {
  assertLinearizable([put('x', 'a', 0, 10), del('x', 20, 30), get('x', null, 40, 50)]);
  assertNotLinearizable([put('x', 'a', 0, 10), del('x', 20, 30), get('x', 'a', 40, 50)], 'x');
  assertLinearizable([put('x', 'a', 0, 10), del('x', 20, 30), cas('x', null, 'b', true, 40, 50)]);
});

test('sync-get is checked as a get', () => {
  const stale: Op = { kind: 'sync-get', key: 'x', invokedAtMs: 20, outcome: { returnedAtMs: 30, value: null } };
  assertNotLinearizable([put('x', 'a', 0, 10), stale], 'x');
});

test('keys are checked independently, and a failure names its key', () => {
  // Interleaved in time across keys; only y is wrong.
  const history = [
    put('x', 'a', 0, 10),
    put('y', 'a', 5, 15),
    put('z', 'a', 7, 17),
    get('x', 'a', 20, 30),
    put('y', 'b', 20, 30),
    get('z', 'a', 22, 24),
    get('y', 'a', 40, 50),
    get('x', 'a', 40, 50),
  ];
  assertNotLinearizable(history, 'y');
  assertLinearizable(history.filter((op) => op.key !== 'y'));
  // A read on another key does not order ops on this one.
  assertLinearizable([put('x', 'a', 0, 10), put('y', 'b', 20, 30), get('x', 'a', 40, 50)]);
});

test('the client label appears in explanations', () => {
  const history: Op[] = [
    { client: 'c1', ...put('x', 'a', 0, 10) },
    { client: 'c2', ...get('x', null, 20, 30) },
  ];
  assert.match(assertNotLinearizable(history, 'x'), /#1 client c2 \[20, 30\] get\("x"\) -> null/);
});

test('an invalid interval is an error in the caller', () => {
  assert.throws(() => checkLinearizable([put('x', 'a', 10, 5)]), /#0 has invalid times/);
  assert.throws(() => checkLinearizable([put('x', 'a', NaN, 5)]), /invalid times/);
});

test('past the step budget the answer is unknown, not a hang', () => {
  // Twenty concurrent writes and a read no order explains: the search must try many orders.
  const history = Array.from({ length: 20 }, (_, i) => put('x', `v${i}`, 0, 100));
  history.push(get('x', 'never-written', 0, 100));
  assert.deepEqual(checkLinearizable(history, { maxSteps: 1000 }), { ok: 'unknown', key: 'x' });
  // A key the budget cannot decide does not hide a violation on another.
  const withStaleRead = [...history, put('y', 'a', 0, 10), get('y', null, 20, 30)];
  assert.equal(checkLinearizable(withStaleRead, { maxSteps: 1000 }).ok, false);
  // Fewer concurrent writes are decided with the default budget.
  assert.equal(checkLinearizable([...history.slice(0, 8), history[20]]).ok, false);
});

/**
 * A history from a sequential map: each client runs ops one after another, each op takes effect
 * at one instant inside its interval, and some outcomes are lost (the op took effect or not).
 */
function generateHistory(seed: number, opsCount: number, keysCount: number, clientsCount: number): Op[] {
  const random = prng(seed);
  const below = (n: number): number => Math.floor(random() * n);
  const clientFreeAtMs = Array.from({ length: clientsCount }, () => 0);
  const planned: { op: Op; effectAtMs: number; happens: boolean }[] = [];
  for (let i = 0; i < opsCount; i++) {
    const client = below(clientsCount);
    const invokedAtMs = clientFreeAtMs[client] + below(5);
    const returnedAtMs = invokedAtMs + 1 + below(20);
    clientFreeAtMs[client] = returnedAtMs;
    const lost = random() < 0.05;
    const op = randomOp(below, `k${below(keysCount)}`, `v${i}`, i, invokedAtMs, lost ? '?' : returnedAtMs);
    op.client = client;
    // A lost op may take effect long after the client gave up on it, or never.
    const effectAtMs = invokedAtMs + random() * (lost ? 200 : returnedAtMs - invokedAtMs);
    planned.push({ op, effectAtMs, happens: !lost || random() < 0.5 });
  }
  // Apply in effect order, filling in what each op returned.
  const store = new Map<string, string>();
  for (const { op, happens } of [...planned].sort((a, b) => a.effectAtMs - b.effectAtMs)) {
    if (!happens) continue;
    const current = store.get(op.key) ?? null;
    if (op.kind === 'get' && op.outcome !== 'unknown') op.outcome.value = current;
    if (op.kind === 'put') store.set(op.key, op.value);
    if (op.kind === 'delete') store.delete(op.key);
    if (op.kind === 'cas' && current === op.expected) store.set(op.key, op.value);
    if (op.kind === 'cas' && op.outcome !== 'unknown') op.outcome.swapped = current === op.expected;
  }
  return planned.map((p) => p.op);
}

/** An op with placeholder results; a cas expects an absent key or a value that may have been written. */
function randomOp(below: (n: number) => number, key: string, value: string, opsSoFar: number, invokedAtMs: number, returned: Returned): Op {
  switch (below(4)) {
    case 0:
      return get(key, null, invokedAtMs, returned);
    case 1:
      return put(key, value, invokedAtMs, returned);
    case 2:
      return del(key, invokedAtMs, returned);
    default:
      return cas(key, below(3) === 0 ? null : `v${below(opsSoFar + 1)}`, value, false, invokedAtMs, returned);
  }
}

test('histories from a sequential map are linearizable; one corrupted read is caught', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const history = generateHistory(seed, 80, 2, 6);
    const clean = checkLinearizable(history);
    assert.deepEqual(clean, { ok: true }, `seed ${seed}: ${JSON.stringify(clean)}`);

    const random = prng(seed ^ 0x5eed);
    const reads = history.filter((op) => op.kind === 'get' && op.outcome !== 'unknown');
    assert.ok(reads.length > 0, `seed ${seed}: no read to corrupt`);
    const victim = reads[Math.floor(random() * reads.length)];
    const corrupted = history.map((op) =>
      op === victim && op.kind === 'get' && op.outcome !== 'unknown'
        ? { ...op, outcome: { ...op.outcome, value: 'never-written' } }
        : op,
    );
    const caught = checkLinearizable(corrupted);
    assert.equal(caught.ok, false, `seed ${seed}: corrupted read not caught: ${JSON.stringify(caught)}`);
    assert.ok(caught.ok === false);
    assert.equal(caught.key, victim.key, `seed ${seed}`);
    assert.match(caught.explanation, /"never-written"/, `seed ${seed}`);
  }
});

test('a 2,000-op history over 10 keys checks quickly (a hang guard)', () => {
  const history = generateHistory(42, 2000, 10, 8);
  const startedMs = performance.now();
  assert.deepEqual(checkLinearizable(history), { ok: true });
  const tookMs = performance.now() - startedMs;
  assert.ok(tookMs < 20_000, `took ${tookMs.toFixed(0)} ms`);
});

test('an update op: its answer must be the one its function gives on the value it is placed after', () => {
  // A versioned setData: answers the new version, fails on an absent key.
  const setData = (data: string, invokedAtMs: number, returned: Returned, result: string): Op => ({
    kind: 'update', key: 'x', label: `setData(${data})`, invokedAtMs,
    apply: (v) => (v === null ? { value: v, result: 'NONODE' } : { value: `${Number(v.split(':')[0]) + 1}:${data}`, result: `ok:${Number(v.split(':')[0]) + 1}` }),
    outcome: returned === '?' ? 'unknown' : { returnedAtMs: returned, result },
  });
  assertLinearizable([put('x', '0:a', 0, 1), setData('b', 2, 3, 'ok:1'), get('x', '1:b', 4, 5)]);
  assertLinearizable([setData('b', 0, 1, 'NONODE'), get('x', null, 2, 3)]);
  // Two setData both answered version 1: one of them must have seen version 1 already.
  const explanation = assertNotLinearizable([put('x', '0:a', 0, 1), setData('b', 2, 3, 'ok:1'), setData('c', 4, 5, 'ok:1')], 'x');
  assert.match(explanation, /setData\(c\) -> ok:1/);
  // One whose answer was lost may have happened, or not.
  assertLinearizable([put('x', '0:a', 0, 1), setData('b', 2, '?', '?'), get('x', '1:b', 4, 5)]);
  assertLinearizable([put('x', '0:a', 0, 1), setData('b', 2, '?', '?'), get('x', '0:a', 4, 5)]);
});

test('a write with an unknown outcome bounded by unknownByMs took effect by then, or never', () => {
  const bounded = (op: Op, byMs: number): Op => ({ ...op, unknownByMs: byMs });
  // Lost, then bounded at 5: a read at [6, 7] sees it or not, but one at [8, 9] cannot see it appear after.
  assertLinearizable([put('x', 'a', 0, 1), bounded(put('x', 'b', 2, '?'), 5), get('x', 'b', 6, 7)]);
  assertLinearizable([put('x', 'a', 0, 1), bounded(put('x', 'b', 2, '?'), 5), get('x', 'a', 6, 7)]);
  assertNotLinearizable([put('x', 'a', 0, 1), bounded(put('x', 'b', 2, '?'), 5), get('x', 'a', 6, 7), get('x', 'b', 8, 9)], 'x');
  // Unbounded, it may take effect late.
  assertLinearizable([put('x', 'a', 0, 1), put('x', 'b', 2, '?'), get('x', 'a', 6, 7), get('x', 'b', 8, 9)]);
  // Bounded lost writes never seen: the search drops them as their time comes.
  const history: Op[] = [put('x', 'a', 0, 1)];
  for (let i = 0; i < 10; i++) history.push(bounded(put('x', `lost${i}`, 2 + i, '?'), 200), get('x', 'a', 2 + i, 3 + i));
  history.push(get('x', 'a', 300, 301));
  assertLinearizable(history);
  assertNotLinearizable([...history, get('x', 'lost3', 302, 303)], 'x');
});

test('a failure names the value its longest order leaves, absent included', () => {
  const explanation = assertNotLinearizable([put('x', 'a', 0, 1), del('x', 2, 3), get('x', 'a', 4, 5)], 'x');
  assert.match(explanation, /leaves the value null/);
});
