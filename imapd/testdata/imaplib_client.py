"""Drive congthu's IMAP server with Python's imaplib (called by
TestPythonImaplib): login over TLS, select, search, fetch, logout."""
from imaplib_connect import connect

m, user, password = connect()
typ, _ = m.login(user, password)
print("login", typ)
typ, data = m.select("INBOX")
print("select", typ, data[0].decode())
typ, data = m.search(None, "SUBJECT", '"ho so"')
print("search ho so:", data[0].decode())
typ, data = m.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("fetch", typ)
for part in data:
    if isinstance(part, tuple):
        print(part[1].decode().strip().lower())
typ, data = m.uid("SEARCH", None, "ALL")
print("uid search all:", len(data[0].split()))
typ, data = m.logout()
print("logout", typ)
