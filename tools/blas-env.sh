#!/usr/bin/env bash
# blas-env.sh - runs a command on the right OpenBLAS kernel.  Debian's
# OpenBLAS 0.3.21 does not recognise every recent CPU and then falls back to
# its generic SSE3 kernel (Prescott), about a fifth of the FMA rate.  The
# kernel is chosen when the library loads, so it must be set in the
# environment before ddscan starts.
#
# usage: tools/blas-env.sh COMMAND [ARGS...]   e.g. tools/blas-env.sh mpirun -n 4 bin/ddscan x.cfg
#        eval "$(tools/blas-env.sh --export)"  sets it in this shell (job scripts, then srun)
#        tools/blas-env.sh --explain           prints the decision and why
#
# OPENBLAS_CORETYPE is set only when (1) it is not set already (your choice
# wins), (2) OpenBLAS left alone picks a generic kernel (no AVX), and (3)
# /proc/cpuinfo lists the instructions of a better one: AVX-512 F/BW/VL/DQ/CD
# -> SkylakeX (Cooperlake with AVX512_BF16), AVX2 + FMA -> Haswell, AVX ->
# Sandybridge (the same rule as nn_blas_best_core in src/nn/blas.c).  The
# naive-vs-GEMM tests judge the result: tests/e2e/nn_blas_kernels.sh runs them
# on every kernel this CPU supports.  Every run reports the kernel it used
# (ddscan --version, the nn layer table, the results file's provenance).
# mpirun passes the variable to local ranks; across nodes add
# `-x OPENBLAS_CORETYPE` (srun exports the environment by default); the
# decision is made on the launching node, so use it on homogeneous nodes.
# DDSCAN_BLAS_DETECTED=NAME pretends OpenBLAS picked NAME (tests only).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ddscan=${DDSCAN:-$root/bin/ddscan}

best_core() {
  local flags
  flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  has() { [[ "$flags" == *" $1 "* ]]; }
  if has avx512f && has avx512bw && has avx512vl && has avx512dq && has avx512cd; then
    if has avx512_bf16; then echo Cooperlake; else echo SkylakeX; fi
  elif has avx2 && has fma; then
    echo Haswell
  elif has avx; then
    echo Sandybridge
  fi
}

detected_core() {
  if [ -n "${DDSCAN_BLAS_DETECTED:-}" ]; then
    echo "$DDSCAN_BLAS_DETECTED"
    return
  fi
  [ -x "$ddscan" ] || return 0
  env -u OPENBLAS_CORETYPE "$ddscan" --version 2>/dev/null | sed -n 's/.*BLAS kernel \([A-Za-z0-9_]*\).*/\1/p'
}

decide() { # prints the core to set, or nothing; the reason goes to $reason
  reason=""
  if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    reason="OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE is set already: kept"
    return
  fi
  local det best
  det=$(detected_core)
  best=$(best_core)
  case "$det" in
    Prescott | Core2 | Penryn | Dunnington | Nehalem | Atom | Katmai | Coppermine | Northwood | \
      Banias | Athlon | Opteron | Opteron_SSE3 | Barcelona)
      if [ -n "$best" ]; then
        reason="OpenBLAS picks the generic '$det' kernel; this CPU has the instructions of '$best'"
        echo "$best"
      else
        reason="OpenBLAS picks '$det'; the CPU offers nothing better"
      fi ;;
    "") reason="cannot tell which kernel OpenBLAS picks (build ddscan first: make)" ;;
    *) reason="OpenBLAS picks '$det' by itself: nothing to do" ;;
  esac
}

case "${1:-}" in
  --export)
    core=$(decide)
    if [ -n "$core" ]; then echo "export OPENBLAS_CORETYPE=$core"; fi ;;
  --explain)
    core=$(decide)
    decide >/dev/null
    echo "blas-env: $reason${core:+; setting OPENBLAS_CORETYPE=$core}" ;;
  "" | -h | --help)
    sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'
    [ -n "${1:-}" ] || exit 2 ;;
  *)
    core=$(decide)
    if [ -n "$core" ]; then export OPENBLAS_CORETYPE=$core; fi
    exec "$@" ;;
esac
