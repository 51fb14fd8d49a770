/**
 * A linearizability checker for histories of a key-value store, as the simulator records them.
 *
 * A history is a list of `Op`s in any order. Each op has the time its client invoked it and an
 * `outcome`: either the time the reply arrived with what it said, or `'unknown'` when the client
 * never learnt (a timeout, a lost connection). Times are numbers in one clock (virtual ms).
 * `client` is only a label for explanations; ops are named there by their index in the history.
 *
 *   get / sync-get(key)           outcome.value: the value read, null when the key was absent
 *   put(key, value)               sets the value
 *   delete(key)                   makes the key absent
 *   cas(key, expected, value)     outcome.swapped: whether the value was expected (null: absent)
 *                                 and so was replaced by `value`
 *   update(key, apply)            any write: `apply` maps the value before to the value after and
 *                                 what the op answers there (outcome.result); an answer that is not
 *                                 a success leaves the value as it was
 *
 * Every key starts absent. The history is linearizable when the ops with a known outcome, plus any
 * subset of those with an unknown one, can be put in one order that a plain map would produce
 * the same results in, and that keeps an op before every op invoked after it returned. An op
 * with an unknown outcome may take effect at any time after its invocation, or never; a read with
 * an unknown outcome tells nothing and is ignored. A write's `unknownByMs`, when the caller knows
 * it, bounds that: it took effect by then or never (a session's lost write, once a later write of
 * the same session was answered). Two ops are ordered only when one returned
 * strictly before the other was invoked: equal times count as overlapping.
 *
 * The search is Wing & Gong's with Lowe's memoization, as Porcupine does it: keep the ops not yet
 * placed in a list of call and return events sorted by time; repeatedly place an op whose call
 * comes before the first pending return, if the model accepts it, and backtrack at that return
 * otherwise; never revisit a (set of placed ops, value) pair. An op with an unknown outcome is not
 * placed where it would leave the value as it is (a failed create, a delete of an absent key). The history is split by key first,
 * since a map is linearizable iff each key is (P-compositionality), so each search is small.
 *
 * Limits: the search is exponential in the worst case (many overlapping ops on one key); past
 * `maxSteps` steps on one key (default a million, about half a second) it gives up on that key,
 * goes on with the others, and reports `unknown` if none failed. Memory grows with the steps taken:
 * one memo entry per placed op, each a bitset of that key's ops. A failure reports the first key
 * found not linearizable, in the order keys first appear in the history.
 */

export type Op = {
  client?: string | number;
  invokedAtMs: number;
  /** For a write with an unknown outcome: if it took effect at all, it did by this time. */
  unknownByMs?: number;
} & (
  | { kind: 'get' | 'sync-get'; key: string; outcome: { returnedAtMs: number; value: string | null } | 'unknown' }
  | { kind: 'put'; key: string; value: string; outcome: { returnedAtMs: number } | 'unknown' }
  | { kind: 'delete'; key: string; outcome: { returnedAtMs: number } | 'unknown' }
  | {
      kind: 'update';
      key: string;
      /** How explanations show the call. */
      label: string;
      apply: (value: string | null) => { value: string | null; result: string };
      outcome: { returnedAtMs: number; result: string } | 'unknown';
    }
  | {
      kind: 'cas';
      key: string;
      expected: string | null;
      value: string;
      outcome: { returnedAtMs: number; swapped: boolean } | 'unknown';
    }
);

export type CheckResult = { ok: true } | { ok: false; key: string; explanation: string } | { ok: 'unknown'; key: string };

export interface CheckOptions {
  /** Search steps allowed per key before giving up with `unknown`. */
  maxSteps?: number;
}

const MAX_STEPS_DEFAULT = 1_000_000;
/** How many of the placed ops a failure's explanation lists (the latest ones). */
const EXPLANATION_PREFIX_OPS_MAX = 20;

/** The key's value: null when absent. */
type Value = string | null;

/** An op with its position in the caller's history, for explanations. */
interface Indexed {
  index: number;
  op: Op;
}

export function checkLinearizable(history: Op[], options: CheckOptions = {}): CheckResult {
  const maxSteps = options.maxSteps ?? MAX_STEPS_DEFAULT;
  let undecidedKey: string | null = null;
  for (const [key, ops] of opsByKey(history)) {
    const result = checkKey(ops, maxSteps);
    if (result === 'unknown') undecidedKey ??= key;
    else if (result !== 'ok') return { ok: false, key, explanation: explain(key, ops, result) };
  }
  return undecidedKey === null ? { ok: true } : { ok: 'unknown', key: undecidedKey };
}

/** Each key's ops, in the order keys first appear; reads with an unknown outcome are left out. */
function opsByKey(history: Op[]): Map<string, Indexed[]> {
  const byKey = new Map<string, Indexed[]>();
  history.forEach((op, index) => {
    assertTimes(op, index);
    if (isRead(op) && op.outcome === 'unknown') return;
    let ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, (ops = []));
    ops.push({ index, op });
  });
  return byKey;
}

