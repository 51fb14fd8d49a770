/**
 * A simulated network between the clients and the server: each connection is a pair of streams
 * whose bytes arrive after a random delay, in order (as TCP's do). The simulator can cut a
 * connection, or stop a client's traffic for a while (its bytes wait, as on a congested link).
 * Every byte that reaches a client is also handed to an observer, which reads the replies' headers.
 */
import { Duplex } from 'node:stream';
import type { VirtualWorld } from './virtual-env.ts';

export interface Link {
  readonly id: number;
  readonly client: SimSocket;
  readonly server: SimSocket;
  /** The client slot that opened it. */
  readonly slot: number;
  /** The server it goes to (a member's id; 0 for the standalone server). */
  readonly target: number;
  /** Virtual time it was opened at. */
  readonly openedAt: number;
  /** Runs what arrives at the server's end (a paused server runs it later). */
  readonly gate: (fn: () => void) => void;
}

export class SimSocket extends Duplex {
  peer: SimSocket | null = null;
  readonly remoteAddress = '127.0.0.1';
  /** The last time a chunk was delivered this way: later chunks never overtake it. */
  lastDelivery = 0;

  constructor(readonly remotePort: number, private readonly transmit: (from: SimSocket, chunk: Buffer | null, to?: SimSocket) => void) {
    super({ allowHalfOpen: false });
  }

  setNoDelay(): this {
    return this;
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.transmit(this, chunk);
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.transmit(this, null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    this.peer = null;
    // The other side learns of it as of a reset: once what was already on its way has arrived.
    if (peer !== null && !peer.destroyed) this.transmit(this, null, peer);
    cb(err);
  }
}

export class SimNetwork {
  private nextId = 1;
  private readonly links = new Set<Link>();
  /** Client slots whose traffic is held until the given time. */
  private readonly heldUntil = new Map<number, number>();

  constructor(
    private readonly world: VirtualWorld,
    private readonly observe: (link: Link, chunk: Buffer) => void,
  ) {}

  /**
   * A connection from client slot `slot` to `accept` (server `target`), or a refused one when it is
   * null. `gate` runs what happens at the server's end: a paused server runs it once resumed.
   */
  connect(slot: number, accept: ((socket: SimSocket) => void) | null, target = 0, gate = (fn: () => void): void => fn()): SimSocket {
    const id = this.nextId++;
    const deliver = (from: SimSocket, chunk: Buffer | null, to: SimSocket | null = from.peer): void => this.deliver(link, from, to, chunk);
    const client = new SimSocket(id, deliver);
    const server = new SimSocket(id, deliver);
    client.peer = server;
    server.peer = client;
    const link: Link = { id, client, server, slot, target, openedAt: this.world.now, gate };
    if (accept === null) {
      // Nothing listens: the connection is refused.
      this.world.scheduler.soon(() => client.destroy(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })));
      return client;
    }
    this.links.add(link);
    client.on('close', () => this.links.delete(link));
    this.world.scheduler.soon(() => gate(() => accept(server)));
    return client;
  }

  /** The open connections of a slot. */
  linksOf(slot: number): Link[] {
    return [...this.links].filter((l) => l.slot === slot && !l.client.destroyed);
  }

  /** A slot's traffic is held now. */
  held(slot: number): boolean {
    return (this.heldUntil.get(slot) ?? 0) > this.world.now;
  }

  /** Cut every connection of a slot (or all of them). */
  cut(slot?: number): void {
    for (const link of [...this.links]) {
      if (slot !== undefined && link.slot !== slot) continue;
      this.links.delete(link);
      link.client.destroy();
      link.server.destroy();
    }
  }

  /** Hold a slot's traffic, both ways, until virtual time `until`. */
  hold(slot: number, until: number): void {
    this.heldUntil.set(slot, Math.max(until, this.heldUntil.get(slot) ?? 0));
  }

  private deliver(link: Link, from: SimSocket, to: SimSocket | null, chunk: Buffer | null): void {
    if (to === null) return;
    const world = this.world;
    const latency = 0.05 + world.random.float() * 2;
    const held = this.heldUntil.get(link.slot) ?? 0;
    const at = Math.max(world.now + latency, held, from.lastDelivery);
    from.lastDelivery = at;
    const arrive = (): void => {
      if (to.destroyed) return;
      if (chunk === null) {
        if (from.destroyed) to.destroy();
        else to.push(null);
      } else {
        if (to === link.client) this.observe(link, chunk);
        to.push(chunk);
      }
    };
    world.at(at, to === link.server ? () => link.gate(arrive) : arrive);
  }
}
