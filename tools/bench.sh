#!/usr/bin/env bash
# bench.sh - runs every benchmark program ($BUILD/bench/bench_*) and every
# tools/bench/*.sh script, one after the other on a quiet machine, and collects
# their output in $BUILD/bench/report.txt.  Each bench measures its own
# comparison side by side (for example ddscan vs PyTorch, or a layer's GEMM vs
# the cblas_sgemm peak) and prints ratios; nothing here asserts a timing.
# usage: tools/bench.sh BUILD_DIR BIN_DIR   (BENCH=pattern runs a subset)
set -u
build=${1:-build}
bin=${2:-bin}
root=$(cd "$(dirname "$0")/.." && pwd)
export DDSCAN="$root/$bin/ddscan" DDSCAN_ROOT="$root" DDSCAN_BUILD="$root/$build"
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_btl=self,vader OMPI_MCA_oob_tcp_if_include=lo
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
report="$root/$build/bench/report.txt"
mkdir -p "$(dirname "$report")"
{
  echo "# ddscan bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(hostname), $(nproc --all) cores"
  echo "# $("$DDSCAN" --version)"
  grep -m1 'model name' /proc/cpuinfo | sed 's/^/# /'
} | tee "$report"
status=0
for b in "$root/$build"/bench/bench_* "$root"/tools/bench/*.sh; do
  [ -x "$b" ] || continue
  name=$(basename "$b")
  if [ -n "${BENCH:-}" ] && [[ "$name" != *${BENCH}* ]]; then continue; fi
  echo "== $name" | tee -a "$report"
  if ! "$b" 2>&1 | tee -a "$report"; then
    echo "!! $name failed" | tee -a "$report"
    status=1
  fi
done
echo "report: $report"
exit $status
