#!/usr/bin/env bash
# MX ingest benchmark with Postfix's smtp-source (Debian package postfix):
# builds congthu, starts `congthu serve` with only the MX listener on a free
# port (SQLite in a temporary data directory, a local redis-server, a stub
# DNS server answering NXDOMAIN to everything: SPF none, no DKIM, DMARC
# none), creates a domain with 20 accounts, sends MESSAGES messages of
# SIZE bytes from SESSIONS parallel sessions (one connection per message,
# smtp-source's default) to user@DOMAIN, and prints messages/s. Every 250
# means the message was committed to the INBOX; the count of accepted
# transactions in congthu's log is checked against MESSAGES.
#
#   bench/mx-smtp-source.sh                 # 20 sessions, 5000 x 10 KB
#   MESSAGES=20000 SESSIONS=40 bench/mx-smtp-source.sh
#   SMTP_SOURCE_ARGS=-d bench/mx-smtp-source.sh   # reuse connections
#   FILTERS=1 bench/mx-smtp-source.sh       # with clamd and rspamd (Debian's
#                                           # clamav-daemon and rspamd) on
#
# It also prints the p50 and p99 of the accepted transactions' durations
# (MAIL to the 250 after DATA, from congthu's log). With FILTERS=1 a clamd
# (one EICAR signature, no download) and an rspamd (Debian's configuration,
# greylisting off, R_MIXED_CHARSET 0 as docs/mail.md advises, no network
# checks) run on free ports in the temporary directory, as the tests run
# them (internal/testenv).
set -euo pipefail
cd "$(dirname "$0")/.."

MESSAGES="${MESSAGES:-5000}"
SESSIONS="${SESSIONS:-20}"
SIZE="${SIZE:-10240}"
DOMAIN="${DOMAIN:-ubnd.bench.gov.vn}"

