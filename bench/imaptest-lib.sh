# Shared by bench/imaptest.sh and bench/dovecot.sh (sourced, after
# bench/imap-lib.sh, not run): build Dovecot's imaptest and run its
# compliance groups against a server.
#
# IMAPTEST_SRC is imaptest's source at commit 924f619: either a git
# directory holding that commit (bare or not; the search tool's `fetch
# github:dovecot/imaptest` gives one under /work/.mirror/), from which
# the commit is archived, or a plain source tree of it (e.g. made with
# `git --git-dir=… archive 924f619 | tar -x -C /tmp/imaptest-src`), which
# is copied. IMAPTEST_BIN, when set, is an imaptest binary built before
# by this file (kept with KEEP=1), and nothing is built.

# build_imaptest: sets IMAPTEST to the binary, building it in $WORK.
build_imaptest() {
	export LD_LIBRARY_PATH=/usr/lib/dovecot
	if [ -n "${IMAPTEST_BIN:-}" ]; then
		IMAPTEST=$IMAPTEST_BIN
		IMAPTEST_TESTS=$(cd "$(dirname "$IMAPTEST")/tests" && pwd)
		return
	fi
	: "${IMAPTEST_SRC:?set IMAPTEST_SRC to imaptest 924f619 (a git directory or a source tree)}"
	local need=()
	[ -f /usr/include/dovecot/imap-parser.h ] || need+=(dovecot-dev)
	command -v autoreconf >/dev/null || need+=(autoconf automake libtool pkg-config)
	if [ ${#need[@]} -gt 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null
	fi
	echo "building imaptest 924f619"
	mkdir -p "$WORK/imaptest"
	if git -C "$IMAPTEST_SRC" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$IMAPTEST_SRC" archive 924f619 | tar -x -C "$WORK/imaptest"
	else
		cp -a "$IMAPTEST_SRC/." "$WORK/imaptest/"
	fi
	(
		cd "$WORK/imaptest"
		# Debian 12's libdovecot (2.3.19) takes a fourth argument.
		sed -i 's/imap_parser_create(\(.*\), (size_t)-1)/imap_parser_create(\1, (size_t)-1, NULL)/' src/commands.c src/imap-client.c src/test-parser.c
		echo "0.0.0-924f619" >version
		./autogen.sh >"$WORK/imaptest-build.log" 2>&1
		./configure --with-dovecot=/usr/lib/dovecot >>"$WORK/imaptest-build.log" 2>&1
		make -j2 >>"$WORK/imaptest-build.log" 2>&1
	) || { tail -20 "$WORK/imaptest-build.log"; exit 1; }
	IMAPTEST=$WORK/imaptest/src/imaptest
	IMAPTEST_TESTS=$WORK/imaptest/src/tests
}

# imaptest_groups HOST PORT USER PASS OUT: runs each file of src/tests as
# its own group (only those named in IMAPTEST_GROUPS, space-separated,
# when it is set), prints the table, writes failed groups' output to OUT.
# A group is skipped when imaptest ran none of its commands (the server
# does not advertise the capability the file needs).
imaptest_groups() {
	local host=$1 port=$2 user=$3 pass=$4 out=$5 f name res
	: >"$out"
	local passed=() failed=() skipped=()
	for f in "$IMAPTEST_TESTS"/*; do
		name=$(basename "$f")
		case "$name" in *.mbox) continue ;; esac
		if [ -n "${IMAPTEST_GROUPS:-}" ] && ! grep -qw -- "$name" <<<"$IMAPTEST_GROUPS"; then
			continue
		fi
		res=$(timeout 120 "$IMAPTEST" host="$host" port="$port" user="$user" pass="$pass" test="$f" 2>&1 || true)
		if grep -q '^1 test groups: 1 failed' <<<"$res"; then
			failed+=("$name")
			printf '== %s\n%s\n\n' "$name" "$res" >>"$out"
		elif grep -q 'base protocol: 0/0 ' <<<"$res" && grep -q 'extensions: 0/0 ' <<<"$res"; then
			skipped+=("$name")
		elif grep -q '^1 test groups: 0 failed' <<<"$res"; then
			passed+=("$name")
		else
			failed+=("$name")
			printf '== %s (no summary)\n%s\n\n' "$name" "$res" >>"$out"
		fi
	done
	local total=$((${#passed[@]} + ${#failed[@]} + ${#skipped[@]}))
	echo
	echo "imaptest 924f619, $total groups: ${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
	echo "| result | groups |"
	echo "|---|---|"
	echo "| passed (${#passed[@]}) | ${passed[*]} |"
	echo "| failed (${#failed[@]}) | ${failed[*]} |"
	echo "| skipped (${#skipped[@]}) | ${skipped[*]} |"
	echo "failed groups' output: $out"
}

# imaptest_stress HOST PORT USERS LABEL: imaptest's default workload (20
# clients for 30 s, default.mbox) on load1..loadUSERS; prints imaptest's
# closing totals and one summary line.
imaptest_stress() {
	local host=$1 port=$2 users=$3 label=$4 secs=${STRESS_SECS:-30} log
	log="$WORK/stress-$label-$users.log"
	"$IMAPTEST" host="$host" port="$port" "user=load%d@$DOMAIN" users="$users" pass="$PASSWORD" \
		mbox="$IMAPTEST_TESTS/default.mbox" clients=20 secs="$secs" >"$log" 2>&1 || true
	# The last two lines are the totals: a header of command names and
	# their counts over the run.
	local total errors
	total=$(tail -1 "$log" | awk '{s=0; for (i=1; i<=NF; i++) if ($i ~ /^[0-9]+$/) s+=$i; print s}')
	errors=$(grep -c 'Error:' "$log" || true)
	echo "stress $label users=$users: $(tail -2 "$log" | head -1)"
	echo "stress $label users=$users: $(tail -1 "$log")"
	echo "stress $label users=$users: commands=$total per_s=$((total / secs)) errors=$errors (log $log)"
}
