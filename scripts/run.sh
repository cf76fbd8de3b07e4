#!/usr/bin/env bash
# Builds congthu and runs `congthu serve` on its embedded defaults: SQLite in
# ./data, a self-signed certificate, unprivileged ports. Starts a local
# redis-server (installing it from Debian's packages if missing) unless
# CONGTHU_REDIS_URL is set. Creates a demo domain and account on first run
# and prints how to point a mail client at it. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

export CONGTHU_DATA_DIR="${CONGTHU_DATA_DIR:-$PWD/data}"
mkdir -p "$CONGTHU_DATA_DIR"

echo "== building"
go build -o congthu ./cmd/congthu

redis_pid=""
if [ -z "${CONGTHU_REDIS_URL:-}" ]; then
	if ! command -v redis-server >/dev/null; then
		echo "== installing redis-server"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
	fi
	port="${CONGTHU_DEV_REDIS_PORT:-6390}"
	mkdir -p "$CONGTHU_DATA_DIR/redis"
	redis-server --port "$port" --bind 127.0.0.1 --dir "$CONGTHU_DATA_DIR/redis" \
		--appendonly yes --maxmemory-policy noeviction --logfile redis.log &
	redis_pid=$!
	trap '[ -n "$redis_pid" ] && kill $redis_pid 2>/dev/null' EXIT
	export CONGTHU_REDIS_URL="redis://127.0.0.1:$port/0"
	for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
fi

domain="${CONGTHU_DEMO_DOMAIN:-demo.gov.vn}"
user="canbo@$domain"
pwfile="$CONGTHU_DATA_DIR/demo-password"
if [ ! -s "$pwfile" ]; then
	./congthu domain add "$domain" >/dev/null 2>&1 || true
	head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$pwfile"
	chmod 600 "$pwfile"
	./congthu user add --password-stdin "$user" < "$pwfile"
	./congthu user alias add "$user" "motcua@$domain"
fi

cat <<TXT

== congthu is starting (Ctrl-C to stop)
   Account:   $user   password: $(cat "$pwfile")   (alias motcua@$domain)
   IMAP:      localhost port 1143 STARTTLS, or 1993 SSL/TLS
   SMTP:      localhost port 1587 STARTTLS, or 1465 SSL/TLS, normal password
   MX:        localhost port 2525 (mail from other servers)
   API:       http://localhost:8080/v1/  (key: ./congthu apikey create --service NAME [--test])
   The certificate is self-signed: accept it in the mail client.
   More accounts: ./congthu user add canbo2@$domain  (data in $CONGTHU_DATA_DIR)

TXT
./congthu serve
