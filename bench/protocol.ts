/** What the benchmark driver (client.ts) and its worker processes (client-worker.ts) exchange. */

/**
 * The client libraries under comparison, and 'raw-socket': no library, the floor that Node and the
 * kernel set (bench/raw-socket.ts). Only the first two run unless asked.
 */
export const LIBS = ['ensemble', 'node-zookeeper-client', 'raw-socket'] as const;
export type Lib = (typeof LIBS)[number];
export const DEFAULT_LIBS: readonly Lib[] = ['ensemble', 'node-zookeeper-client'];

export const WORKLOADS = ['getData', 'setData'] as const;
export type Workload = (typeof WORKLOADS)[number];

/** The znode every worker reads or writes; the driver creates it before the first run. */
export const BENCH_PARENT = '/ensemble-client-bench';
export const BENCH_PATH = `${BENCH_PARENT}/node`;

export interface WorkerParams {
  lib: Lib;
  connectString: string;
  workload: Workload;
  /** Measured operations. */
  ops: number;
  /** Unmeasured operations first, at the same concurrency (JIT, socket buffers, server caches). */
  warmup: number;
  /** Requests kept outstanding at all times. */
  inflight: number;
  /** Payload size of setData in bytes. */
  size: number;
}

/** The one line a worker prints on stdout, after RESULT_PREFIX. */
export interface WorkerResult {
  lib: Lib;
  workload: Workload;
  inflight: number;
  ops: number;
  wallMs: number;
  opsPerSec: number;
  /** User + system CPU of the whole worker process over the measured phase, per operation. */
  cpuUsPerOp: number;
  userUsPerOp: number;
  systemUsPerOp: number;
  /** Time the V8 garbage collector reported over the measured phase, per operation (part of the CPU). */
  gcUsPerOp: number;
  /** Latency from issuing a request to its completion callback, in microseconds. */
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** Resident set size of the worker at the end of the measured phase. */
  rssMb: number;
  /** read/write system calls of the worker over the measured phase, per operation (Linux; NaN elsewhere). */
  readSyscallsPerOp: number;
  writeSyscallsPerOp: number;
}

export const RESULT_PREFIX = 'BENCH-RESULT ';