function assertTimes(op: Op, index: number): void {
  const returned = returnedAtMs(op);
  if (!Number.isFinite(op.invokedAtMs) || Number.isNaN(returned) || returned < op.invokedAtMs) {
    throw new Error(`op #${index} has invalid times: ${describe({ index, op })}`);
  }
}

function isRead(op: Op): boolean {
  return op.kind === 'get' || op.kind === 'sync-get';
}

function returnedAtMs(op: Op): number {
  return op.outcome === 'unknown' ? (op.unknownByMs ?? Infinity) : op.outcome.returnedAtMs;
}

/**
 * The model: the value after `op` takes effect on `value`, or undefined when `op` could not have
 * returned what it did there. An unknown-outcome cas whose expected value does not match changes
 * nothing, which is the same as not happening.
 */
function step(value: Value, op: Op): Value | undefined {
  switch (op.kind) {
    case 'get':
    case 'sync-get':
      return op.outcome !== 'unknown' && op.outcome.value === value ? value : undefined;
    case 'put':
      return op.value;
    case 'delete':
      return null;
    case 'cas': {
      const matches = value === op.expected;
      if (op.outcome !== 'unknown' && op.outcome.swapped !== matches) return undefined;
      return matches ? op.value : value;
    }
    case 'update': {
      const after = op.apply(value);
      return op.outcome !== 'unknown' && op.outcome.result !== after.result ? undefined : after.value;
    }
  }
}

/** A call or return event in a doubly linked list with a sentinel head; ops are lifted out once placed. */
interface Event {
  /** The op's position in its key's list. */
  op: number;
  timeMs: number;
  /** For a call, its return event; null for a return. */
  returnEvent: Event | null;
  prev: Event | null;
  next: Event | null;
}

/** The list's head, and each op's call event. */
function eventList(ops: Indexed[]): { head: Event; calls: Event[] } {
  const events: Event[] = [];
  const calls: Event[] = [];
  ops.forEach(({ op }, i) => {
    const ret: Event = { op: i, timeMs: returnedAtMs(op), returnEvent: null, prev: null, next: null };
    calls.push({ op: i, timeMs: op.invokedAtMs, returnEvent: ret, prev: null, next: null });
    events.push(calls[i], ret);
  });
  // At equal times calls come first, so the ops overlap (the lenient reading).
  events.sort((a, b) => a.timeMs - b.timeMs || Number(a.returnEvent === null) - Number(b.returnEvent === null));
  const head: Event = { op: -1, timeMs: -Infinity, returnEvent: null, prev: null, next: null };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return { head, calls };
}

