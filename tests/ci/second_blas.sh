#!/usr/bin/env bash
# second_blas.sh - any CBLAS: builds ddscan against BLIS (Debian libblis-dev,
# installed by tools/deps.sh when missing and possible) in a separate build
# folder and runs the nn tests there (naive vs GEMM, gradients, training).
# usage: tests/ci/second_blas.sh [BLAS]   (default blis; flexiblas, mkl ... if present)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
blas=${1:-blis}
case "$blas" in blis | flexiblas) tools/deps.sh "$blas" ;; esac
build=build-$blas
t0=$(date +%s)
make -j2 WERROR=1 BLAS="$blas" BUILD="$build" BIN="$build/bin" all tests 2>&1 | grep -v '^mpicc \|^ar '
out=$("$build/bin/ddscan" --version)
echo "$out"
grep -q "(BLAS $blas:" <<<"$out" || { echo "second_blas.sh: --version does not name BLAS $blas" >&2; exit 1; }
if ldd "$build/bin/ddscan" | grep -q libopenblas; then
  echo "second_blas.sh: $build/bin/ddscan still links OpenBLAS" >&2
  exit 1
fi
TESTS=nn tests/run.sh "$build" "$build/bin"
echo "second_blas.sh: BLAS=$blas built and passed the nn tests in $(($(date +%s) - t0)) s"
