/**
 * The TypeScript and JavaScript snippets of README.md and docs/**\/*.md typecheck and run as
 * written against a fresh server, as a reader runs them against `npm start`.
 *
 * A snippet that begins with `import` starts a program; the snippets after it on the same page that
 * do not import continue that program (a page's sections share its setup). Each program runs as a
 * module in a process of its own, against a fresh Ensemble whose port replaces `127.0.0.1:2181`,
 * and passes when it exits with status 0. Its lines keep their line numbers in the page, so an error
 * at `README.md.mts:42` is on line 42 of README.md. A fence just below `<!-- not-runnable -->` (an
 * API signature, a sketch of a larger program) is skipped. `ensemble` and `ensemble/recipes`
 * resolve to the built package (dist/: `npm test` builds first).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../real-clients/lib/process.ts';
import { startEnsemble } from '../support/ensemble.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const RUNNABLE_FENCE = /^```(ts|typescript|js|javascript)\s*$/;
const NOT_RUNNABLE = /^<!-- not-runnable(:.*)? -->$/;
const CONNECT_STRING = '127.0.0.1:2181';
/** How long tsc or one snippet may take: seconds here, far longer on a busy machine. */
const TIMEOUT_MS = 120_000;

interface Program {
  /** The page, relative to the repository. */
  page: string;
  /** The page's lines. */
  text: string[];
  /** The numbers (from 1) of the page's lines that make the program, in order. */
  lines: number[];
}

/** The runnable programs of one Markdown page. */
function programsOf(page: string, markdown: string): Program[] {
  const text = markdown.split('\n');
  const programs: Program[] = [];
  for (let i = 0; i < text.length; i++) {
    if (!text[i].startsWith('```')) continue;
    const close = text.findIndex((line, j) => j > i && line.startsWith('```'));
    assert.ok(close > i, `${page}:${i + 1}: a fence that is never closed`);
    const above = text.slice(0, i).filter((line) => line.trim() !== '').at(-1) ?? '';
    if (RUNNABLE_FENCE.test(text[i]) && !NOT_RUNNABLE.test(above.trim())) {
      const lines = Array.from({ length: close - i - 1 }, (_, k) => i + 2 + k);
      if (text[i + 1].startsWith('import ') || programs.length === 0) programs.push({ page, text, lines });
      else programs.at(-1)!.lines.push(...lines);
    }
    i = close;
  }
  return programs;
}

const pages = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`),
];
const programs = pages.flatMap((page) => programsOf(page, readFileSync(join(ROOT, page), 'utf8')));

let workDir: string;
before(async () => {
  // The programs live outside the repository; `ensemble` resolves through node_modules to it.
  workDir = await mkdtemp(join(tmpdir(), 'ensemble-snippets-'));
  await mkdir(join(workDir, 'node_modules'));
  await symlink(ROOT, join(workDir, 'node_modules', 'ensemble'), 'dir');
});
after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/**
 * Writes the program as a module named after its page, under dir/index (several programs may come
 * from one page): its lines where they are in the page, every other line blank.
 */
async function writeModule(dir: string, index: number, connectString: string): Promise<string> {
  const { page, text, lines } = programs[index];
  const source = text.map(() => '');
  for (const n of lines) source[n - 1] = text[n - 1].replaceAll(CONNECT_STRING, connectString);
  const file = join(workDir, dir, String(index), `${page}.mts`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, source.join('\n'));
  return file;
}

function output(result: { stdout: string; stderr: string }): string {
  return `--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

test('README.md has snippets to run', () => {
  assert.ok(programs.some((p) => p.page === 'README.md'));
});

test('the snippets typecheck against the built package', async () => {
  await Promise.all(programs.map((_, index) => writeModule('typecheck', index, CONNECT_STRING)));
  const tsconfig = {
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: { noEmit: true, typeRoots: [join(ROOT, 'node_modules/@types')] },
    include: ['**/*.mts'],
  };
  await writeFile(join(workDir, 'typecheck', 'tsconfig.json'), JSON.stringify(tsconfig));
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const result = await run(process.execPath, [tsc, '-p', join(workDir, 'typecheck')], { cwd: ROOT, timeoutMs: TIMEOUT_MS });
  assert.equal(result.code, 0, output(result));
});

programs.forEach((program, index) => {
  const first = program.lines[0];
  test(`${program.page}:${first} runs against a fresh server`, async () => {
    const server = await startEnsemble();
    try {
      const file = await writeModule('run', index, server.connectString);
      const result = await run(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, timeoutMs: TIMEOUT_MS });
      assert.equal(result.code, 0, `${program.page} (lines ${first}–${program.lines.at(-1)}) exited with ${result.code ?? result.signal}\n${output(result)}`);
    } finally {
      await server.stop();
    }
  });
});
