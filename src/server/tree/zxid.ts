/**
 * zxid = epoch << 32 | counter, as ZooKeeper's ZxidUtils (a standalone server stays at epoch 0).
 * Zxids pass 2^32, so they are split with arithmetic, not with 32-bit shifts.
 */
const TWO_32 = 4294967296;

export const epochOf = (zxid: number): number => Math.floor(zxid / TWO_32);

/**
 * Whether `next` may follow `last` in the log: the next counter of the same epoch, or any zxid of a
 * later epoch (a new leader's first zxid is (epoch, 0)).
 */
export const zxidFollows = (last: number, next: number): boolean => next === last + 1 || epochOf(next) > epochOf(last);

export const hex = (n: number): string => `0x${n.toString(16)}`;
