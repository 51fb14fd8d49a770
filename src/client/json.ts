/**
 * 64-bit values: session ids (a client's sessionId, a Stat's ephemeralOwner) are bigints, since
 * they use all 64 bits; zxids and times are numbers, exact below 2^53 (an epoch below 2^21).
 * JSON.stringify refuses bigints, so each Stat the client returns carries a toJSON that writes
 * ephemeralOwner as its decimal string (`BigInt(s)` reads it back).
 */
import type { Stat } from '../protocol/records.ts';

function statJSON(this: Stat): Record<string, number | string> {
  return { ...this, ephemeralOwner: this.ephemeralOwner.toString() };
}

/**
 * The same Stat, with toJSON. Not enumerable, so that spreading, Object.keys and deepEqual see the
 * Stat's fields only.
 */
export function withJSON(stat: Stat): Stat {
  return Object.defineProperty(stat, 'toJSON', { value: statJSON, enumerable: false, writable: true, configurable: true });
}
