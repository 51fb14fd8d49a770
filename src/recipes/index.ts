/**
 * Recipes: `import { LeaderElection, Mutex, ServiceRegistry, … } from 'ensemble/recipes'`. Built
 * only on the public client API, so they work the same against Ensemble and Apache ZooKeeper.
 */
export { ConnectionStateTracker, type ConnectionState, type ConnectionStateTrackerOptions, type ConnectionStateTrackerEvents } from './connection-state.ts';
export { retrying, isRetryable, type RetryOptions } from './retry.ts';
export { sequenceOf, sortBySequence, unprotected } from './sequential.ts';
export { LeaderElection, type LeaderElectionOptions, type Participant, type RevokeReason, type LeaderElectionEvents } from './leader-election.ts';
export { LeaderLatch, type LeaderLatchOptions, type LeaderLatchEvents } from './leader-latch.ts';
export { ServiceRegistry, ServiceDiscovery, Registration, type ServiceInstance, type RegisteredInstance, type ServiceRegistryOptions, type ServiceDiscoveryOptions, type RegistrationEvents } from './service-registry.ts';
export type { ServiceDiscoveryEvents } from './service-discovery.ts';
export { Mutex, LockLostError, LockNotHeldError, type MutexOptions, type AcquireOptions, type HolderEvent } from './lock.ts';
export type { HolderEvents } from './lock-internals.ts';
export { ReadWriteLock, ReadLock, WriteLock, type ReadWriteLockOptions } from './read-write-lock.ts';
export { Semaphore, Lease, type SemaphoreOptions, type SemaphoreAcquireOptions } from './semaphore.ts';
export { Barrier } from './barrier.ts';
export { DoubleBarrier, type DoubleBarrierOptions } from './double-barrier.ts';
export { DistributedQueue, PriorityQueue } from './queue.ts';
export { SharedCounter, type SharedCounterEvents } from './shared-counter.ts';
export { GroupMembership, type GroupMembershipOptions, type GroupMembershipEvents } from './group-membership.ts';
export { NodeCache, type NodeCacheOptions, type NodeCacheEvents } from './node-cache.ts';
export { TreeCache, type CacheMode, type CachedNode, type TreeCacheOptions, type TreeCacheEvents } from './tree-cache.ts';
