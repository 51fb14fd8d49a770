"""Watches the holder's ephemeral nodes; after the holder is killed they must vanish when
its session expires. Then reconnecting with the dead session's id must report expiry."""
import logging
import sys
import threading

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from common import EventLog, connect, err_name, fmt_stat, out, WAIT

ROOT = '/kazoo-expiry'
hosts = sys.argv[1]
holder_session = int(sys.argv[2], 16)
holder_password = bytes.fromhex(sys.argv[3])

zk = connect(hosts)
log = EventLog()
data, stat = zk.get(ROOT + '/eph', watch=log.watcher('eph'))
out('eph ->', data, fmt_stat(stat))
out('owner is holder ->', stat.ephemeralOwner == holder_session)
children = zk.get_children(ROOT, watch=log.watcher('root-children'))
out('children ->', sorted(children))
out('watching')

# The test kills the holder now; the session lives on until its timeout passes.
events = log.wait_for(2, 'ephemeral deletion')
out('events ->', sorted(events))
out('eph exists ->', zk.exists(ROOT + '/eph'))
out('children after expiry ->', zk.get_children(ROOT))

# Reattaching to the expired session: the server answers with an expired session and kazoo
# reports LOST, then opens a fresh session.
states = []
lock = threading.Lock()
connected = threading.Event()


def listener(state):
    with lock:
        states.append(state)
    if state == KazooState.CONNECTED:
        connected.set()


class Capture(logging.Handler):
    def __init__(self):
        logging.Handler.__init__(self, level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


capture = Capture()
reattach_logger = logging.getLogger('reattach')
reattach_logger.setLevel(logging.WARNING)
reattach_logger.propagate = False
reattach_logger.addHandler(capture)
old = KazooClient(hosts=hosts, timeout=10.0, client_id=(holder_session, holder_password),
                  logger=reattach_logger)
old.add_listener(listener)
try:
    old.start(timeout=WAIT)
except Exception as e:  # noqa: BLE001
    out('reattach start ->', type(e).__name__)
if not connected.wait(WAIT):
    out('TIMEOUT waiting for a new session after expiry; states=%r' % states)
    sys.exit(3)
with lock:
    out('reattach states ->', states)
out('kazoo saw expiry ->', any('Session has expired' in m for m in capture.messages))
out('new session differs ->', old.client_id[0] != holder_session)
out('new session can read ->', err_name(old.get_children, ROOT))
old.stop()
old.close()
zk.stop()
zk.close()
out('done')
