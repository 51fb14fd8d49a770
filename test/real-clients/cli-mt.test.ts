import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SERVER_NAMES, withBothServers, type RunningServer } from '../support/servers.ts';
import { Interactive } from './lib/process.ts';
import { maskDates, renumberHex, tidy } from './lib/normalize.ts';

const CLI_MT = '/usr/lib/zookeeper/bin/cli_mt';
/** How long one step may take: far more than it needs, for a busy machine. */
const STEP_TIMEOUT_MS = 60_000;

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Completion of create/sync: "[path]: rc = 0" + "\tname = …", or a negative rc. */
const stringDone = (path: string): RegExp => new RegExp(`^\\[${esc(path)}\\]: rc = (?:0\\n\\tname = [^\\n]*|-\\d+)\\n`, 'm');
/** A stat dump ends with the ephemeralOwner line, or is "null". */
const STAT_END = '(?:null|\\tctime = [\\s\\S]*?\\tephemeralOwner = [0-9a-f]+)\\n';
const getDone = (path: string): RegExp => new RegExp(`^${esc(path)}: rc = -?\\d+\\n[\\s\\S]*?^Stat:\\n${STAT_END}`, 'm');
const setDone = (path: string): RegExp => new RegExp(`^${esc(path)}: rc = -?\\d+ Stat:\\n${STAT_END}`, 'm');
const voidDone = (path: string): RegExp => new RegExp(`^${esc(path)}: rc = -?\\d+\\n`, 'm');
const lsDone = (path: string): RegExp => new RegExp(`^${esc(path)}: rc = -?\\d+\\n(?:\\t[^\\n]*\\n)*time = \\d+ msec\\n`, 'm');
const ls2Done = (path: string): RegExp =>
  new RegExp(`^${esc(path)}: rc = -?\\d+\\n(?:\\t[^\\n]*\\n)*time = \\d+ msec\\n${STAT_END}`, 'm');

/** Commands for the C client's shell, each with the output that marks its completion (the
 * shell is asynchronous: completions arrive on another thread). */
const STEPS: readonly { command: string; done: RegExp }[] = [
  { command: 'create /cmt', done: stringDone('/cmt') },
  { command: 'create /cmt', done: stringDone('/cmt') },
  { command: 'create +s /cmt/seq-', done: stringDone('/cmt/seq-') },
  { command: 'create +e /cmt/eph', done: stringDone('/cmt/eph') },
  { command: 'create /missing/child', done: stringDone('/missing/child') },
  { command: 'get /cmt', done: getDone('/cmt') },
  { command: 'set /cmt hello world', done: setDone('/cmt') },
  { command: 'get /cmt', done: getDone('/cmt') },
  { command: 'ls /', done: lsDone('/') },
  { command: 'ls2 /cmt', done: ls2Done('/cmt') },
  { command: 'wexists /nope', done: /^Error -101 for \/nope\n/m },
  { command: 'create /nope', done: stringDone('/nope') },
  { command: 'sync /cmt', done: stringDone('/cmt') },
  { command: 'delete /cmt', done: voidDone('/cmt') },
  { command: 'delete /cmt/seq-0000000000', done: voidDone('/cmt/seq-0000000000') },
  { command: 'delete /cmt/eph', done: voidDone('/cmt/eph') },
  { command: 'delete /nope', done: voidDone('/nope') },
  { command: 'delete /cmt', done: voidDone('/cmt') },
  { command: 'get /cmt', done: getDone('/cmt') },
  { command: 'set /cmt gone', done: setDone('/cmt') },
  { command: 'quit', done: /^Quitting\.\.\.\n/m },
];

