#!/usr/bin/env bash
# Dovecot's scripted IMAP compliance suite (imaptest) against congthu: one
# run per test group (each file of imaptest's src/tests), a table of
# passed / failed / skipped groups, and the failed groups' output in
# $OUT (default bench/imaptest.out).
#
#   IMAPTEST_SRC=/path/to/imaptest bench/imaptest.sh
#
# IMAPTEST_SRC is a checkout of github.com/dovecot/imaptest (this machine
# reaches no git host: copy one in). The script builds commit 924f619
# against Debian 12's dovecot-dev 2.3.19 in a temporary directory, with the
# two changes it needs there: a fourth NULL argument to the three
# imap_parser_create() calls, and a version file. It installs dovecot-dev
# and the autotools from Debian when they are missing.
#
# A group is skipped when imaptest ran none of its commands (congthu does
# not advertise the capability the file needs).

source "$(dirname "${BASH_SOURCE[0]}")/imap-lib.sh"

: "${IMAPTEST_SRC:?set IMAPTEST_SRC to a checkout of github.com/dovecot/imaptest}"
OUT=${OUT:-$ROOT/bench/imaptest.out}

need=()
[ -f /usr/include/dovecot/imap-parser.h ] || need+=(dovecot-dev)
command -v autoreconf >/dev/null || need+=(autoconf automake libtool pkg-config)
if [ ${#need[@]} -gt 0 ]; then
	apt-get install -y "${need[@]}" >/dev/null
fi

echo "building imaptest 924f619"
git clone -q "$IMAPTEST_SRC" "$WORK/imaptest"
(
	cd "$WORK/imaptest"
	git checkout -q 924f619
	sed -i 's/imap_parser_create(\(.*\), (size_t)-1)/imap_parser_create(\1, (size_t)-1, NULL)/' src/commands.c src/imap-client.c src/test-parser.c
	echo "0.0.0-924f619" >version
	./autogen.sh >"$WORK/imaptest-build.log" 2>&1
	./configure --with-dovecot=/usr/lib/dovecot >>"$WORK/imaptest-build.log" 2>&1
	make -j2 >>"$WORK/imaptest-build.log" 2>&1
) || { tail -20 "$WORK/imaptest-build.log"; exit 1; }
IMAPTEST=$WORK/imaptest/src/imaptest
export LD_LIBRARY_PATH=/usr/lib/dovecot

build
accounts 1
start_server
host=${IMAP_ADDR%:*}
port=${IMAP_ADDR##*:}

: >"$OUT"
passed=() failed=() skipped=()
for f in "$WORK"/imaptest/src/tests/*; do
	name=$(basename "$f")
	case "$name" in *.mbox) continue ;; esac
	out=$(timeout 120 "$IMAPTEST" host="$host" port="$port" user="load1@$DOMAIN" pass="$PASSWORD" test="$f" 2>&1 || true)
	if grep -q '^1 test groups: 1 failed' <<<"$out"; then
		failed+=("$name")
		printf '== %s\n%s\n\n' "$name" "$out" >>"$OUT"
	elif grep -q 'base protocol: 0/0 ' <<<"$out" && grep -q 'extensions: 0/0 ' <<<"$out"; then
		skipped+=("$name")
	elif grep -q '^1 test groups: 0 failed' <<<"$out"; then
		passed+=("$name")
	else
		failed+=("$name")
		printf '== %s (no summary)\n%s\n\n' "$name" "$out" >>"$OUT"
	fi
done

total=$((${#passed[@]} + ${#failed[@]} + ${#skipped[@]}))
echo
echo "imaptest 924f619, $total groups: ${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
echo "| result | groups |"
echo "|---|---|"
echo "| passed (${#passed[@]}) | ${passed[*]} |"
echo "| failed (${#failed[@]}) | ${failed[*]} |"
echo "| skipped (${#skipped[@]}) | ${skipped[*]} |"
echo "failed groups' output: $OUT"
