"""Data, exists and child watches fired by a second client; one-shot semantics; ordering."""
import sys
import threading

from common import EventLog, connect, drain, out, wait_event, WAIT

ROOT = '/kazoo-watch'

watcher_client = connect(sys.argv[1])
writer = connect(sys.argv[1])
log = EventLog()

writer.create(ROOT, b'r')
writer.create(ROOT + '/node', b'v0')

# Data watch (get) fired by set, from another session.
data, stat = watcher_client.get(ROOT + '/node', watch=log.watcher('get-watch'))
out('get ->', data, stat.version)
writer.set(ROOT + '/node', b'v1')
out('events after set ->', log.settle(watcher_client, 1, 'data watch'))

# One-shot: a second set does not fire the (already triggered) watch.
writer.set(ROOT + '/node', b'v2')
drain(watcher_client)
out('events after second set (one-shot) ->', log.take())

# Exists watch on a missing node fires on create.
out('exists missing ->', watcher_client.exists(ROOT + '/later', watch=log.watcher('exists-watch')))
writer.create(ROOT + '/later', b'x')
out('events after create ->', log.settle(watcher_client, 1, 'exists watch'))

# Child watch fires on child create, not on child data change.
children = watcher_client.get_children(ROOT, watch=log.watcher('child-watch'))
out('children ->', sorted(children))
writer.set(ROOT + '/node', b'v3')
drain(watcher_client)
out('events after child data change ->', log.take())
writer.create(ROOT + '/c1', b'')
out('events after child create ->', log.settle(watcher_client, 1, 'child watch'))

# Delete fires the node's data watch and the parent's child watch; exists watch too.
watcher_client.get(ROOT + '/node', watch=log.watcher('get-watch'))
watcher_client.exists(ROOT + '/later', watch=log.watcher('exists-watch'))
watcher_client.get_children(ROOT, watch=log.watcher('child-watch'))
watcher_client.get_children(ROOT + '/c1', watch=log.watcher('c1-child-watch'))
writer.delete(ROOT + '/c1')
out('events after delete c1 ->', log.settle(watcher_client, 2, 'delete c1 watches'))
watcher_client.get_children(ROOT, watch=log.watcher('child-watch'))
writer.delete(ROOT + '/node')
out('events after delete node ->', log.settle(watcher_client, 2, 'delete node watches'))

# A watch set by get on a node that is then modified by the same session fires too.
watcher_client.set(ROOT + '/later', b'self')
out('events after own set ->', log.settle(watcher_client, 1, 'own set'))

# Multi fires watches for each op.
watcher_client.get(ROOT, watch=log.watcher('root-data'))
watcher_client.get_children(ROOT, watch=log.watcher('root-children'))
t = writer.transaction()
t.create(ROOT + '/m1', b'')
t.set_data(ROOT, b'r2')
t.commit()
out('events after multi ->', sorted(log.settle(watcher_client, 2, 'multi watches')))

# kazoo's DataWatch / ChildrenWatch recipes (re-registering watches).
seen = []
cond = threading.Condition()


def record(item):
    with cond:
        seen.append(item)
        cond.notify_all()


def wait_seen(n, what):
    with cond:
        if not cond.wait_for(lambda: len(seen) >= n, WAIT):
            out('TIMEOUT waiting for %s: %r' % (what, seen))
            sys.exit(3)


@watcher_client.DataWatch(ROOT + '/dw')
def on_data(data, stat):
    record('data=%r version=%s' % (data, None if stat is None else stat.version))


wait_seen(1, 'initial DataWatch call')
writer.create(ROOT + '/dw', b'a')
wait_seen(2, 'DataWatch create')
writer.set(ROOT + '/dw', b'b')
wait_seen(3, 'DataWatch set')
writer.delete(ROOT + '/dw')
wait_seen(4, 'DataWatch delete')
out('DataWatch ->', list(seen))

kids = []
kids_ready = threading.Event()


@watcher_client.ChildrenWatch(ROOT)
def on_children(children):
    kids.append(sorted(children))
    if 'k2' in children:
        kids_ready.set()


writer.create(ROOT + '/k1', b'')
writer.create(ROOT + '/k2', b'')
wait_event(kids_ready, 'ChildrenWatch')
# Both creates may be coalesced into one notification; the final view must include both.
out('ChildrenWatch first ->', kids[0])
out('ChildrenWatch last ->', kids[-1])

watcher_client.stop()
watcher_client.close()
writer.stop()
writer.close()
out('done')
