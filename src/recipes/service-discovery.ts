/**
 * Curator's ServiceDiscovery (ServiceCache), discovery side: the instances of one service (see
 * ServiceRegistry), kept current by a TreeCache of depth 1 on the service's node — so by a
 * persistent-recursive watch, or one-shot child and data watches — and re-read on RECONNECTED.
 */
import { EventEmitter } from 'node:events';
import type { ZooKeeperClient } from '../client/index.ts';
import { joinPath, nameOf } from './paths.ts';
import { sequenceOf, sortBySequence, unprotected } from './sequential.ts';
import type { RegisteredInstance } from './service-registry.ts';
import { TreeCache, type CacheMode } from './tree-cache.ts';
import type { WaitOptions } from './waiting.ts';

export const DEFAULT_REGISTRY_ROOT = '/service_registry';

export interface ServiceDiscoveryOptions {
  /** Default '/service_registry'. */
  root?: string;
  /**
   * The service's name: its instances are under root/service (Curator's layout: registry → service
   * → instances). Without it, they are the root's children.
   */
  service?: string;
  /** How the root is watched (see TreeCache). Default 'auto'. */
  mode?: CacheMode;
}

/** The events of ServiceDiscovery and their arguments. */
export type ServiceDiscoveryEvents = {
  change: [instances: RegisteredInstance[]];
  error: [err: unknown];
};

/**
 * The registered instances of a service, as they come and go.
 *
 *   const discovery = new ServiceDiscovery(zk, { service: 'search' });   // /service_registry/search
 *   discovery.on('change', (instances) => balancer.setTargets(instances));
 *   const first = await discovery.start();
 *   discovery.instances;        // the current list, in registration order
 *   await discovery.close();
 *
 * 'change' is emitted only when the list really changed (an instance came, went, or its data
 * changed); changes that arrive together (e.g. a re-sync after a reconnection) make one event.
 * The service's node need not exist yet.
 */
export class ServiceDiscovery extends EventEmitter<ServiceDiscoveryEvents> {
  readonly root: string;
  /** The node whose children are the instances: root/service, or the root without a service. */
  readonly path: string;
  private readonly cache: TreeCache;
  private current: RegisteredInstance[] = [];
  private currentKey = '[]';
  private started = false;
  private flushScheduled = false;

  constructor(client: ZooKeeperClient, options: ServiceDiscoveryOptions = {}) {
    super();
    this.root = options.root ?? DEFAULT_REGISTRY_ROOT;
    this.path = servicePath(this.root, options.service);
    this.cache = new TreeCache(client, this.path, { mode: options.mode, maxDepth: 1 });
    const changed = (path: string): void => {
      if (path !== this.path) this.scheduleFlush();
    };
    this.cache.on('nodeAdded', changed);
    this.cache.on('nodeUpdated', changed);
    this.cache.on('nodeRemoved', changed);
    this.cache.on('error', (err: unknown) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  /** Reads the instances and starts following them; resolves with the first list. */
  async start(options: WaitOptions = {}): Promise<RegisteredInstance[]> {
    await this.cache.start(options);
    this.started = true;
    this.current = this.read();
    this.currentKey = JSON.stringify(this.current);
    return [...this.current];
  }

  /** The instances as last seen, in registration (sequence) order. */
  get instances(): RegisteredInstance[] {
    return [...this.current];
  }

  /** Stops following the registry and removes the watches. */
  async close(): Promise<void> {
    this.started = false;
    await this.cache.close();
  }

  /** Changes applied in one batch of replies make one comparison (and at most one event). */
  private scheduleFlush(): void {
    if (!this.started || this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (!this.started) return;
      const next = this.read();
      const key = JSON.stringify(next);
      if (key === this.currentKey) return;
      this.current = next;
      this.currentKey = key;
      this.emit('change', [...next]);
    });
  }

  private read(): RegisteredInstance[] {
    const instances: RegisteredInstance[] = [];
    for (const name of sortBySequence(this.cache.children(this.path))) {
      const path = joinPath(this.path, name);
      const instance = instanceOf(path, this.cache.get(path)?.data ?? null);
      if (instance !== null) instances.push(instance);
    }
    return instances;
  }
}

/**
 * Where a service's instances are: root/service, or the root itself when no service is named.
 *
 *   servicePath('/service_registry', 'search');   // '/service_registry/search'
 */
export function servicePath(root: string, service: string | undefined): string {
  if (service === undefined) return root;
  if (service === '' || service.includes('/') || service === '.' || service === '..') {
    throw new RangeError(`a service name is one path component, not ${JSON.stringify(service)}`);
  }
  return joinPath(root, service);
}

/**
 * The instance a registry node holds, or null when its data is not an instance's JSON
 * (`{ host: string, port: number, metadata?: object }`) or its name has no sequence number.
 *
 *   instanceOf('/service_registry/instance-0000000001', Buffer.from('{"host":"h","port":80}'));
 *   // { id: 'instance-0000000001', path: '/service_registry/instance-0000000001', host: 'h', port: 80 }
 */
export function instanceOf(path: string, data: Buffer | null): RegisteredInstance | null {
  if (data === null || Number.isNaN(sequenceOf(nameOf(path)))) return null;
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { host, port, metadata } = value as Record<string, unknown>;
  if (typeof host !== 'string' || typeof port !== 'number' || !Number.isInteger(port)) return null;
  const instance: RegisteredInstance = { id: unprotected(nameOf(path)), path, host, port };
  if (typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)) instance.metadata = metadata as Record<string, unknown>;
  return instance;
}
