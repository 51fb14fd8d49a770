/**
 * The package as an application imports it: `import { connect } from 'ensemble'` (and the embeddable
 * server from 'ensemble/server', the testing server from 'ensemble/testing'), from the compiled output in dist/ (`npm test` builds it first),
 * in a process of its own.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;

const APP = `
import { connect, NoNodeError, CreateMode } from 'ensemble';
import { startServer } from 'ensemble/server';
import { TestingServer } from 'ensemble/testing';
const server = await startServer({ clientPort: 0, clientPortAddress: '127.0.0.1', dataDir: process.env.DATA_DIR });
const zk = await connect('127.0.0.1:' + server.port + '/app');
const out = {};
try { await zk.getData('/missing'); } catch (e) { out.missing = e instanceof NoNodeError; }
await zk.create('/', null).catch(() => {});
out.created = await zk.create('/job-', 'payload', { mode: CreateMode.EPHEMERAL_SEQUENTIAL });
out.data = (await zk.getData(out.created)).data.toString();
await zk.close();
out.state = zk.state;
await server.close();
const testing = await TestingServer.start();
out.testing = testing.connectString;
await testing.stop();
console.log(JSON.stringify(out));
`;

test('the compiled package works under its own name', async () => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', APP], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: tmpdir() },
    timeout: 60_000,
  });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.equal(out.missing, true);
  assert.match(out.created, /^\/job-\d{10}$/);
  assert.equal(out.data, 'payload');
  assert.equal(out.state, 'Closed');
  assert.match(out.testing, /^127\.0\.0\.1:\d+$/);
});

/** A consumer that imports the types of every entry point. */
const CONSUMER = `
import { connect, type Stat } from 'ensemble';
import { LeaderElection, type RevokeReason } from 'ensemble/recipes';
import type { startServer } from 'ensemble/server';
import type { TestingServer } from 'ensemble/testing';
export const open: typeof connect = connect;
export type Used = [Stat, LeaderElection, RevokeReason, typeof startServer, TestingServer];
`;

/**
 * TypeScript's `moduleResolution: node10` (its old `node`) ignores "exports": it finds 'ensemble' by
 * "types", and a subpath by "typesVersions". TypeScript 7 no longer has node10, but resolves a
 * package without "exports" the same way, so the consumer compiles against a copy of the package
 * whose package.json has no "exports": with typesVersions it must compile, without it it must not.
 */
test('node10 consumers find the types of ensemble/recipes, /server and /testing through typesVersions', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ensemble-node10-'));
  try {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    delete pkg.exports;
    const installed = join(dir, 'node_modules', 'ensemble');
    await mkdir(join(dir, 'node_modules', '@types'), { recursive: true });
    await mkdir(installed);
    await symlink(join(ROOT, 'dist'), join(installed, 'dist'), 'dir');
    await symlink(join(ROOT, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
    await writeFile(join(dir, 'consumer.ts'), CONSUMER);
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
      files: ['consumer.ts'],
    }));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const compile = async (manifest: Record<string, unknown>): Promise<string> => {
      await writeFile(join(installed, 'package.json'), JSON.stringify(manifest));
      try {
        await run(process.execPath, [tsc, '-p', dir], { cwd: dir, timeout: 120_000 });
        return '';
      } catch (err) {
        return String((err as { stdout?: string }).stdout ?? err);
      }
    };
    assert.equal(await compile(pkg), '', 'the consumer compiles');
    const { typesVersions: _, ...without } = pkg;
    const errors = await compile(without);
    for (const entry of ['ensemble/recipes', 'ensemble/server', 'ensemble/testing']) assert.match(errors, new RegExp(`'${entry}'`), 'without typesVersions it does not');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
