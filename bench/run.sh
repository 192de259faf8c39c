#!/usr/bin/env bash
# run.sh: run the benchmarks of bench/ several times and summarise them
# with benchstat. Raw output is kept in bench/results/ (git-ignored).
#
# Usage (from anywhere):
#   bench/run.sh                       # every benchmark, 6 passes
#   COUNT=10 BENCH='^BenchmarkCache' bench/run.sh
#   BENCHTIME=20x BENCH='^BenchmarkCacheStampede' bench/run.sh
#
# Environment:
#   COUNT      passes (default 6). Each pass runs every selected benchmark
#              once (-test.count=1), so the passes interleave and a burst
#              of load on a shared machine hits all libraries alike,
#              instead of all six samples of one of them.
#   BENCH      -test.bench regexp (default '.': all of bench/).
#   BENCHTIME  -test.benchtime (default: go test's 1s). Stampede
#              benchmarks take >= 50 ms per iteration: 1s gives ~15-20.
#   CPU        -test.cpu list (default: GOMAXPROCS).
#   EXTRA      more flags for the test binary, e.g. '-test.benchmem'.
#
# Output: results/<stamp>.txt (raw, benchstat input), results/<stamp>.stat
# (benchstat summary, also printed), results/latest.{txt,stat} symlinks.
set -euo pipefail

cd "$(dirname "$0")"
# bench/ is a module of its own, outside the root's go.work.
export GOWORK=off
COUNT=${COUNT:-6}
BENCH=${BENCH:-.}
BENCHTIME=${BENCHTIME:-}
CPU=${CPU:-}
EXTRA=${EXTRA:-}

mkdir -p results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=results/$stamp.txt
stat=results/$stamp.stat
bin=results/bench.test

go test -c -o "$bin" .

args=(-test.run '^$' -test.bench "$BENCH" -test.count 1)
[[ -n $BENCHTIME ]] && args+=(-test.benchtime "$BENCHTIME")
[[ -n $CPU ]] && args+=(-test.cpu "$CPU")
# shellcheck disable=SC2206
[[ -n $EXTRA ]] && args+=($EXTRA)

{
	echo "# bench/run.sh COUNT=$COUNT BENCH='$BENCH' BENCHTIME='$BENCHTIME' CPU='$CPU' EXTRA='$EXTRA'"
	echo "# $(date -u) $(go version) $(uname -srm) nproc=$(nproc)"
	echo "# $(git log -1 --format='%h %s' 2>/dev/null || true)"
} >"$raw"

for i in $(seq 1 "$COUNT"); do
	echo "== pass $i/$COUNT $(date -u +%T)" >&2
	# Run from bench/ so relative paths behave as under go test.
	"./$bin" "${args[@]}" | tee -a "$raw" | grep -E '^Benchmark|^(ok|FAIL|panic)' >&2
done

ln -sf "$stamp.txt" results/latest.txt
go run golang.org/x/perf/cmd/benchstat@latest "$raw" | tee "$stat"
ln -sf "$stamp.stat" results/latest.stat
echo "raw: bench/$raw  summary: bench/$stat" >&2
