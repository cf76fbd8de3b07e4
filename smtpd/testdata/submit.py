#!/usr/bin/env python3
"""Submits one message with Python's smtplib: STARTTLS, AUTH, send.

usage: submit.py HOST PORT CAFILE USER PASSWORD MECH FROM TO
MECH is PLAIN or LOGIN. Prints the DATA reply on success; exits non-zero
with the error otherwise.
"""
import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

host, port, cafile, user, password, mech, sender, rcpt = sys.argv[1:9]

msg = EmailMessage()
msg["From"] = "Văn thư <%s>" % sender
msg["To"] = rcpt
msg["Subject"] = "Giấy mời họp về cải cách hành chính (%s)" % mech
msg["Date"] = formatdate(localtime=True)
msg["Message-ID"] = make_msgid(domain="python.test")
msg.set_content("Kính mời đồng chí dự họp lúc 8 giờ sáng thứ Hai.\n")
msg.add_attachment(b"%PDF-1.4 test\n" * 200, maintype="application",
                   subtype="pdf", filename="giay-moi.pdf")

ctx = ssl.create_default_context(cafile=cafile)
with smtplib.SMTP(host, int(port), local_hostname="python.test", timeout=30) as s:
    s.ehlo()
    if "auth" in s.esmtp_features:
        sys.exit("AUTH advertised before STARTTLS")
    s.starttls(context=ctx)
    s.ehlo()
    s.user, s.password = user, password
    if mech == "LOGIN":
        code, resp = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    else:
        code, resp = s.auth("PLAIN", s.auth_plain)
    if code != 235:
        sys.exit("auth: %d %s" % (code, resp))
    s.mail(sender)
    code, resp = s.rcpt(rcpt)
    if code != 250:
        sys.exit("rcpt: %d %s" % (code, resp))
    code, resp = s.data(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))
    if code != 250:
        sys.exit("data: %d %s" % (code, resp))
    print(resp.decode())
