/**
 * Curator's ServiceDiscovery, registration side: each instance of a service is an
 * ephemeral-sequential znode under the service's persistent node, in a persistent root (registry →
 * service → instances), holding JSON `{host, port, metadata}`:
 *
 *   /service_registry                                     persistent
 *     search                                              persistent
 *       _c_<uuid>-instance-0000000000   {"host":"10.0.0.5","port":8080,"metadata":{…}}   ephemeral
 *       _c_<uuid>-instance-0000000001   …
 *
 * Without a service name, the instances are the root's own children (one service per root).
 *
 * The node is created with Curator's protection marker, so a create whose reply was lost is found
 * again rather than left behind. The discovery side is ServiceDiscovery (service-discovery.ts).
 */
import { EventEmitter } from 'node:events';
import { NoNodeError, SessionExpiredError, UnimplementedError, type WatchedEvent, type ZooKeeperClient } from '../client/index.ts';
import { childrenOf, deleteOwnNode } from './nodes.ts';
import { nameOf } from './paths.ts';
import { retrying } from './retry.ts';
import { createProtected, queueOf, sequenceOf, unprotected } from './sequential.ts';
import { DEFAULT_REGISTRY_ROOT, instanceOf, servicePath } from './service-discovery.ts';
import { deadlineSignal, type WaitOptions } from './waiting.ts';

export { DEFAULT_REGISTRY_ROOT, ServiceDiscovery, instanceOf, servicePath, type ServiceDiscoveryOptions } from './service-discovery.ts';

export interface ServiceInstance {
  host: string;
  port: number;
  metadata?: Record<string, unknown>;
}

export interface RegisteredInstance extends ServiceInstance {
  /** The node's name without the protection marker, e.g. 'instance-0000000003'. */
  id: string;
  /** The node's full path. */
  path: string;
}

export interface ServiceRegistryOptions {
  /** Default '/service_registry'. */
  root?: string;
  /** The service's name: its instances go under root/service. Without it, under the root. */
  service?: string;
  /** Default 'instance-'. */
  prefix?: string;
}

const DEFAULT_PREFIX = 'instance-';

/**
 * What an instance's node holds.
 *
 *   encodeInstance({ host: 'h', port: 80 });   // '{"host":"h","port":80}'
 */
export function encodeInstance(instance: ServiceInstance): string {
  return JSON.stringify({ host: instance.host, port: instance.port, metadata: instance.metadata });
}

/**
 * Registers instances and lists them.
 *
 *   const registry = new ServiceRegistry(zk, { service: 'search' });   // under /service_registry/search
 *   const me = await registry.register({ host: '10.0.0.5', port: 8080, metadata: { zone: 'b' } });
 *   await registry.list();       // [{ id: 'instance-0000000000', path, host: '10.0.0.5', port: 8080, metadata }]
 *   await registry.services();   // ['search', …]: the services registered under the root
 *   await me.unregister();
 */
export class ServiceRegistry {
  readonly root: string;
  /** The node whose children are the instances: root/service, or the root without a service. */
  readonly path: string;
  readonly prefix: string;

  constructor(
    private readonly client: ZooKeeperClient,
    options: ServiceRegistryOptions = {},
  ) {
    this.root = options.root ?? DEFAULT_REGISTRY_ROOT;
    this.path = servicePath(this.root, options.service);
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
  }

  /** The names of the services under the root (Curator's queryForNames): its children that are not instances. */
  async services(options: WaitOptions = {}): Promise<string[]> {
    const signal = deadlineSignal(options);
    const names = await retrying(() => childrenOf(this.client, this.root, { signal }), { signal });
    return names.filter((name) => Number.isNaN(sequenceOf(name))).sort();
  }

  /** Creates the instance's node (and the root, persistent, if missing); it lives as long as the session. */
  async register(instance: ServiceInstance, options: WaitOptions = {}): Promise<Registration> {
    const registration = new Registration(this.client, this.path, this.prefix, instance);
    await registration.create(deadlineSignal(options));
    return registration;
  }

  /** Every registered instance, in registration (sequence) order; nodes that do not hold an instance are skipped. */
  async list(options: WaitOptions = {}): Promise<RegisteredInstance[]> {
    const signal = deadlineSignal(options);
    const paths = await retrying(() => queueOf(this.client, this.path, () => true, { signal }), { signal });
    if (paths.length === 0) return [];
    const datas = await retrying(() => this.readAll(paths, signal), { signal });
    const instances: RegisteredInstance[] = [];
    paths.forEach((path, i) => {
      const instance = instanceOf(path, datas[i]);
      if (instance !== null) instances.push(instance);
    });
    return instances;
  }

