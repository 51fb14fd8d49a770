/** What a create sends: the opcode for its mode, the flags, the TTL, with the arguments checked. */
import { CreateFlag, Err, MAX_TTL_MS, OpCode } from '../protocol/constants.ts';
import type { ACL, MultiOp } from '../protocol/records.ts';
import { BadArgumentsError, errorFor } from './errors.ts';
import { Ids, type CreateMode } from './types.ts';

export type Data = Buffer | Uint8Array | string | null;

export const toBuffer = (data: Data | undefined): Buffer | null =>
  data === undefined || data === null ? null : typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.isBuffer(data) ? data : Buffer.from(data);

const createFlags: Record<CreateMode, number> = {
  persistent: CreateFlag.persistent,
  ephemeral: CreateFlag.ephemeral,
  persistent_sequential: CreateFlag.persistentSequential,
  ephemeral_sequential: CreateFlag.ephemeralSequential,
  container: CreateFlag.container,
  persistent_with_ttl: CreateFlag.persistentWithTtl,
  persistent_sequential_with_ttl: CreateFlag.persistentSequentialWithTtl,
};

export function isSequential(mode: CreateMode | undefined): boolean {
  return mode === 'persistent_sequential' || mode === 'ephemeral_sequential' || mode === 'persistent_sequential_with_ttl';
}

/** The wire op for a create: create2 for plain modes (so that the Stat comes back), createContainer, createTTL. */
export function createOp(path: string, data: Data | undefined, options: { mode?: CreateMode; acl?: ACL[]; ttl?: number }): Extract<MultiOp, { req: { flags: number } }> {
  const mode = options.mode ?? 'persistent';
  const flags = createFlags[mode];
  if (flags === undefined) throw new BadArgumentsError(Err.BADARGUMENTS, path, `unknown create mode ${String(mode)}`);
  const ttlMode = mode === 'persistent_with_ttl' || mode === 'persistent_sequential_with_ttl';
  const ttl = options.ttl;
  if (ttlMode && (ttl === undefined || !Number.isInteger(ttl) || ttl <= 0 || ttl > Number(MAX_TTL_MS))) {
    throw new BadArgumentsError(Err.BADARGUMENTS, path, `a TTL mode needs a ttl in 1..${MAX_TTL_MS} ms`);
  }
  if (!ttlMode && ttl !== undefined) throw new BadArgumentsError(Err.BADARGUMENTS, path, `ttl is only for the *_with_ttl modes`);
  const acl = options.acl ?? Ids.OPEN_ACL_UNSAFE;
  if (acl.length === 0) throw errorFor(Err.INVALIDACL, path);
  const req = { path, data: toBuffer(data), acl, flags, ttl: ttlMode ? ttl! : -1 };
  const type = ttlMode ? OpCode.createTTL : mode === 'container' ? OpCode.createContainer : OpCode.create2;
  return { type, req };
}
