/**
 * The write gate: large writes take their turn in the commit stage one budget at a time, a small
 * write of another session goes at once, and a session's writes keep their order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WriteGate, type HeldWrite } from '../../src/server/pipeline/write-gate.ts';

const LARGE = 100;
const write = (sessionId: bigint, cxid: number, bytes: number): HeldWrite => ({ sessionId, cxid, type: 5, body: Buffer.alloc(bytes) });

describe('write gate', () => {
  it('holds large writes while one is in flight, lets small ones of other sessions pass, keeps each session in order', () => {
    const gate = new WriteGate({ largeBytes: LARGE, budgetBytes: 250 });
    let zxid = 0;
    const log: string[] = [];
    const propose = (w: HeldWrite): number => {
      log.push(`${w.sessionId}:${w.cxid}`);
      gate.proposed(++zxid, w.body.length);
      return zxid;
    };
    const submit = (w: HeldWrite): void => {
      if (gate.admits(w.sessionId, w.body.length)) propose(w);
      else gate.hold(w);
    };
    // Session 1: three large writes of 200 bytes and a small one; two do not fit the budget together.
    submit(write(1n, 1, 200));
    submit(write(1n, 2, 200));
    submit(write(1n, 3, 10));
    submit(write(1n, 4, 200));
    // Session 2: a small write passes at once; a large one waits its turn.
    submit(write(2n, 1, 10));
    submit(write(2n, 2, 200));
    assert.deepEqual(log, ['1:1', '2:1']);
    assert.equal(gate.held, 4);
    // Committing the first large write lets the next one in (its session's small write follows it).
    for (const w of gate.committed(1)) propose(w);
    assert.deepEqual(log, ['1:1', '2:1', '1:2', '1:3']);
    // A small write committing frees nothing.
    for (const w of gate.committed(2)) propose(w);
    assert.equal(log.length, 4);
    for (const w of gate.committed(3)) propose(w);
    assert.deepEqual(log.slice(4), ['1:4']);
    for (const w of gate.committed(5)) propose(w);
    assert.deepEqual(log.slice(5), ['2:2']);
    assert.equal(gate.held, 0);
    // With nothing held and nothing in flight, a session writes straight through again.
    for (const w of gate.committed(6)) propose(w);
    assert.ok(gate.admits(1n, 200));
  });

  it('lets a write larger than the budget through alone', () => {
    const gate = new WriteGate({ largeBytes: LARGE, budgetBytes: 250 });
    assert.ok(gate.admits(1n, 1000));
    gate.proposed(1, 1000);
    assert.ok(!gate.admits(2n, 1000));
    assert.ok(gate.admits(2n, 10));
    assert.deepEqual([...gate.committed(1)], []);
    assert.ok(gate.admits(2n, 1000));
  });
});
