#!/usr/bin/env bash
# observed.sh - events files, `ddscan export`, `ddscan inject` and `ddscan
# analyse` on configs/tiny.cfg:
# 1. the h5py example of docs/format.md §10 is a valid events file; bad
#    files (missing dataset, wrong shape, other layout, no version) exit 2
#    naming the dataset, before any stage output is needed;
# 2. inject writes the same rows at np 1 and np 3 (rank invariance), with
#    its truth attributes;
# 3. a strong injected WIMP (50 GeV, 1e-45 cm^2, 5 t*y) is detected (Z > 5,
#    sound and classical, best fit within 30 %) and a background-only data
#    set is not (Z < 3); analyse at np 2 equals np 1;
# 4. a NaN in cs2 exits 2 naming /events/cs2 and the row; a cS1/cS2-only
#    file runs the classical method alone;
# 5. export writes the very analysis events the score stage scored, the
#    same rows at np 1 and np 3.
set -u
. "$(dirname "$0")/../lib.sh"
CFG="$ROOT/configs/tiny.cfg"
export HDF5_USE_FILE_LOCKING=FALSE
D="$TMP/run"
SET=(--set "run.output_dir=\"$D\"")

# 1. the documented example, and bad files
sed -n '/<!-- events-example:begin -->/,/<!-- events-example:end -->/p' "$ROOT/docs/format.md" |
  sed '1,2d;$d' | sed '$d' >"$TMP/example.py"
grep -q "ddscan_events_version" "$TMP/example.py" || fail "no example found in docs/format.md"
"$PYTHON" "$TMP/example.py" "$TMP/example.h5" || fail "the docs/format.md example does not run"
"$PYTHON" - "$TMP" <<'PY' || fail "could not write the bad files"
import sys, shutil, h5py, numpy as np
d = sys.argv[1]
def variant(name, edit):
    shutil.copy(d + "/example.h5", d + "/" + name + ".h5")
    with h5py.File(d + "/" + name + ".h5", "a") as f:
        edit(f)
variant("missing", lambda f: f["events"].__delitem__("s2_waveform"))
def shape(f):
    a = f["events/s1_area_bottom"][()]
    del f["events/s1_area_bottom"]
    f["events/s1_area_bottom"] = a[:, :240]
variant("shape", shape)
variant("layout", lambda f: f.attrs.__setitem__("layout", "x1t"))
variant("version", lambda f: f.attrs.__delitem__("ddscan_events_version"))
variant("nocs1", lambda f: f["events"].__delitem__("cs1"))
PY
check_bad() { # FILE NEEDLE
  expect_rc 2 "bad file $1" "$DDSCAN" analyse "$CFG" "${SET[@]}" --data "$TMP/$1.h5"
  grep -qF "$2" "$LAST_ERR" || fail "$1: message lacks '$2': $(head -c 400 "$LAST_ERR")"
}
check_bad missing "dataset /events/s2_waveform is missing"
check_bad shape "dataset /events/s1_area_bottom must be [n][241]"
check_bad layout "layout 'x1t' (127 top, 121 bottom PMTs), but the configuration's detector has layout 'xent'"
check_bad version "root attribute ddscan_events_version is missing"
check_bad nocs1 "dataset /events/cs1 is missing"
# the valid example gets past validation and asks for the scan
check_bad example "holds no current scan of this configuration"

# the trained configuration
$MPIRUN -n 2 "$DDSCAN" "$CFG" "${SET[@]}" -q >"$TMP/run.log" 2>&1 || fail "pipeline: $(tail -5 "$TMP/run.log")"

# 2. inject: np 1 = np 3
INJ=(--exposure 5 --seed 7)
$MPIRUN -n 1 "$DDSCAN" inject "$CFG" "${SET[@]}" "${INJ[@]}" --out "$TMP/bkg.h5" -q >"$TMP/i1.log" 2>&1 ||
  fail "inject np 1: $(tail -3 "$TMP/i1.log")"
$MPIRUN -n 3 "$DDSCAN" inject "$CFG" "${SET[@]}" "${INJ[@]}" --out "$TMP/bkg3.h5" -q >"$TMP/i3.log" 2>&1 ||
  fail "inject np 3: $(tail -3 "$TMP/i3.log")"
h5diff -c "$TMP/bkg.h5" "$TMP/bkg3.h5" /events /events >"$TMP/diff.out" 2>&1 ||
  fail "inject np 1 vs np 3 differ: $(head -c 400 "$TMP/diff.out")"
"$DDSCAN" inject "$CFG" "${SET[@]}" --exposure 5 --seed 8 --mass 50 --sigma 1e-45 \
  --out "$TMP/sig.h5" -q >"$TMP/is.log" 2>&1 || fail "inject signal: $(tail -3 "$TMP/is.log")"

# 3. analyse both
"$DDSCAN" analyse "$CFG" "${SET[@]}" --data "$TMP/bkg.h5" --out "$TMP/obs_bkg.h5" -q >"$TMP/a1.log" 2>&1 ||
  fail "analyse bkg: $(tail -3 "$TMP/a1.log")"
$MPIRUN -n 2 "$DDSCAN" analyse "$CFG" "${SET[@]}" --data "$TMP/bkg.h5" --out "$TMP/obs_bkg2.h5" -q >"$TMP/a2.log" 2>&1 ||
  fail "analyse bkg np 2: $(tail -3 "$TMP/a2.log")"
