/**
 * HardStateStore on a file, `hardstate` in the data dir (36 bytes), and its in-memory twin:
 *
 *   magic "EHST" u32 | version u32 (1) | term i64 | vote i64 | commit i64 | crc32 u32 over the rest
 *
 * Saved as `hardstate.tmp`, fsynced, renamed over `hardstate`, and the directory fsynced: a crash
 * leaves the old state or the new one, never a mix.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncFile } from './file-log-store.ts';
import type { HardState, HardStateStore } from './stores.ts';

const MAGIC = 0x45485354; // "EHST"
const VERSION = 1;
const BYTES = 36;
const NONE: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 });

export class HardStateFormatError extends Error {}

export class FileHardStateStore implements HardStateStore {
  private readonly path: string;

  constructor(private readonly dir: string) {
    this.path = join(dir, 'hardstate');
  }

  load(): HardState {
    let buf: Buffer;
    try {
      buf = readFileSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...NONE };
      throw err;
    }
    if (buf.length !== BYTES || buf.readUInt32BE(0) !== MAGIC || buf.readUInt32BE(4) !== VERSION || crc32(buf.subarray(0, BYTES - 4)) !== buf.readUInt32BE(BYTES - 4)) {
      throw new HardStateFormatError(`${this.path} is damaged`);
    }
    return { term: Number(buf.readBigInt64BE(8)), vote: Number(buf.readBigInt64BE(16)), commit: Number(buf.readBigInt64BE(24)) };
  }

  save(state: HardState): void {
    const buf = Buffer.alloc(BYTES);
    buf.writeUInt32BE(MAGIC, 0);
    buf.writeUInt32BE(VERSION, 4);
    buf.writeBigInt64BE(BigInt(state.term), 8);
    buf.writeBigInt64BE(BigInt(state.vote), 16);
    buf.writeBigInt64BE(BigInt(state.commit), 24);
    buf.writeUInt32BE(crc32(buf.subarray(0, BYTES - 4)), BYTES - 4);
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, buf, 0, BYTES, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    fsyncFile(this.dir);
  }
}

export class MemoryHardStateStore implements HardStateStore {
  private state: HardState = { ...NONE };

  load(): HardState {
    return { ...this.state };
  }

  save(state: HardState): void {
    this.state = { term: state.term, vote: state.vote, commit: state.commit };
  }
}
