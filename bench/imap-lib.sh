# Shared by bench/imap-mixed.sh and bench/imap-idle-mem.sh (sourced, not
# run): build congthu and imapload, start "congthu serve" with only IMAP
# on free loopback ports and a temporary SQLite data directory, create a
# domain and accounts, stop everything on exit.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d /tmp/congthu-bench.XXXXXX)
SERVER_PID=
PASSWORD=load-password-1
DOMAIN=bench.gov.vn

cleanup() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill "$SERVER_PID"
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [ -n "${KEEP:-}" ]; then
		echo "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

build() {
	echo "building in $WORK"
	(cd "$ROOT" && go build -o "$WORK/congthu" ./cmd/congthu && go build -o "$WORK/imapload" ./bench/imapload)
}

# Only IMAP (no console, no SMTP or API; plain with LOGIN allowed on loopback, and implicit TLS), on
# ports the kernel picks; SQLite in $WORK/data.
export CONGTHU_DATA_DIR="$WORK/data"
export CONGTHU_HOSTNAME=localhost
export CONGTHU_SUBMISSION_ADDR=off CONGTHU_SUBMISSIONS_ADDR=off CONGTHU_MX_ADDR=off CONGTHU_HTTP_ADDR=off CONGTHU_ADMIN_ADDR=off
export CONGTHU_IMAP_ADDR=127.0.0.1:0 CONGTHU_IMAPS_ADDR=127.0.0.1:0
export CONGTHU_IMAP_ALLOW_INSECURE_AUTH=true
unset CONGTHU_DATABASE_URL CONGTHU_REDIS_URL CONGTHU_CONFIG

# accounts N: the domain and load1..loadN@bench.gov.vn, 4 at a time.
accounts() {
	"$WORK/congthu" domain add "$DOMAIN" >/dev/null
	seq 1 "$1" | xargs -P 4 -I{} sh -c "echo '$PASSWORD' | '$WORK/congthu' user add --password-stdin load{}@$DOMAIN >/dev/null"
	echo "created $1 accounts"
}

# start_server: runs congthu serve, sets SERVER_PID, IMAP_ADDR, IMAPS_ADDR.
start_server() {
	"$WORK/congthu" serve >"$WORK/serve.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 1 100); do
		IMAP_ADDR=$(sed -n 's/.*listener=imap addr=\([^ ]*\).*/\1/p' "$WORK/serve.log")
		IMAPS_ADDR=$(sed -n 's/.*listener=imaps addr=\([^ ]*\).*/\1/p' "$WORK/serve.log")
		if [ -n "$IMAP_ADDR" ] && [ -n "$IMAPS_ADDR" ]; then
			echo "congthu serve (pid $SERVER_PID) on imap $IMAP_ADDR, imaps $IMAPS_ADDR"
			return
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/serve.log" >&2
	echo "congthu serve did not start" >&2
	exit 1
}
