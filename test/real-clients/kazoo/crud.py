"""CRUD with stats, errors, ACLs, sequential nodes and a transaction."""
import sys

from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE

from common import connect, err_name, fmt_stat, out

ROOT = '/kazoo-crud'

zk = connect(sys.argv[1])
out('state', zk.state)

out('create root ->', zk.create(ROOT, b'root'))
out('create a ->', zk.create(ROOT + '/a', b'alpha'))
data, stat = zk.get(ROOT + '/a')
out('get a ->', data, fmt_stat(stat))
stat = zk.exists(ROOT)
out('exists root ->', fmt_stat(stat))
out('exists missing ->', zk.exists(ROOT + '/missing'))

stat = zk.set(ROOT + '/a', b'alpha-2')
out('set a ->', fmt_stat(stat))
stat = zk.set(ROOT + '/a', b'alpha-3', version=1)
out('set a version=1 ->', fmt_stat(stat))
out('set a version=7 ->', err_name(zk.set, ROOT + '/a', b'x', version=7))
out('set missing ->', err_name(zk.set, ROOT + '/missing', b'x'))
data, stat = zk.get(ROOT + '/a')
out('get a ->', data, fmt_stat(stat))

out('create a again ->', err_name(zk.create, ROOT + '/a', b''))
out('create under missing ->', err_name(zk.create, ROOT + '/nope/child', b''))
out('create makepath ->', zk.create(ROOT + '/deep/er/node', b'd', makepath=True))
out('create empty ->', zk.create(ROOT + '/empty'))
data, stat = zk.get(ROOT + '/empty')
out('get empty ->', repr(data), fmt_stat(stat))

# Sequential names: parent's cversion decides the counter.
for i in range(3):
    out('create seq ->', zk.create(ROOT + '/seq-', b's%d' % i, sequence=True))
eph = zk.create(ROOT + '/eph-', b'e', ephemeral=True, sequence=True)
out('create ephemeral seq ->', eph)
data, stat = zk.get(eph)
out('get ephemeral ->', data, fmt_stat(stat, zk))
out('create child of ephemeral ->', err_name(zk.create, eph + '/c', b''))

children, stat = zk.get_children(ROOT, include_data=True)
out('children ->', sorted(children), fmt_stat(stat))
out('children of a ->', zk.get_children(ROOT + '/a'))
out('children of missing ->', err_name(zk.get_children, ROOT + '/missing'))

out('delete non-empty ->', err_name(zk.delete, ROOT + '/deep'))
out('delete a version=0 ->', err_name(zk.delete, ROOT + '/a', version=0))
out('delete a version=2 ->', err_name(zk.delete, ROOT + '/a', version=2))
out('get deleted ->', err_name(zk.get, ROOT + '/a'))
out('delete missing ->', err_name(zk.delete, ROOT + '/a'))
out('delete recursive ->', err_name(zk.delete, ROOT + '/deep', recursive=True))
out('exists deep ->', zk.exists(ROOT + '/deep'))
out('stat root ->', fmt_stat(zk.exists(ROOT)))

# ACLs
acls, stat = zk.get_acls(ROOT)
out('acls root ->', [(a.perms, a.id.scheme, a.id.id) for a in acls], fmt_stat(stat))
out('acls == OPEN_ACL_UNSAFE ->', list(acls) == list(OPEN_ACL_UNSAFE))
secret_acl = make_digest_acl('alice', 'secret', all=True)
out('create secret ->', zk.create(ROOT + '/secret', b'hidden', acl=[secret_acl]))
out('get secret (no auth) ->', err_name(zk.get, ROOT + '/secret'))
out('set secret (no auth) ->', err_name(zk.set, ROOT + '/secret', b'x'))
out('get_acls secret (no auth) ->', err_name(zk.get_acls, ROOT + '/secret'))
out('exists secret (no auth) ->', fmt_stat(zk.exists(ROOT + '/secret')))
zk.add_auth('digest', 'alice:secret')
acls, stat = zk.get_acls(ROOT + '/secret')
out('acls secret ->', [(a.perms, a.id.scheme, a.id.id) for a in acls])
data, stat = zk.get(ROOT + '/secret')
out('get secret (auth) ->', data, fmt_stat(stat))
stat = zk.set_acls(ROOT + '/secret', list(OPEN_ACL_UNSAFE) + [secret_acl])
out('set_acls secret ->', fmt_stat(stat))
out('set_acls secret stale ->', err_name(zk.set_acls, ROOT + '/secret', list(OPEN_ACL_UNSAFE), version=0))

# Transactions
t = zk.transaction()
t.create(ROOT + '/tx1', b'one')
t.create(ROOT + '/tx2', b'two')
t.set_data(ROOT + '/tx1', b'uno')
t.check(ROOT + '/tx1', 1)
t.delete(ROOT + '/tx2')
res = t.commit()
out('transaction ok ->', [r if isinstance(r, (str, bool)) else fmt_stat(r) for r in res])
t = zk.transaction()
t.create(ROOT + '/tx3', b'three')
t.check(ROOT + '/tx1', 99)
t.delete(ROOT + '/tx1')
res = t.commit()
out('transaction failing ->', [r if isinstance(r, (str, bool)) else type(r).__name__ for r in res])
out('tx3 after rollback ->', zk.exists(ROOT + '/tx3'))
data, stat = zk.get(ROOT + '/tx1')
out('tx1 ->', data, fmt_stat(stat))

children = zk.get_children(ROOT)
out('final children ->', sorted(children))
zk.stop()
zk.close()

# An unknown auth scheme is fatal for the session (AUTH_FAILED).
other = connect(sys.argv[1])
out('add_auth unknown scheme ->', err_name(other.add_auth, 'nosuchscheme', 'x'))
other.stop()
other.close()
out('done')
