"""Shared helpers for the kazoo scenario scripts.

Every script takes the connect string as its first argument and prints a deterministic
transcript on stdout. Zxids are printed as labels (Z1, Z2, ...) in order of first appearance,
so that relations between them (equal / later) survive while absolute values do not matter.
Exit status is non-zero when the scenario itself fails.
"""
import logging
import os
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.protocol.states import Callback

logging.basicConfig(level=logging.CRITICAL)

WAIT = float(os.environ.get('KAZOO_SCENARIO_WAIT', '10'))


def out(*args):
    print(*args, flush=True)


class Zxids(object):
    def __init__(self):
        self.labels = {}

    def __call__(self, zxid):
        if zxid == 0:
            return 'Z0'
        if zxid not in self.labels:
            self.labels[zxid] = 'Z%d' % (len(self.labels) + 1)
        return self.labels[zxid]


ZX = Zxids()


def fmt_stat(stat, owner_client=None):
    if stat is None:
        return 'None'
    if stat.ephemeralOwner == 0:
        owner = 'none'
    elif owner_client is not None and stat.ephemeralOwner == owner_client.client_id[0]:
        owner = 'self'
    else:
        owner = 'other'
    # Times: only their relation is deterministic.
    times = 'ctime==mtime' if stat.ctime == stat.mtime else (
        'ctime<mtime' if stat.ctime < stat.mtime else 'ctime>mtime')
    sane_time = abs(stat.ctime / 1000.0 - time.time()) < 600
    return ('czxid=%s mzxid=%s pzxid=%s version=%d cversion=%d aversion=%d owner=%s '
            'dataLength=%d numChildren=%d %s recent=%s' % (
                ZX(stat.czxid), ZX(stat.mzxid), ZX(stat.pzxid), stat.version,
                stat.cversion, stat.aversion, owner, stat.dataLength,
                stat.numChildren, times, sane_time))


def connect(hosts, timeout=10.0, **kwargs):
    client = KazooClient(hosts=hosts, timeout=timeout, **kwargs)
    client.start(timeout=WAIT)
    return client


def err_name(fn, *args, **kwargs):
    """Runs fn and returns the name of the exception it raised, or 'ok: <result>'."""
    try:
        return 'ok: %r' % (fn(*args, **kwargs),)
    except Exception as e:  # noqa: BLE001 - the class name is the point
        return type(e).__name__


def wait_event(event, what):
    if not event.wait(WAIT):
        out('TIMEOUT waiting for %s' % what)
        sys.exit(3)


def drain(client, path='/'):
    """Makes sure every notification the server sent before now has been delivered to the
    watch callbacks: a sync round trip (the server sends earlier notifications first), then a
    marker through kazoo's callback queue (watch callbacks run in order from that queue)."""
    client.sync(path)
    marker = threading.Event()
    client.handler.dispatch_callback(Callback('watch', marker.set, ()))
    wait_event(marker, 'callback queue marker')


class EventLog(object):
    """Collects watch events (thread-safe) and lets the script wait for a count."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def watcher(self, tag):
        def cb(event):
            with self.cond:
                self.events.append('%s: type=%s state=%s path=%s' % (tag, event.type, event.state, event.path))
                self.cond.notify_all()
        return cb

    def wait_for(self, count, what):
        deadline = time.time() + WAIT
        with self.cond:
            while len(self.events) < count:
                left = deadline - time.time()
                if left <= 0:
                    out('TIMEOUT waiting for %s (have %r)' % (what, self.events))
                    sys.exit(3)
                self.cond.wait(left)
            return list(self.events)

    def settle(self, client, count, what):
        """Waits for `count` events, then drains the session (see `drain`) and returns every
        event seen, so that unexpected extra events show up in the transcript."""
        self.wait_for(count, what)
        drain(client)
        return self.take()

    def take(self):
        with self.cond:
            ev = list(self.events)
            self.events = []
            return ev
