/**
 * Transcript tests for `ensemble cli`: every script in test/cli/transcripts/*.txt is run four ways,
 *
 *   1. zkCli.sh (Apache ZooKeeper 3.8's Java client) against Apache ZooKeeper 3.8: the reference;
 *   2. zkCli.sh against Ensemble (a difference here is a server bug);
 *   3. `node bin/ensemble.js cli -server 127.0.0.1:PORT` against Apache ZooKeeper;
 *   4. the same against Ensemble,
 *
 * and ways 2-4 must print, after masking, exactly what way 1 prints, and exit with the same
 * status. There is one subtest per script and way, so every way is reported; a failure shows a
 * unified diff against way 1. Ways 3 and 4 run the built `bin/ensemble.js`, which loads dist/:
 * run `npm run build` first (`npm test` does). Both servers run with TTL znodes enabled
 * (extended types) and a super user (used only by the harness, to clean up).
 *
 * Script format (one line each; blank lines are ignored):
 *   command               sent to the CLI as it is (zkCli's `create /a "x y"` quoting and all)
 *   # text                a comment
 *   #wait TEXT            the preceding command is not finished until TEXT has been printed on
 *                         stdout (literal text; give it twice to wait for two occurrences): for
 *                         watch notifications, which zkCli prints from another thread
 *   #send "JSON"          sends the JSON string as a line (`#send ""`: an empty line)
 *   #create-bytes P [HEX] the harness creates znode P holding these bytes (open ACL) over a
 *                         connection of its own: data that zkCli cannot type
 * `$ROOT` stands for the script's own root znode `/t-<script>`, `$SERVER` for `127.0.0.1:<port>`;
 * both are masked back in the output. Scripts share the servers and run concurrently, so they
 * must not look outside their root (`ls /` would see the others). The root has the same name in
 * all four ways, because ZooKeeper prints some lists in the hash order of the paths
 * (getEphemerals): ways 1 and 2 run together (one per server), then the harness deletes the root
 * (and its quota znodes) on both servers as the super user, then ways 3 and 4 run. A script
 * should end with `quit` (zkCli then exits with the status of the command before it, printing the
 * Closed event or not: a race in zkCli, so that event is left out of the comparison); a script
 * without it ends with end of input.
 *
 * How each process is driven, so that the output does not depend on thread timing:
 * - stdout and stderr are read from separate pipes (zkCli prints errors, usage and `Created …` on
 *   stderr, the rest on stdout). Each command's output is rendered as its stdout lines, then its
 *   stderr lines prefixed `2> `, then its notifications: the transcript checks which stream every
 *   line went to, and the order across commands, but not the interleaving of the two streams
 *   within one command.
 * - Before the first command the harness waits for `JLine support is disabled` and the
 *   `WatchedEvent state:SyncConnected type:None path:null` notification.
 * - After every command except the last one (or the last two, when the script ends with
 *   `quit`), the harness sends a sentinel line `sentinel-<n>`, an unknown command: zkCli prints
 *   its usage and `Command not found: Command not found sentinel-<n>` on stderr, connected or
 *   not, from the thread that ran the command, after all of the command's own output. The
 *   command is finished when that line has arrived and its `#wait` texts have been printed (plus
 *   5 ms for the other pipe to be read); the sentinel's output is then dropped. The sentinels are
 *   part of the session: every non-empty line sent takes a history number, so (without
 *   `#send ""`) the script's n-th command, counted from 0, is number 2n, and `history` lists the
 *   sentinels too, the same in all four ways. Since no sentinel follows the last command, the
 *   exit status after `quit` is that command's.
 * - Watch notifications (the writes `\nWATCHER::\n` and `\nWatchedEvent …\n`, printed from the
 *   event thread) race with the output of the command that caused them: within each command
 *   they are moved after its own lines, in the order they were printed. A notification that no
 *   `#wait` binds to a command may land in a later command's output, so scripts `#wait` for every
 *   notification they cause, and use `sync PATH` as a barrier where a notification must *not*
 *   be printed (zkCli runs sync's callback on the event thread, after every earlier
 *   notification).
 *
 * Masks (applied to all four outputs alike), in normalizeTranscript() and renderStep(): the
 * script root and the server address (above); Java-only output (SLF4J warnings, even in the
 * middle of a line, and log lines) and
 * Java stack-trace frames (`\tat …`; the `Exception in thread "main" …` line itself stays);
 * dates (`<date>`); every 0x… number except 0x0 and TTL owners (0xff…) is renumbered `<H1>`,
 * `<H2>`… in order of first appearance (zxids, session ids), so equal values stay equal; the text
 * after `ZooKeeper CLI version: `; control characters other than tab and newline are shown as
 * `<\xNN>` (binary data); trailing whitespace on each line is dropped (zkCli's usage lines for
 * close, history, quit, version and whoami end with a space).
 *
 * On ensembles (transcripts-ensemble.test.ts: three members of each server, the CLI given every
 * member's address), each member's ports in the output (`config` lists them) are masked as
 * `:$CLIENTn`, `:$QUORUMn` and `:$ELECTIONn`; after the harness's own writes (the cleanup,
 * `#create-bytes`) every member is synced, so a CLI on any member reads them.
 *
 * TRANSCRIPTS_DUMP=DIR writes each way's normalised transcript (and the raw output) to DIR;
 * TRANSCRIPTS_ONLY=name[,name] runs only those scripts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import { OpCode } from '../../src/protocol/constants.ts';
import { readSyncResponse, writePathRequest } from '../../src/protocol/requests.ts';
import { SUPER_AUTH, SUPER_DIGEST, withBothServers, type RunningServer, type ServerName, type ServerOptions } from '../support/servers.ts';
import { RawClient } from '../support/raw-client.ts';
import { Interactive, ZKCLI, zkCliEnv } from '../real-clients/lib/process.ts';
import { maskDates, renumberHex, stripJavaNoise, stripJavaStackFrames, tidy, withoutClosedEvent } from '../real-clients/lib/normalize.ts';
import { WAYS, type Way } from './ways.ts';

const REPO = resolve(import.meta.dirname, '../..');
const SCRIPTS_DIR = resolve(import.meta.dirname, 'transcripts');
const ENSEMBLE_BIN = join(REPO, 'bin/ensemble.js');

// Each wait below is for something that does happen; the limits are far beyond what it needs, so
// that a busy machine (a JVM starting on two shared cores) is never taken for a failure.
/** Waiting for the JVM to start and connect. */
const START_TIMEOUT_MS = 60_000;
/** Waiting for one command's sentinel. */
const STEP_TIMEOUT_MS = 30_000;
/** Waiting for the `#wait` texts once the command itself has finished. */
const WAIT_TIMEOUT_MS = 15_000;
/** Waiting for the process to exit after `quit` or end of input. */
const EXIT_TIMEOUT_MS = 30_000;
/** Each comparison's own limit: it waits for both of its runs. */
const TEST_TIMEOUT_MS = 600_000;
/** After a command's sentinel has arrived on stderr: time for the stdout pipe to be read too. */
const SETTLE_MS = 5;
/** Processes running at once (two cores: JVM start-up is the main cost). */
const CONCURRENCY = 4;


