#!/usr/bin/env bash
# Resident memory of a fresh "congthu serve" (SQLite) holding CONNS IMAP
# connections, each logged in with INBOX selected and in IDLE, spread over
# USERS accounts with SEED messages each. Reads VmRSS from
# /proc/PID/status after SETTLE.
#
#	bench/imap-idle-mem.sh                   # 1000 connections, 250 users
#	CONNS=2000 USERS=500 bench/imap-idle-mem.sh
#	TLS=1 bench/imap-idle-mem.sh             # implicit TLS
#
# Extra arguments go to imapload.
source "$(dirname "$0")/imap-lib.sh"

CONNS=${CONNS:-1000}
USERS=${USERS:-250}
SEED=${SEED:-20}
SETTLE=${SETTLE:-30s}

# Both ends of every connection are on this machine.
ulimit -n "$(( CONNS * 2 + 1024 ))"

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
	-idle "$CONNS" -settle "$SETTLE" -pid "$SERVER_PID" "$@"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
