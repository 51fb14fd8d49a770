/**
 * Shared set-up for the robustness tests: an in-process Ensemble (so the tests can look at its
 * connections), a guard that turns any uncaught exception into a test failure, and small waits.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pino from 'pino';
import { startServer, type StartedServer } from '../../src/server/index.ts';
import type { ServerConfig } from '../../src/server/config.ts';
import type { Connection } from '../../src/server/net/connection.ts';
import type { RawClient } from './frames.ts';

export interface InProcess extends StartedServer {
  stop(): Promise<void>;
}

/** An Ensemble in this process, on a free loopback port, logging only errors (ROBUSTNESS_LOG=warn for more). */
export async function startInProcess(config: Partial<ServerConfig> = {}): Promise<InProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ensemble-robustness-'));
  const log = pino({ name: 'ensemble', level: process.env.ROBUSTNESS_LOG ?? 'error' });
  const started = await startServer({
    clientPort: 0, clientPortAddress: '127.0.0.1', dataDir, maxClientCnxns: 0, fourLetterWhitelist: ['*'], ...config,
  }, { log });
  return {
    ...started,
    async stop() {
      try {
        await started.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * One in-process Ensemble for the enclosing describe: started before its tests, stopped after them,
 * and then nothing may have escaped. Returns the server, to be read once a test runs.
 */
export function inProcessForSuite(config: Partial<ServerConfig> = {}): () => InProcess {
  let s: InProcess | undefined;
  before(async () => {
    s = await startInProcess(config);
  });
  after(async () => {
    await s?.stop();
    assertNothingEscaped();
  });
  return () => s!;
}

/** Errors that escaped to the process: any one of them fails the test that checks. */
export const escaped: unknown[] = [];
let installed = false;
export function installUncaughtGuard(): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (e) => { escaped.push(e); });
  process.on('unhandledRejection', (e) => { escaped.push(e); });
}

export function assertNothingEscaped(): void {
  if (escaped.length > 0) {
    const e = escaped.splice(0);
    throw new Error(`uncaught exception(s) in the process: ${e.map((x) => (x instanceof Error ? x.stack : String(x))).join('\n---\n')}`);
  }
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until `cond` holds; false if it still does not after `timeoutMs` (generous: a busy machine is slow). */
export async function eventually(cond: () => boolean, timeoutMs = 15_000, stepMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await delay(stepMs);
  }
  return true;
}

/** The server's side of a raw client's connection. */
export function serverSideOf(s: StartedServer, c: RawClient): Connection | undefined {
  const port = c.socket.localPort;
  for (const conn of s.server.connections) if (conn.remotePort === port) return conn;
  return undefined;
}
