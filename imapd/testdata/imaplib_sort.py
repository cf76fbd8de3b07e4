"""Sort and thread with Python's imaplib (called by TestSortImaplib)."""
from imaplib_connect import connect

m, user, password = connect()
m.login(user, password)
# imaplib checks for SORT and THREAD in the capabilities it read before
# login, where a server lists only what a client needs to log in.
typ, data = m.capability()
m.capabilities = tuple(data[-1].decode().upper().split())
m.select("INBOX")
typ, data = m.sort("(DATE)", "UTF-8", "ALL")
print("sort date:", data[0].decode())
typ, data = m.sort("(SUBJECT)", "UTF-8", "ALL")
print("sort subject:", data[0].decode())
typ, data = m.uid("SORT", "(REVERSE DATE)", "UTF-8", "ALL")
print("uid sort reverse date:", data[0].decode())
typ, data = m.sort("(DATE)", "UTF-8", "SUBJECT", '"ho so"')
print("sort ho so:", data[0].decode())
typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
print("thread references:", data[0].decode())
typ, data = m.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
print("thread orderedsubject:", data[0].decode())
try:
    typ, data = m.sort("(DATE)", "KOI8-R", "ALL")
    print("badcharset:", typ)
except m.error as err:
    print("badcharset: NO", err)
m.logout()
