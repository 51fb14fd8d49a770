/**
 * One-command mode: `zkCli.sh -server H:P CMD ARGS…` (Apache ZooKeeper 3.8's Java client) against
 * `node bin/ensemble.js cli -server H:P CMD ARGS…`, each against Apache ZooKeeper and Ensemble:
 *
 *   1. zkCli.sh -> Apache ZooKeeper (the reference)   2. zkCli.sh -> Ensemble
 *   3. ensemble cli -> Apache ZooKeeper                4. ensemble cli -> Ensemble
 *
 * For every case, ways 2–4 must give what way 1 gives: the same stdout, the same stderr and the
 * same exit status, after masking. Ways 3 and 4 run the built `bin/ensemble.js` (dist/): run
 * `npm run build` first (`npm test` does).
 *
 * Masks: Java-only output (SLF4J warnings, even in the middle of a line, and log lines); Java
 * stack-trace frames; the connection notification (`WATCHER::` / `WatchedEvent
 * state:SyncConnected type:None path:null`), which zkCli prints from its event thread while the
 * command runs, so it may or may not appear before the process exits, and for the same reason the
 * Closed notification after `quit`, whole or its first write only (other notifications are kept,
 * moved to the end of stdout); the server address (`$SERVER`); dates; 0x… numbers (renumbered in
 * order of appearance); the text after `ZooKeeper CLI version: `; trailing whitespace.
 *
 * The servers run with default settings (no TTL znodes: extended types are off). Fixtures,
 * created on both servers before the cases run: /one ("one data") with a child /one/child,
 * /secret, readable only by digest user:pass, and /made, under which `$MADE` (a path unique to
 * each way) is created.
 *
 * Where zkCli 3.8 dies with an uncaught Java exception and a stack trace (a non-numeric
 * `-v`/`-timeout`/port/`redo` argument, a bad path for addWatch), `ensemble cli` deliberately
 * prints one line instead (docs/cli.md): for those cases ways 3 and 4 must exit with zkCli's
 * status and print zkCli's stdout, and one line on stderr without a Java stack trace.
 *
 * An unreachable server (`-server 127.0.0.1:1 -timeout 60000 ls /`): zkCli 3.8 does not wait for
 * the session timeout there, the refused connection fails the request at once: it prints
 * `KeeperErrorCode = ConnectionLoss for /` on stderr and exits 1 within about half a second. The
 * case is compared like the others, and ensemble cli must not wait for the timeout either: it must
 * be done in half of it (a bound that a busy machine does not reach, as it is long; what it tells
 * apart is failing at once from waiting out the minute).
 *
 * TRANSCRIPTS_DUMP=DIR writes each way's normalised outcomes to DIR/one-shot.w<way>.txt.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import { withBothServers, type RunningServer } from '../support/servers.ts';
import { RawClient } from '../support/raw-client.ts';
import { run, ZKCLI, zkCliEnv } from '../real-clients/lib/process.ts';
import { maskDates, renumberHex, stripJavaNoise, stripJavaStackFrames, tidy } from '../real-clients/lib/normalize.ts';
import { WAYS, type Way } from './ways.ts';

const REPO = resolve(import.meta.dirname, '../..');
const ENSEMBLE_BIN = join(REPO, 'bin/ensemble.js');
const RUN_TIMEOUT_MS = 45_000;
/** Processes at once. */
const CONCURRENCY = 4;
/** The session timeout given with an unreachable server, and how long ensemble cli may take to give up on it. */
const UNREACHABLE_TIMEOUT_MS = 60_000;
const UNREACHABLE_LIMIT_MS = UNREACHABLE_TIMEOUT_MS / 2;


interface Case {
  /** Arguments after the program; `$SERVER` is the server's host:port, `$MADE` a path unique to
   * the way (for creates); without `-server` among them, `-server $SERVER` is put first. */
  args: string[];
  /** zkCli dies with an uncaught exception here (see the header). */
  zkCliCrashes?: boolean;
  /** ensemble cli must be done within this many ms. */
  limitMs?: number;
}

