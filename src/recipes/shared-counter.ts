/**
 * Curator's SharedCount: an integer in one znode that many processes read and change, with a
 * version-checked compare-and-set. The value is stored as Curator stores it, a 4-byte big-endian
 * signed integer, so Curator's SharedCount and this one can share a counter.
 *
 *   const hits = new SharedCounter(zk, '/stats/hits', 0);
 *   await hits.start();
 *   hits.on('change', (value) => console.log('hits now', value));
 *   await hits.increment();
 *   await hits.close(); // the node stays: it is the shared state
 */
import { EventEmitter } from 'node:events';
import { BadVersionError, NoNodeError, type Stat, type WatchedEvent, type ZooKeeperClient } from '../client/index.ts';
import { ConnectionStateTracker, type ConnectionState } from './connection-state.ts';
import { createWithParents } from './nodes.ts';
import { retrying } from './retry.ts';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** The events of SharedCounter and their arguments. */
export type SharedCounterEvents = {
  change: [value: number, version: number];
  state: [state: ConnectionState];
};

interface Snapshot {
  value: number;
  version: number;
  /** Tells a node deleted and created again (its version starts over) from an old reply. */
  czxid: number;
}

/**
 * A shared 32-bit counter at `path`, created with `initial` if missing. After `start()`, `count`
 * and `version` follow every change (a data watch, set again after each event and re-read on
 * RECONNECTED); 'change' is emitted with each new value and version, this instance's own writes
 * included. 'state' forwards Curator's connection states: while SUSPENDED the count may be stale;
 * after LOST it no longer changes.
 *
 *   const counter = new SharedCounter(zk, '/ids/next', 1);
 *   await counter.start();
 *   const id = await counter.increment();           // CAS loop: the new value
 *   const ok = await counter.trySetCount(100, counter.version); // false if someone wrote first
 */
export class SharedCounter extends EventEmitter<SharedCounterEvents> {
  private current: Snapshot | null = null;
  private states: ConnectionStateTracker | null = null;
  private closed = false;
  /** Increments of this instance, one at a time, so that they do not compete with each other. */
  private incrementing: Promise<unknown> = Promise.resolve();
  private readonly watcher = (event: WatchedEvent): void => this.onEvent(event);

  constructor(
    private readonly client: ZooKeeperClient,
    readonly path: string,
    private readonly initial: number,
  ) {
    super();
    checkInt32(initial);
  }

  /** Creates the node with the initial value if it is missing, reads it, and starts following it. */
  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.states) throw new Error('the counter has already been started');
    this.states = new ConnectionStateTracker(this.client);
    this.states.on('change', (state) => {
      if (this.closed) return;
      this.emit('state', state);
      if (state === 'RECONNECTED') void this.refresh().catch(() => {});
    });
    await retrying(() => createWithParents(this.client, this.path, encode(this.initial), 'persistent', options), options);
    await retrying(() => this.refresh(), options);
  }

  /** The last value seen. */
  get count(): number {
    return this.snapshot().value;
  }

  /** The node's version at the last value seen: the expected version for trySetCount. */
  get version(): number {
    return this.snapshot().version;
  }

  /**
   * Sets the value if the node's version is still `expectedVersion`: true if it was set, false if
   * someone changed the counter first (the count is then re-read). Not retried on a lost
   * connection: ConnectionLossError means the value may or may not have been set.
   */
  async trySetCount(value: number, expectedVersion: number, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    checkInt32(value);
    this.snapshot();
    try {
      const stat = await this.client.setData(this.path, encode(value), { version: expectedVersion, signal: options.signal });
      this.update(value, stat);
      return true;
    } catch (err) {
      if (!(err instanceof BadVersionError)) throw err;
      await retrying(() => this.refresh(), options);
      return false;
    }
  }

  /** Sets the value whatever the version. */
  async setCount(value: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    checkInt32(value);
    this.snapshot();
    const stat = await retrying(() => this.client.setData(this.path, encode(value), { signal: options.signal }), options);
    this.update(value, stat);
  }

  /**
   * Adds delta with a compare-and-set loop and resolves with the new value. Rejects with a
   * RangeError if the result does not fit in 32 bits, and with ConnectionLossError when the
   * connection drops during a write (the increment may or may not have happened).
   */
  async increment(delta = 1, options: { signal?: AbortSignal } = {}): Promise<number> {
    if (!Number.isInteger(delta)) throw new RangeError(`delta must be an integer, not ${delta}`);
    this.snapshot();
    const run = this.incrementing.then(() => this.addOnce(delta, options));
    this.incrementing = run.catch(() => {});
    return run;
  }

  /** Stops following the counter and removes its watch. The node stays: it is the shared state. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.states?.close();
    await this.client.removeWatches(this.path, 'any', { watcher: this.watcher, local: true }).catch(() => {});
  }

  private async addOnce(delta: number, options: { signal?: AbortSignal }): Promise<number> {
    for (;;) {
      const { value, version } = this.snapshot();
      const next = value + delta;
      checkInt32(next);
      if (await this.trySetCount(next, version, options)) return next;
    }
  }

  private snapshot(): Snapshot {
    if (this.current === null) throw new Error('start() the counter first');
    return this.current;
  }

  /** Reads the value and sets the watch again (an exists watch while the node is missing). */
  private async refresh(): Promise<void> {
    if (this.closed) return;
    try {
      const { data, stat } = await this.client.getData(this.path, { watch: this.watcher });
      this.update(decode(data, this.path), stat);
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
      // Deleted: wait for it to come back, keeping the last value seen.
      if ((await this.client.exists(this.path, { watch: this.watcher })) !== null) await this.refresh();
    }
  }

  private onEvent(event: WatchedEvent): void {
    if (this.closed || event.type === 'None' || event.type.endsWith('WatchRemoved')) return;
    // A failure here (connection lost) is made good by the re-read on RECONNECTED.
    void this.refresh().catch(() => {});
  }

  /** Takes a value if it is newer than the one held; emits 'change' for every new one but the first. */
  private update(value: number, stat: Stat): void {
    const held = this.current;
    if (held !== null && stat.czxid === held.czxid && stat.version <= held.version) return;
    this.current = { value, version: stat.version, czxid: stat.czxid };
    if (held !== null && !this.closed) this.emit('change', value, stat.version);
  }
}

function checkInt32(value: number): void {
  if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) throw new RangeError(`a shared count must be a 32-bit integer, not ${value}`);
}

function encode(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value);
  return bytes;
}

function decode(data: Buffer | null, path: string): number {
  if (data === null || data.length < 4) throw new RangeError(`${path} does not hold a 4-byte count (${data?.length ?? 0} bytes)`);
  return data.readInt32BE(0);
}
