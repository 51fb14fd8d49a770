import assert from 'node:assert/strict';

/** Awaits p, which must reject with an instance of cls; returns that error for more assertions. */
export async function rejects<E>(p: Promise<unknown>, cls: abstract new (...a: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    return err;
  }
  throw new Error(`expected ${cls.name}, but it resolved`);
}
