#!/usr/bin/env bash
# vnfm benchmarks (make bench): the Go benchmarks in test/bench, then a
# summary. Needs Postgres (VNFM_TEST_DATABASE_URL, default the local cluster
# at 127.0.0.1:5432 as user postgres) and, for the pgbench comparison,
# pgbench (/usr/lib/postgresql/*/bin or PATH).
#
#   BenchmarkGetInstance  GET one of 10,000 instances       (postgres, sqlite)
#   BenchmarkListFilter   list with an indexed filter (1%)  (postgres, sqlite)
#                         and with one that scans the table
#   BenchmarkLCMOps       INSTANTIATE ops/s through API and conductor on
#                         Postgres, next to pgbench -N on the same server
#
# The three groups run with different -benchtime: the cheap reads for a
# duration, the full-scan list for a fixed number of requests (each takes
# about a second of CPU), the LCM round once (it times a whole batch).
#
# Environment:
#   VNFM_BENCH_READ_TIME  -benchtime for GET and indexed list   (default 3s)
#   VNFM_BENCH_SCAN_TIME  -benchtime for the full-scan list     (default 16x)
#   VNFM_BENCH_LCM_OPS    INSTANTIATE ops per LCM round         (default 500)
#   VNFM_BENCH_OUT        also write the raw output here (for benchstat)
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
READ_TIME=${VNFM_BENCH_READ_TIME:-3s}
SCAN_TIME=${VNFM_BENCH_SCAN_TIME:-16x}
PKG=./test/bench/

if [ -x scripts/ensure-postgres.sh ]; then
  scripts/ensure-postgres.sh
fi

raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
start=$(date +%s)

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || true)
pgurl=${VNFM_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
pgver=$(psql "$pgurl" -Atc 'SHOW server_version' 2>/dev/null || echo unknown)
machine="$(nproc) CPUs${cpu:+ ($cpu)}, ${mem:-? GiB} RAM, $($GO env GOVERSION), PostgreSQL $pgver"
echo "machine: $machine"
echo

status=0
run() { # run LABEL BENCH-REGEXP BENCHTIME
  echo "== $1 (-bench '$2' -benchtime $3)"
  "$GO" test -run '^$' -bench "$2" -benchtime "$3" -timeout 20m "$PKG" 2>&1 | tee -a "$raw" || status=1
  echo
}

run "reads" 'GetInstance|ListFilter/./(by_id|eq_vnfdId)' "$READ_TIME"
run "full-scan list" 'ListFilter/./cont_name' "$SCAN_TIME"
run "LCM operations" 'LCMOps' 1x

if [ -n "${VNFM_BENCH_OUT:-}" ]; then
  cp "$raw" "$VNFM_BENCH_OUT"
fi

elapsed=$(( $(date +%s) - start ))
echo "== summary ($machine; ${elapsed}s)"
awk '
/^Benchmark/ {
  name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
  delete m
  for (i = 3; i + 1 <= NF; i += 2) m[$(i + 1)] = $i
  if ("ops/s" in m) {
    printf "%-32s %8.1f ops/s  accept p50 %6.2f ms  p99 %6.2f ms  op p50 %7.1f ms  p99 %7.1f ms\n",
      name, m["ops/s"], m["accept_p50_ms"], m["accept_p99_ms"], m["op_p50_ms"], m["op_p99_ms"]
    if ("pgbench_N_tps" in m)
      printf "%-32s %8.1f tps    (pgbench -N -c 4 -j 2 -T 10, same server, same run)\n", "pgbench -N", m["pgbench_N_tps"]
    printf "%-32s %8.1f creates/s\n", name " create", m["creates/s"]
  } else if ("req/s" in m) {
    printf "%-32s %8.1f req/s  p50 %8.2f ms  p90 %8.2f ms  p99 %8.2f ms  max %8.2f ms  (%s requests, seed %.1fs)\n",
      name, m["req/s"], m["p50_ms"], m["p90_ms"], m["p99_ms"], m["max_ms"], $2, m["seed_s"]
  }
}
/^(FAIL|--- FAIL|panic:)/ { failed = 1 }
END { if (failed) print "some benchmarks FAILED" }
' "$raw"
if grep -qE '^(FAIL|--- FAIL|panic:)' "$raw"; then status=1; fi
exit $status
