/**
 * Writes docs/acl-matrix.md: runs every cell of the ACL matrix against Apache ZooKeeper 3.8 and
 * Ensemble (each started on a free loopback port, stopped at the end).
 *   node --import tsx test/differential/acl-matrix/generate.ts
 */
import { writeFile } from 'node:fs/promises';
import { runMatrix } from './matrix.ts';
import { differences, DOC_PATH, renderDoc } from './render.ts';
import { startMatrixServer } from './servers.ts';

const [zookeeper, ensemble] = await Promise.all([startMatrixServer('zookeeper'), startMatrixServer('ensemble')]);
try {
  const zk = await runMatrix(zookeeper);
  const en = await runMatrix(ensemble);
  await writeFile(DOC_PATH, renderDoc(zk, en));
  const diffs = differences(zk, en);
  process.stdout.write(`${DOC_PATH}: ${zk.size} cells, ${diffs.length} differ\n`);
  for (const d of diffs) process.stdout.write(`  ${d.key}: zookeeper ${d.zookeeper} | ensemble ${d.ensemble}\n`);
} finally {
  await Promise.all([zookeeper.stop(), ensemble.stop()]);
}
