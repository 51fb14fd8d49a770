/**
 * The core's log against a model of it kept the obvious way (every entry an object in one array),
 * under random sequences of what the core does to it: appends, a follower's appends with conflicts,
 * entries made durable, committed, applied, compacted, a leader's snapshot; and what it hands out
 * (entries to persist, to apply, to send) read at random points.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaftLog } from '../../src/server/quorum/core/raft-log.ts';
import type { Entry } from '../../src/server/quorum/core/types.ts';
import { prng } from '../support/prng.ts';

/** The log as plain entries: entries[i] is at index snapshotIndex + 1 + i. */
class ModelLog {
  entries: Entry[] = [];
  snapshotIndex = 0;
  snapshotTerm = 0;
  stable = 0;
  committed = 0;
  applied = 0;

  get lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  term(index: number): number {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    return this.entries[index - this.snapshotIndex - 1]?.term ?? -1;
  }

  at(index: number): Entry | undefined {
    return index > this.snapshotIndex ? this.entries[index - this.snapshotIndex - 1] : undefined;
  }
}

const show = (e: Entry | undefined): string => (e === undefined ? '-' : `${e.index}/${e.term}:${e.data === null ? (e.conf ? `conf${e.conf.voters.join('')}` : 'noop') : e.data.toString()}`);
const showAll = (es: readonly Entry[]): string => es.map(show).join(' ');

/** Payloads as the leader's are: views of shared chunks of memory. */
class Payloads {
  private chunk = Buffer.alloc(0);
  private used = 0;

  next(text: string): Buffer {
    const bytes = Buffer.from(text);
    if (this.used + bytes.length > this.chunk.length) {
      this.chunk = Buffer.alloc(64);
      this.used = 0;
    }
    bytes.copy(this.chunk, this.used);
    this.used += bytes.length;
    return this.chunk.subarray(this.used - bytes.length, this.used);
  }
}