// ---------------------------------------------------------------------------------------------
// Scripts

type Action =
  | { kind: 'send'; line: string; shown: string; waits: string[] }
  | { kind: 'create-bytes'; path: string; data: Buffer; shown: string };

interface Script {
  name: string;
  actions: Action[];
}

function parseScript(name: string, text: string): Script {
  const actions: Action[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    const where = `${name}.txt:${i + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#(\S*)\s?(.*)$/.exec(line)!;
      const [, directive, rest] = m;
      if (directive === '') return; // a comment
      if (directive === 'wait') {
        const last = actions[actions.length - 1];
        if (!last || last.kind !== 'send') throw new Error(`${where}: #wait must follow a command`);
        if (rest === '') throw new Error(`${where}: #wait needs a text`);
        last.waits.push(rest);
        return;
      }
      if (directive === 'send') {
        const sent: unknown = JSON.parse(rest);
        if (typeof sent !== 'string' || sent.includes('\n')) throw new Error(`${where}: #send needs a one-line JSON string`);
        actions.push({ kind: 'send', line: sent, shown: `${sent}    (#send ${rest})`, waits: [] });
        return;
      }
      if (directive === 'create-bytes') {
        const cm = /^(\S+)(?:\s+([0-9a-fA-F]*))?$/.exec(rest.trim());
        const hex = cm?.[2] ?? '';
        if (!cm || hex.length % 2 !== 0) throw new Error(`${where}: usage: #create-bytes PATH [HEX]`);
        actions.push({ kind: 'create-bytes', path: cm[1], data: Buffer.from(hex, 'hex'), shown: line });
        return;
      }
      throw new Error(`${where}: unknown directive #${directive} (comments start with "# ")`);
    }
    actions.push({ kind: 'send', line, shown: line, waits: [] });
  });
  return { name, actions };
}

