"""kazoo 2.8 over TLS (use_ssl=True): one line per step, the same for any server.

usage: tls_kazoo.py SECURE_HOSTPORT PLAIN_HOSTPORT CERT_DIR
CERT_DIR holds ca.pem, alice.crt/.key (CN=alice,O=Acme\\, Inc.,C=DE), admin.crt/.key (the super
user), stranger.crt/.key (signed by a CA the server does not trust).
"""
import os
import sys

from kazoo.client import KazooClient
from kazoo.security import make_acl

secure, plain, certs = sys.argv[1:4]
ALICE = 'CN=alice,O=Acme\\, Inc.,C=DE'
PATH = '/tls-kazoo'


def client(hosts, who=None, ca=True):
    kw = {}
    if hosts == secure:
        kw = dict(use_ssl=True, verify_certs=True)
        if ca:
            kw['ca'] = os.path.join(certs, 'ca.pem')
        if who is not None:
            kw['certfile'] = os.path.join(certs, who + '.crt')
            kw['keyfile'] = os.path.join(certs, who + '.key')
    zk = KazooClient(hosts=hosts, timeout=10, connection_retry={'max_tries': 0}, **kw)
    zk.start(timeout=15)
    return zk


def attempt(step, fn):
    try:
        print(step + ': ' + str(fn()), flush=True)
    except Exception as e:  # the class of the error is what the servers must agree on
        print(step + ': ' + type(e).__name__, flush=True)


def refused(who=None, ca=True):
    zk = client(secure, who, ca)
    zk.stop()
    return 'connected'


alice = client(secure, 'alice')
attempt('alice creates with an x509 ACL', lambda: alice.create(PATH, b'secret', acl=[make_acl('x509', ALICE, all=True)]))
attempt('its ACL', lambda: [(a.id.scheme, a.id.id, a.perms) for a in alice.get_acls(PATH)[0]])
attempt('alice reads', lambda: alice.get(PATH)[0])
attempt('alice creates with the auth scheme', lambda: alice.create(PATH + '-auth', b'', acl=[make_acl('auth', '', all=True)]))
attempt('whose ACL', lambda: [(a.id.scheme, a.id.id, a.perms) for a in alice.get_acls(PATH + '-auth')[0]])
attempt('an x509 ACL that is no name', lambda: alice.create(PATH + '-bad', b'', acl=[make_acl('x509', 'not a name', all=True)]))
alice.stop()

anonymous = client(plain)
attempt('a plain client reads', lambda: anonymous.get(PATH)[0])
anonymous.stop()

admin = client(secure, 'admin')
attempt('the super user reads', lambda: admin.get(PATH)[0])
attempt('the super user deletes', lambda: [admin.delete(PATH), admin.delete(PATH + '-auth')] and 'deleted')
admin.stop()

attempt('no client certificate', lambda: refused())
attempt('a certificate from an untrusted CA', lambda: refused('stranger'))
attempt('no CA for the server certificate', lambda: refused('alice', ca=False))
print('done', flush=True)
