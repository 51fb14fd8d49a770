/**
 * Settings that change what applying a Txn does, so they are replicated state (kept in the tree and
 * its snapshots), never a per-process flag: every member and every replay must agree on them.
 */
export interface ReplicatedSettings {
  /** TTL nodes (ZooKeeper's extendedTypesEnabled): changes how apply indexes ephemeral owners. */
  extendedTypes: boolean;
  /** Key of the session passwords, so that any member can check a reconnecting client's. */
  sessionSecret: Buffer;
}

export const SESSION_SECRET_BYTES = 32;
