"""Ask congthu's IMAP server for quotas with Python's imaplib (called by
TestQuotaImaplib): GETQUOTAROOT INBOX, GETQUOTA "", SETQUOTA."""
import imaplib
import ssl
import sys

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
m.login(user, password)
typ, data = m.capability()
print("capability", typ, data[0].decode())
typ, data = m.getquotaroot("INBOX")
print("getquotaroot", typ)
for group in data:
    for line in group:
        print("  ", line.decode())
typ, data = m.getquota('""')
print("getquota", typ, data[0].decode())
typ, data = m.setquota('""', "(STORAGE 1)")
print("setquota", typ)
m.logout()