function loadScripts(): Script[] {
  const only = process.env.TRANSCRIPTS_ONLY?.split(',').filter(Boolean);
  return readdirSync(SCRIPTS_DIR)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => f.slice(0, -'.txt'.length))
    .filter((name) => !only || only.includes(name))
    .map((name) => parseScript(name, readFileSync(join(SCRIPTS_DIR, `${name}.txt`), 'utf8')));
}

// ---------------------------------------------------------------------------------------------
// Running one script one way

interface RawStep {
  /** The script lines this output belongs to (after the first: several for the final tail). */
  headers: string[];
  out: string;
  err: string;
  /** The sentinel this step ended with, if any. */
  sentinel?: string;
  notes: string[];
}

interface Run {
  way: Way;
  transcript: string;
  raw: string;
  /** Problems of the run itself (timeouts), also shown in the transcript. */
  notes: string[];
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function countOf(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

function spawnClient(way: Way, server: RunningServer): Interactive {
  if (way.client === 'zkcli') {
    return new Interactive(ZKCLI, ['-server', server.connectString], { env: zkCliEnv() });
  }
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C.UTF-8' };
  delete env.NODE_TEST_CONTEXT;
  return new Interactive(process.execPath, [ENSEMBLE_BIN, 'cli', '-server', server.connectString], { env, cwd: REPO });
}

/** Creates a znode with the given bytes over a connection of the harness's own. */
async function createBytes(server: RunningServer, path: string, data: Buffer): Promise<void> {
  const client = await RawClient.connect(server.host, server.port);
  try {
    await client.create(path, data);
  } finally {
    await client.close();
  }
  await syncMembers(server, path);
}

/** On an ensemble: a sync through every member, so that each has applied the harness's writes. */
async function syncMembers(server: RunningServer, path: string): Promise<void> {
  for (const m of server.members ?? []) {
    const client = await RawClient.connect(server.host, m.clientPort);
    try {
      const r = await client.call(OpCode.sync, (w) => writePathRequest(w, path), readSyncResponse);
      if (r.err !== 0) throw new Error(`sync ${path} through member ${m.id} of ${server.name} failed: ${r.err}`);
    } finally {
      await client.close();
    }
  }
}

/** The script's root znode: the same name in all four ways (see the header). */
function rootOf(script: Script): string {
  return `/t-${script.name}`;
}

/** Deletes a subtree, as the super user (the scripts leave znodes with restrictive ACLs). */
async function removeTree(server: RunningServer, root: string): Promise<void> {
  const client = await RawClient.connect(server.host, server.port);
  try {
    await client.addAuth('digest', SUPER_AUTH);
    const remove = async (path: string): Promise<void> => {
      const children = await client.tryGetChildren(path);
      for (const child of children.value ?? []) await remove(`${path}/${child}`);
      await client.tryDelete(path);
    };
    // the script's quota znodes too
    for (const path of [root, `/zookeeper/quota${root}`]) {
      await remove(path);
      const left = await client.tryExists(path);
      if (left.value) throw new Error(`could not remove ${path} from ${server.name}`);
    }
  } finally {
    await client.close();
  }
  await syncMembers(server, '/');
}

async function runScript(script: Script, way: Way, server: RunningServer): Promise<Run> {
  const root = rootOf(script);
  const subst = (s: string): string => s.replaceAll('$ROOT', root).replaceAll('$SERVER', server.connectString);
  const cli = spawnClient(way, server);
  const steps: RawStep[] = [];
  const runNotes: string[] = [];
  let outPos = 0;
  let errPos = 0;
  const cut = (step: Omit<RawStep, 'out' | 'err'>): void => {
    steps.push({ ...step, out: cli.output.slice(outPos), err: cli.stderr.slice(errPos) });
    outPos = cli.output.length;
    errPos = cli.stderr.length;
  };
  /** Waits for a condition; on failure records a note and returns false. */
  const waitUntil = async (check: () => boolean, timeoutMs: number, what: string, notes: string[]): Promise<boolean> => {
    try {
      await cli.waitUntil(check, timeoutMs, what);
      return true;
    } catch (err) {
      const first = (err as Error).message.split('\n')[0];
      const note = cli.running ? `harness: timed out waiting for ${what}` : `harness: the process exited before printing ${what}`;
      notes.push(note);
      runNotes.push(`${note} (${first})`);
      return false;
    }
  };
  const waitsDone = (waits: readonly string[], from: number) => (): boolean => {
    const seen = cli.output.slice(from);
    const wanted = new Map<string, number>();
    for (const w of waits) wanted.set(w, (wanted.get(w) ?? 0) + 1);
    return [...wanted].every(([text, n]) => countOf(seen, text) >= n);
  };

  let exit: { code: number | null; signal: NodeJS.Signals | null } | 'timeout' | undefined;
  try {
    // The start: banner lines and the connection event.
    const startNotes: string[] = [];
    await waitUntil(
      waitsDone(['JLine support is disabled\n', 'WatchedEvent state:SyncConnected type:None path:null\n'], 0),
      START_TIMEOUT_MS,
      'the banner and the connection event',
      startNotes,
    );
    await delay(SETTLE_MS);
    cut({ headers: ['(start) -server $SERVER'], notes: startNotes });

    const sends = script.actions.filter((a) => a.kind === 'send');
    const lastSend = sends[sends.length - 1];
    // The tail, sent without sentinels: the last command, or the last two if the last is `quit`.
    const tailStart =
      lastSend === undefined
        ? script.actions.length
        : script.actions.indexOf(
            lastSend.line === 'quit' && sends.length >= 2 ? sends[sends.length - 2] : lastSend,
          );

    let alive = cli.running;
    for (let i = 0; i < tailStart && alive; i++) {
      const action = script.actions[i];
      if (action.kind === 'create-bytes') {
        const notes: string[] = [];
        try {
          await createBytes(server, subst(action.path), action.data);
        } catch (err) {
          notes.push(`harness: ${action.shown} failed: ${(err as Error).message}`);
        }
        if (notes.length > 0) cut({ headers: [action.shown], notes });
        continue;
      }
      const sentinel = `sentinel-${i}`;
      const notes: string[] = [];
      cli.write(`${subst(action.line)}\n${sentinel}\n`);
      const marker = `Command not found: Command not found ${sentinel}\n`;
      const ok = await waitUntil(
        () => cli.stderr.indexOf(marker, errPos) >= 0,
        STEP_TIMEOUT_MS,
        `the end of "${action.shown}" (${sentinel})`,
        notes,
      );
      if (ok) await waitUntil(waitsDone(action.waits.map(subst), outPos), WAIT_TIMEOUT_MS, `#wait ${action.waits.join(' / ')}`, notes);
      await delay(SETTLE_MS);
      cut({ headers: [action.shown], sentinel, notes });
      alive = cli.running;
    }

    // The tail: no sentinel, so that the exit status is that of the script's last command.
    const tailHeaders: string[] = [];
    const tailNotes: string[] = [];
    for (let i = tailStart; i < script.actions.length && alive; i++) {
      const action = script.actions[i];
      tailHeaders.push(action.shown);
      if (action.kind === 'create-bytes') {
        tailNotes.push('harness: #create-bytes is not supported at the end of a script');
        continue;
      }
      const from = outPos;
      cli.write(`${subst(action.line)}\n`);
      if (action.waits.length > 0) {
        await waitUntil(waitsDone(action.waits.map(subst), from), WAIT_TIMEOUT_MS, `#wait ${action.waits.join(' / ')}`, tailNotes);
      }
    }
    cli.endInput();
    try {
      exit = await cli.waitExit(EXIT_TIMEOUT_MS);
    } catch {
      exit = 'timeout';
      tailNotes.push(`harness: the process did not exit within ${EXIT_TIMEOUT_MS} ms`);
      runNotes.push(tailNotes[tailNotes.length - 1]);
    }
    cut({ headers: tailHeaders, notes: tailNotes });
  } finally {
    await cli.stop();
  }

  const lines: string[] = [];
  for (const step of steps) {
    for (const h of step.headers) lines.push(`$ ${h}`);
    const rendered = renderStep(step);
    lines.push(...(step === steps[steps.length - 1] && step.headers.includes('quit') ? withoutClosedEvent(rendered) : rendered));
    for (const n of step.notes) lines.push(`!! ${n}`);
  }
  if (exit === 'timeout' || exit === undefined) lines.push('== no exit status (killed)');
  else if (exit.signal) lines.push(`== killed by ${exit.signal}`);
  else lines.push(`== exit status ${exit.code}`);

  const raw = steps
    .map((s) => `### ${s.headers.join(' | ')}\n--- stdout ---\n${s.out}--- stderr ---\n${s.err}`)
    .join('\n');
  return {
    way,
    transcript: normalizeTranscript(lines.join('\n') + '\n', { root, server }),
    raw,
    notes: runNotes,
  };
}

/** Java-only lines out, stack frames out. */
function cleanJava(text: string): string {
  return stripJavaStackFrames(stripJavaNoise(text));
}

/** A notification is printed as two writes, `\nWATCHER::\n` and `\nWatchedEvent …\n`. */
const EVENT_WRITE = /\nWATCHER::\n|\nWatchedEvent [^\n]*\n/g;

/** Text into lines, without the empty string after a final newline. */
function toLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Removes the sentinel's output (its usage block and its `Command not found` line) from stderr. */
function removeSentinel(errLines: string[], sentinel: string): string[] {
  const idx = errLines.lastIndexOf(`Command not found: Command not found ${sentinel}`);
  if (idx < 0) return errLines;
  let start = idx;
  for (let j = idx - 1; j >= 0; j--) {
    if (errLines[j].startsWith('ZooKeeper -server ')) {
      start = j;
      break;
    }
    if (!errLines[j].startsWith('\t')) break;
  }
  return [...errLines.slice(0, start), ...errLines.slice(idx + 1)];
}

/** One command's output: its stdout lines, its stderr lines (prefixed `2> `), then notifications. */
function renderStep(step: RawStep): string[] {
  const events: string[] = [];
  const rest = cleanJava(step.out).replace(EVENT_WRITE, (m) => {
    events.push(m);
    return '';
  });
  let errLines = toLines(cleanJava(step.err));
  if (step.sentinel) errLines = removeSentinel(errLines, step.sentinel);
  return [...toLines(rest), ...errLines.map((l) => `2> ${l}`), ...toLines(events.join(''))];
}

/** TTL znodes' ephemeralOwner (0xff00… plus the TTL) is deterministic: not renumbered. */
const isTtlOwner = (v: bigint): boolean => v >> 56n === 0xffn;

function normalizeTranscript(text: string, { root, server }: { root: string; server: RunningServer }): string {
  let masked = text.replaceAll(root, '$ROOT').replaceAll(server.connectString, '$SERVER');
  for (const m of server.members ?? []) {
    for (const [port, name] of [[m.clientPort, 'CLIENT'], [m.quorumPort, 'QUORUM'], [m.electionPort, 'ELECTION']] as const) {
      masked = masked.replace(new RegExp(`:${port}(?!\\d)`, 'g'), `:$${name}${m.id}`);
    }
  }
  masked = masked
    // `version`: the client's own version and build
    .replace(/^ZooKeeper CLI version: .*$/gm, 'ZooKeeper CLI version: <version>');
  // oxlint-disable-next-line no-control-regex -- control characters are what it makes visible
  const visible = masked.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `<\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}>`);
  return tidy(renumberHex(maskDates(visible), 'H', isTtlOwner));
}

// ---------------------------------------------------------------------------------------------
// Comparison

/** A unified diff of two texts by lines (LCS), with 3 lines of context. */
function unifiedDiff(a: string, b: string, aName: string, bName: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  // lcs[i][j]: LCS length of x[i..] and y[j..]
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  type Op = { t: ' ' | '-' | '+'; line: string; ai: number; bi: number };
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) ops.push({ t: ' ', line: x[i], ai: i++, bi: j++ });
    else if (i < n && (j >= m || lcs[i + 1][j] >= lcs[i][j + 1])) ops.push({ t: '-', line: x[i], ai: i++, bi: j });
    else ops.push({ t: '+', line: y[j], ai: i, bi: j++ });
  }
  const out = [`--- ${aName}`, `+++ ${bName}`];
  const CONTEXT = 3;
  let k = 0;
  while (k < ops.length) {
    if (ops[k].t === ' ') {
      k++;
      continue;
    }
    const start = Math.max(0, k - CONTEXT);
    let end = k;
    // extend the hunk while changes are within 2*CONTEXT of each other
    for (;;) {
      while (end < ops.length && ops[end].t !== ' ') end++;
      let next = end;
      while (next < ops.length && ops[next].t === ' ' && next - end < 2 * CONTEXT) next++;
      if (next < ops.length && ops[next].t !== ' ') end = next;
      else break;
    }
    const stop = Math.min(ops.length, end + CONTEXT);
    const hunk = ops.slice(start, stop);
    const aCount = hunk.filter((o) => o.t !== '+').length;
    const bCount = hunk.filter((o) => o.t !== '-').length;
    out.push(`@@ -${hunk[0].ai + 1},${aCount} +${hunk[0].bi + 1},${bCount} @@`);
    for (const o of hunk) out.push(`${o.t}${o.line}`);
    k = stop;
  }
  return out.join('\n');
}

