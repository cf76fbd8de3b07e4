"""Ask congthu's IMAP server for quotas with Python's imaplib (called by
TestQuotaImaplib): GETQUOTAROOT INBOX, GETQUOTA "", SETQUOTA."""
from imaplib_connect import connect

m, user, password = connect()
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
