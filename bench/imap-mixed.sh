#!/usr/bin/env bash
# Mixed IMAP load against a fresh "congthu serve" (SQLite): USERS accounts
# with SEED messages each in INBOX, CLIENTS concurrent clients looping
# LOGIN, SELECT, FETCH (FLAGS ENVELOPE), FETCH BODY[], STORE, APPEND
# (10 KB), LOGOUT for DURATION. Prints ops/s and per-command latencies.
#
#	bench/imap-mixed.sh                      # 20 users, 32 clients, 60 s
#	USERS=50 CLIENTS=64 DURATION=30s bench/imap-mixed.sh
#	TLS=1 bench/imap-mixed.sh                # implicit TLS
#
# Extra arguments go to imapload.
source "$(dirname "$0")/imap-lib.sh"

USERS=${USERS:-20}
CLIENTS=${CLIENTS:-32}
DURATION=${DURATION:-60s}
SEED=${SEED:-50}

build
accounts "$USERS"
start_server
addr=$IMAP_ADDR
tlsflag=
if [ -n "${TLS:-}" ]; then
	addr=$IMAPS_ADDR
	tlsflag=-tls
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
"$WORK/imapload" -addr "$addr" $tlsflag -users "$USERS" -password "$PASSWORD" -seed "$SEED" \
	-clients "$CLIENTS" -duration "$DURATION" -pid "$SERVER_PID" "$@"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