/** Ensemble's dist/ is older than its src/: `bin/ensemble.js` would run stale code. */
function staleBuildHint(): string {
  try {
    const built = statSync(join(REPO, 'dist/cli/main.js')).mtimeMs;
    const newest = (dir: string): number =>
      Math.max(
        0,
        ...readdirSync(dir, { withFileTypes: true }).map((e) =>
          e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs,
        ),
      );
    return newest(join(REPO, 'src')) > built ? '\n(dist/ is older than src/: run `npm run build` first)' : '';
  } catch {
    return '\n(dist/cli/main.js is missing: run `npm run build` first)';
  }
}

// ---------------------------------------------------------------------------------------------
// The tests

/** Runs tasks with at most `limit` at once, in the order given. */
function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T>[] {
  let next = 0;
  const results: Promise<T>[] = [];
  const gates: (() => void)[] = [];
  let running = 0;
  const release = (): void => {
    running--;
    gates.shift()?.();
  };
  for (const task of tasks) {
    const index = next++;
    results[index] = (async () => {
      if (running >= limit) await new Promise<void>((r) => gates.push(r));
      running++;
      try {
        return await task();
      } finally {
        release();
      }
    })();
  }
  return results;
}

/**
 * The transcript tests: every script, every way, against the servers `start` starts (by default
 * one standalone server of each kind).
 */
