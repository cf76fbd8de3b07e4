#!/usr/bin/env bash
# Builds congthu and runs `congthu serve` on its embedded defaults: SQLite in
# ./data (or CONGTHU_DATA_DIR), a self-signed certificate, unprivileged ports
# (or the CONGTHU_*_ADDR given). Unless CONGTHU_REDIS_URL is set, starts a
# redis-server of its own on a unix socket inside the data dir (installing
# it from Debian's packages if missing), so two instances on two data dirs
# never share a Redis; a second run.sh on the same data dir refuses. Creates
# a demo domain and account on first run and prints how to point a mail
# client at it. Ctrl-C or SIGTERM stops congthu serve, then its redis-server.
#
# CONGTHU_BIN=PATH runs that binary instead of building ./congthu.
set -euo pipefail
umask 077 # the data dir and everything in it private to this user
cd "$(dirname "$0")/.."

export CONGTHU_DATA_DIR="${CONGTHU_DATA_DIR:-$PWD/data}"
mkdir -p "$CONGTHU_DATA_DIR"
chmod 700 "$CONGTHU_DATA_DIR"
CONGTHU_DATA_DIR="$(cd "$CONGTHU_DATA_DIR" && pwd)"
data="$CONGTHU_DATA_DIR"

# One run.sh per data dir. The lock stays held by congthu and redis-server
# (they inherit it) until the last of them exits.
exec 9>>"$data/run.lock"
if ! flock -n 9; then
	echo "run.sh: another scripts/run.sh (pid $(cat "$data/run.pid" 2>/dev/null || echo '?')) is running on $data." >&2
	echo "run.sh: stop it first (Ctrl-C there), or give this one its own data dir: CONGTHU_DATA_DIR=DIR scripts/run.sh" >&2
	exit 1
fi
echo $$ >"$data/run.pid"

serve_pid=""
redis_pid=""
redis_note="from CONGTHU_REDIS_URL"
stop_all() {
	trap - INT TERM EXIT
	if [ -n "$serve_pid" ]; then
		kill -TERM "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
	fi
	if [ -n "$redis_pid" ]; then
		kill -TERM "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	rm -f "$data/run.pid"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bin="${CONGTHU_BIN:-}"
if [ -z "$bin" ]; then
	echo "== building"
	go build -o congthu ./cmd/congthu
	bin=./congthu
fi

if [ -z "${CONGTHU_REDIS_URL:-}" ]; then
	if ! command -v redis-server >/dev/null; then
		echo "== installing redis-server"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
	fi
	rdir="$data/redis"
	sock="$rdir/redis.sock"
	if [ "${#sock}" -gt 100 ]; then
		echo "run.sh: the redis socket path $sock is too long for a unix socket (100 bytes at most): use a shorter CONGTHU_DATA_DIR, or set CONGTHU_REDIS_URL" >&2
		exit 1
	fi
	mkdir -p "$rdir"
	# Its own session: Ctrl-C reaches it only through stop_all, after
	# congthu serve has finished with it.
	setsid redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$rdir" \
		--appendonly yes --maxmemory-policy noeviction --logfile redis.log &
	redis_pid=$!
	export CONGTHU_REDIS_URL="unix://$sock"
	redis_note="$CONGTHU_REDIS_URL (its own redis-server, stopped with run.sh)"
	for _ in $(seq 100); do redis-cli -s "$sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
	if ! redis-cli -s "$sock" ping >/dev/null 2>&1; then
		echo "run.sh: redis-server did not start; see $rdir/redis.log" >&2
		exit 1
	fi
fi

domain="${CONGTHU_DEMO_DOMAIN:-demo.gov.vn}"
user="canbo@$domain"
pwfile="$data/demo-password"
if [ ! -s "$pwfile" ]; then
	"$bin" domain add "$domain" >/dev/null 2>&1 || true
	head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$pwfile"
	"$bin" user add --password-stdin "$user" <"$pwfile"
	"$bin" user alias add "$user" "motcua@$domain"
	"$bin" user role "$user" admin >/dev/null
fi

# The listeners as configured (CONGTHU_*_ADDR, --config), for the banner.
listeners="$("$bin" checkconfig)"
at() { # at NAME SECURITY: "localhost port 1143 STARTTLS", or "NAME off"
	local a h
	a="$(awk -v k="$1" '$1 == k { print $2 }' <<<"$listeners")"
	if [ -z "$a" ] || [ "$a" = off ]; then
		echo "($1 off)"
		return
	fi
	h="${a%:*}"
	case "$h" in "" | 0.0.0.0 | "[::]") h=localhost ;; esac
	echo "$h port ${a##*:}${2:+ $2}"
}
scheme=http
[ -n "${CONGTHU_TLS_CERT:-}" ] && scheme=https
http="$(at http)"
case "$http" in
"("*) api="$http" ;;
*) api="$scheme://${http% port *}:${http##* port }/v1/" ;;
esac
admin="$(at admin)"
case "$admin" in
"("*) console="$admin" ;;
*) console="$scheme://${admin% port *}:${admin##* port }/admin/" ;;
esac

cat <<TXT

== congthu is starting (Ctrl-C to stop)
   Account:   $user   password: $(cat "$pwfile")   (alias motcua@$domain)
   IMAP:      $(at imap STARTTLS), or $(at imaps SSL/TLS)
   SMTP:      $(at submission STARTTLS), or $(at submissions SSL/TLS), normal password
   MX:        $(at mx) (mail from other servers)
   API:       $api  (test key: $bin apikey create --service NAME --test)
   Console:   $console  (sign in as $user; roles: $bin user role ADDRESS admin|desk)
   Redis:     $redis_note
   The certificate is self-signed: accept it in the mail client.
   More accounts: $bin user add canbo2@$domain  (data in $data)

TXT
# In the background, so that a signal reaches the trap at once.
setsid "$bin" serve &
serve_pid=$!
wait "$serve_pid"