const CASES: readonly Case[] = [
  // successful commands
  { args: ['ls', '/one'] },
  { args: ['get', '-s', '/one/child'] },
  { args: ['getAcl', '/one'] },
  { args: ['create', '$MADE', 'made data'] },
  { args: ['whoami'] },
  { args: ['history'] },
  { args: ['version'] },
  { args: ['quit'] },
  { args: ['-server', '$SERVER/one', 'ls', '/'] },
  { args: ['-timeout', '5000', '-r', 'get', '/one'] },
  // failing commands
  { args: ['get', '/missing'] },
  { args: ['create', '/one'] },
  { args: ['create', '-t', '1000', '/ttl'] },
  { args: ['set', '-v', '99', '/one', 'x'] },
  { args: ['get', '/secret'] },
  { args: ['ls'] },
  { args: ['get', '-x', '/one'] },
  { args: ['nosuchcommand', '/one'] },
  { args: ['redo', '0'] },
  { args: ['-server', '$SERVER/nochroot', 'ls', '/'] },
  // an unreachable server
  { args: ['-server', '127.0.0.1:1', '-timeout', String(UNREACHABLE_TIMEOUT_MS), 'ls', '/'], limitMs: UNREACHABLE_LIMIT_MS },
  { args: ['-server', '127.0.0.1:1', '-timeout', String(UNREACHABLE_TIMEOUT_MS), 'printwatches'], limitMs: UNREACHABLE_LIMIT_MS },
  // zkCli dies with a stack trace
  { args: ['set', '-v', 'abc', '/one', 'x'], zkCliCrashes: true },
  { args: ['addWatch', 'relative'], zkCliCrashes: true },
  { args: ['-server', '127.0.0.1:notaport', 'ls', '/'], zkCliCrashes: true },
];

