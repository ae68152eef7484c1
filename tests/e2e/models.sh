#!/usr/bin/env bash
# models.sh - signal.model (issue 16 item 5): on tiny.cfg with short training,
# `ddscan CONFIG` with an ER line runs the signal stage (/signal/scores) and a
# scan whose signal axis is a rate (one mass point, units events/(t*y)); a
# strong line gives a finite 5-sigma rate for the likelihood methods; `ddscan
# info` prints the model-independence line; switching to tritium rescores only
# the signal sample (the ER/NR scores are current); an unknown model, and
# cevns with the NR-background template on, are exit 2 naming signal.model.
set -u
. "$(dirname "$0")/../lib.sh"
CFG="$ROOT/configs/tiny.cfg"
SET=(--set "run.output_dir=\"$TMP/run\"" --set train.cvae.epochs=2 --set train.cnn.epochs=1
  --set signal.events=300 --set "signal.rate_ty=[1.0, 10.0, 100.0, 1000.0, 10000.0]")

$MPIRUN -n 2 "$DDSCAN" "$CFG" "${SET[@]}" --set 'signal.model="er_line"' \
  --set signal.energy_kev=10.0 >"$TMP/line.log" 2>&1 || fail "er_line pipeline: $(tail -5 "$TMP/line.log")"
grep -q "== signal$" "$TMP/line.log" || fail "the pipeline did not run the signal stage"
"$PYTHON" - "$TMP/run/results.h5" <<'PY' || fail "er_line scan: see above"
import sys, math, h5py
import numpy as np
def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)
with h5py.File(sys.argv[1], "r", locking=False) as f:
    sg = f["signal/scores"]
    n = sg["event"].shape[0]
    assert n == 300, n
    assert int(sg.attrs["n_draws_total"]) == int(np.sum(sg["attempts"][()])), "draws"
    assert text(f["signal"].attrs["model"]) == "er_line"
    assert text(f["scan"].attrs["signal_model"]) == "er_line"
    assert text(f["axes/sigma_cm2"].attrs["units"]) == "events/(t*y)", f["axes/sigma_cm2"].attrs["units"]
    assert text(f["contours/sigma5"].attrs["units"]) == "events/(t*y)"
    assert f["axes/mass_gev"].shape == (1,)
    methods = [text(m) for m in f["scan/analysis"][()]]
    s5 = f["contours/sigma5"][()]  # [method][mass][exposure][r]
    acc = f["scan/signal_rate"][()]
    assert 0.5 < acc[0] <= 1.0, acc  # a 10 keVee line passes the cuts
    for m in ("sound", "classical"):
        v = s5[methods.index(m)]
        assert np.all(np.isfinite(v)) and np.all(v > 0) and np.all(v < 1e4), (m, v)
    # more exposure, a smaller 5-sigma rate
    v = s5[methods.index("sound"), 0, :, 0]
    assert v[-1] < v[0], v
print("er_line: acceptance %.3f, sound 5-sigma rate %s" % (acc[0], s5[methods.index("sound"), 0, :, 0]))
PY
"$DDSCAN" info "$TMP/run/results.h5" >"$TMP/info.txt" 2>&1 || fail "info: $(tail -3 "$TMP/info.txt")"
grep -q "model independence (signal.model = er_line" "$TMP/info.txt" || fail "info has no model line: $(cat "$TMP/info.txt")"
grep -q "5-sigma signal rate \[events/(t\*y)\]" "$TMP/info.txt" || fail "info does not name the rate axis"

$MPIRUN -n 2 "$DDSCAN" "$CFG" "${SET[@]}" --set 'signal.model="tritium"' >"$TMP/tri.log" 2>&1 ||
  fail "tritium pipeline: $(tail -5 "$TMP/tri.log")"
grep -q "score: .* /scores is current" "$TMP/tri.log" || fail "tritium rescored the ER/NR samples"
grep -q "signal: tritium sample, 300 events" "$TMP/tri.log" || fail "tritium: no signal sample"
"$PYTHON" - "$TMP/run/results.h5" <<'PY' || fail "tritium scan"
import sys, h5py
with h5py.File(sys.argv[1], "r", locking=False) as f:
    m = f["scan"].attrs["signal_model"]
    assert (m.decode() if isinstance(m, bytes) else m) == "tritium", m
    assert f["signal/scores/energy_kev"][()].max() < 18.6
PY

"$DDSCAN" check-config "$CFG" --set 'signal.model="axion"' >"$TMP/bad.log" 2>&1
rc=$?
[ "$rc" = 2 ] || fail "unknown signal.model: exit $rc, want 2"
grep -q "signal.model" "$TMP/bad.log" || fail "unknown signal.model: message lacks the key: $(cat "$TMP/bad.log")"
# CEvNS as the signal and as the NR-background template at once: refused up front
"$DDSCAN" check-config "$CFG" --set 'signal.model="cevns"' >"$TMP/cevns.log" 2>&1
rc=$?
[ "$rc" = 2 ] && grep -q "stats.sound.nr_bkg = false" "$TMP/cevns.log" ||
  fail "cevns with the NR-background template: exit $rc: $(cat "$TMP/cevns.log")"
pass
