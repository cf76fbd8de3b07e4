#!/usr/bin/env python3
"""Submits one message with Python's smtplib (a third-party client).

usage: send.py HOST PORT USER PASSWORD TO OUTFILE [--implicit-tls]

Builds a message with a Vietnamese subject and a 300 KB attachment, sends it
with STARTTLS (or implicit TLS) and AUTH, and writes the exact bytes sent
to OUTFILE.
"""
import random
import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.policy import SMTP

host, port, user, password, to, out = sys.argv[1:7]
implicit = "--implicit-tls" in sys.argv

msg = EmailMessage(policy=SMTP)
msg["From"] = "Nguyễn Văn An <%s>" % user
msg["To"] = to
msg["Subject"] = "Hồ sơ 000.00.12.H26-260315-0001: đã tiếp nhận và hẹn trả kết quả"
msg["Message-ID"] = "<e2e-%d@test.congthu>" % random.randrange(1 << 30)
msg["Date"] = "Sun, 15 Mar 2026 09:00:00 +0700"
msg.set_content("Kính gửi Ông/Bà Trần Thị Bình,\n\nHồ sơ của ông/bà đã được tiếp nhận.\n")
rnd = random.Random(42)
attachment = bytes(rnd.getrandbits(8) for _ in range(300 * 1024))
msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="giay-tiep-nhan.pdf")
data = msg.as_bytes(policy=SMTP)

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if implicit:
    s = smtplib.SMTP_SSL(host, int(port), context=ctx, timeout=30)
else:
    s = smtplib.SMTP(host, int(port), timeout=30)
    s.starttls(context=ctx)
s.login(user, password)
refused = s.sendmail(user, [to], data)
if refused:
    sys.exit("refused: %r" % refused)
s.quit()
with open(out, "wb") as f:
    f.write(data)
print("sent", len(data))
