#!/usr/bin/env bash
# bench_scan.sh - the scan stage's Fig. 9 benchmark (tools/bench/bench_scan.c)
# on 2 ranks, beside the single-rank run that bench.sh does on its own: the
# rank-0 dispatcher and the per-unit writes on the 2-core target machine.
set -euo pipefail
build=${DDSCAN_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
exec mpirun --oversubscribe -n 2 "$build/bench/bench_scan"
