#!/usr/bin/env bash
# nn_blas_kernels.sh - the documented way to run on the right OpenBLAS kernel
# (tools/blas-env.sh) and the judge of every kernel: the nn naive-vs-GEMM and
# gradient tests (build/tests/test_nn) pass on each kernel this CPU supports
# (OPENBLAS_CORETYPE), and each run reports the kernel it used.
set -u
. "$(dirname "$0")/../lib.sh"
build=${DDSCAN_BUILD:-$ROOT/build}
[ -x "$build/tests/test_nn" ] || fail "$build/tests/test_nn is not built (make tests)"
# Kernels are an OpenBLAS matter: another CBLAS (make BLAS=blis) has none to pick.
if ! "$DDSCAN" --version | grep -q '(BLAS openblas'; then
  echo "skipped: ddscan is not built on OpenBLAS ($("$DDSCAN" --version | sed 's/.*(BLAS //'))"
  pass
fi

flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { [[ "$flags" == *" $1 "* ]]; }
kernels="Prescott"
if has avx && has avx2 && has fma; then kernels="$kernels Haswell"; fi
if has avx512f && has avx512bw && has avx512vl && has avx512dq && has avx512cd; then
  kernels="$kernels SkylakeX"
  if has avx512_bf16; then kernels="$kernels Cooperlake"; fi
fi

for k in $kernels; do
  out=$(OPENBLAS_CORETYPE=$k "$DDSCAN" --version) || fail "--version with OPENBLAS_CORETYPE=$k"
  grep -q "BLAS kernel $k)" <<<"$out" || fail "OPENBLAS_CORETYPE=$k: ddscan reports: $out"
  OPENBLAS_CORETYPE=$k "$build/tests/test_nn" >"$TMP/test_nn_$k.log" 2>&1 ||
    fail "nn tests fail on the OpenBLAS kernel $k: $(grep -E 'ERROR|error' "$TMP/test_nn_$k.log" | head -5)"
  grep -q "OpenBLAS kernel $k" "$TMP/test_nn_$k.log" || fail "test_nn did not run on kernel $k"
  echo "kernel $k: nn naive-vs-GEMM and gradient tests pass"
done

# The launcher: a generic pick is replaced by the best kernel of this CPU ...
best=$(awk -v k="$kernels" 'BEGIN { n = split(k, a, " "); print a[n] }')
if [ "$best" != Prescott ]; then
  out=$(env -u OPENBLAS_CORETYPE DDSCAN_BLAS_DETECTED=Prescott "$ROOT/tools/blas-env.sh" "$DDSCAN" --version)
  grep -q "BLAS kernel $best)" <<<"$out" || fail "blas-env.sh after a Prescott fallback runs: $out"
  exp=$(env -u OPENBLAS_CORETYPE DDSCAN_BLAS_DETECTED=Prescott "$ROOT/tools/blas-env.sh" --export)
  [ "$exp" = "export OPENBLAS_CORETYPE=$best" ] || fail "blas-env.sh --export prints '$exp'"
fi
# ... a good pick is left alone, and the user's choice always wins.
exp=$(env -u OPENBLAS_CORETYPE DDSCAN_BLAS_DETECTED=Haswell "$ROOT/tools/blas-env.sh" --export)
[ -z "$exp" ] || fail "blas-env.sh overrides a good pick: $exp"
out=$(OPENBLAS_CORETYPE=Prescott DDSCAN_BLAS_DETECTED=Prescott "$ROOT/tools/blas-env.sh" "$DDSCAN" --version)
grep -q "BLAS kernel Prescott)" <<<"$out" || fail "blas-env.sh does not keep OPENBLAS_CORETYPE: $out"
pass