function run(seed: number, steps: number): void {
  const random = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const log = new RaftLog(undefined, [], 0);
  const model = new ModelLog();
  const payloads = new Payloads();
  const done: string[] = [];
  let term = 1;
  const check = (what: string, actual: unknown, expected: unknown): void => {
    assert.deepEqual(actual, expected, `seed ${seed}, after:\n  ${done.slice(-10).join('\n  ')}\n${what}`);
  };
  for (let step = 0; step < steps; step++) {
    const r = random();
    if (r < 0.25) {
      const conf = random() < 0.05 ? { voters: [1, 2, int(3, 5)], learners: [] } : undefined;
      const data = conf !== undefined || random() < 0.05 ? null : payloads.next(`a${step}`);
      log.append(term, data, conf);
      model.entries.push(conf === undefined ? { term, index: model.lastIndex + 1, data } : { term, index: model.lastIndex + 1, data, conf });
      done.push(`append in term ${term}`);
    } else if (r < 0.4) {
      const to = int(model.stable, model.lastIndex);
      log.stable = Math.max(log.stable, to);
      model.stable = Math.max(model.stable, to);
      done.push(`durable to ${to}`);
    } else if (r < 0.52) {
      const to = int(model.committed, model.lastIndex);
      log.commitTo(to);
      model.committed = Math.max(model.committed, to);
      done.push(`commit to ${to}`);
    } else if (r < 0.64) {
      const from = model.applied + 1;
      const to = Math.min(model.committed, model.stable);
      check('toApply', showAll(log.toApply()), showAll(model.entries.slice(from - model.snapshotIndex - 1, to - model.snapshotIndex)));
      if (to >= from) {
        const upTo = int(from, to);
        log.applied = upTo;
        model.applied = upTo;
        done.push(`applied to ${upTo}`);
      }
    } else if (r < 0.7) {
      const to = int(model.snapshotIndex, model.applied);
      log.compact(to);
      if (to > model.snapshotIndex) {
        model.snapshotTerm = model.term(to);
        model.entries = model.entries.slice(to - model.snapshotIndex);
        model.snapshotIndex = to;
      }
      done.push(`compact to ${to}`);
    } else if (r < 0.88) {
      // A leader's append: after an entry this log may or may not hold, in this term or a new one.
      if (random() < 0.3) term++;
      const after = int(model.committed, model.lastIndex + 1);
      const logTerm = random() < 0.8 && model.term(after) >= 0 ? model.term(after) : int(0, term);
      const entries: Entry[] = [];
      for (let i = 1, n = int(0, 4); i <= n; i++) entries.push({ term, index: after + i, data: payloads.next(`m${step}.${i}`) });
      const result = log.maybeAppend(after, logTerm, entries);
      let expected: number | null = null;
      if (model.term(after) === logTerm) {
        for (const e of entries) {
          if (e.index <= model.snapshotIndex) continue;
          if (model.term(e.index) === e.term) continue;
          // From the first entry it lacks or that conflicts, the leader's entries replace its tail.
          model.entries.length = e.index - 1 - model.snapshotIndex;
          if (model.stable > e.index - 1) model.stable = e.index - 1;
          model.entries.push(e);
        }
        expected = after + entries.length;
      }
      check('maybeAppend', result, expected);
      done.push(`maybeAppend after ${after} (term ${logTerm}) of ${entries.length} in term ${term}: ${result}`);
    } else if (r < 0.89) {
      const index = model.lastIndex + int(0, 3);
      log.restore({ index, term, conf: { voters: [1, 2, 3], learners: [] }, data: Buffer.alloc(0) });
      model.entries = [];
      model.snapshotIndex = model.stable = model.committed = model.applied = index;
      model.snapshotTerm = term;
      done.push(`restore a snapshot at ${index}`);
    } else {
      const from = int(model.snapshotIndex + 1, model.lastIndex + 1);
      const to = int(from, model.lastIndex + 1);
      check(`slice(${from}, ${to})`, showAll(log.slice(from, to)), showAll(model.entries.slice(from - model.snapshotIndex - 1, to - model.snapshotIndex - 1)));
      const at = int(0, model.lastIndex + 2);
      check(`term(${at})`, log.term(at), at < model.snapshotIndex ? -1 : model.term(at));
      check(`entry(${at})`, show(log.entry(at)), show(model.at(at)));
      const hintAt = int(model.snapshotIndex, model.lastIndex + 1);
      const hintTerm = int(0, term);
      let hint = Math.min(hintAt, model.lastIndex);
      while (hint > model.snapshotIndex && model.term(hint) > hintTerm) hint--;
      check(`conflictHint(${hintAt}, ${hintTerm})`, log.conflictHint(hintAt, hintTerm), hint);
    }
    check('state', {
      first: log.firstIndex, last: log.lastIndex, lastTerm: log.lastTerm, snapshot: [log.snapshotIndex, log.snapshotTerm],
      stable: log.stable, committed: log.committed, applied: log.applied, unstable: showAll(log.unstable()),
    }, {
      first: model.snapshotIndex + 1, last: model.lastIndex, lastTerm: model.term(model.lastIndex), snapshot: [model.snapshotIndex, model.snapshotTerm],
      stable: model.stable, committed: model.committed, applied: model.applied,
      unstable: showAll(model.stable >= model.lastIndex ? [] : model.entries.slice(Math.max(model.stable, model.snapshotIndex) - model.snapshotIndex)),
    });
  }
  // Everything held, old and new, reads back as it went in.
  check('the whole log', showAll(log.slice(log.firstIndex, log.lastIndex + 1)), showAll(model.entries));
}

describe('the consensus log', () => {
  it('matches a plain model of it over 300 random runs', () => {
    const base = Number(process.env.RAFT_LOG_SEED ?? 1);
    for (let seed = base; seed < base + 300; seed++) run(seed, 400);
  });

  it('starts from a restarted member\'s durable entries, applied up to the commit index', () => {
    const persisted: Entry[] = [1, 2, 3, 4, 5].map((index) => ({ term: index < 4 ? 1 : 2, index, data: Buffer.from(`p${index}`) }));
    const log = new RaftLog({ index: 0, term: 0, conf: { voters: [1], learners: [] }, data: Buffer.alloc(0) }, persisted, 3);
    assert.deepEqual([log.stable, log.committed, log.applied, log.lastIndex], [5, 3, 3, 5]);
    assert.equal(showAll(log.slice(1, 6)), '1/1:p1 2/1:p2 3/1:p3 4/2:p4 5/2:p5');
    assert.equal(showAll(log.toApply()), '');
    log.commitTo(5);
    assert.equal(showAll(log.toApply()), '4/2:p4 5/2:p5');
  });
});
