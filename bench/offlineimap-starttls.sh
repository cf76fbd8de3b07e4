#!/usr/bin/env bash
# offlineimap (Debian 12's offlineimap3) over STARTTLS against congthu,
# RUNS times (default 64), each into a fresh Maildir: counts the runs that
# fail and prints the failures' error lines. It checks the fault once
# reported, offlineimap failing at random right after STARTTLS with TLS
# session tickets on.
#
#   bench/offlineimap-starttls.sh            # this tree
#   TREE=/path/to/other/tree bench/offlineimap-starttls.sh
#
# TREE builds congthu from another source tree (e.g. one with session
# tickets left on, to compare). Plain IMAP on a loopback port with
# STARTTLS, congthu's self-signed certificate for localhost given to
# offlineimap as its CA, five messages in INBOX.

source "$(dirname "${BASH_SOURCE[0]}")/imap-lib.sh"
RUNS=${RUNS:-64}
TREE=${TREE:-$ROOT}
command -v offlineimap >/dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y offlineimap3 >/dev/null
export CONGTHU_IMAP_ALLOW_INSECURE_AUTH=false

echo "building $TREE in $WORK"
(cd "$TREE" && go build -o "$WORK/congthu" ./cmd/congthu)
accounts 1
start_server
port=${IMAP_ADDR##*:}
USER=load1@$DOMAIN

python3 - "$port" "$USER" "$PASSWORD" "$CONGTHU_DATA_DIR/selfsigned-cert.pem" <<'PY'
import imaplib, ssl, sys, time
port, user, pw, ca = sys.argv[1:]
for _ in range(50):
    try:
        c = imaplib.IMAP4("localhost", int(port))
        break
    except ConnectionRefusedError:
        time.sleep(0.1)
c.starttls(ssl.create_default_context(cafile=ca))
c.login(user, pw)
for i in range(5):
    msg = ("From: vp@hanoi.gov.vn\r\nTo: %s\r\nSubject: Cong van %d\r\n"
           "Message-ID: <m%d@bench>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0700\r\n\r\nNoi dung %d.\r\n") % (user, i, i, i)
    c.append("INBOX", None, None, msg.encode())
c.logout()
PY

fail=0
for i in $(seq 1 "$RUNS"); do
	d=$WORK/run$i
	mkdir -p "$d/mail"
	cat >"$d/rc" <<CONF
[general]
accounts = congthu
metadata = $d/meta

[Account congthu]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = $d/mail

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = $port
remoteuser = $USER
remotepass = $PASSWORD
ssl = no
starttls = yes
sslcacertfile = $CONGTHU_DATA_DIR/selfsigned-cert.pem
folderfilter = lambda f: f == 'INBOX'
CONF
	if ! offlineimap -c "$d/rc" -o -u basic >"$d/log" 2>&1; then
		fail=$((fail + 1))
		echo "run $i failed:"; grep -iE 'error|abort|ssl|eof' "$d/log" | head -5 | sed 's/^/    /'
		continue
	fi
	n=$(find "$d/mail/INBOX" -type f -path '*/cur/*' -o -type f -path '*/new/*' | wc -l)
	if [ "$n" != 5 ]; then
		fail=$((fail + 1))
		echo "run $i: $n messages in the Maildir, want 5"
	fi
done
echo "offlineimap $(offlineimap --version 2>&1 | head -1), STARTTLS, $RUNS runs: $((RUNS - fail)) passed, $fail failed"
