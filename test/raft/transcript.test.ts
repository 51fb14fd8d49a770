/**
 * Transcript tests of the consensus core: every test/raft/transcript/testdata/*.txt is a script of
 * commands, each followed by the output it must produce (format: transcript/parse.ts, commands:
 * transcript/commands.ts). Each file runs in a fresh environment, and outputs must match exactly.
 *
 * When the core's behaviour changes on purpose, regenerate the expected outputs and read the diff:
 *
 *   REWRITE=1 node --import tsx --test test/raft/transcript.test.ts
 *   git diff test/raft/transcript/testdata
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCase } from './transcript/commands.ts';
import { InteractionEnv } from './transcript/env.ts';
import { parseTranscript, renderTranscript } from './transcript/parse.ts';

const dir = join(import.meta.dirname, 'transcript', 'testdata');
const rewrite = process.env.REWRITE === '1';

describe('raft transcripts', () => {
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
    it(name, () => {
      const file = join(dir, name);
      const shown = `test/raft/transcript/testdata/${name}`;
      const transcript = parseTranscript(readFileSync(file, 'utf8'), shown);
      const env = new InteractionEnv();
      const outputs: string[] = [];
      for (const c of transcript.cases) {
        let actual: string;
        try {
          actual = runCase(env, c);
        } catch (e) {
          throw new Error(`${shown}:${c.line}: ${c.text}\n${(e as Error).message}`, { cause: e });
        }
        outputs.push(actual);
        if (!rewrite && actual !== c.expected) {
          assert.fail(`${shown}:${c.line}: ${c.text}\n--- expected\n${c.expected}\n--- actual\n${actual}`);
        }
      }
      if (rewrite) writeFileSync(file, renderTranscript(transcript, outputs));
    });
  }
});