command -v smtp-source >/dev/null || { echo "smtp-source not found (apt-get install postfix)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work="$(mktemp -d)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== building"
go build -o "$work/congthu" ./cmd/congthu
go build -o "$work/dnsstub" ./bench/dnsstub

redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save '' --appendonly no \
	--maxmemory-policy noeviction --logfile "$work/redis.log" &
pids+=($!)
dns_port="$(free_udp_port)"
"$work/dnsstub" -addr "127.0.0.1:$dns_port" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

if [ -n "${FILTERS:-}" ]; then
	command -v clamd >/dev/null && command -v rspamd >/dev/null || { echo "FILTERS=1 needs clamd and rspamd (apt-get install clamav-daemon rspamd)" >&2; exit 1; }
	mkdir -p "$work/clamdb" "$work/rspamd/local.d" "$work/rspamd/override.d" "$work/rspamd/db" "$work/rspamd/run"
	eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
	echo "$(printf '%s' "$eicar" | md5sum | cut -d' ' -f1):${#eicar}:Eicar-Test-Signature-congthu" >"$work/clamdb/congthu.hdb"
	clamd_port="$(free_port)"
	printf 'Foreground yes\nDatabaseDirectory %s\nTCPAddr 127.0.0.1\nTCPSocket %s\nUser root\nStreamMaxLength 30M\n' "$work/clamdb" "$clamd_port" >"$work/clamd.conf"
	clamd -c "$work/clamd.conf" >"$work/clamd.log" 2>&1 &
	pids+=($!)
	rs_port="$(free_port)"; rs_ctl="$(free_port)"; rs_proxy="$(free_port)"
	printf 'bind_socket = "127.0.0.1:%s";\ncount = 1;\n' "$rs_port" >"$work/rspamd/local.d/worker-normal.inc"
	printf 'bind_socket = "127.0.0.1:%s";\n' "$rs_ctl" >"$work/rspamd/local.d/worker-controller.inc"
	printf 'bind_socket = "127.0.0.1:%s";\n' "$rs_proxy" >"$work/rspamd/local.d/worker-proxy.inc"
	printf 'type = "console";\nlevel = "error";\n' >"$work/rspamd/local.d/logging.inc"
	printf 'greylist = null;\n' >"$work/rspamd/local.d/actions.conf"
	printf 'enabled = false;\n' >"$work/rspamd/local.d/hfilter.conf"
	printf 'enabled = false;\n' >"$work/rspamd/local.d/rbl.conf"
	printf 'symbols = {\n  "R_MIXED_CHARSET" { weight = 0.0; }\n}\n' >"$work/rspamd/local.d/headers_group.conf"
	chmod 755 "$work"; chown -R _rspamd:_rspamd "$work/rspamd"
	rspamd -f -u _rspamd -g _rspamd -c /etc/rspamd/rspamd.conf --var=LOCAL_CONFDIR="$work/rspamd" --var=DBDIR="$work/rspamd/db" \
		--var=RUNDIR="$work/rspamd/run" --var=LOGDIR="$work/rspamd" >"$work/rspamd.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 600); do
		curl -sf "http://127.0.0.1:$rs_port/ping" >/dev/null 2>&1 && python3 -c "import socket; s=socket.create_connection(('127.0.0.1',$clamd_port)); s.sendall(b'zPING\0'); assert s.recv(8)==b'PONG\0'" 2>/dev/null && break
		sleep 0.1
	done
	export CONGTHU_CLAMD_ADDR="127.0.0.1:$clamd_port" CONGTHU_RSPAMD_URL="http://127.0.0.1:$rs_port"
	echo "== filters: clamd 127.0.0.1:$clamd_port, rspamd 127.0.0.1:$rs_port"
fi

mx_port="$(free_port)"
export CONGTHU_DATA_DIR="$work/data"
export CONGTHU_HOSTNAME="mx.$DOMAIN"
export CONGTHU_REDIS_URL="redis://127.0.0.1:$redis_port/0"
export CONGTHU_DNS_RESOLVER="127.0.0.1:$dns_port"
export CONGTHU_MX_ADDR="127.0.0.1:$mx_port"
export CONGTHU_SUBMISSION_ADDR=off CONGTHU_SUBMISSIONS_ADDR=off CONGTHU_IMAP_ADDR=off CONGTHU_IMAPS_ADDR=off CONGTHU_HTTP_ADDR=off
mkdir -p "$CONGTHU_DATA_DIR"

echo "== domain $DOMAIN with 20 accounts"
"$work/congthu" domain add "$DOMAIN" >/dev/null
pw="bench-password-$$"
"$work/congthu" user add --password-stdin "user@$DOMAIN" <<<"$pw" >/dev/null
for i in $(seq 1 19); do
	"$work/congthu" user add --password-stdin "user$i@$DOMAIN" <<<"$pw" >/dev/null
done

echo "== congthu serve, MX on 127.0.0.1:$mx_port"
"$work/congthu" serve >"$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
for _ in $(seq 200); do
	(exec 3<>"/dev/tcp/127.0.0.1/$mx_port") 2>/dev/null && break
	kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
	sleep 0.05
done

echo "== smtp-source -s $SESSIONS -m $MESSAGES -l $SIZE ${SMTP_SOURCE_ARGS:-}"
start=$(date +%s.%N)
smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" ${SMTP_SOURCE_ARGS:-} \
	-f sender@example.org -t "user@$DOMAIN" "127.0.0.1:$mx_port"
end=$(date +%s.%N)

sleep 0.5
if [ -r "/proc/$serve_pid/stat" ]; then read -r -a st < "/proc/$serve_pid/stat"; tck=$(getconf CLK_TCK); echo "== congthu serve CPU: user $(( ${st[13]} * 1000 / tck )) ms, system $(( ${st[14]} * 1000 / tck )) ms"; fi
accepted=$(grep -c 'mx transaction.*result=accepted' "$work/serve.log" || true)
refused=$(grep 'mx transaction' "$work/serve.log" | grep -vc 'result=accepted' || true)
rate=$(python3 -c "print(f'{$MESSAGES/($end-$start):.0f}')")
secs=$(python3 -c "print(f'{$end-$start:.2f}')")
echo "== $MESSAGES messages of $SIZE bytes in ${secs}s: $rate messages/s ($accepted accepted in the log, $refused other transactions)"
grep 'mx transaction.*result=accepted' "$work/serve.log" | sed -n 's/.* duration=\([^ ]*\).*/\1/p' | python3 -c '
import sys, re
u = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1000.0}
ds = sorted(float(m.group(1)) * u[m.group(2)] for m in (re.fullmatch(r"([0-9.]+)(ns|µs|us|ms|s)", l.strip()) for l in sys.stdin) if m)
if ds:
    print(f"== transaction duration p50 {ds[len(ds)//2]:.1f} ms, p99 {ds[min(len(ds)-1, len(ds)*99//100)]:.1f} ms")
'
grep -o 'action="[^"]*"' "$work/serve.log" | sed 's/[0-9.]*\/[0-9.]*//' | sort | uniq -c | sort -rn | head -5
if [ "$accepted" -ne "$MESSAGES" ]; then
	echo "!! accepted $accepted, want $MESSAGES; serve log tail:" >&2
	tail -20 "$work/serve.log" >&2
	exit 1
fi