h5diff -c "$TMP/obs_bkg.h5" "$TMP/obs_bkg2.h5" /observed /observed >"$TMP/diff.out" 2>&1 ||
  fail "analyse np 1 vs np 2 differ: $(head -c 400 "$TMP/diff.out")"
"$DDSCAN" analyse "$CFG" "${SET[@]}" --data "$TMP/sig.h5" --out "$TMP/obs_sig.h5" -q >"$TMP/a3.log" 2>&1 ||
  fail "analyse signal: $(tail -3 "$TMP/a3.log")"
grep -q "^sound " "$TMP/a3.log" || fail "analyse printed no table: $(head -5 "$TMP/a3.log")"
"$PYTHON" - "$TMP" <<'PY' || fail "observed results wrong (see above)"
import sys, h5py, numpy as np
d = sys.argv[1]
def res(name):
    with h5py.File(d + "/" + name, "r") as f:
        meth = [m.decode() if isinstance(m, bytes) else str(m) for m in f["axes/analysis"][()]]
        mass = list(f["axes/mass_gev"][()])
        o = {k: f["observed/" + k][()] for k in f["observed"]}
        return meth, mass, o, dict(f["observed"].attrs)
with h5py.File(d + "/bkg.h5", "r") as f:
    acc = sum(int(v) for k, v in f.attrs.items() if k.startswith("accepted_events_"))
    assert f.attrs["inject_seed"] == 7 and acc == f["events/cs1"].shape[0], (acc, f["events/cs1"].shape)
    assert f.attrs["drawn_interactions_er"] >= f.attrs["accepted_events_er"]
for name, strong in (("obs_bkg.h5", False), ("obs_sig.h5", True)):
    meth, mass, o, at = res(name)
    im = mass.index(50.0)
    for m in ("sound", "classical"):
        i = meth.index(m)
        z = np.nanmax(o["z"][i, im, :])
        print(name, m, "Z", z, "sigma_hat", o["sigma_hat"][i, im, 0], "up90", o["sigma_up90"][i, im, 0])
        if strong:
            assert z > 5, (name, m, z)
            assert abs(o["sigma_hat"][i, im, -1] / 1e-45 - 1) < 0.3, o["sigma_hat"][i, im]
            assert o["sigma_up90"][i, im, -1] > o["sigma_hat"][i, im, -1]
        else:
            assert z < 3, (name, m, z)
    assert at["n_events"] > 0 and len(at["data_hash"]) == 16
PY

# 4. a NaN value; a cS1/cS2-only file
"$PYTHON" - "$TMP" <<'PY' || fail "could not write the NaN / cS-only files"
import sys, shutil, h5py, numpy as np
d = sys.argv[1]
shutil.copy(d + "/bkg.h5", d + "/nan.h5")
with h5py.File(d + "/nan.h5", "a") as f:
    a = f["events/cs2"][()]; a[3] = np.nan; f["events/cs2"][...] = a
with h5py.File(d + "/bkg.h5", "r") as s, h5py.File(d + "/cs.h5", "w") as f:
    f.attrs["ddscan_events_version"] = 1
    f.attrs["exposure_ty"] = 5.0
    f["events/cs1"] = s["events/cs1"][()]
    f["events/cs2"] = s["events/cs2"][()]
PY
check_bad nan "dataset /events/cs2 row 3 is NaN"
"$DDSCAN" analyse "$CFG" "${SET[@]}" --data "$TMP/cs.h5" --out "$TMP/obs_cs.h5" >"$TMP/a4.log" 2>&1 ||
  fail "analyse cS-only: $(tail -3 "$TMP/a4.log")"
grep -q "only cS1 and cS2" "$TMP/a4.log" || fail "no message about the missing image columns"
grep -q "^classical " "$TMP/a4.log" || fail "the classical method did not run on the cS-only file"
h5diff -c "$TMP/obs_bkg.h5" "$TMP/obs_cs.h5" /observed/p_value /observed/p_value >/dev/null 2>&1 &&
  fail "the cS-only file gave TS results"

# 5. export = the scored analysis events
"$DDSCAN" export "$CFG" "${SET[@]}" --er 50 --nr 20 --out "$TMP/exp.h5" -q >"$TMP/e.log" 2>&1 ||
  fail "export: $(tail -3 "$TMP/e.log")"
$MPIRUN -n 3 "$DDSCAN" export "$CFG" "${SET[@]}" --er 50 --nr 20 --out "$TMP/exp3.h5" -q >"$TMP/e3.log" 2>&1 ||
  fail "export np 3: $(tail -3 "$TMP/e3.log")"
h5diff -c "$TMP/exp.h5" "$TMP/exp3.h5" /events /events >"$TMP/diff.out" 2>&1 ||
  fail "export np 1 vs np 3 differ: $(head -c 400 "$TMP/diff.out")"
"$PYTHON" - "$TMP" "$D/results.h5" <<'PY' || fail "export differs from the scored events"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1] + "/exp.h5", "r") as e, h5py.File(sys.argv[2], "r") as r:
    src = e["events/truth_source"][()]
    assert list(src[:50]) == [0] * 50 and list(src[50:]) == [3] * 20, src
    for g, sl in (("scores/er", slice(0, 50)), ("scores/nr", slice(50, 70))):
        n = sl.stop - sl.start
        assert np.array_equal(e["events/cs1"][sl], r[g + "/cs1"][:n]), g
        assert np.array_equal(e["events/cs2"][sl], r[g + "/cs2"][:n]), g
        assert np.array_equal(e["events/event_id"][sl], r[g + "/event"][:n]), g
PY
pass
