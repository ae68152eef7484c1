#!/usr/bin/env bash
# pipeline.sh - `ddscan CONFIG`, the whole pipeline on tiny.cfg at np 2: every
# stage runs and the file holds every group; a second run skips every stage;
# changing only a scan key re-runs only the scan; `ddscan info` reports a
# complete file.
set -u
. "$(dirname "$0")/../lib.sh"
CFG="$ROOT/configs/tiny.cfg"
OUT=(--set "run.output_dir=\"$TMP/run\"")

$MPIRUN -n 2 "$DDSCAN" "$CFG" "${OUT[@]}" >"$TMP/first.log" 2>&1 || fail "pipeline: $(tail -5 "$TMP/first.log")"
for s in simulate train score scan; do
  grep -q "== $s\$" "$TMP/first.log" || fail "first run did not run $s: $(grep '==' "$TMP/first.log")"
done
/usr/bin/python3 - "$TMP/run/results.h5" <<'PY' || fail "results file incomplete"
import sys, h5py
with h5py.File(sys.argv[1], "r", locking=False) as f:
    for g in ["banks/er", "banks/nr", "training/cvae", "training/cnn", "scores/er", "scores/nr",
              "scan/p_value", "contours/sigma5", "spectra", "provenance", "config"]:
        assert g in f, g
PY

$MPIRUN -n 2 "$DDSCAN" "$CFG" "${OUT[@]}" >"$TMP/second.log" 2>&1 || fail "second run: $(tail -5 "$TMP/second.log")"
grep -q "== simulate: .* current; skipped" "$TMP/second.log" || fail "second run re-simulated"
grep -q "train: .* nothing to do" "$TMP/second.log" || fail "second run re-trained"
grep -q "score: .* nothing to do" "$TMP/second.log" || fail "second run re-scored"
grep -q "== scan: .* current; skipped" "$TMP/second.log" || fail "second run re-scanned"

# only the scan depends on the exposure grid
$MPIRUN -n 2 "$DDSCAN" "$CFG" "${OUT[@]}" --set "scan.exposure_ty=[2.0, 20.0]" >"$TMP/third.log" 2>&1 ||
  fail "third run: $(tail -5 "$TMP/third.log")"
grep -q "== simulate: .* current; skipped" "$TMP/third.log" || fail "exposure change re-simulated"
grep -q "score: .* nothing to do" "$TMP/third.log" || fail "exposure change re-scored"
grep -q "== scan\$" "$TMP/third.log" || fail "exposure change did not re-scan"

"$DDSCAN" info "$TMP/run/results.h5" >"$TMP/info.txt" 2>&1 || fail "info: $(tail -3 "$TMP/info.txt")"
grep -q "status:  complete" "$TMP/info.txt" || fail "info: $(head -5 "$TMP/info.txt")"

# a bare CONFIG that does not exist is an error naming it, not a usage error
expect_rc 1 "missing config" "$DDSCAN" "$TMP/nothere.cfg"
grep -q "nothere.cfg" "$LAST_ERR" || fail "missing config message: $(cat "$LAST_ERR")"
pass
