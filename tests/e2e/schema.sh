#!/usr/bin/env bash
# schema.sh - the stage layer's schema tables are the one description of the
# results file: docs/format.md §9 is exactly `ddscan schema`; a scan written
# by the stages passes `ddscan info`'s check against them, and a damaged one
# (a dataset removed, a dataset of another shape) is named as such.
set -u
. "$(dirname "$0")/../lib.sh"
BUILD=${DDSCAN_BUILD:-$ROOT/build}
MPI_SCAN=$BUILD/tests/mpi_scan
[ -x "$MPI_SCAN" ] || fail "test programs are not built (make tests)"
export HDF5_USE_FILE_LOCKING=FALSE
PY=${PYTHON:-/usr/bin/python3}

# 1. docs/format.md holds the generated tables verbatim
"$DDSCAN" schema >"$TMP/schema.md" || fail "ddscan schema failed"
grep -q '^#### Stage `scan`' "$TMP/schema.md" || fail "ddscan schema prints no scan table"
for p in /banks/er/cs1_pe /banks/ceiling/accuracy /training/cvae/test_loss /scores/er/h_b \
  /scan/p_value /contours/sigma5 /templates/ts/background_mc /spectra/dRdE; do
  grep -q "| \`$p\` |" "$TMP/schema.md" || fail "ddscan schema lacks $p"
done
sed -n '/<!-- schema:begin/,/<!-- schema:end -->/p' "$ROOT/docs/format.md" | sed '1d;$d' \
  >"$TMP/doc.md"
diff -u "$TMP/doc.md" "$TMP/schema.md" >"$TMP/schema.diff" ||
  fail "docs/format.md §9 differs from \`ddscan schema\` (regenerate it): $(head -c 800 "$TMP/schema.diff")"

# 2. a real scan file matches its schema
cat >"$TMP/s.cfg" <<'CFG'
run = { name = "schema"; seed = 3; output_dir = "run"; };
scan = {
  mass_gev = [50.0];
  sigma_cm2 = { log_from = 1e-47; log_to = 1e-45; points = 3; };
  exposure_ty = [1.0, 10.0];
  r = [0.0, 170.0];
  methods = ["paper", "sound", "classical"];
};
CFG
(cd "$TMP" && timeout 120 $MPIRUN -n 2 "$MPI_SCAN" scores s.cfg --er 1500 --nr 1500 >/dev/null 2>&1) ||
  fail "synthetic scores"
(cd "$TMP" && timeout 120 $MPIRUN -n 2 "$DDSCAN" scan s.cfg >/dev/null 2>"$TMP/scan.err") ||
  fail "scan: $(head -c 400 "$TMP/scan.err")"
f=$TMP/run/results.h5
expect_rc 0 "info on a complete scan" "$DDSCAN" info "$f"
grep -q "SCHEMA MISMATCH" "$TMP/last.out" && fail "a fresh scan does not match its schema: $(grep MISMATCH "$TMP/last.out")"

# 3. damaged copies are named
if "$PY" -c 'import h5py' 2>/dev/null; then
  cp "$f" "$TMP/gone.h5"
  "$PY" - "$TMP/gone.h5" <<'PYEOF' || fail "could not damage the copy"
import sys, h5py
with h5py.File(sys.argv[1], "r+", locking=False) as h:
    del h["contours/flags"]
PYEOF
  "$DDSCAN" info "$TMP/gone.h5" >"$TMP/gone.out" 2>&1
  grep -q "SCHEMA MISMATCH: '/contours/flags' is missing" "$TMP/gone.out" ||
    fail "a removed /contours/flags is not named: $(head -c 600 "$TMP/gone.out")"
  cp "$f" "$TMP/shape.h5"
  "$PY" - "$TMP/shape.h5" <<'PYEOF' || fail "could not damage the copy"
import sys, h5py
with h5py.File(sys.argv[1], "r+", locking=False) as h:
    del h["scan/signal_rate"]
    h["scan/signal_rate"] = [[1.0, 2.0]]
PYEOF
  "$DDSCAN" info "$TMP/shape.h5" >"$TMP/shape.out" 2>&1
  grep -q "SCHEMA MISMATCH: '/scan/signal_rate' has 2 dimensions" "$TMP/shape.out" ||
    fail "a reshaped /scan/signal_rate is not named: $(head -c 600 "$TMP/shape.out")"
else
  echo "skip: damaged copies need h5py ($PY)"
fi
pass
