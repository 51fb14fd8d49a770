/**
 * What `npm run bench`'s driver (load-run.ts) and its load processes (load-worker.ts) share: the
 * workloads a load process can run, the znodes they use, and the IPC messages.
 */

export const LOAD_WORKLOADS = ['read', 'write', 'mixed', 'create-delete', 'get-children', 'watch', 'watch-paced', 'connect'] as const;
export type LoadWorkload = (typeof LOAD_WORKLOADS)[number];

/** Our client; node-zookeeper-client 1.1.3; no library (bench/raw-socket.ts: reads only error codes). */
export const LOAD_CLIENTS = ['ensemble', 'node-zookeeper-client', 'raw-socket'] as const;
export type LoadClient = (typeof LOAD_CLIENTS)[number];

/**
 * The clients a workload can run with, and runs with unless told otherwise. read and write also
 * run with a third-party client, so that their result does not rest on ours alone, and with no
 * library at all, which costs the load processes least and so leaves the most CPU to the server
 * (on two cores a client library's CPU is CPU the server does not get). get-children also runs
 * with no library: decoding 10,000 names costs a client about as much as the server spends on the
 * reply.
 */
export const SUPPORTED_CLIENTS: Readonly<Record<LoadWorkload, readonly LoadClient[]>> = {
  read: LOAD_CLIENTS,
  write: LOAD_CLIENTS,
  mixed: ['ensemble'],
  'create-delete': ['ensemble'],
  'get-children': ['ensemble', 'raw-socket'],
  watch: ['ensemble'],
  'watch-paced': ['ensemble'],
  connect: ['ensemble', 'raw-socket'],
};

/** The znodes, created by the driver before the first measurement (see setup.ts). */
export const BENCH_ROOT = '/bench';
/** getData / setData target of read, write and mixed. */
export const DATA_PATH = `${BENCH_ROOT}/data`;
/** Parent of create-delete's short-lived znodes. */
export const CREATE_DELETE_PARENT = `${BENCH_ROOT}/create-delete`;
/** The znode with many children that get-children lists. */
export const CHILDREN_PARENT = `${BENCH_ROOT}/children`;
/**
 * watch-paced: notifications per second, over all pairs of all load processes. Below what either
 * server sustains in the closed loop (about 2,400/s and 3,500/s here), so both are measured at
 * the same load.
 */
export const WATCH_PACED_PER_SECOND = 1_000;

/** The A/B pairs of a watch workload's load process. */
export function watchPairs(sessions: number): number {
  return Math.max(1, sessions >> 1);
}
/** Parent of the watch workloads' znodes (one per A/B pair). */
export const WATCH_PARENT = `${BENCH_ROOT}/watch`;

export interface LoadParams {
  workload: LoadWorkload;
  client: LoadClient;
  connectString: string;
  /** The module our client is imported from (dist/index.js: as it ships). */
  clientModule: string;
  /** This process's number among the load processes (keeps znode names apart). */
  procIndex: number;
  /** Sessions of this process (watch: sessions/2 pairs, at least one; connect: parallel loops). */
  sessions: number;
  /** Requests each session keeps outstanding (throughput workloads). */
  inflightPerSession: number;
  /** setData / create payload. */
  payloadBytes: number;
  /** watch-paced: each pair's setData are due this far apart. */
  pacedIntervalMs?: number;
}

export type DriverMessage = { type: 'mark' } | { type: 'count' } | { type: 'stop' };

/** What one load process measured between 'mark' and 'stop'. */
export interface LoadProcessResult {
  /** Completed operations (watch: notifications; connect: connect+close cycles). */
  ops: number;
  windowMs: number;
  /** Latency histogram (LatencyHistogram.toJSON) of the operations completed in the window. */
  latency: { buckets: [number, number][]; maxUs: number };
  /** watch only: A's event time minus B's reply time, µs, per notification (negative: event first). */
  replyToEventUs?: number[];
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'count'; ops: number }
  | { type: 'result'; result: LoadProcessResult }
  | { type: 'error'; message: string };
