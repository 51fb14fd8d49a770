/**
 * zxid = epoch << 32 | counter, as ZooKeeper's ZxidUtils (a standalone server stays at epoch 0).
 * Zxids pass 2^32, so they are split with arithmetic, not with 32-bit shifts.
 */
export const TWO_32 = 4294967296;

export const epochOf = (zxid: number): number => Math.floor(zxid / TWO_32);

export const counterOf = (zxid: number): number => zxid - epochOf(zxid) * TWO_32;

/** Exact while the epoch stays below 2^21: a number holds integers to 2^53. */
export const zxidOf = (epoch: number, counter: number): number => epoch * TWO_32 + counter;

/**
 * Whether `next` may follow `last` in the log: the next counter of the same epoch, or any zxid of a
 * later epoch (a new leader's first zxid is (epoch, 0)).
 */
export const zxidFollows = (last: number, next: number): boolean => next === last + 1 || epochOf(next) > epochOf(last);

export const hex = (n: number): string => `0x${n.toString(16)}`;
