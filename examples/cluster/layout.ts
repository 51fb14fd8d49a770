/** What the demo's processes agree on: the znode layout (under the cluster's chroot) and the HTTP answers. */
import type { Summary } from './word-count.ts';

export const ELECTION_PATH = '/election';
export const REGISTRY_PATH = '/service_registry';

export type Role = 'joining' | 'worker' | 'leader';

export interface JobResult extends Summary {
  round: number;
  documents: number;
  /** Which worker counted which documents (a worker that failed mid-job is not listed). */
  assignments: Record<string, string[]>;
}

export interface WorkerStatus {
  name: string;
  pid: number;
  role: Role;
  sessionId: string | null;
  /** The job round it is running as leader, if any. */
  job?: number | null;
  result: JobResult | null;
}

/** The identity a candidate stores in its election node and a worker in its registry node. */
export interface Identity {
  name: string;
  host: string;
  port: number;
}