/** Apache ZooKeeper 3.8.0's transcript, normalized. */
const EXPECTED = `Watcher SESSION_EVENT state = CONNECTED_STATE
Got a new session id: <H1>
Creating [/cmt] node (mode: 0)
[/cmt]: rc = 0
\tname = /cmt
Creating [/cmt] node (mode: 0)
[/cmt]: rc = -110
Creating [/cmt/seq-] node (mode: 2)
[/cmt/seq-]: rc = 0
\tname = /cmt/seq-0000000000
Creating [/cmt/eph] node (mode: 1)
[/cmt/eph]: rc = 0
\tname = /cmt/eph
Creating [/missing/child] node (mode: 0)
[/missing/child]: rc = -101
time = <ms> msec
/cmt: rc = 0
 value_len = 3
new
Stat:
\tctime = <date>
\tczxid=<H2>
\tmtime=<date>
\tmzxid=<H2>
\tversion=0\taversion=0
\tephemeralOwner = 0x0
Watcher CHANGED_EVENT state = CONNECTED_STATE for path /cmt
/cmt: rc = 0 Stat:
\tctime = <date>
\tczxid=<H2>
\tmtime=<date>
\tmzxid=<H3>
\tversion=1\taversion=0
\tephemeralOwner = 0x0
time = <ms> msec
/cmt: rc = 0
 value_len = 11
hello world
Stat:
\tctime = <date>
\tczxid=<H2>
\tmtime=<date>
\tmzxid=<H3>
\tversion=1\taversion=0
\tephemeralOwner = 0x0
time = <ms> msec
/: rc = 0
\tcmt
\tzookeeper
time = <ms> msec
time = <ms> msec
/cmt: rc = 0
\teph
\tseq-0000000000
time = <ms> msec
\tctime = <date>
\tczxid=<H2>
\tmtime=<date>
\tmzxid=<H3>
\tversion=1\taversion=0
\tephemeralOwner = 0x0
Error -101 for /nope
Creating [/nope] node (mode: 0)
Watcher CREATED_EVENT state = CONNECTED_STATE for path /nope
Watcher CHILD_EVENT state = CONNECTED_STATE for path /
[/nope]: rc = 0
\tname = /nope
[/cmt]: rc = 0
\tname = /cmt
/cmt: rc = -111
Watcher CHILD_EVENT state = CONNECTED_STATE for path /cmt
/cmt/seq-0000000000: rc = 0
/cmt/eph: rc = 0
/nope: rc = 0
Watcher DELETED_EVENT state = CONNECTED_STATE for path /cmt
/cmt: rc = 0
time = <ms> msec
/cmt: rc = -101

Stat:
null
/cmt: rc = -101 Stat:
null
Quitting...
`;

/** Sorts each run of child-name lines ("\tname", no "=") — ZooKeeper returns children in
 * hash-set order, which clients must not rely on. */
function sortChildRuns(lines: string[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  const flush = (): void => {
    out.push(...run.sort());
    run = [];
  };
  for (const line of lines) {
    if (/^\t[^=]*$/.test(line)) run.push(line);
    else {
      flush();
      out.push(line);
    }
  }
  flush();
  return out;
}

function normalize(raw: string): string {
  const text = tidy(raw)
    .replace(/^time = \d+ msec$/gm, 'time = <ms> msec')
    // the C client prints zxids and session ids as bare hex
    .replace(/\b(czxid|mzxid)=([0-9a-f]+)$/gm, '$1=0x$2')
    .replace(/\bephemeralOwner = ([0-9a-f]+)$/gm, 'ephemeralOwner = 0x$1');
  return renumberHex(maskDates(sortChildRuns(text.split('\n')).join('\n')));
}

async function session(server: RunningServer): Promise<{ output: string; code: number | null }> {
  const cli = new Interactive(CLI_MT, [server.connectString], { mergeStderr: true });
  const notes: string[] = [];
  try {
    let offset = 0;
    const step = async (pattern: RegExp, what: string): Promise<void> => {
      try {
        offset = (await cli.waitFor(pattern, STEP_TIMEOUT_MS, offset)).end;
      } catch (err) {
        // Keep going so that the comparison shows where the servers differ.
        notes.push(`[${server.name}: no completion for ${what}: ${(err as Error).message.split('\n')[0]}]`);
      }
    };
    await step(/^Got a new session id: 0x[0-9a-f]+\n/m, 'connection');
    for (const { command, done } of STEPS) {
      cli.write(`${command}\n`);
      await step(done, command);
    }
    cli.endInput();
    const exit = await cli.waitExit(STEP_TIMEOUT_MS);
    return { output: cli.output + notes.join('\n'), code: exit.code };
  } finally {
    await cli.stop();
  }
}

const TEST_TIMEOUT_MS = 300_000;

describe('cli_mt (C client 3.8) against Apache ZooKeeper and Ensemble', () => {
  const servers = withBothServers();

  test('the same command session prints the same output', { timeout: TEST_TIMEOUT_MS }, async () => {
    const [zookeeper, ensemble] = await Promise.all(SERVER_NAMES.map((n) => session(servers.get(n))));
    const zk = normalize(zookeeper.output);
    assert.equal(zk, EXPECTED, `Apache ZooKeeper's cli_mt output changed:\n${zookeeper.output}`);
    assert.equal(zookeeper.code, 0);
    assert.equal(normalize(ensemble.output), zk, `raw Ensemble output:\n${ensemble.output}`);
    assert.equal(ensemble.code, 0);
  });
});