/** Takes a placed op's call and return out of the list. */
function lift(call: Event): void {
  const ret = call.returnEvent!;
  call.prev!.next = call.next;
  call.next!.prev = call.prev;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Undoes `lift`: the removed events still point at their old neighbours. */
function unlift(call: Event): void {
  const ret = call.returnEvent!;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}

class Bitset {
  private readonly words: Uint16Array;
  constructor(size: number) {
    this.words = new Uint16Array(Math.ceil(size / 16));
  }
  set(i: number): void {
    this.words[i >>> 4] |= 1 << (i & 15);
  }
  clear(i: number): void {
    this.words[i >>> 4] &= ~(1 << (i & 15));
  }
  /** A string that identifies the set among sets of the same size. */
  key(): string {
    return String.fromCharCode(...this.words);
  }
}

/**
 * One order of ops (positions in the key's list) that places the most ops with a known outcome,
 * as first found: it ends with a known op, and no known op that could come next fits.
 */
type LongestPrefix = number[];

function checkKey(ops: Indexed[], maxSteps: number): 'ok' | 'unknown' | LongestPrefix {
  const { head, calls } = eventList(ops);
  const placed = new Bitset(ops.length);
  const seen = new Set<string>();
  /** Placed ops, the dropped ones (unknown, time up, never happened) marked. */
  const stack: { call: Event; valueBefore: Value; dropped: boolean }[] = [];
  let knownPlaced = 0;
  let longest: LongestPrefix = [];
  let longestKnown = 0;
  let value: Value = null;
  let event = head.next;
  for (let steps = 0; event !== null; steps++) {
    if (steps >= maxSteps) return 'unknown';
    if (event.returnEvent !== null) {
      const op = ops[event.op].op;
      const next = step(value, op);
      // An op with an unknown outcome that would change nothing here is as good as never
      // happening; left unplaced it may still take effect later, so placing it is never needed.
      if (next !== undefined && (isKnown(op) || next !== value)) {
        placed.set(event.op);
        const memo = `${placed.key()}${next === null ? '\u0000' : `=${next}`}`;
        if (!seen.has(memo)) {
          seen.add(memo);
          stack.push({ call: event, valueBefore: value, dropped: false });
          if (isKnown(ops[event.op].op) && ++knownPlaced > longestKnown) {
            longestKnown = knownPlaced;
            longest = stack.filter((s) => !s.dropped).map((s) => s.call.op);
          }
          value = next;
          lift(event);
          event = head.next;
          continue;
        }
        placed.clear(event.op);
      }
      event = event.next;
    } else {
      // Returns at +infinity are of unknown-outcome ops: every known op is placed, and the
      // rest need never have happened.
      if (event.timeMs === Infinity) return 'ok';
      if (!isKnown(ops[event.op].op)) {
        // Its time is up and it did not happen: placed as changing nothing (the memo keeps the
        // search from doing that twice in one state; backtracking undoes it as any placement).
        const call = calls[event.op];
        placed.set(event.op);
        const memo = `${placed.key()}${value === null ? '\u0000' : `=${value}`}`;
        if (!seen.has(memo)) {
          seen.add(memo);
          stack.push({ call, valueBefore: value, dropped: true });
          lift(call);
          event = head.next;
          continue;
        }
        placed.clear(event.op);
      }
      const top = stack.pop();
      if (top === undefined) return longest;
      if (isKnown(ops[top.call.op].op)) knownPlaced--;
      placed.clear(top.call.op);
      unlift(top.call);
      value = top.valueBefore;
      event = top.call.next;
    }
  }
  return 'ok';
}

function isKnown(op: Op): boolean {
  return op.outcome !== 'unknown';
}

/**
 * Why `key`'s ops are not linearizable: the longest order found, the value it leaves, and the
 * known ops that could come next (invoked before the earliest pending return), none of which the
 * model accepts there. When the search first placed that many known ops, any known op the model
 * accepted next would have made the order longer, so each of these was refused by the model
 * itself, not by the memo.
 */
function explain(key: string, ops: Indexed[], longest: LongestPrefix): string {
  let value: Value = null;
  for (const i of longest) {
    // null is a value here (absent), not a refusal.
    const next = step(value, ops[i].op);
    if (next !== undefined) value = next;
  }
  const placed = new Set(longest);
  const pending = ops.map((_, i) => i).filter((i) => !placed.has(i));
  const deadlineMs = pending.filter((i) => isKnown(ops[i].op)).reduce((min, i) => Math.min(min, returnedAtMs(ops[i].op)), Infinity);
  const candidates = pending.filter((i) => ops[i].op.invokedAtMs <= deadlineMs);
  const refused = candidates.filter((i) => isKnown(ops[i].op));
  const unknown = candidates.filter((i) => !isKnown(ops[i].op));
  const due = refused.find((i) => returnedAtMs(ops[i].op) === deadlineMs)!;
  const knownCount = ops.filter(({ op }) => isKnown(op)).length;
  const knownPlaced = longest.filter((i) => isKnown(ops[i].op)).length;
  const shown = longest.slice(-EXPLANATION_PREFIX_OPS_MAX);
  return [
    `key ${JSON.stringify(key)}: at most ${knownPlaced} of its ${knownCount} ops with a known outcome can be linearized.`,
    `One longest linearizable order${shown.length < longest.length ? ` (its last ${shown.length} ops)` : ''}:`,
    ...(longest.length === 0 ? ['  (none)'] : shown.map((i) => `  ${describe(ops[i])}`)),
    `leaves the value ${JSON.stringify(value)}, and none of these can follow it:`,
    ...refused.map((i) => `  ${describe(ops[i])}`),
    `yet ${describe(ops[due])} must have taken effect by ${deadlineMs} ms.`,
    ...(unknown.length === 0
      ? []
      : ['These ops with an unknown outcome could come next, but no order after them does better:',
         ...unknown.map((i) => `  ${describe(ops[i])}`)]),
  ].join('\n');
}

function describe({ index, op }: Indexed): string {
  const client = op.client === undefined ? '' : ` client ${op.client}`;
  const returned = op.outcome === 'unknown' ? '?' : op.outcome.returnedAtMs;
  return `#${index}${client} [${op.invokedAtMs}, ${returned}] ${describeCall(op)}`;
}

function describeCall(op: Op): string {
  const key = JSON.stringify(op.key);
  const unknown = op.outcome === 'unknown';
  switch (op.kind) {
    case 'get':
    case 'sync-get':
      return `${op.kind}(${key}) -> ${op.outcome === 'unknown' ? '?' : JSON.stringify(op.outcome.value)}`;
    case 'put':
      return `put(${key}, ${JSON.stringify(op.value)})${unknown ? ' -> ?' : ''}`;
    case 'delete':
      return `delete(${key})${unknown ? ' -> ?' : ''}`;
    case 'cas': {
      const result = op.outcome === 'unknown' ? '?' : String(op.outcome.swapped);
      return `cas(${key}, ${JSON.stringify(op.expected)}, ${JSON.stringify(op.value)}) -> ${result}`;
    }
    case 'update':
      return `${op.label} -> ${op.outcome === 'unknown' ? '?' : op.outcome.result}`;
  }
}
