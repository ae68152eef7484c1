#!/usr/bin/env bash
# simulate.sh - `ddscan simulate` end to end: the bank records and the ceiling
# are identical bytes at every rank count (h5diff against np 1);
# the tables hold what the configuration asked for and every record passes the
# acceptance (h5py); both ceilings are stored, the one with the S1 pulse shape
# clearly above the (cS1, cS2) one with NEST v2 timing and equal to it with
# pax_simple timing; --preview writes PNG files; a bad detector key is one
# error naming file:line and the key.
set -u
. "$(dirname "$0")/../lib.sh"
PY=$PYTHON
CFG="$ROOT/configs/tiny.cfg"

for np in $NP_LIST; do
  out="$TMP/np$np"
  $MPIRUN -n "$np" "$DDSCAN" simulate "$CFG" --set "run.output_dir=\"$out\"" -q \
    >"$TMP/sim$np.log" 2>&1 || fail "simulate at np $np: $(tail -5 "$TMP/sim$np.log")"
  [ -f "$out/results.h5" ] || fail "np $np wrote no results.h5"
  if [ "$np" != 1 ]; then
    for g in /banks; do
      h5diff -r "$TMP/np1/results.h5" "$out/results.h5" "$g" "$g" >"$TMP/diff.txt" 2>&1 ||
        fail "$g differs between np 1 and np $np: $(grep -v '^0 differences' "$TMP/diff.txt" | head -5)"
    done
  fi
done

# previews (singleton): N ER and N NR, both modes, and the sheets
"$DDSCAN" simulate "$CFG" --set "run.output_dir=\"$TMP/prev\"" --preview 2 -q >"$TMP/prev.log" 2>&1 ||
  fail "simulate --preview: $(tail -5 "$TMP/prev.log")"
for f in er_00 er_01 nr_00 nr_01 er_00_pax nr_01_pax sheet sheet_pax; do
  p="$TMP/prev/preview/$f.png"
  [ -f "$p" ] || fail "missing preview $f.png"
  head -c 8 "$p" | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a' || fail "$f.png is not a PNG"
done
# the bank itself does not depend on --preview
h5diff -r "$TMP/np1/results.h5" "$TMP/prev/results.h5" /banks /banks >/dev/null 2>&1 ||
  fail "--preview changed /banks"

# contents (h5py)
"$PY" - "$TMP/np1/results.h5" <<'PY' || fail "bank contents"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r", locking=False) as f:
    for cls, name in ((0, "er"), (1, "nr")):
        g = f["banks/" + name]
        n = g.attrs["n_train"] + g.attrs["n_test"] + g.attrs["n_analysis"]
        assert n == 600, n
        assert g["cls"].shape == (n,) and (g["cls"][()] == cls).all()
        assert (g["index"][()] == np.arange(n)).all()
        att = g["attempts"][()]
        assert (att >= 1).all() and g.attrs["n_draws"] == att.sum()
        cs1, s2 = g["cs1_pe"][()], g["s2_pe"][()]
        assert ((cs1 > 0) & (cs1 <= 100)).all(), "cS1 outside the ROI"
        assert (s2 > 500).all(), "S2 below threshold"
        assert (g["n_pmts_hit"][()] >= 3).all()
        assert g["s2_pmt_top_pe"].shape == (n, 253) and g["s1_pmt_bottom_pe"].shape == (n, 241)
        top = g["s2_pmt_top_pe"][()].sum(axis=1)
        assert np.allclose(top, g["s2_top_pe"][()], rtol=1e-4)
        for k in g:
            if isinstance(g[k], h5py.Dataset):
                assert "units" in g[k].attrs and "description" in g[k].attrs, k
    c = f["banks/ceiling"]
    acc = c["accuracy"][()]
    assert c["mass_gev"][()].tolist() == [50.0, 500.0]
    assert ((acc > 0.85) & (acc < 0.97)).all(), acc
    assert ((c["leakage"][()] > 0.002) & (c["leakage"][()] < 0.05)).all()
    for k in c:
        assert "units" in c[k].attrs and "description" in c[k].attrs, k
    # NEST v2 S1 timing (xent_sr0's default): the pulse shape adds information
    # (seen +0.024 and +0.026 on 2000 + 2000 test events, noise ~0.005)
    sh = c["accuracy_shape"][()]
    assert c.attrs["reference"] == "shape", c.attrs["reference"]
    assert (sh > acc + 0.01).all(), (sh, acc)
    assert (c["auc_shape"][()] > c["auc"][()]).all()
    assert (c["accuracy_cs1_shape"][()] > c["accuracy_cs1_only"][()] + 0.05).all()
    assert c["psd_leak_bin"].shape == (2, 10) and c["shape_corr_er"].shape == (10,)
    assert "spectra" not in f  # owned by the scan stage
print("contents ok")
PY

# pax_simple S1 timing (one decay time for ER and NR): no shape information,
# the two ceilings agree within the noise (20 000 events per class)
$MPIRUN -n 2 "$DDSCAN" simulate "$CFG" --set "run.output_dir=\"$TMP/simple\"" \
  --set 'detector.s1_timing="pax_simple"' --set detector.ceiling.events=20000 -q \
  >"$TMP/simple.log" 2>&1 || fail "simulate with pax_simple: $(tail -5 "$TMP/simple.log")"
"$PY" - "$TMP/simple/results.h5" <<'PY' || fail "pax_simple ceilings"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r", locking=False) as f:
    c = f["banks/ceiling"]
    assert c.attrs["reference"] == "cs1_cs2", c.attrs["reference"]
    acc, sh = c["accuracy"][()], c["accuracy_shape"][()]
    # seen differences below 1e-3
    assert (np.abs(sh - acc) < 0.005).all(), (sh, acc)
    assert (np.abs(c["auc_shape"][()] - c["auc"][()]) < 0.003).all()
    psd = c["psd_leak_bin"][()]
    assert (np.abs(psd - 0.5) < 0.1).all(), psd
print("pax_simple: ceilings %s and %s" % (acc, sh))
PY

# a bad detector parameter: one message naming the key, exit 2, no file
expect_rc 2 "g1_pe = 1.5" "$DDSCAN" simulate "$CFG" --set detector.g1_pe=1.5 \
  --set "run.output_dir=\"$TMP/bad\""
grep -q "detector.g1_pe: must be in (0, 1], got 1.5" "$LAST_ERR" || fail "bad g1 message: $(cat "$LAST_ERR")"
[ ! -e "$TMP/bad/results.h5" ] || fail "a failed simulate left results.h5"
expect_rc 2 "negative lifetime" $MPIRUN -n 2 "$DDSCAN" simulate "$CFG" \
  --set detector.electron_lifetime_us=-3.0 --set "run.output_dir=\"$TMP/bad\""
grep -q "detector.electron_lifetime_us: must be > 0" "$LAST_ERR" || fail "lifetime message: $(cat "$LAST_ERR")"
pass
