/**
 * The ACL matrix (test/differential/acl-matrix/): every cell runs against Apache ZooKeeper 3.8 and
 * Ensemble; every cell must agree except the listed known differences, and docs/acl-matrix.md must
 * be exactly what this run generates (`node --import tsx test/differential/acl-matrix/generate.ts`).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { withBothServers } from '../support/servers.ts';
import { KNOWN_DIFFERENCES, knownDifference } from './acl-matrix/known-differences.ts';
import { runMatrix } from './acl-matrix/matrix.ts';
import { differences, DOC_PATH, GENERATE_COMMAND, renderDoc } from './acl-matrix/render.ts';
import { startMatrixServer } from './acl-matrix/servers.ts';
import type { Outcomes } from './acl-matrix/table.ts';

const servers = withBothServers({}, startMatrixServer);
let zookeeper: Outcomes | undefined;
let ensemble: Outcomes | undefined;

/** Both runs, once for the file (a few thousand cells each). */
async function outcomes(): Promise<{ zk: Outcomes; en: Outcomes }> {
  zookeeper ??= await runMatrix(servers.zookeeper());
  ensemble ??= await runMatrix(servers.ensemble());
  return { zk: zookeeper, en: ensemble };
}

test('every cell of the ACL matrix agrees with Apache ZooKeeper, but the known differences', { timeout: 600_000 }, async () => {
  const { zk, en } = await outcomes();
  assert.ok(zk.size > 4000, `the matrix ran ${zk.size} cells`);
  const unexpected = differences(zk, en).filter((d) => knownDifference(d.key, d.zookeeper ?? '', d.ensemble ?? '') === undefined);
  const report = unexpected.slice(0, 40).map((d) => `  ${d.key}\n    zookeeper: ${d.zookeeper}\n    ensemble:  ${d.ensemble}`).join('\n');
  assert.equal(unexpected.length, 0, `${unexpected.length} cells differ from ZooKeeper:\n${report}`);
});

test('every known difference still shows', { timeout: 600_000 }, async () => {
  const { zk, en } = await outcomes();
  const diffs = differences(zk, en);
  for (const d of KNOWN_DIFFERENCES) {
    const seen = diffs.some((x) => knownDifference(x.key, x.zookeeper ?? '', x.ensemble ?? '') === d);
    assert.ok(seen, `known difference no longer seen (remove it from known-differences.ts): ${JSON.stringify(d)}`);
  }
});

test(`${DOC_PATH} is what this run generates`, { timeout: 600_000 }, async () => {
  const { zk, en } = await outcomes();
  const committed = await readFile(DOC_PATH, 'utf8');
  const generated = renderDoc(zk, en);
  if (committed === generated) return;
  const a = committed.split('\n');
  const b = generated.split('\n');
  const first = a.findIndex((line, i) => line !== b[i]);
  assert.fail(`${DOC_PATH} is out of date: regenerate it with \`${GENERATE_COMMAND}\`.\n` +
    `first differing line ${first + 1}:\n  file:      ${a[first]}\n  generated: ${b[first]}`);
});
