"""Creates an ephemeral node with a short session timeout, reports its session, then idles
until it is killed (the test kills it with SIGKILL, so the session is never closed)."""
import sys
import time

from common import connect, out

ROOT = '/kazoo-expiry'
zk = connect(sys.argv[1], timeout=float(sys.argv[2]))
zk.ensure_path(ROOT)
zk.create(ROOT + '/eph', b'holder', ephemeral=True)
zk.create(ROOT + '/eph-seq-', b'holder', ephemeral=True, sequence=True)
session_id, password = zk.client_id
out('ready %x %s' % (session_id, password.hex()))
while True:
    time.sleep(60)
