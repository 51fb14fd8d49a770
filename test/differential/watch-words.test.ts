/**
 * Differential: the four-letter words that list watches (wchs, wchc, wchp). ZooKeeper 3.8 reports
 * its data-watch table only: exists, getData, persistent and recursive watches show, getChildren
 * watches do not. The same watches are set on both servers, and the answers compared with session
 * ids replaced by their order of appearance and each listing sorted (both come from hash tables).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, type ZooKeeperClient } from '../../src/index.ts';
import { withBothServers, type ServerName } from '../support/servers.ts';
import { fourLetterWord } from '../support/zookeeper.ts';

const servers = withBothServers();

async function watchWords(name: ServerName): Promise<Record<string, string>> {
  const server = servers.get(name);
  const clients: ZooKeeperClient[] = [];
  try {
    const a = await connect(server.connectString);
    const b = await connect(server.connectString);
    clients.push(a, b);
    const noop = (): void => {};
    await a.create('/w');
    await a.create('/w/x', 'x');
    await a.getData('/w/x', { watch: noop });
    await a.getChildren('/w', { watch: noop });
    await a.exists('/w/missing', { watch: noop });
    await b.getChildren('/w/x', { watch: noop });
    await b.addWatch('/w', 'persistent', noop);
    await b.addWatch('/w/x', 'persistent_recursive', noop);
    const out: Record<string, string> = {};
    const ids = new Map<string, string>([[hex(a.sessionId), '$A'], [hex(b.sessionId), '$B']]);
    for (const word of ['wchs', 'wchc', 'wchp']) {
      const text = (await fourLetterWord(server.host, server.port, word)).replace(/0x[0-9a-f]+/g, (id) => ids.get(id) ?? '$OTHER');
      out[word] = word === 'wchs' ? text.trim() : sortedGroups(text);
    }
    return out;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

function hex(id: bigint): string {
  return `0x${id.toString(16)}`;
}

/** "head\n\titem\n…" groups, each group's items sorted and the groups sorted. */
function sortedGroups(text: string): string {
  const groups: string[][] = [];
  for (const line of text.split('\n').filter(Boolean)) {
    if (line.startsWith('\t')) groups[groups.length - 1].push(line);
    else groups.push([line]);
  }
  return groups.map(([head, ...items]) => [head, ...items.sort()].join('\n')).sort().join('\n');
}

test('wchs, wchc and wchp answer as ZooKeeper 3.8 does (data watches only)', async () => {
  const zookeeper = await watchWords('zookeeper');
  const ensemble = await watchWords('ensemble');
  assert.deepEqual(ensemble, zookeeper);
  assert.doesNotMatch(zookeeper.wchp, /^\/w\n\t\$A$/m, 'the getChildren watch on /w is not listed');
  assert.match(zookeeper.wchs, /^2 connections watching 3 paths\nTotal watches:4$/);
});
