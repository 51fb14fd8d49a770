"""kazoo's Lock recipe: two contenders on two sessions, FIFO hand-over, non-blocking and
timed acquisition, and the lock node's sequential children."""
import sys
import threading
import time

from kazoo.exceptions import LockTimeout

from common import connect, out, WAIT

ROOT = '/kazoo-lock'
hosts = sys.argv[1]
c1 = connect(hosts)
c2 = connect(hosts)
c3 = connect(hosts)
lock1 = c1.Lock(ROOT, 'c1')
lock2 = c2.Lock(ROOT, 'c2')
lock3 = c3.Lock(ROOT, 'c3')

order = []
order_lock = threading.Lock()


def note(what):
    with order_lock:
        order.append(what)


def lock_children():
    # Child names are "<uuid>__lock__<seq>": keep the deterministic sequence part.
    return sorted(name.split('__lock__')[1] for name in c1.get_children(ROOT))


def wait_until(pred, what):
    deadline = time.time() + WAIT
    while not pred():
        if time.time() > deadline:
            out('TIMEOUT waiting for %s' % what)
            sys.exit(3)
        time.sleep(0.02)


out('c1 acquire ->', lock1.acquire(timeout=WAIT))
note('c1 acquired')
out('contenders ->', lock1.contenders())
out('c2 acquire non-blocking ->', lock2.acquire(blocking=False))
out('children after failed non-blocking ->', lock_children())
try:
    lock3.acquire(timeout=0.3)
    out('c3 acquire with timeout -> acquired (unexpected)')
except LockTimeout:
    out('c3 acquire with timeout -> LockTimeout')
# kazoo deletes a contender's node when a non-blocking or timed acquire gives up.
out('children after timeout ->', lock_children())

# A lock object that failed a non-blocking acquire must be able to acquire later; use a fresh one.
lock2 = c2.Lock(ROOT, 'c2')
acquired2 = threading.Event()


def contender2():
    if lock2.acquire(timeout=WAIT):
        note('c2 acquired')
        acquired2.set()


t2 = threading.Thread(target=contender2)
t2.start()
wait_until(lambda: lock1.contenders() == ['c1', 'c2'], 'c2 to queue')
out('contenders while c2 waits ->', lock1.contenders())
out('c2 acquired before release ->', acquired2.is_set())
note('c1 releasing')
out('c1 release ->', lock1.release())
if not acquired2.wait(WAIT):
    out('TIMEOUT waiting for c2 to acquire')
    sys.exit(3)
t2.join(WAIT)
out('contenders after hand-over ->', lock1.contenders())
out('children after hand-over ->', lock_children())

# The lock is also released when the holder's session closes.
lock1 = c1.Lock(ROOT, 'c1-again')
acquired1 = threading.Event()


def contender1():
    if lock1.acquire(timeout=WAIT):
        note('c1 acquired again')
        acquired1.set()


t1 = threading.Thread(target=contender1)
t1.start()
wait_until(lambda: len(lock1.contenders()) == 2, 'c1 to queue again')
note('c2 session closing')
c2.stop()
c2.close()
if not acquired1.wait(WAIT):
    out('TIMEOUT waiting for c1 to acquire after c2 session closed')
    sys.exit(3)
t1.join(WAIT)
out('contenders after session close ->', lock1.contenders())
lock1.release()
out('children at end ->', lock_children())
out('order ->', order)
for c in (c1, c3):
    c.stop()
    c.close()
out('done')
