/**
 * Every emitter of the client and the recipes has typed events: a listener gets its event's
 * arguments, and an unknown event or a listener of the wrong shape does not compile (the
 * @ts-expect-error lines fail `tsc -p tsconfig.json --noEmit` if they ever compile). At run time,
 * the typed emitters are still plain EventEmitters.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { ZooKeeperClient } from '../../src/index.ts';
import {
  ConnectionStateTracker, GroupMembership, LeaderElection, LeaderLatch, Mutex, NodeCache, Registration, Semaphore,
  ServiceDiscovery, SharedCounter, TreeCache, type ConnectionState, type RevokeReason,
} from '../../src/recipes/index.ts';

/** Never called: what it holds is checked by the compiler. */
function typedListeners(
  zk: ZooKeeperClient, election: LeaderElection, latch: LeaderLatch, tracker: ConnectionStateTracker, group: GroupMembership,
  mutex: Mutex, semaphore: Semaphore, node: NodeCache, tree: TreeCache, discovery: ServiceDiscovery, registration: Registration,
  counter: SharedCounter,
): void {
  zk.on('state', (state) => state satisfies string);
  election.on('revoked', (reason) => reason satisfies RevokeReason);
  tracker.once('change', (state) => state satisfies ConnectionState);
  group.on('joined', (id, data) => [id satisfies string, data satisfies Buffer | null]);
  tree.on('nodeAdded', (path, cached) => [path satisfies string, cached.stat.version satisfies number]);
  counter.on('change', (value, version) => value + version);
  discovery.on('change', (instances) => instances.map((i) => i.port satisfies number));
  registration.off('reregistered', (path) => path satisfies string);
  // @ts-expect-error: no such event
  zk.on('connected', () => {});
  // @ts-expect-error: no such event
  election.on('elect', () => {});
  // @ts-expect-error: the reason is a RevokeReason, not a number
  election.on('revoked', (reason: number) => reason);
  // @ts-expect-error: no such event
  latch.on('leader', () => {});
  // @ts-expect-error: no such event
  tracker.on('state', () => {});
  // @ts-expect-error: no such event
  group.on('member', () => {});
  // @ts-expect-error: no such event
  mutex.on('acquired', () => {});
  // @ts-expect-error: no such event
  semaphore.once('released', () => {});
  // @ts-expect-error: no such event
  node.on('changed', () => {});
  // @ts-expect-error: nodeRemoved gives the path only
  tree.on('nodeRemoved', (path: string, cached: { data: Buffer }) => [path, cached]);
  // @ts-expect-error: no such event
  discovery.on('instances', () => {});
  // @ts-expect-error: no such event
  registration.on('registered', () => {});
  // @ts-expect-error: no such event
  counter.on('value', () => {});
}

test('typed emitters are EventEmitters at run time', () => {
  assert.equal(typeof typedListeners, 'function');
  for (const cls of [ConnectionStateTracker, GroupMembership, LeaderElection, LeaderLatch, Mutex, NodeCache, Registration, Semaphore, ServiceDiscovery, SharedCounter, TreeCache]) {
    assert.ok(cls.prototype instanceof EventEmitter, cls.name);
  }
});
