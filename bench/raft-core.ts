/**
 * The consensus core's own speed: three Raft members in one process, no disk, no network, no
 * serialization. Member 1 is elected, then each round the leader is given `batch` proposals of
 * 100 bytes (what a shell found queued), every member's Ready is handled (persisting is a no-op,
 * messages go to an in-memory queue, committed entries are counted), and the queued messages are
 * stepped into their members. Reports proposals committed (applied on the leader) per second and
 * the process's CPU per proposal, over a window after a warm-up, for each batch size.
 *
 *   node --import tsx bench/raft-core.ts [--seconds 3] [--warmup 1] [--runs 5] [--batch 64,256,1024]
 */
import { parseArgs } from 'node:util';
import { Raft } from '../src/server/quorum/core/raft.ts';
import type { Message, NodeId } from '../src/server/quorum/core/types.ts';
import { fmt, markdownTable, median } from './stats.ts';

const IDS: readonly NodeId[] = [1, 2, 3];
const PAYLOAD = Buffer.alloc(100, 'x');
/** Wall time between ticks, as a shell's timer would drive them. */
const TICK_MS = 100;
/**
 * A shell snapshots its state machine now and then and compacts the log up to it (keeping a tail
 * for followers a little behind), so that the log, and the garbage collector's work, stay bounded.
 */
const COMPACT_EVERY = 100_000;
const CATCH_UP_ENTRIES = 10_000;
const SNAPSHOT = Buffer.alloc(0);

interface RunResult {
  perSecond: number;
  cpuMicrosPerProposal: number;
  messagesPerProposal: number;
}

class Shell {
  readonly members: Raft[];
  /** Payload entries applied, by member (index 0 is member 1). */
  readonly applied = [0, 0, 0];
  messages = 0;
  private outbox: Message[] = [];
  private lastTick = performance.now();

  constructor(inflight: number, perMessage: number) {
    this.members = IDS.map((id) => new Raft({
      id, voters: IDS, electionTick: 10, heartbeatTick: 1, preVote: true, checkQuorum: true,
      maxInflight: inflight, maxEntriesPerMessage: perMessage, random: Math.random,
    }));
  }

  /** One round: every member's Ready handled, then every message it produced delivered. */
  round(): boolean {
    const now = performance.now();
    if (now - this.lastTick >= TICK_MS) {
      this.lastTick = now;
      for (const r of this.members) r.tick();
    }
    let busy = false;
    for (let i = 0; i < this.members.length; i++) {
      const r = this.members[i];
      if (!r.hasReady()) continue;
      busy = true;
      const ready = r.ready();
      // Persisting hardState and entries is where a shell would write its log: nothing here.
      for (const m of ready.messages) this.outbox.push(m);
      for (const e of ready.committed) if (e.data !== null) this.applied[i]++;
      r.advance(ready);
      const applied = r.log.applied;
      if (applied - r.log.snapshotIndex >= COMPACT_EVERY + CATCH_UP_ENTRIES) r.compact(applied - CATCH_UP_ENTRIES, SNAPSHOT);
    }
    const deliver = this.outbox;
    this.outbox = [];
    this.messages += deliver.length;
    for (const m of deliver) this.members[m.to - 1].step(m);
    return busy || deliver.length > 0;
  }

  /** Rounds until nothing moves. */
  settle(): void {
    for (let i = 0; i < 100_000; i++) if (!this.round()) return;
    throw new Error('the cluster did not settle');
  }
}

function run(batch: number, warmupMs: number, windowMs: number, inflight: number, perMessage: number): RunResult {
  const shell = new Shell(inflight, perMessage);
  const leader = shell.members[0];
  leader.campaign();
  shell.settle();
  if (leader.role !== 'leader') throw new Error(`member 1 is ${leader.role} after its campaign`);
  const term = leader.term;

  let proposed = 0;
  const drive = (until: number): void => {
    while (performance.now() < until) {
      for (let i = 0; i < batch; i++) {
        if (!leader.propose(PAYLOAD)) throw new Error(`member 1 lost leadership (now ${leader.role}, term ${leader.term})`);
      }
      proposed += batch;
      shell.round();
    }
  };

  drive(performance.now() + warmupMs);
  const applied0 = shell.applied[0];
  const messages0 = shell.messages;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  drive(t0 + windowMs);
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const committed = shell.applied[0] - applied0;
  const messages = shell.messages - messages0;

  shell.settle();
  if (leader.role !== 'leader' || leader.term !== term) throw new Error(`leadership changed during the run (term ${term} → ${leader.term})`);
  if (shell.applied.some((n) => n !== proposed)) throw new Error(`applied ${shell.applied.join(', ')} by members 1, 2, 3; proposed ${proposed}`);
  if (committed === 0) throw new Error('nothing committed in the window');
  return {
    perSecond: (committed * 1000) / elapsedMs,
    cpuMicrosPerProposal: (cpu.user + cpu.system) / committed,
    messagesPerProposal: messages / committed,
  };
}

function main(): void {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      seconds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      runs: { type: 'string', default: '5' },
      batch: { type: 'string', default: '64,256,1024' },
      inflight: { type: 'string', default: '256' },
      'per-message': { type: 'string', default: '1024' },
    },
    strict: true,
  });
  const windowMs = Number(values.seconds) * 1000;
  const warmupMs = Number(values.warmup) * 1000;
  const runs = Number(values.runs);
  const inflight = Number(values.inflight);
  const perMessage = Number(values['per-message']);
  const batches = values.batch.split(',').map(Number);
  if (![windowMs, warmupMs, runs, inflight, perMessage, ...batches].every((n) => Number.isFinite(n) && n >= 0) || runs < 1 || batches.some((b) => b < 1)) {
    throw new Error('--seconds, --warmup, --runs, --inflight, --per-message and --batch take numbers');
  }

  process.stdout.write(`3 members in one process, ${PAYLOAD.length}-byte proposals, maxInflight ${inflight}, maxEntriesPerMessage ${perMessage}; `
    + `${values.warmup} s warm-up, ${values.seconds} s window, ${runs} runs per batch size (a fresh cluster each)\n\n`);
  const rows: string[][] = [];
  for (const batch of batches) {
    const results: RunResult[] = [];
    for (let i = 0; i < runs; i++) results.push(run(batch, warmupMs, windowMs, inflight, perMessage));
    const rates = results.map((r) => r.perSecond);
    rows.push([
      String(batch),
      fmt(median(rates), 0),
      fmt(Math.max(...rates), 0),
      fmt(Math.min(...rates), 0),
      fmt(median(results.map((r) => r.cpuMicrosPerProposal)), 2),
      fmt(median(results.map((r) => r.messagesPerProposal)), 2),
    ]);
  }
  process.stdout.write(markdownTable(
    ['batch', 'committed/s median', 'best', 'worst', 'CPU µs/proposal median', 'messages/proposal'],
    rows, [true, true, true, true, true, true]) + '\n');
}

main();
