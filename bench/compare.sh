#!/usr/bin/env bash
# Before/after comparison of the headline figures of two source trees
# (e.g. a worktree of the commit before a change, and the change):
#
#   bench/compare.sh /path/to/before /path/to/after [ROUNDS]
#
# For each round it runs, in each tree in turn (before, after, before,
# after, ...: interleaved, so a machine whose speed drifts affects both):
# SMTP submission (smtpd BenchmarkSubmission), MX ingest
# (bench/mx-smtp-source.sh, MESSAGES=3000), the API (httpapi
# BenchmarkDossierEvents, Go client), end to end at 300 events/s for 15 s
# (cmd/congthu BenchmarkE2ENotify) and the SMS pipeline
# (BenchmarkSMSPipeline, wherever the tree has it). It prints one line per
# figure and run; the raw output is kept under $OUT (default a temp dir).
set -euo pipefail
before="$(cd "$1" && pwd)"; after="$(cd "$2" && pwd)"; rounds="${3:-2}"
out="${OUT:-$(mktemp -d)}"; mkdir -p "$out"
echo "raw output in $out"

run() { # tree label name cmd...
	local tree=$1 label=$2 name=$3; shift 3
	local f="$out/$name.$label.$(date +%s).txt"
	(cd "$tree" && "$@") >"$f" 2>&1 || { echo "$name $label: FAILED (see $f)"; return 0; }
	if [ "$name" = mx ]; then
		grep -iE 'msgs/s|messages/s' "$f" | tail -1 | sed "s/^/$name $label: /"
	else
		grep -E '^Benchmark' "$f" | sed -E "s/[[:space:]]+/ /g; s/^/$name $label: /"
	fi
}

smspkg() { grep -l 'func BenchmarkSMSPipeline' "$1"/*/*_test.go "$1"/*/*/*_test.go 2>/dev/null | head -1 | xargs dirname | sed "s|^$1|.|"; }

for r in $(seq "$rounds"); do
	for side in before after; do
		tree=$before; [ "$side" = after ] && tree=$after
		run "$tree" "$side" submission go test -run XXX -bench BenchmarkSubmission -benchtime 6000x ./smtpd
		run "$tree" "$side" mx env MESSAGES=3000 bench/mx-smtp-source.sh
		run "$tree" "$side" api go test -run XXX -bench 'DossierEvents$' -benchtime 8000x ./httpapi/
		run "$tree" "$side" e2e env CONGTHU_BENCH_RATE=300 CONGTHU_BENCH_SECONDS=15 go test -run XXX -bench E2ENotify -benchtime 1x ./cmd/congthu
		run "$tree" "$side" sms go test -run XXX -bench BenchmarkSMSPipeline -benchtime 3000x "$(smspkg "$tree")"
	done
done
