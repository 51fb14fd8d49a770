/**
 * Apache ZooKeeper's own clients against a three-member ensemble of `ensemble server` processes:
 * zkCli.sh (Java) and cli_mt (C) with a multi-host connect string, and zkCli.sh again once the
 * leader has been killed with SIGKILL, through a surviving member alone and through all three
 * addresses (the dead one among them).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ProcessEnsemble } from '../support/process-ensemble.ts';
import { isJavaNoiseLine, tidy, withoutClosedEvent } from '../real-clients/lib/normalize.ts';
import { Interactive, ZKCLI, zkCliEnv } from '../real-clients/lib/process.ts';

const CLI_MT = '/usr/lib/zookeeper/bin/cli_mt';
/** How long one step may take (the first includes starting a JVM, or waiting for a leader). */
const STEP_TIMEOUT_MS = 60_000;

/** zkCli prints nothing after set and delete: the next command's output shows they were handled. */
const ZKCLI_STEPS: readonly { command: string; done?: RegExp }[] = [
  { command: 'create /zkcli-e "hello"', done: /^Created \/zkcli-e$/m },
  { command: 'get /zkcli-e', done: /^hello$/m },
  { command: 'ls /zkcli-e', done: /^\[\]$/m },
  { command: 'set /zkcli-e "world"' },
  { command: 'get /zkcli-e', done: /^world$/m },
  { command: 'delete /zkcli-e' },
  { command: 'get /zkcli-e', done: /^Node does not exist: \/zkcli-e$/m },
];

/** What Apache ZooKeeper's zkCli.sh 3.8 prints for ZKCLI_STEPS, its noise left out. */
const ZKCLI_EXPECTED = `WATCHER::

WatchedEvent state:SyncConnected type:None path:null
Created /zkcli-e
hello
[]
world
Node does not exist: /zkcli-e
`;

function zkCliNormalize(raw: string): string {
  const lines = tidy(raw)
    .replace(/\n$/, '')
    .split('\n')
    .filter((line) => !isJavaNoiseLine(line) && !/^Connecting to /.test(line) && !/^Welcome to ZooKeeper!$/.test(line) && !/^JLine support is (disabled|enabled)$/.test(line));
  return (withoutClosedEvent(lines).join('\n') + '\n').replace(/^\n+/, '');
}

async function zkCliSession(connectString: string): Promise<{ output: string; code: number | null }> {
  const cli = new Interactive(ZKCLI, ['-server', connectString], { mergeStderr: true, env: zkCliEnv() });
  try {
    let offset = (await cli.waitFor(/^WatchedEvent state:SyncConnected type:None path:null$/m, STEP_TIMEOUT_MS)).end;
    for (const { command, done } of ZKCLI_STEPS) {
      cli.write(`${command}\n`);
      if (done) offset = (await cli.waitFor(done, STEP_TIMEOUT_MS, offset)).end;
    }
    cli.write('quit\n');
    cli.endInput();
    const exit = await cli.waitExit(STEP_TIMEOUT_MS);
    return { output: cli.output, code: exit.code };
  } finally {
    await cli.stop();
  }
}

describe('real clients on an ensemble of three processes', { timeout: 300_000 }, () => {
  const e = new ProcessEnsemble({ size: 3 });

  before(async () => {
    await e.configure();
    for (const id of e.ids) e.start(id);
    await e.leader();
  });
  after(() => e.close());

  it('zkCli.sh with every member in -server: create, get, ls, set, delete', async () => {
    const { output, code } = await zkCliSession(e.connectString());
    assert.equal(zkCliNormalize(output), ZKCLI_EXPECTED, output);
    // The status of the last command: the get of the deleted znode failed.
    assert.equal(code, 1);
  });

  it('cli_mt with the multi-host string: create and get', async () => {
    const cli = new Interactive(CLI_MT, [e.connectString()], { mergeStderr: true });
    try {
      let offset = (await cli.waitFor(/^Got a new session id: 0x[0-9a-f]+\n/m, STEP_TIMEOUT_MS)).end;
      cli.write('create /cmt-e\n');
      offset = (await cli.waitFor(/^\[\/cmt-e\]: rc = -?\d+\n(?:\tname = [^\n]*\n)?/m, STEP_TIMEOUT_MS, offset)).end;
      cli.write('get /cmt-e\n');
      offset = (await cli.waitFor(/^\/cmt-e: rc = -?\d+\n[\s\S]*?^Stat:\n(?:null|[\s\S]*?\tephemeralOwner = [0-9a-f]+)\n/m, STEP_TIMEOUT_MS, offset)).end;
      cli.write('quit\n');
      await cli.waitFor(/^Quitting\.\.\.\n/m, STEP_TIMEOUT_MS, offset);
      cli.endInput();
      assert.equal((await cli.waitExit(STEP_TIMEOUT_MS)).code, 0);
      assert.match(cli.output, /^Creating \[\/cmt-e\] node \(mode: 0\)\n\[\/cmt-e\]: rc = 0\n\tname = \/cmt-e\n/m, cli.output);
      // cli_mt creates with the data "new".
      assert.match(cli.output, /^\/cmt-e: rc = 0\n value_len = 3\nnew\nStat:\n/m, cli.output);
    } finally {
      await cli.stop();
    }
  });

  it('the leader killed: zkCli.sh through a surviving member, and through all three addresses', async () => {
    const leader = await e.leader();
    await e.kill(leader, 'SIGKILL');
    const survivor = e.ids.find((id) => id !== leader)!;
    // No waiting for a new leader: until there is one the member takes no sessions, and zkCli keeps trying.
    const alone = await zkCliSession(e.connectString([survivor]));
    assert.equal(zkCliNormalize(alone.output), ZKCLI_EXPECTED, alone.output);
    assert.equal(alone.code, 1);
    const all = await zkCliSession(e.connectString());
    assert.equal(zkCliNormalize(all.output), ZKCLI_EXPECTED, all.output);
    assert.equal(all.code, 1);
  });
});