interface Outcome {
  /** Exit status and both streams, normalised, as one text. */
  text: string;
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

function caseName(c: Case): string {
  return c.args.includes('-server') ? c.args.join(' ') : ['-server', '$SERVER', ...c.args].join(' ');
}

/** A notification is printed as two writes, `\nWATCHER::\n` and `\nWatchedEvent …\n`. */
const EVENT_WRITE = /\nWATCHER::\n|\nWatchedEvent [^\n]*\n/g;
const CONNECTED_EVENT = '\nWatchedEvent state:SyncConnected type:None path:null\n';
const CLOSED_EVENT = '\nWatchedEvent state:Closed type:None path:null\n';
/** Notifications that race with the process's exit. */
const RACING_EVENTS = new Set([CONNECTED_EVENT, CLOSED_EVENT]);

function normalizeStream(text: string, subst: [string, string][]): string {
  let t = stripJavaStackFrames(stripJavaNoise(text));
  // The connection notification races with the command and the exit, and the Closed one (after
  // `quit`) with the exit: zkCli prints them from its event thread, so on a busy machine they may
  // be cut off. Drop them (and their `WATCHER::` lines); other notifications go to the end, in
  // their order.
  const events: string[] = [];
  t = t.replace(EVENT_WRITE, (m) => {
    events.push(m);
    return '';
  });
  // One header goes with each notification dropped, and any header whose notification was cut off.
  const headers = events.filter((e) => e === '\nWATCHER::\n').length;
  const surplus = Math.max(0, headers - (events.length - headers));
  let dropHeaders = events.filter((e) => RACING_EVENTS.has(e)).length + surplus;
  const kept = events.filter((e) => {
    if (RACING_EVENTS.has(e)) return false;
    if (e === '\nWATCHER::\n' && dropHeaders > 0) {
      dropHeaders--;
      return false;
    }
    return true;
  });
  t += kept.join('');
  for (const [from, to] of subst) t = t.replaceAll(from, to);
  t = t.replace(/^ZooKeeper CLI version: .*$/gm, 'ZooKeeper CLI version: <version>');
  return tidy(renumberHex(maskDates(t)));
}

async function runCase(c: Case, way: Way, server: RunningServer): Promise<Outcome> {
  const made = `/made/by-way-${way.n}`;
  const args = (c.args.includes('-server') ? c.args : ['-server', '$SERVER', ...c.args]).map((a) =>
    a.replaceAll('$SERVER', server.connectString).replaceAll('$MADE', made),
  );
  const started = Date.now();
  let result;
  if (way.client === 'zkcli') {
    result = await run(ZKCLI, args, { timeoutMs: RUN_TIMEOUT_MS, env: zkCliEnv() });
  } else {
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C.UTF-8' };
    delete env.NODE_TEST_CONTEXT;
    result = await run(process.execPath, [ENSEMBLE_BIN, 'cli', ...args], { timeoutMs: RUN_TIMEOUT_MS, env, cwd: REPO });
  }
  const elapsedMs = Date.now() - started;
  const subst: [string, string][] = [
    [made, '$MADE'],
    [server.connectString, '$SERVER'],
  ];
  const stdout = normalizeStream(result.stdout, subst);
  const stderr = normalizeStream(result.stderr, subst);
  const status = result.signal ? `killed by ${result.signal}` : `exit status ${result.code}`;
  return {
    text: `== ${status}\n-- stdout\n${stdout}-- stderr\n${stderr}`,
    code: result.code,
    stdout,
    stderr,
    elapsedMs,
  };
}

/** Runs tasks with at most `limit` at once. */
function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T>[] {
  const gates: (() => void)[] = [];
  let running = 0;
  return tasks.map(async (task) => {
    if (running >= limit) await new Promise<void>((r) => gates.push(r));
    running++;
    try {
      return await task();
    } finally {
      running--;
      gates.shift()?.();
    }
  });
}

async function createFixtures(server: RunningServer): Promise<void> {
  const client = await RawClient.connect(server.host, server.port);
  try {
    await client.create('/one', 'one data');
    await client.create('/one/child', 'child data');
    await client.create('/made'); // where `create $MADE` creates
    // digest:user:pass
    await client.create('/secret', 'secret', {
      acl: [{ perms: 31, id: { scheme: 'digest', id: 'user:smGaoVKd/cQkjm7b88GyorAUz20=' } }],
    });
  } finally {
    await client.close();
  }
}

describe('one-shot commands: zkCli.sh and ensemble cli, against Apache ZooKeeper and Ensemble', () => {
  const servers = withBothServers();
  const outcomes = new Map<string, Promise<Outcome | Error>>();
  const key = (i: number, way: Way): string => `${i}/${way.n}`;

  before(async () => {
    await Promise.all([createFixtures(servers.zookeeper()), createFixtures(servers.ensemble())]);
    const tasks: { i: number; way: Way }[] = [];
    for (const way of WAYS) CASES.forEach((_c, i) => tasks.push({ i, way }));
    const promises = pool(
      tasks.map(({ i, way }) => () => runCase(CASES[i], way, servers.get(way.server))),
      CONCURRENCY,
    );
    tasks.forEach(({ i, way }, k) => {
      outcomes.set(
        key(i, way),
        promises[k].catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))),
      );
    });
    const dumpDir = process.env.TRANSCRIPTS_DUMP;
    if (dumpDir) {
      void Promise.all(tasks.map(({ i, way }) => outcomes.get(key(i, way))!)).then((all) => {
        mkdirSync(dumpDir, { recursive: true });
        for (const way of WAYS) {
          const text = CASES.map((c, i) => {
            const o = all[tasks.findIndex((t) => t.i === i && t.way === way)];
            return `$ ${caseName(c)}\n${o instanceof Error ? `!! ${o.message}\n` : o.text}`;
          }).join('');
          writeFileSync(join(dumpDir, `one-shot.w${way.n}.txt`), text);
        }
      });
    }
  });

  const get = async (i: number, way: Way): Promise<Outcome> => {
    const o = await outcomes.get(key(i, way))!;
    if (o instanceof Error) throw o;
    return o;
  };

  CASES.forEach((c, i) => {
    describe(caseName(c), () => {
      for (const way of WAYS.slice(1)) {
        test(`${way.n} ${way.label}: same as 1 (${WAYS[0].label})`, { timeout: 300_000 }, async () => {
          const [ref, got] = await Promise.all([get(i, WAYS[0]), get(i, way)]);
          const describeBoth = `--- way 1 (${WAYS[0].label})\n${ref.text}\n--- way ${way.n} (${way.label})\n${got.text}`;
          if (c.zkCliCrashes && way.client === 'ensemble-cli') {
            assert.match(ref.stderr, /^Exception in thread "main" /m, `zkCli was expected to crash here:\n${describeBoth}`);
            assert.equal(got.code, ref.code, `exit status differs:\n${describeBoth}`);
            assert.equal(got.stdout, ref.stdout, `stdout differs:\n${describeBoth}`);
            const lines = got.stderr.split('\n').filter((l) => l !== '');
            assert.equal(lines.length, 1, `ensemble cli should print one line on stderr:\n${describeBoth}`);
            assert.doesNotMatch(got.stderr, /Exception in thread|^\s+at /m, `no stack trace expected:\n${describeBoth}`);
          } else {
            assert.equal(got.text, ref.text, `${caseName(c)}: way ${way.n} differs from way 1:\n${describeBoth}`);
          }
          if (c.limitMs !== undefined && way.client === 'ensemble-cli') {
            assert.ok(got.elapsedMs <= c.limitMs, `took ${got.elapsedMs} ms: waited for the session timeout rather than failing at once (limit ${c.limitMs} ms)`);
          }
        });
      }
    });
  });
});