  /** The data of every path in one round trip (multiRead; one getData each on a server without it); null for a node gone. */
  private async readAll(paths: string[], signal: AbortSignal | undefined): Promise<(Buffer | null)[]> {
    try {
      const results = await this.client.multiRead(paths.map((path) => ({ type: 'getData' as const, path })), { signal });
      return results.map((r) => (r.type === 'getData' ? r.data : null));
    } catch (err) {
      if (!(err instanceof UnimplementedError)) throw err;
    }
    return Promise.all(paths.map((path) => this.client.getData(path, { signal }).then((r) => r.data, (err: unknown) => {
      if (err instanceof NoNodeError) return null;
      throw err;
    })));
  }
}

/** The events of Registration and their arguments. */
export type RegistrationEvents = {
  reregistered: [path: string];
  error: [err: unknown];
};

/**
 * One registered instance. Its node is ephemeral: it goes with the session. If it vanishes while
 * the session lives (an operator deleted it), it is registered again with the same data, under a
 * new node ('reregistered' with the new path).
 *
 *   const reg = await registry.register({ host, port });
 *   await reg.update({ host, port, metadata: { load: 0.7 } });
 *   await reg.unregister();
 */
export class Registration extends EventEmitter<RegistrationEvents> {
  private currentPath = '';
  private unregistered = false;
  /** Registering again runs one at a time, after update() and before unregister(). */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly watcher = (event: WatchedEvent): void => this.nodeChanged(event);

  /** Made by ServiceRegistry.register(). */
  constructor(
    private readonly client: ZooKeeperClient,
    /** The node the instance's node is under: its registry's path. */
    readonly root: string,
    readonly prefix: string,
    private current: ServiceInstance,
  ) {
    super();
  }

  /** The instance's node (it changes if the instance had to be registered again). */
  get path(): string {
    return this.currentPath;
  }

  /** The node's name without the protection marker. */
  get id(): string {
    return unprotected(nameOf(this.currentPath));
  }

  /** What the node holds, as last given. */
  get instance(): ServiceInstance {
    return this.current;
  }

  /** @internal Creates the node and watches it. */
  async create(signal?: AbortSignal): Promise<void> {
    this.currentPath = await createProtected(this.client, this.root, this.prefix, {
      mode: 'ephemeral_sequential',
      data: encodeInstance(this.current),
      parentMode: 'persistent',
      signal,
    });
    await this.watch();
  }

  /** Replaces what the node holds (host, port, metadata). */
  update(instance: ServiceInstance, options: WaitOptions = {}): Promise<void> {
    if (this.unregistered) return Promise.reject(new Error(`${this.currentPath} was unregistered`));
    this.current = instance;
    const signal = deadlineSignal(options);
    return this.serially(async () => {
      try {
        await retrying(() => this.client.setData(this.currentPath, encodeInstance(instance), { signal }), { signal });
      } catch (err) {
        // Gone: the watch registers it again, now with this data.
        if (!(err instanceof NoNodeError)) throw err;
      }
    });
  }

  /** Deletes the node and stops watching it. Idempotent; a session already over has no node left. */
  unregister(options: WaitOptions = {}): Promise<void> {
    this.unregistered = true;
    const signal = deadlineSignal(options);
    return this.serially(async () => {
      await this.client.removeWatches(this.currentPath, 'data', { watcher: this.watcher, local: true }).catch(() => {});
      await deleteOwnNode(this.client, this.currentPath, signal);
    });
  }

  private serially(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(step);
    this.queue = next.catch(() => {});
    return next;
  }

  /** Arms an exists watch on the node; registers again at once if it is already gone. */
  private async watch(): Promise<void> {
    if ((await this.client.exists(this.currentPath, { watch: this.watcher })) === null) await this.registerAgain();
  }

  private nodeChanged(event: WatchedEvent): void {
    // 'None': the session ended, and the node with it. Watch-removal events: unregister().
    if (this.unregistered || (event.type !== 'NodeDeleted' && event.type !== 'NodeDataChanged')) return;
    void this.serially(() => (event.type === 'NodeDeleted' ? this.registerAgain() : this.watch())).catch((err: unknown) => {
      if (!(err instanceof SessionExpiredError) && this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  private async registerAgain(): Promise<void> {
    if (this.unregistered) return;
    // The exists watch on the old path may still be set (it was re-armed on a gone node).
    await this.client.removeWatches(this.currentPath, 'data', { watcher: this.watcher, local: true }).catch(() => {});
    await this.create();
    this.emit('reregistered', this.currentPath);
  }
}
