#!/usr/bin/env python3
"""Reads the newest INBOX message with Python's imaplib (a third-party client).

usage: read.py HOST PORT USER PASSWORD OUTFILE [--flag]

Logs in over implicit TLS, selects INBOX, fetches the last message's UID,
FLAGS and BODY.PEEK[] (written to OUTFILE), optionally adds \\Flagged and the
keyword $Important, and prints a JSON line with uidvalidity, uid and flags.
"""
import imaplib
import json
import re
import ssl
import sys

host, port, user, password, out = sys.argv[1:6]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx, timeout=30)
m.login(user, password)
typ, data = m.select("INBOX")
assert typ == "OK", data
uidvalidity = int(m.untagged_responses["UIDVALIDITY"][0])
typ, data = m.uid("SEARCH", None, "ALL")
uids = [int(x) for x in data[0].split()]
uid = uids[-1]
if "--flag" in sys.argv:
    typ, data = m.uid("STORE", str(uid), "+FLAGS", "(\\Flagged $Important)")
    assert typ == "OK", data
typ, data = m.uid("FETCH", str(uid), "(UID FLAGS BODY.PEEK[])")
assert typ == "OK", data
meta, body = data[0]
flags = re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split()
with open(out, "wb") as f:
    f.write(body)
m.logout()
print(json.dumps({"uidvalidity": uidvalidity, "uid": uid, "flags": sorted(flags), "count": len(uids)}))
