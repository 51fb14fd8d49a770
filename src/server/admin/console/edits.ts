/**
 * The console's writes: each goes through the server's own client-facing path, from a client of
 * ours whose connection is handed to the server in-process (no TCP), so it is prepped, checked
 * against the node's ACLs, replicated and fires watches as any client's write would. The connection
 * carries the HTTP caller's address (the ip scheme sees that caller, not the loopback) and, when
 * the caller signed in, its digest credentials.
 */
import { Duplex } from 'node:stream';
import { connect, CreateMode, ZooKeeperError } from '../../../client/index.ts';
import type { EnsembleServer } from '../../server.ts';

/** One end of an in-process connection: what one end writes, the other reads, in order. */
class LoopbackEnd extends Duplex {
  peer: LoopbackEnd | null = null;

  constructor(readonly remoteAddress: string, readonly remotePort: number) {
    super();
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    const peer = this.peer;
    // Delivered on a later tick, as a socket would: neither end runs inside the other's call.
    process.nextTick(() => {
      if (peer !== null && !peer.destroyed) peer.push(chunk);
    });
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    const peer = this.peer;
    process.nextTick(() => peer?.push(null));
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (peer !== null && !peer.destroyed) process.nextTick(() => peer.destroy());
    done(err);
  }

  setNoDelay(): this {
    return this;
  }
}

/** A connection to `server` as if from `remoteAddress`: the client's end. */
function loopbackTo(server: EnsembleServer, remoteAddress: string): Duplex {
  const client = new LoopbackEnd('127.0.0.1', 0);
  const serverEnd = new LoopbackEnd(remoteAddress, 0);
  client.peer = serverEnd;
  serverEnd.peer = client;
  process.nextTick(() => server.accept(serverEnd));
  return client;
}

export type EditRequest =
  | { op: 'create'; path: string; data: Buffer; sequential: boolean }
  | { op: 'set'; path: string; data: Buffer; version: number }
  | { op: 'delete'; path: string; version: number };

export type EditResult = { ok: true; path: string } | { ok: false; code: string; message: string };

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** Runs one write as a short-lived session of the caller. */
export async function runEdit(server: EnsembleServer, remoteAddress: string, credentials: string | null, edit: EditRequest): Promise<EditResult> {
  let client;
  try {
    client = await connect('console:1', {
      socketFactory: () => loopbackTo(server, remoteAddress),
      auth: credentials === null ? [] : [{ scheme: 'digest', auth: credentials }],
      connectTimeoutMs: 10_000,
      requestTimeoutMs: 10_000,
      logger: silent,
    });
  } catch (err) {
    return { ok: false, code: 'UNAVAILABLE', message: `this server takes no sessions now: ${(err as Error).message}` };
  }
  try {
    switch (edit.op) {
      case 'create': {
        const mode = edit.sequential ? CreateMode.PERSISTENT_SEQUENTIAL : CreateMode.PERSISTENT;
        return { ok: true, path: await client.create(edit.path, edit.data, { mode }) };
      }
      case 'set':
        await client.setData(edit.path, edit.data, { version: edit.version });
        return { ok: true, path: edit.path };
      case 'delete':
        await client.delete(edit.path, { version: edit.version });
        return { ok: true, path: edit.path };
    }
  } catch (err) {
    if (err instanceof ZooKeeperError) return { ok: false, code: err.codeName, message: err.message };
    return { ok: false, code: 'ERROR', message: (err as Error).message };
  } finally {
    await client.close().catch(() => {});
  }
}
