#!/usr/bin/env bash
# The Postfix baseline for bench/mx-smtp-source.sh (issue #4): the same
# smtp-source command against a throwaway Postfix (Debian package postfix,
# tested with 3.7) instead of congthu.
#
# The script starts a private Postfix instance in a temporary directory
# (`postfix -c DIR`; own config_directory, queue_directory, data_directory
# and log file). Its smtpd listens on a free 127.0.0.1 port, so a system
# Postfix on port 25 is not touched. It accepts mail for DOMAIN with 20
# virtual mailboxes (user, user1..user19, the same accounts
# mx-smtp-source.sh creates). Postfix's virtual(8) delivery agent delivers
# them into Maildirs in the temporary directory, so, as with congthu,
# every accepted message is written to a mailbox. Postfix's default fsync
# behaviour is kept: cleanup fsyncs the queue file before smtpd answers
# 250, and virtual fsyncs each Maildir file.
#
# Then it sends MESSAGES messages of SIZE bytes from SESSIONS parallel
# sessions (one connection per message) to user@DOMAIN. It waits until all
# of them are files in the Maildir's new/ and prints two rates:
#   - accepted: MESSAGES / time smtp-source ran (Postfix answered 250, the
#     message is in the queue);
#   - delivered: MESSAGES / time from the start of smtp-source until the
#     last message is in new/. Compare this one with congthu, whose 250
#     means the message was committed to the INBOX.
#
#   bench/postfix-smtp-source.sh            # 20 sessions, 5000 x 10 KB
#   MESSAGES=20000 SESSIONS=40 bench/postfix-smtp-source.sh
#   SMTP_SOURCE_ARGS=-d bench/postfix-smtp-source.sh   # reuse connections
#
# Run it as root: Postfix's master must start as root. The daemons run as
# mail_owner=postfix with setgid_group=postdrop (the Debian package's
# account and group), and virtual delivers as uid/gid 65534 (nobody).
#
# Where this instance differs from a default Postfix, and why:
#   - master.cf has only the services a local delivery needs, all with
#     chroot=n. A chroot would need copies of /etc files in the queue
#     directory and would not change the per-message work.
#   - smtpd_client_connection_count_limit=0 and
#     smtpd_client_connection_rate_limit=0 (anvil limits nothing). congthu
#     has no per-client limits, only CONGTHU_SMTP_MAX_CONNECTIONS=1000 per
#     listener, and mx-smtp-source.sh keeps that default. Postfix's defaults
#     (50 connections per client, no rate limit, mynetworks exempt) would
#     not throttle 20 sessions from 127.0.0.1 either. default_process_limit
#     stays at 100, which covers 20 smtpd processes.
#   - maillog_file: the log goes to a file in the temporary directory
#     through postlogd. The machine has no syslog, and congthu's run writes
#     its log to a file too.
#   - alias_maps is empty, mydestination=localhost, inet_protocols=ipv4,
#     so the instance does not read /etc/aliases or the system's names.
#     None of these apply to mail for the virtual domain.
#   - No TLS certificate is configured. smtp-source does not use STARTTLS,
#     against congthu or Postfix.
#   - Not done by Postfix here but by congthu in mx-smtp-source.sh: SPF,
#     DKIM and DMARC checks (against a stub DNS server that answers
#     NXDOMAIN). This is Postfix's default, with no policy service or
#     milter.
set -euo pipefail
cd "$(dirname "$0")/.."

MESSAGES="${MESSAGES:-5000}"
SESSIONS="${SESSIONS:-20}"
SIZE="${SIZE:-10240}"
DOMAIN="${DOMAIN:-ubnd.bench.gov.vn}"