export function describeTranscripts(title: string, start?: (name: ServerName, opts: ServerOptions) => Promise<RunningServer>): void {
  describe(title, () => transcriptTests(start));
}

function transcriptTests(start?: (name: ServerName, opts: ServerOptions) => Promise<RunningServer>): void {
  const scripts = loadScripts();
  const dumpDir = process.env.TRANSCRIPTS_DUMP;
  const servers = withBothServers({ extendedTypesEnabled: true, superDigest: SUPER_DIGEST }, start);
  const runs = new Map<string, Promise<Run | Error>>();
  const key = (script: Script, way: Way): string => `${script.name}/${way.n}`;

  before(() => {
    // Start everything now; each subtest awaits its own run, and errors become values (no
    // unhandled rejections). Per script: ways 1 and 2 together, then ways 3 and 4 together,
    // each pair on a clean root. Two scripts at a time, so four processes at most.
    const settle = new Map<string, (r: Run | Error) => void>();
    for (const script of scripts) {
      for (const way of WAYS) {
        runs.set(key(script, way), new Promise((resolve) => settle.set(key(script, way), resolve)));
      }
    }
    const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
    const runPair = async (script: Script, pair: readonly Way[]): Promise<void> => {
      try {
        await Promise.all(pair.map((way) => removeTree(servers.get(way.server), rootOf(script))));
      } catch (err) {
        for (const way of pair) settle.get(key(script, way))!(asError(err));
        return;
      }
      await Promise.all(
        pair.map(async (way) => {
          let result: Run | Error;
          try {
            result = await runScript(script, way, servers.get(way.server));
            if (dumpDir) {
              mkdirSync(dumpDir, { recursive: true });
              writeFileSync(join(dumpDir, `${script.name}.w${way.n}.txt`), result.transcript);
              writeFileSync(join(dumpDir, `${script.name}.w${way.n}.raw.txt`), result.raw);
            }
          } catch (err) {
            result = asError(err);
          }
          settle.get(key(script, way))!(result);
        }),
      );
    };
    pool(
      scripts.map((script) => async () => {
        try {
          await runPair(script, [WAYS[0], WAYS[1]]);
          await runPair(script, [WAYS[2], WAYS[3]]);
        } catch (err) {
          // (a harness bug: settle whatever is still waiting; settling twice has no effect)
          for (const way of WAYS) settle.get(key(script, way))!(asError(err));
        }
      }),
      CONCURRENCY / 2,
    );
  });

  const get = async (script: Script, way: Way): Promise<Run> => {
    const r = await runs.get(key(script, way))!;
    if (r instanceof Error) throw r;
    return r;
  };

  for (const script of scripts) {
    describe(script.name, () => {
      test(`1 ${WAYS[0].label}: runs to the end`, { timeout: TEST_TIMEOUT_MS }, async () => {
        const ref = await get(script, WAYS[0]);
        assert.deepEqual(ref.notes, [], `the reference run had problems:\n${ref.transcript}`);
      });
      for (const way of WAYS.slice(1)) {
        test(`${way.n} ${way.label}: same as 1`, { timeout: TEST_TIMEOUT_MS }, async () => {
          const [ref, run] = await Promise.all([get(script, WAYS[0]), get(script, way)]);
          if (run.transcript !== ref.transcript) {
            const diff = unifiedDiff(
              ref.transcript,
              run.transcript,
              `${script.name}: way 1 (${WAYS[0].label})`,
              `${script.name}: way ${way.n} (${way.label})`,
            );
            assert.fail(
              `${script.name}: way ${way.n} (${way.label}) differs from way 1:\n${diff}` +
                (way.client === 'ensemble-cli' ? staleBuildHint() : ''),
            );
          }
        });
      }
    });
  }
}
