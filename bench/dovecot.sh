#!/usr/bin/env bash
# Dovecot 2.3.19 (Debian 12's dovecot-imapd) side by side with congthu,
# under Dovecot's imaptest (commit 924f619):
#   (a) imaptest's compliance groups against Dovecot (and against congthu
#       unless SKIP_CONGTHU_GROUPS=1);
#   (b) imaptest's default stress workload, 20 clients × 30 s on one
#       account and on 20, against Dovecot and then congthu back to back.
#
#   IMAPTEST_SRC=/work/.mirror/dovecot+imaptest/repo bench/dovecot.sh
#
# IMAPTEST_SRC as for bench/imaptest.sh; IMAPTEST_BIN=path skips the
# build. SKIP_GROUPS=1 runs only the stress part. STRESS_SECS changes the 30 s. OUT (default a temp dir) keeps the
# failed groups' output.
#
# Dovecot runs from a configuration of its own in a temp dir: plain IMAP
# on a free loopback port, no TLS, passdb static (any load*@ account with
# the one password), userdb static as nobody, Maildir in the temp dir,
# imap-login and imap with service_count = 0 (processes reused) and
# process_min_avail preforked (2 imap-login, 20 imap),
# mail_max_userip_connections raised from 10 to 1000 (imaptest's 20
# clients on one account), mail_fsync at its default (optimized). congthu runs as bench/imap-lib.sh starts it
# (SQLite in a temp dir, plain IMAP with LOGIN allowed on loopback).

source "$(dirname "${BASH_SOURCE[0]}")/imap-lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/imaptest-lib.sh"
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT"

command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/imap ] ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd >/dev/null
# Debian's package starts a system Dovecot on 143 and 993; ours has its
# own ports and directories and does not touch it.

build_imaptest
build

DOVE=$WORK/dovecot
DOVE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$DOVE/run" "$DOVE/mail" "$DOVE/state"
chmod 755 "$WORK" "$DOVE"
chown nobody:nogroup "$DOVE/mail"
cat >"$DOVE/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $DOVE/run
state_dir = $DOVE/state
instance_name = congthu-bench
log_path = $DOVE/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {
  driver = static
  args = password=$PASSWORD
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$DOVE/mail/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DOVE_PORT
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
}
service imap {
  service_count = 0
  process_min_avail = 20
}
protocol imap {
  mail_max_userip_connections = 1000
}
service auth {
  client_limit = 2000
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
CONF
dovecot_start() {
	dovecot -c "$DOVE/dovecot.conf"
	for _ in $(seq 1 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $DOVE_PORT)).close()" 2>/dev/null && {
			echo "dovecot $(dovecot --version) on 127.0.0.1:$DOVE_PORT"; return; }
		sleep 0.1
	done
	cat "$DOVE/dovecot.log" >&2
	echo "dovecot did not start" >&2
	exit 1
}
dovecot_stop() {
	doveadm -c "$DOVE/dovecot.conf" stop 2>/dev/null || true
	sleep 0.5
}
dovecot_wipe() { rm -rf "${DOVE:?}"/mail/*; }
trap 'dovecot_stop; cleanup' EXIT

dovecot_start
if [ -z "${SKIP_GROUPS:-}" ]; then
	echo "== (a) compliance groups: Dovecot"
	imaptest_groups 127.0.0.1 "$DOVE_PORT" "load1@$DOMAIN" "$PASSWORD" "$OUT/dovecot-groups.out"
fi

accounts 20
start_server
host=${IMAP_ADDR%:*}
port=${IMAP_ADDR##*:}
if [ -z "${SKIP_GROUPS:-}${SKIP_CONGTHU_GROUPS:-}" ]; then
	echo "== (a) compliance groups: congthu"
	imaptest_groups "$host" "$port" "load1@$DOMAIN" "$PASSWORD" "$OUT/congthu-groups.out"
fi

# Each stress run starts on empty mailboxes: Dovecot's Maildir is wiped,
# congthu gets a fresh data directory.
fresh_congthu() {
	kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
	rm -rf "$CONGTHU_DATA_DIR"
	accounts 20 >/dev/null
	start_server >/dev/null
	host=${IMAP_ADDR%:*}
	port=${IMAP_ADDR##*:}
}
echo "== (b) stress, 20 clients × ${STRESS_SECS:-30} s"
for users in 1 20; do
	dovecot_stop; dovecot_wipe; dovecot_start >/dev/null
	imaptest_stress 127.0.0.1 "$DOVE_PORT" "$users" dovecot
	fresh_congthu
	imaptest_stress "$host" "$port" "$users" congthu
done
