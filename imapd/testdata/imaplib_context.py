"""CONTEXT=SEARCH with Python's imaplib (called by TestContextImaplib):
an UPDATE search, the ADDTO its client reads after NOOP when a message
arrives, and CANCELUPDATE. The test delivers a message each time this
script prints "ready" and answers on stdin."""
import imaplib
import re
import sys

from imaplib_connect import connect

m, user, password = connect()
m.login(user, password)
typ, data = m.capability()
caps = data[-1].decode().upper().split()
print("context:", "CONTEXT=SEARCH" in caps and "CONTEXT=SORT" in caps)
m.select("INBOX")
m.uid("SEARCH", "RETURN", "(ALL UPDATE)", "UNSEEN")
typ, es = m.response("ESEARCH")
print("search:", es[0].decode())
tag = re.search(r'TAG "([^"]+)"', es[0].decode()).group(1)

print("ready", flush=True)
sys.stdin.readline()
m.noop()
typ, es = m.response("ESEARCH")
print("update:", es[0].decode() if es[0] else None)

typ, data = m.xatom("CANCELUPDATE", '"%s"' % tag)
print("cancel:", typ)
print("ready", flush=True)
sys.stdin.readline()
m.noop()
typ, es = m.response("ESEARCH")
print("after cancel:", es[0].decode() if es[0] else None)
try:
    m.xatom("CANCELUPDATE", '"%s"' % tag)
    print("cancel again: OK")
except imaplib.IMAP4.error as e:
    print("cancel again: BAD" if "BAD" in str(e) else "cancel again: %s" % e)
m.logout()
