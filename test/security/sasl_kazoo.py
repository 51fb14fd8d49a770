"""kazoo with sasl_options (DIGEST-MD5) against one server: prints what each step came to.

usage: sasl_kazoo.py HOST:PORT PREFIX
"""
import sys

from kazoo.client import KazooClient
from kazoo.security import make_acl

hosts, prefix = sys.argv[1], sys.argv[2]


def client(user, password):
    return KazooClient(hosts=hosts, timeout=10, connection_retry={'max_tries': 3, 'delay': 0.2},
                       sasl_options={'mechanism': 'DIGEST-MD5', 'username': user, 'password': password})


def outcome(fn):
    try:
        result = fn()
        return 'ok' if result is None else repr(result)
    except Exception as e:  # the exception's class is what the servers must agree on
        return type(e).__name__


def step(label, fn):
    print('%s: %s' % (label, outcome(fn)), flush=True)


bob = client('bob', 'bobsecret')
step('bob start', lambda: bob.start(timeout=30))
path = prefix + '-bob'
step('bob create sasl:bob', lambda: bob.create(path, b'x', acl=[make_acl('sasl', 'bob', all=True)]) and None)
step('bob get', lambda: bob.get(path)[0])
step('bob acl', lambda: [(a.perms, a.id.scheme, a.id.id) for a in bob.get_acls(path)[0]])

alice = client('alice', 'alice "quoted" secret')
step('alice start', lambda: alice.start(timeout=30))
step('alice get', lambda: alice.get(path)[0])
step('alice set', lambda: alice.set(path, b'y') and None)

root = client('super', 'adminsecret')
step('super start', lambda: root.start(timeout=30))
step('super get', lambda: root.get(path)[0])

# kazoo marks the session connected before its SASL exchange: whether start() returns or times out
# depends on which it sees first. Either way the session is refused, and so is every request.
for label, user, password in [('wrong password', 'bob', 'nope'), ('stranger', 'mallory', 'whatever')]:
    c = client(user, password)
    started = outcome(lambda: c.start(timeout=10))
    used = outcome(lambda: c.exists('/') and None)
    refused = started in ('ok', 'KazooTimeoutError') and used in ('AuthFailedError', 'ConnectionClosedError')
    print('%s: %s' % (label, 'refused' if refused else 'start %s, exists %s' % (started, used)), flush=True)
    c.stop()
    c.close()

for c in (bob, alice, root):
    c.stop()
    c.close()
print('done', flush=True)