command -v smtp-source >/dev/null || { echo "smtp-source not found (apt-get install postfix)" >&2; exit 1; }
command -v postfix >/dev/null || { echo "postfix not found (DEBIAN_FRONTEND=noninteractive apt-get install -y postfix)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "run as root: Postfix's master must start as root" >&2; exit 1; }
getent passwd postfix >/dev/null || { echo "no postfix account (install the postfix package)" >&2; exit 1; }
getent group postdrop >/dev/null || { echo "no postdrop group (install the postfix package)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work="$(mktemp -d)"
chmod 755 "$work" # the postfix user and nobody walk through it
cfg="$work/etc"
started=0
cleanup() {
	if [ "$started" = 1 ]; then
		postfix -c "$cfg" stop >/dev/null 2>&1 || true
		# wait for the master (and with it its children) to exit
		for _ in $(seq 100); do
			[ -e "$work/queue/pid/master.pid" ] || break
			read -r mpid <"$work/queue/pid/master.pid" 2>/dev/null || break
			kill -0 "$mpid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -rf "$work"
}
trap cleanup EXIT

port="$(free_port)"
mkdir -p "$cfg" "$work/queue" "$work/data" "$work/mail"
chown postfix "$work/data"
chown 65534:65534 "$work/mail"

cat >"$cfg/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $work/queue
data_directory = $work/data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = $work
maillog_file = $work/maillog
myhostname = mx.$DOMAIN
mydestination = localhost
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_base = $work/mail
virtual_mailbox_maps = texthash:$cfg/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
EOF

# Only the services a delivery to virtual mailboxes uses, no chroot.
cat >"$cfg/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
proxywrite unix - - n -  1 proxymap
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
local     unix  - n n -  - local
virtual   unix  - n n -  - virtual
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF

echo "== Postfix $(postconf -c "$cfg" -h mail_version): domain $DOMAIN with 20 virtual mailboxes"
{
	echo "user@$DOMAIN $DOMAIN/user/"
	for i in $(seq 1 19); do echo "user$i@$DOMAIN $DOMAIN/user$i/"; done
} >"$cfg/vmailbox"
for u in user $(seq -f 'user%g' 1 19); do
	for d in cur new tmp; do mkdir -p "$work/mail/$DOMAIN/$u/$d"; done
done
chown -R 65534:65534 "$work/mail"

echo "== postfix -c $cfg start, smtpd on 127.0.0.1:$port"
started=1
postfix -c "$cfg" start || {
	# Postfix commands log to a terminal or to the log file, not to a pipe.
	echo "!! postfix start failed; run this script on a terminal to see Postfix's message" >&2
	cat "$work/maillog" >&2 2>/dev/null || true
	exit 1
}
for _ in $(seq 200); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.05
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "!! Postfix does not listen; log:" >&2; cat "$work/maillog" >&2; exit 1; }

newdir="$work/mail/$DOMAIN/user/new"
delivered() { find "$newdir" -type f | wc -l; }

echo "== smtp-source -s $SESSIONS -m $MESSAGES -l $SIZE ${SMTP_SOURCE_ARGS:-}"
start=$(date +%s.%N)
smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" ${SMTP_SOURCE_ARGS:-} \
	-f sender@example.org -t "user@$DOMAIN" "127.0.0.1:$port"
accepted_end=$(date +%s.%N)

# Wait for the last delivery; give up after 30 s without progress.
last=-1 still=0
while :; do
	n=$(delivered)
	[ "$n" -ge "$MESSAGES" ] && break
	if [ "$n" -eq "$last" ]; then
		still=$((still + 1))
		if [ "$still" -ge 600 ]; then
			echo "!! $n of $MESSAGES messages in $newdir after 30 s without progress; log tail:" >&2
			tail -20 "$work/maillog" >&2
			exit 1
		fi
	else
		last=$n still=0
	fi
	sleep 0.05
done
end=$(date +%s.%N)

# CPU of the master and its children (live ones, and the ones that exited
# and were waited for), like the congthu serve CPU line.
if read -r mpid <"$work/queue/pid/master.pid" 2>/dev/null; then
	tck=$(getconf CLK_TCK) u=0 s=0
	read -r -a st <"/proc/$mpid/stat"
	u=$((st[13] + st[15])) s=$((st[14] + st[16]))
	for p in $(pgrep -P "$mpid"); do
		read -r -a st <"/proc/$p/stat" 2>/dev/null || continue
		u=$((u + st[13])) s=$((s + st[14]))
	done
	echo "== Postfix CPU (master and children): user $((u * 1000 / tck)) ms, system $((s * 1000 / tck)) ms"
fi

grep -m 10 -E 'warning|error|fatal|panic' "$work/maillog" | sed 's/^/!! /' >&2 || true
sent=$(grep -c 'postfix/virtual.*status=sent' "$work/maillog" || true)
rate=$(python3 -c "print(f'{$MESSAGES/($end-$start):.0f}')")
secs=$(python3 -c "print(f'{$end-$start:.2f}')")
arate=$(python3 -c "print(f'{$MESSAGES/($accepted_end-$start):.0f}')")
asecs=$(python3 -c "print(f'{$accepted_end-$start:.2f}')")
echo "== $MESSAGES messages of $SIZE bytes accepted by smtpd (smtp-source finished) in ${asecs}s: $arate messages/s"
echo "== $MESSAGES messages of $SIZE bytes in ${secs}s: $rate messages/s (delivered to the Maildir; $sent status=sent in the log)"
