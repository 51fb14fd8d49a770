/**
 * A key-value workload for the cluster simulation: clients issue put/get/delete/cas on a few keys.
 * A write is proposed at a leader, its payload carrying the op's id, and answered when the member
 * that proposed it applies it. A read asks ReadIndex at any member and is answered from that
 * member's state machine once it has applied up to the read index. An op whose answer never comes
 * (the member crashed, lost its leadership, the client gave up) has an unknown outcome. The history,
 * with the simulation's event counter as the clock, goes to the linearizability checker.
 */
import type { Op } from '../../support/linearizability.ts';
import type { NodeId } from '../../../src/server/quorum/core/types.ts';

export const KEYS = ['a', 'b', 'c'];

export type Request =
  | { kind: 'get'; key: string }
  | { kind: 'put'; key: string; value: string }
  | { kind: 'delete'; key: string }
  | { kind: 'cas'; key: string; expected: string | null; value: string };

/** A write as proposed: its op's id travels with it, so the member that proposed it can answer. */
export type Write = Exclude<Request, { kind: 'get' }> & { id: number };

export const encodeWrite = (w: Write): Buffer => Buffer.from(JSON.stringify(w));

/** The write an entry carries, or null for any other payload. */
export function decodeWrite(data: Buffer | null): Write | null {
  return data !== null && data[0] === 0x7b ? (JSON.parse(data.toString()) as Write) : null;
}

/** Applies a write to a member's state; for a cas, whether it swapped. */
export function applyWrite(state: Map<string, string>, w: Write): boolean {
  switch (w.kind) {
    case 'put':
      state.set(w.key, w.value);
      return true;
    case 'delete':
      state.delete(w.key);
      return true;
    case 'cas': {
      const swapped = (state.get(w.key) ?? null) === w.expected;
      if (swapped) state.set(w.key, w.value);
      return swapped;
    }
  }
}

/** The ReadIndex context of a client's read. */
export const readContext = (id: number): string => `kv${id}`;

/** One client op, as the client saw it. */
export interface Call {
  id: number;
  client: number;
  member: NodeId;
  invokedAt: number;
  request: Request;
  /** A read's point, once the member knows it. */
  readIndex: number | null;
  answer: { at: number; value: string | null; swapped: boolean } | null;
}

export function describeCall(c: Call): string {
  const r = c.request;
  const args = r.kind === 'cas' ? `${r.key}, ${JSON.stringify(r.expected)}, ${r.value}` : r.kind === 'put' ? `${r.key}, ${r.value}` : r.key;
  return `client ${c.client} op ${c.id} ${r.kind}(${args}) at member ${c.member}`;
}

export function history(calls: readonly Call[]): Op[] {
  return calls.map((c): Op => {
    const r = c.request;
    const base = { client: c.client, invokedAtMs: c.invokedAt };
    const a = c.answer;
    switch (r.kind) {
      case 'get': return { ...base, kind: 'get', key: r.key, outcome: a === null ? 'unknown' : { returnedAtMs: a.at, value: a.value } };
      case 'put': return { ...base, kind: 'put', key: r.key, value: r.value, outcome: a === null ? 'unknown' : { returnedAtMs: a.at } };
      case 'delete': return { ...base, kind: 'delete', key: r.key, outcome: a === null ? 'unknown' : { returnedAtMs: a.at } };
      case 'cas': return { ...base, kind: 'cas', key: r.key, expected: r.expected, value: r.value, outcome: a === null ? 'unknown' : { returnedAtMs: a.at, swapped: a.swapped } };
    }
  });
}
