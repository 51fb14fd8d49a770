/** multi: the ops a transaction holds, a builder for them, and the typed results of a commit. */
import { Err, OpCode } from '../protocol/constants.ts';
import type { MultiResult } from '../protocol/requests.ts';
import { MarshallingError, errorFor, type ZooKeeperError } from './errors.ts';
import { withJSON } from './json.ts';
import type { ACL, CreateMode, RequestOptions, Stat } from './types.ts';

type Data = Buffer | Uint8Array | string | null;

export type Op =
  | { type: 'create'; path: string; data?: Data; mode?: CreateMode; acl?: ACL[]; ttl?: number }
  | { type: 'delete'; path: string; version?: number }
  | { type: 'setData'; path: string; data: Data; version?: number }
  | { type: 'check'; path: string; version?: number };

export type OpResult =
  /** The Stat comes only when the server sends one (ZooKeeper 3.8 sends a bare path in a multi). */
  | { type: 'create'; path: string; stat?: Stat }
  | { type: 'delete' }
  | { type: 'setData'; stat: Stat }
  | { type: 'check' };

export type ReadOp = { type: 'getData' | 'getChildren'; path: string };

export type ReadResult =
  | { type: 'getData'; data: Buffer | null; stat: Stat }
  | { type: 'getChildren'; children: string[] }
  | { type: 'error'; error: ZooKeeperError };

/** Each op's outcome in a failed multi: null for ops that succeeded before being rolled back. */
export type OpOutcome = ZooKeeperError | null;

/** What a failed multi rejects with: the failing op's typed error, plus where and what else. */
export interface MultiFailure extends ZooKeeperError {
  /** Index of the op that failed. */
  opIndex: number;
  /** Every op's outcome: null (succeeded, then rolled back) or its error (RUNTIMEINCONSISTENCY: not tried). */
  results: OpOutcome[];
}

export class Transaction {
  readonly ops: Op[] = [];

  constructor(private readonly run: (ops: readonly Op[], options?: RequestOptions) => Promise<OpResult[]>) {}

  create(path: string, data?: Data, options: { mode?: CreateMode; acl?: ACL[]; ttl?: number } = {}): this {
    this.ops.push({ type: 'create', path, data, ...options });
    return this;
  }

  delete(path: string, version = -1): this {
    this.ops.push({ type: 'delete', path, version });
    return this;
  }

  setData(path: string, data: Data, version = -1): this {
    this.ops.push({ type: 'setData', path, data, version });
    return this;
  }

  check(path: string, version: number): this {
    this.ops.push({ type: 'check', path, version });
    return this;
  }

  commit(options?: RequestOptions): Promise<OpResult[]> {
    return this.run(this.ops, options);
  }
}

/** Turns a MultiResponse into results, or throws the failing op's error (see MultiFailure). */
export function multiResults(
  ops: readonly Op[], results: MultiResult[], toClient: (path: string) => string, toServer: (path: string) => string = (path) => path,
): OpResult[] {
  if (results.length !== ops.length) {
    throw new MarshallingError(Err.MARSHALLINGERROR, undefined, `multi: ${ops.length} ops, ${results.length} results`);
  }
  const failedAt = results.findIndex((r) => r.type === OpCode.error && r.err !== Err.OK);
  if (failedAt >= 0) {
    const outcomes: OpOutcome[] = results.map((r, i) => (r.type === OpCode.error && r.err !== Err.OK ? errorFor(r.err, ops[i].path, undefined, { serverPath: toServer(ops[i].path) }) : null));
    const failure = outcomes[failedAt] as MultiFailure;
    failure.opIndex = failedAt;
    failure.results = outcomes;
    throw failure;
  }
  return results.map((r, i): OpResult => {
    switch (r.type) {
      case OpCode.create:
        return { type: 'create', path: toClient(r.path) };
      case OpCode.create2:
      case OpCode.createTTL:
      case OpCode.createContainer:
        return { type: 'create', path: toClient(r.path), stat: withJSON(r.stat) };
      case OpCode.delete: return { type: 'delete' };
      case OpCode.setData: return { type: 'setData', stat: withJSON(r.stat) };
      case OpCode.check: return { type: 'check' };
      default:
        throw new MarshallingError(Err.MARSHALLINGERROR, ops[i].path, `unexpected multi result type ${r.type}`);
    }
  });
}
