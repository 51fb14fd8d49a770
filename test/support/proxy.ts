/**
 * A TCP proxy on a free loopback port in front of one server, for fault tests: it can hang the
 * link (pause), cut every connection, refuse new ones, and delay what it forwards.
 *
 *   const proxy = await startProxy(server.host, server.port);
 *   const zk = await connect(proxy.connectString);
 *   proxy.pause();   // bytes stop flowing both ways; the sockets stay open
 *   proxy.cut();     // every current connection is destroyed; new ones are still accepted
 *   await proxy.close();
 *
 * Bytes are forwarded in order in each direction. While paused (or delayed) they wait in the
 * proxy's memory; resume() sends what waited, in order. An orderly end (FIN) from one side is
 * forwarded in order after the bytes before it; an abrupt close or an error of either side
 * destroys both sockets of the connection at once, dropping anything that waited.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './ports.ts';

export type Direction = 'both' | 'toServer' | 'toClient';

interface Item {
  /** null: the end of the stream (FIN). */
  chunk: Buffer | null;
  due: number;
}

class Pipe {
  readonly queue: Item[] = [];
  ended = false;
  timer: NodeJS.Timeout | undefined;
  constructor(readonly to: Socket) {}
}

interface ProxyConnection {
  id: number;
  client: Socket;
  upstream: Socket;
  toServer: Pipe;
  toClient: Pipe;
  closed: boolean;
}

export interface ProxyOptions {
  /** Called with every chunk the proxy receives, before any pause or delay (for assertions on the wire). */
  onChunk?: (connectionId: number, direction: 'toServer' | 'toClient', chunk: Buffer) => void;
}

export interface Proxy {
  readonly host: string;
  readonly port: number;
  /** "127.0.0.1:PORT" */
  readonly connectString: string;
  /** Connections currently open through the proxy. */
  readonly openConnections: number;
  /** Connections accepted (and forwarded) since the start, refused ones not counted. */
  readonly acceptedConnections: number;
  /** Stops forwarding bytes (both ways unless a direction is given); sockets stay open. */
  pause(direction?: Direction): void;
  /** Forwards again (both ways unless a direction is given), first what waited. */
  resume(direction?: Direction): void;
  /** Destroys every current connection; new ones are still accepted (unless refusing). */
  cut(): void;
  /** While on, a new connection is reset as soon as it is accepted. */
  refuse(on: boolean): void;
  /** Each chunk is forwarded no earlier than this long after it arrived (order kept). 0: none. */
  setDelayMs(ms: number): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port in front of host:port. */
export async function startProxy(targetHost: string, targetPort: number, options: ProxyOptions = {}): Promise<Proxy> {
  const host = '127.0.0.1';
  const connections = new Set<ProxyConnection>();
  const paused = { toServer: false, toClient: false };
  let refusing = false;
  let delayMs = 0;
  let nextId = 0;
  let accepted = 0;
  let closing = false;

  const destroyConnection = (c: ProxyConnection): void => {
    if (c.closed) return;
    c.closed = true;
    for (const pipe of [c.toServer, c.toClient]) {
      clearTimeout(pipe.timer);
      pipe.queue.length = 0;
    }
    c.client.destroy();
    c.upstream.destroy();
    connections.delete(c);
  };

  const pump = (c: ProxyConnection, pipe: Pipe, direction: 'toServer' | 'toClient'): void => {
    clearTimeout(pipe.timer);
    pipe.timer = undefined;
    if (c.closed || paused[direction]) return;
    const now = Date.now();
    while (pipe.queue.length > 0) {
      const head = pipe.queue[0];
      if (head.due > now) {
        pipe.timer = setTimeout(() => pump(c, pipe, direction), head.due - now);
        return;
      }
      pipe.queue.shift();
      if (head.chunk === null) pipe.to.end();
      else pipe.to.write(head.chunk);
    }
  };

  const pumpAll = (): void => {
    for (const c of connections) {
      pump(c, c.toServer, 'toServer');
      pump(c, c.toClient, 'toClient');
    }
  };

  const wire = (c: ProxyConnection, from: Socket, pipe: Pipe, direction: 'toServer' | 'toClient'): void => {
    from.on('data', (chunk: Buffer) => {
      if (c.closed) return;
      options.onChunk?.(c.id, direction, chunk);
      pipe.queue.push({ chunk, due: Date.now() + delayMs });
      pump(c, pipe, direction);
    });
    from.on('end', () => {
      if (c.closed) return;
      pipe.ended = true;
      pipe.queue.push({ chunk: null, due: Date.now() + delayMs });
      pump(c, pipe, direction);
    });
    from.on('error', () => destroyConnection(c));
    from.on('close', () => {
      // An orderly end travels through the pipe; anything else is a reset of the whole connection.
      if (!pipe.ended) destroyConnection(c);
      else if (c.client.destroyed && c.upstream.destroyed) destroyConnection(c);
    });
  };

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    if (refusing || closing) {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    accepted++;
    const upstream = connect({ host: targetHost, port: targetPort, allowHalfOpen: true, noDelay: true });
    const c: ProxyConnection = {
      id: nextId++,
      client,
      upstream,
      toServer: new Pipe(upstream),
      toClient: new Pipe(client),
      closed: false,
    };
    connections.add(c);
    wire(c, client, c.toServer, 'toServer');
    wire(c, upstream, c.toClient, 'toClient');
  });
  server.on('error', () => {});

  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const directions = (d: Direction): ('toServer' | 'toClient')[] => (d === 'both' ? ['toServer', 'toClient'] : [d]);

  return {
    host,
    port,
    connectString: `${host}:${port}`,
    get openConnections() {
      return connections.size;
    },
    get acceptedConnections() {
      return accepted;
    },
    pause(direction = 'both') {
      for (const d of directions(direction)) paused[d] = true;
    },
    resume(direction = 'both') {
      for (const d of directions(direction)) paused[d] = false;
      pumpAll();
    },
    cut() {
      for (const c of [...connections]) destroyConnection(c);
    },
    refuse(on) {
      refusing = on;
    },
    setDelayMs(ms) {
      delayMs = Math.max(0, ms);
    },
    async close() {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of [...connections]) destroyConnection(c);
      await closed;
    },
  };
}
