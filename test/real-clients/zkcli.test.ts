import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SERVER_NAMES, withBothServers, type RunningServer } from '../support/servers.ts';
import { Interactive, ZKCLI, zkCliEnv } from './lib/process.ts';
import { isJavaNoiseLine, maskDates, renumberHex, tidy, withoutClosedEvent } from './lib/normalize.ts';

/** How long one step may take (the first includes starting a JVM): far more than it needs, for a busy machine. */
const STEP_TIMEOUT_MS = 60_000;

/** Each command, and the output that shows it has been handled (zkCli prints no prompt when
 * stdin is not a terminal, and watch notifications arrive on another thread). */
const STEPS: readonly { command: string; done?: RegExp }[] = [
  { command: 'create /parent "parent znode"', done: /^Created \/parent$/m },
  { command: 'create /parent/child "child znode"', done: /^Created \/parent\/child$/m },
  { command: 'get -s -w /parent', done: /^numChildren = \d+$/m },
  { command: 'set /parent "some data"', done: /^WatchedEvent state:SyncConnected type:NodeDataChanged path:\/parent$/m },
  { command: 'delete /parent/child' },
  { command: 'ls /parent', done: /^\[.*\]$/m },
  { command: 'stat /parent', done: /^numChildren = \d+$/m },
  { command: 'delete /parent' },
  { command: 'get /parent', done: /^Node does not exist: \/parent$/m },
];

/** What Apache ZooKeeper 3.8.0 prints for this session, after normalization. */
const EXPECTED = `WATCHER::

WatchedEvent state:SyncConnected type:None path:null
Created /parent
Created /parent/child
parent znode
cZxid = <H1>
ctime = <date>
mZxid = <H1>
mtime = <date>
pZxid = <H2>
cversion = 1
dataVersion = 0
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 12
numChildren = 1

WATCHER::

WatchedEvent state:SyncConnected type:NodeDataChanged path:/parent
[]
cZxid = <H1>
ctime = <date>
mZxid = <H3>
mtime = <date>
pZxid = <H4>
cversion = 2
dataVersion = 1
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 9
numChildren = 0
Node does not exist: /parent
`;

function normalize(raw: string): string {
  const lines = tidy(raw)
    .replace(/\n$/, '')
    .split('\n')
    .filter(
      (line) =>
        !isJavaNoiseLine(line) &&
        !/^Connecting to /.test(line) &&
        !/^Welcome to ZooKeeper!$/.test(line) &&
        !/^JLine support is (disabled|enabled)$/.test(line),
    );
  const kept = withoutClosedEvent(lines).join('\n') + '\n';
  return renumberHex(maskDates(kept)).replace(/^\n+/, '');
}

async function session(server: RunningServer): Promise<{ output: string; code: number | null }> {
  const cli = new Interactive(ZKCLI, ['-server', server.connectString], {
    mergeStderr: true,
    env: zkCliEnv(),
  });
  const notes: string[] = [];
  try {
    let offset = 0;
    const step = async (pattern: RegExp, what: string): Promise<void> => {
      try {
        offset = (await cli.waitFor(pattern, STEP_TIMEOUT_MS, offset)).end;
      } catch (err) {
        // Keep going so that the comparison shows where the servers differ.
        notes.push(`[${server.name}: no output for ${what}: ${(err as Error).message.split('\n')[0]}]`);
      }
    };
    await step(/^WatchedEvent state:SyncConnected type:None path:null$/m, 'connection');
    for (const { command, done } of STEPS) {
      cli.write(`${command}\n`);
      if (done) await step(done, command);
    }
    cli.write('quit\n');
    cli.endInput();
    const exit = await cli.waitExit(STEP_TIMEOUT_MS);
    return { output: cli.output + notes.join('\n'), code: exit.code };
  } finally {
    await cli.stop();
  }
}

const TEST_TIMEOUT_MS = 300_000;

describe('zkCli.sh (Java client 3.8) against Apache ZooKeeper and Ensemble', () => {
  const servers = withBothServers();

  test('the create/get/set/ls/stat/delete session prints the same output', { timeout: TEST_TIMEOUT_MS }, async () => {
    // One zkCli JVM per server, run concurrently.
    const [zookeeper, ensemble] = await Promise.all(SERVER_NAMES.map((n) => session(servers.get(n))));
    const zk = normalize(zookeeper.output);
    assert.equal(zk, EXPECTED, `Apache ZooKeeper's zkCli output changed:\n${zookeeper.output}`);
    assert.equal(normalize(ensemble.output), zk, `raw Ensemble output:\n${ensemble.output}`);
    // zkCli exits with the status of the last command: the failed `get /parent` gives 1.
    assert.equal(zookeeper.code, 1);
    assert.equal(ensemble.code, zookeeper.code);
  });
});
