/**
 * One load process of `npm run bench`, forked by load-run.ts with an IPC channel and its
 * parameters (LoadParams, JSON) as the only argument. It connects its sessions, starts the load at
 * once (everything before 'mark' is warm-up), says 'ready', and then:
 *
 *   'mark'  starts the measured window (counters, latencies);
 *   'count' asks how many operations the window holds so far;
 *   'stop'  ends the window: the result goes back, the load stops, the sessions close, and the
 *           process exits.
 *
 * The load goes on without a break across 'mark' and 'stop', so that the window sees a steady state.
 */
import { performance } from 'node:perf_hooks';
import { openSession, loadOurClient, type ClientSession, type Requests } from './client-sessions.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import { rawConnectClose } from './raw-socket.ts';
import {
  CHILDREN_PARENT, CREATE_DELETE_PARENT, DATA_PATH, WATCH_PARENT, watchPairs,
  type DriverMessage, type LoadParams, type LoadProcessResult, type WorkerMessage,
} from './load-protocol.ts';

const CONNECT_SESSION_TIMEOUT_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the process measures: operations completed inside the window, and their latencies. */
class Window {
  measuring = false;
  ops = 0;
  startMs = 0;
  histogram = new LatencyHistogram();
  replyToEventUs: number[] = [];

  open(): void {
    this.ops = 0;
    this.histogram = new LatencyHistogram();
    this.replyToEventUs = [];
    this.startMs = performance.now();
    this.measuring = true;
  }

  record(latencyUs: number): void {
    if (!this.measuring) return;
    this.ops++;
    this.histogram.record(latencyUs);
  }

  close(): LoadProcessResult {
    this.measuring = false;
    return {
      ops: this.ops,
      windowMs: performance.now() - this.startMs,
      latency: this.histogram.toJSON(),
      ...(this.replyToEventUs.length > 0 ? { replyToEventUs: this.replyToEventUs } : {}),
    };
  }
}

/** The next request of a session, given how many it has issued before. */
type NextRequest = (requests: Requests, seq: number) => void;

function nextRequestOf(params: LoadParams, sessionIndex: number): NextRequest {
  const payload = Buffer.alloc(params.payloadBytes, 0x61);
  switch (params.workload) {
    case 'read':
      return (r) => r.getData(DATA_PATH);
    case 'write':
      return (r) => r.setData(DATA_PATH, payload);
    case 'mixed':
      return (r, seq) => (seq % 10 === 9 ? r.setData(DATA_PATH, payload) : r.getData(DATA_PATH));
    case 'get-children':
      return (r) => r.getChildren(CHILDREN_PARENT);
    case 'create-delete': {
      // A create, then the delete of the same path (a session answers in order); a new path per
      // pair. The pid keeps runs apart: a run may stop between a create and its delete.
      const prefix = `${CREATE_DELETE_PARENT}/${process.pid}-${sessionIndex}-`;
      return (r, seq) => ((seq & 1) === 0 ? r.create(prefix + (seq >>> 1), payload) : r.delete(prefix + (seq >>> 1)));
    }
    default:
      throw new Error(`${params.workload} is not a pipelined workload`);
  }
}

/**
 * Keeps `inflight` requests of one session outstanding until stopped. A session completes its
 * requests in the order it issued them, so the issue times sit in a ring.
 */
class Pipeline {
  private readonly issuedAt: Float64Array;
  private readonly mask: number;
  private issued = 0;
  private completed = 0;
  private stopped = false;
  private readonly requests: Requests;
  private drained: (() => void) | null = null;

  constructor(
    session: ClientSession,
    private readonly next: NextRequest,
    private readonly inflight: number,
    private readonly window: Window,
    private readonly fail: (err: unknown) => void,
  ) {
    let ringSize = 1;
    while (ringSize < inflight * 2) ringSize *= 2;
    this.mask = ringSize - 1;
    this.issuedAt = new Float64Array(ringSize);
    this.requests = session.requests(this.done, (err) => this.fail(err));
  }

  start(): void {
    for (let i = 0; i < this.inflight; i++) this.issue();
  }

  /** Stops issuing; resolves once every outstanding request has completed. */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.completed === this.issued) return Promise.resolve();
    return new Promise((r) => (this.drained = r));
  }

  private issue(): void {
    this.issuedAt[this.issued & this.mask] = performance.now();
    this.next(this.requests, this.issued++);
  }

  private readonly done = (): void => {
    this.window.record((performance.now() - this.issuedAt[this.completed & this.mask]) * 1000);
    this.completed++;
    if (!this.stopped) this.issue();
    else if (this.completed === this.issued) this.drained?.();
  };
}

/** A running load: stop() ends it and closes what it opened. */
interface Load {
  stop(): Promise<void>;
}

async function startPipelines(params: LoadParams, window: Window, fail: (err: unknown) => void): Promise<Load> {
  const sessions = await Promise.all(Array.from({ length: params.sessions }, () => openSession(params.client, params.connectString, params.clientModule)));
  const pipelines = sessions.map((s, i) => new Pipeline(s, nextRequestOf(params, i), params.inflightPerSession, window, fail));
  for (const p of pipelines) p.start();
  return {
    async stop() {
      await Promise.all(pipelines.map((p) => p.stop()));
      await Promise.all(sessions.map((s) => s.close()));
    },
  };
}

