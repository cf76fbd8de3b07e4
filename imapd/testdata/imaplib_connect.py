"""What every imaplib test script shares: its arguments (host, port,
user, password) and an implicit-TLS connection to congthu's test server,
whose certificate is self-signed."""
import imaplib
import ssl
import sys


def connect():
    """Returns the connection (not logged in), the user and the password."""
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return imaplib.IMAP4_SSL(host, port, ssl_context=ctx), user, password
