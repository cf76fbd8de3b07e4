#!/usr/bin/env bash
# Runs the whole congthu test suite on a fresh Debian machine:
# installs what the tests need when missing, starts a redis-server and a
# PostgreSQL cluster of the run's own on free ports and temp dirs, runs
# go vet, staticcheck and go test -race, and stops them again.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh ./store/...     # only some packages (extra args go to go test)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
command -v python3 >/dev/null || need+=(python3)
command -v mbsync >/dev/null || need+=(isync)                 # imapd TestMbsync: a third-party IMAP client
command -v fetchmail >/dev/null || need+=(fetchmail)         # imapd TestFetchmail: fetchmail over STARTTLS
command -v swaks >/dev/null || need+=(swaks)
command -v smtp-source >/dev/null || need+=(postfix)
command -v docker-compose >/dev/null || need+=(docker-compose)
perl -MNet::SMPP -e1 2>/dev/null || need+=(libnet-smpp-perl)
command -v curl >/dev/null || need+=(curl)
command -v gcc >/dev/null || need+=(gcc)                    # cgo: -race, and the openssl build
[ -f /usr/include/openssl/evp.h ] || need+=(libssl-dev)     # the openssl build (dkim/openssl.go)
command -v wrk >/dev/null || need+=(wrk) # the API benchmark's client (BenchmarkDossierEventsWrk)
command -v rspamd >/dev/null || need+=(rspamd)              # filter/rspamd against the real daemon
command -v clamd >/dev/null || need+=(clamav-daemon)        # filter/clamd against the real daemon
command -v chromium >/dev/null || need+=(chromium)          # the console's browser test (TestE2EConsole)
command -v npm >/dev/null || need+=(npm)                    # axe-core for that test
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# postfix asks questions on install; answer them up front.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

# axe-core (accessibility checks inside Chromium) from npm, once, into a
# cache dir of its own; the console's browser test reads CONGTHU_AXE_JS.
axe_dir="${XDG_CACHE_HOME:-$HOME/.cache}/congthu-axe"
export CONGTHU_AXE_JS="$axe_dir/node_modules/axe-core/axe.min.js"
if [ ! -f "$CONGTHU_AXE_JS" ]; then
	echo "== installing axe-core into $axe_dir"
	mkdir -p "$axe_dir"
	(cd "$axe_dir" && npm install --silent --no-audit --no-fund --no-save axe-core@4.14.1 >/dev/null)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

tmp=$(mktemp -d /tmp/congthu-test.XXXXXX)
chmod 755 "$tmp"
redis_pid=""
pg_data=""
cleanup() {
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
	if [ -n "$pg_data" ]; then
		runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

redis_port=$(free_port)
mkdir -p "$tmp/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp/redis" --save "" --appendonly no \
	--databases 4096 --maxmemory-policy noeviction --logfile "$tmp/redis/redis.log" &
redis_pid=$!

pg_port=$(free_port)
mkdir -p "$tmp/pg"
chown postgres:postgres "$tmp/pg"
pg_data="$tmp/pg/data"
runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$pg_data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pg_data" -l "$tmp/pg/pg.log" -w \
	-o "-p $pg_port -c listen_addresses=127.0.0.1 -k $tmp/pg -c max_connections=400" start >/dev/null

for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

export CONGTHU_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
export CONGTHU_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
echo "== redis on $redis_port, postgres on $pg_port"

echo "== go vet"
go vet ./...
echo "== staticcheck"
# Installed from the Go module proxy once, into GOPATH/bin under a versioned name.
sc="$(go env GOPATH)/bin/staticcheck-v0.8.2"
if [ ! -x "$sc" ]; then
	GOFLAGS= GOBIN="$tmp/scbin" go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	mkdir -p "$(dirname "$sc")" && mv "$tmp/scbin/staticcheck" "$sc"
fi
"$sc" ./...
echo "== go test -race"
if [ $# -gt 0 ]; then
	go test -race -timeout 15m "$@"
else
	go test -race -timeout 15m ./...
	# The openssl build's RSA signer (dkim/openssl.go): its own test, and
	# signatures that verify end to end, through the dispatcher and a node.
	echo "== go test -tags openssl"
	go test -race -tags openssl -timeout 10m ./dkim
	go test -race -tags openssl -timeout 10m -run 'TestDelivered$|TestComposeAtDelivery|TestSignedAtAcceptance' ./dispatcher
	go test -race -tags openssl -timeout 10m -run 'TestE2EDossierEventEmail' ./cmd/congthu
fi
