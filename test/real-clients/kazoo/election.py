"""kazoo's Election recipe: first contender leads, the second takes over when the leader
returns from its leadership function, a third takes over when the leader's session closes."""
import sys
import threading
import time

from common import connect, out, WAIT

ROOT = '/kazoo-election'
hosts = sys.argv[1]
clients = {name: connect(hosts) for name in ('e1', 'e2', 'e3')}
elections = {name: clients[name].Election(ROOT, name) for name in clients}
log = []
log_lock = threading.Lock()
leading = {name: threading.Event() for name in clients}
resign = {name: threading.Event() for name in clients}


def note(what):
    with log_lock:
        log.append(what)


def leader(name):
    note('%s leads' % name)
    leading[name].set()
    resign[name].wait(WAIT * 3)
    note('%s resigns' % name)


def runner(name):
    try:
        elections[name].run(leader, name)
    except Exception as e:  # noqa: BLE001 - report, do not hang
        note('%s run failed: %s' % (name, type(e).__name__))


def wait_until(pred, what):
    deadline = time.time() + WAIT
    while not pred():
        if time.time() > deadline:
            out('TIMEOUT waiting for %s' % what)
            sys.exit(3)
        time.sleep(0.02)


def wait_leading(name):
    if not leading[name].wait(WAIT):
        out('TIMEOUT waiting for %s to lead; log=%r' % (name, log))
        sys.exit(3)


observer = elections['e1']
threads = {}
threads['e1'] = threading.Thread(target=runner, args=('e1',))
threads['e1'].start()
wait_leading('e1')
for name in ('e2', 'e3'):
    threads[name] = threading.Thread(target=runner, args=(name,))
    threads[name].start()
    wait_until(lambda: name in observer.contenders(), '%s to join' % name)
out('contenders ->', observer.contenders())
out('leaders so far ->', [n for n in clients if leading[n].is_set()])

resign['e1'].set()
wait_leading('e2')
threads['e1'].join(WAIT)
out('contenders after e1 resigned ->', elections['e2'].contenders())

# e2's session goes away while it leads: its ephemeral node disappears and e3 takes over.
note('e2 session closing')
clients['e2'].stop()
wait_leading('e3')
out('contenders after e2 session closed ->', elections['e3'].contenders())
for name in ('e2', 'e3'):
    resign[name].set()
    threads[name].join(WAIT)
wait_until(lambda: elections['e3'].contenders() == [], 'election to empty')
out('contenders at end ->', elections['e3'].contenders())
out('log ->', log)
for name, c in clients.items():
    c.stop()
    c.close()
out('done')
