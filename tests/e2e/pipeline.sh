#!/usr/bin/env bash
# pipeline.sh - `ddscan CONFIG`, the whole pipeline on tiny.cfg at np 2: every
# stage runs and the file holds every group; the paper-mode p-values of the real
# (network) scores agree with a recomputation from the stored templates; a
# second run skips every stage;
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
"$PYTHON" - "$TMP/run/results.h5" <<'PY' || fail "results file incomplete"
import sys, h5py
with h5py.File(sys.argv[1], "r", locking=False) as f:
    for g in ["banks/er", "banks/nr", "training/cvae", "training/cnn", "scores/er", "scores/nr",
              "scan/p_value", "contours/sigma5", "spectra", "provenance", "config"]:
        assert g in f, g
# Oracle on the real (network) scores: the paper statistic recomputed here
# from the stored templates, chi2_P = sum s^2/(2b + s) with s, b scaled by
# exposure and sigma/sigma_ref (b: ER plus, when stats.sound.nr_bkg is on as
# by default, the NR background), p = erfc(sqrt(chi2_P/2)), against /scan.
import math
import numpy as np
with h5py.File(sys.argv[1], "r", locking=False) as f:
    methods = [m.decode() if isinstance(m, bytes) else str(m) for m in f["scan/analysis"][()]]
    im = methods.index("paper")
    sig, expo = f["scan/sigma_cm2"][()], f["scan/exposure_ty"][()]
    sref = float(f["spectra"].attrs["sigma_cm2"])
    b_all, s_all = f["templates/ts/background"][()], f["templates/ts/signal"][()]
    if f["scan"].attrs["nr_bkg"]:
        b_all = b_all + f["templates/ts/nr_background"][()]
    nb = f["templates/ts/n_bins"][()]
    logp = f["scan/log_p"][()]
    checked = 0
    for m in range(b_all.shape[0]):
        for r in range(b_all.shape[1]):
            b0, s0 = b_all[m, r, :nb[m, r]], s_all[m, r, :nb[m, r]]
            for i, sg in enumerate(sig):
                for j, e in enumerate(expo):
                    b, s = b0 * e, s0 * e * sg / sref
                    keep = (2 * b + s) > 0
                    chi2 = float(np.sum(s[keep] ** 2 / (2 * b[keep] + s[keep])))
                    want = math.log(math.erfc(math.sqrt(chi2 / 2))) if chi2 < 1400 else None
                    got = logp[im, m, i, j, r]
                    if want is not None:
                        assert abs(got - want) <= 1e-6 * max(1.0, abs(want)), (m, r, i, j, got, want)
                        checked += 1
    assert checked >= 8, checked
PY
# Every group of the whole pipeline's file opens in xarray with both netCDF-4
# engines, every dimension with its coordinate (tests/py/test_xarray.py checks
# values; this covers the groups only the full pipeline writes).
if "$PYTHON" -c 'import xarray, h5netcdf, netCDF4' 2>/dev/null; then
  HDF5_USE_FILE_LOCKING=FALSE "$PYTHON" - "$TMP/run/results.h5" <<'PY' || fail "xarray cannot open every group"
import sys, h5py, xarray as xr
path = sys.argv[1]
groups = ["/"]
with h5py.File(path, "r", locking=False) as f:
    f.visititems(lambda n, o: groups.append(n) if isinstance(o, h5py.Group) else None)
for engine in ("h5netcdf", "netcdf4"):
    for g in groups:
        with xr.open_dataset(path, group=g, engine=engine) as ds:
            for d in ds.dims:
                assert d in ds.coords, (engine, g, d)
                assert d not in ("method", "tolerance", "drop", "indexers"), (engine, g, d)
            for k, v in ds.variables.items():
                assert v.dtype.kind != "S", (engine, g, k, v.dtype)
print(f"xarray opened {len(groups)} groups with h5netcdf and netcdf4")
PY
elif [ -n "${CI:-}" ]; then
  fail "$PYTHON cannot import xarray, h5netcdf and netCDF4 (tools/deps.sh test)"
else
  echo "skip: the xarray check needs python3-xarray, python3-h5netcdf, python3-netcdf4"
fi

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