/**
 * Pairs of sessions on their own znode: A reads it with a watch, B sets it, A's watch fires;
 * again. Latency: from B sending setData to A's event (what an application waiting on a watch
 * sees, the commit included). Also kept: A's event time minus B's reply time.
 *
 * watch: a closed loop, the next setData as soon as the event is in. watch-paced: each pair's
 * setData are due every pacedIntervalMs; one that is late because the previous cycle ran over
 * counts from when it was due, so a slow cycle is not hidden by the wait it caused.
 */
async function startWatchPairs(params: LoadParams, window: Window, fail: (err: unknown) => void): Promise<Load> {
  const { connect } = await loadOurClient(params.clientModule);
  const pairs = watchPairs(params.sessions);
  const interval = params.pacedIntervalMs ?? 0;
  const options = { sessionTimeoutMs: 30_000 };
  const clients = await Promise.all(Array.from({ length: pairs * 2 }, () => connect(params.connectString, options)));
  const payload = Buffer.alloc(params.payloadBytes, 0x62);
  let stopped = false;
  const loops = Array.from({ length: pairs }, async (_, i) => {
    const a = clients[2 * i];
    const b = clients[2 * i + 1];
    const path = `${WATCH_PARENT}/p${params.procIndex}-${i}`;
    await a.create(path, payload).catch((err: unknown) => {
      if ((err as { codeName?: string }).codeName !== 'NODEEXISTS') throw err;
    });
    // Pairs start spread over one interval, not all at once.
    let due = performance.now() + (interval * i) / pairs;
    while (!stopped) {
      let eventAt = 0;
      let onEvent = (): void => {};
      const fired = new Promise<void>((resolve) => (onEvent = resolve));
      // Once A's getData is answered, its watch is set.
      await a.getData(path, { watch: () => { eventAt = performance.now(); onEvent(); } });
      const late = interval > 0 && performance.now() >= due;
      if (interval > 0 && !late) await sleep(due - performance.now());
      const sentAt = late ? due : performance.now();
      due += interval;
      await b.setData(path, payload);
      const repliedAt = performance.now();
      await fired;
      if (window.measuring) window.replyToEventUs.push((eventAt - repliedAt) * 1000);
      window.record((eventAt - sentAt) * 1000);
    }
  });
  const running = Promise.all(loops).catch(fail);
  return {
    async stop() {
      stopped = true;
      await running;
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

/** `sessions` loops, each: connect (a new session), close it, again. Latency: connect + close. */
async function startConnectLoops(params: LoadParams, window: Window, fail: (err: unknown) => void): Promise<Load> {
  const cycle = await connectCloseCycle(params);
  let stopped = false;
  const loops = Array.from({ length: params.sessions }, async () => {
    while (!stopped) {
      const t0 = performance.now();
      await cycle();
      window.record((performance.now() - t0) * 1000);
    }
  });
  const running = Promise.all(loops).catch(fail);
  return {
    async stop() {
      stopped = true;
      await running;
    },
  };
}

/** One session opened and closed, with the load client asked for. */
async function connectCloseCycle(params: LoadParams): Promise<() => Promise<void>> {
  if (params.client === 'raw-socket') {
    const [host, port] = params.connectString.split(',')[0].split(':');
    return () => rawConnectClose(host, Number(port), CONNECT_SESSION_TIMEOUT_MS);
  }
  const { connect } = await loadOurClient(params.clientModule);
  return async () => {
    const zk = await connect(params.connectString, { sessionTimeoutMs: CONNECT_SESSION_TIMEOUT_MS, connectTimeoutMs: 15_000 });
    await zk.close();
  };
}

function send(message: WorkerMessage): void {
  process.send?.(message);
}

/** Sends a message and resolves once it has left (exiting before then can lose it). */
function sent(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

async function main(): Promise<void> {
  const params = JSON.parse(process.argv[2] ?? '{}') as LoadParams;
  const window = new Window();
  let failed = false;
  const fail = (err: unknown): void => {
    if (failed) return;
    failed = true;
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    setTimeout(() => process.exit(1), 100);
  };
  // Whatever ends this process early reaches the driver's report, not only this process's stderr.
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  const load = params.workload === 'watch' || params.workload === 'watch-paced'
    ? await startWatchPairs(params, window, fail)
    : params.workload === 'connect'
      ? await startConnectLoops(params, window, fail)
      : await startPipelines(params, window, fail);

  process.on('message', (message: DriverMessage) => {
    if (message.type === 'mark') window.open();
    else if (message.type === 'count') send({ type: 'count', ops: window.ops });
    else if (message.type === 'stop') {
      const result = sent({ type: 'result', result: window.close() });
      void Promise.allSettled([result, load.stop()]).then(() => process.exit(0));
    }
  });
  send({ type: 'ready' });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
