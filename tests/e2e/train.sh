#!/usr/bin/env bash
# train.sh - `ddscan train` and `ddscan score` end to end on configs/tiny.cfg:
# 1. training at np 2 writes /training (curves per epoch with units, the CNN
#    beside both ceilings, judged against the S1-shape one, examples) and PNGs; the CNN beats chance and the
#    CVAE reconstructs NR worse than ER, each by the margin stated below;
# 2. a second `ddscan train` reuses the checkpoints and changes nothing;
# 3. /scores is bitwise the same at np 1 and np 3 and carries the anomaly;
# 4. missing, corrupt and foreign checkpoints are refused naming the file.
set -u
. "$(dirname "$0")/../lib.sh"
PY=$PYTHON
CFG="$ROOT/configs/tiny.cfg"
export HDF5_USE_FILE_LOCKING=FALSE
D="$TMP/run"
set_dir() { echo "run.output_dir=\"$1\""; }

$MPIRUN -n 2 "$DDSCAN" simulate "$CFG" --set "$(set_dir "$D")" -q >"$TMP/sim.log" 2>&1 ||
  fail "simulate: $(tail -5 "$TMP/sim.log")"
cp -r "$D" "$TMP/fresh" # banks only, for the error cases

# score before training: a clear error that says what to run
expect_rc 1 "score without checkpoints" $MPIRUN -n 2 "$DDSCAN" score "$CFG" --set "$(set_dir "$TMP/fresh")"
grep -q "run \`ddscan train" "$LAST_ERR" || fail "score without checkpoints: $(cat "$LAST_ERR")"

# 1. train
$MPIRUN -n 2 "$DDSCAN" train "$CFG" --set "$(set_dir "$D")" >"$TMP/train.log" 2>&1 ||
  fail "train: $(tail -5 "$TMP/train.log")"
grep -q "train cnn: epoch 4/4" "$TMP/train.log" || fail "no per-epoch lines: $(head -c 600 "$TMP/train.log")"
grep -q "allreduce" "$TMP/train.log" || fail "no allreduce share in the epoch lines"
grep -q "ceiling" "$TMP/train.log" || fail "no comparison with the ceiling"
grep -q "with the S1 shape" "$TMP/train.log" || fail "no comparison with the shape ceiling"
for f in cvae.ckpt cvae.hist cnn.ckpt cnn.hist; do
  [ -f "$D/checkpoints/$f" ] || fail "missing checkpoint file $f"
done
for f in images reconstructions; do
  head -c 8 "$D/training/$f.png" | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a' ||
    fail "$f.png missing or not a PNG"
done
"$PY" - "$D/results.h5" <<'PY' || fail "/training contents"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r", locking=False) as f:
    t = f["training"]
    for m, n in (("cvae", 16), ("cnn", 4)):
        g = t[m]
        ep = g["epoch"][()]
        assert list(ep) == list(range(1, n + 1)), (m, ep)
        for k, d in g.items():
            assert "units" in d.attrs and "description" in d.attrs, (m, k)
            if d.ndim == 1 and d.shape[0] == n and k != "epoch":
                assert d.dims[0][0].name == g["epoch"].name, (m, k)
        assert np.all(np.isfinite(g["train_loss"][()])) and np.all(np.isfinite(g["test_loss"][()]))
        assert g.attrs["steps"] > 0 and g.attrs["start"] == "trained", dict(g.attrs)
    assert t["cvae"].attrs["reconstruction"] in ("sum", "mean"), dict(t["cvae"].attrs)
    # the stage's recorded wall time covers the training itself (it runs before the file is written)
    trained = float(np.sum(t["cvae"]["wall_s"][()]) + np.sum(t["cnn"]["wall_s"][()]))
    assert f["provenance/train"].attrs["wall_time_s"] >= trained, (f["provenance/train"].attrs["wall_time_s"], trained)
    cv, cn = t["cvae"], t["cnn"]
    # the CVAE learnt: the test reconstruction loss fell by a third or more (seen: 0.079 -> 0.035)
    rec = cv["test_rec"][()]
    assert rec[-1] < 0.67 * rec[0], rec
    # anomaly: NR test events reconstruct worse than ER ones by >= 5 % (seen: 15 %)
    ratio = cv["test_nr_rec"][-1] / cv["test_rec"][-1]
    assert ratio > 1.05, ratio
    # the CNN beats chance (0.5) by a clear margin: accuracy >= 0.75 and AUC >= 0.85 on
    # 100 + 100 test events, where chance fluctuates by 0.035 (seen: 0.89, 0.95)
    acc, auc = cn.attrs["accuracy"], cn.attrs["auc"]
    assert acc >= 0.75 and auc >= 0.85, (acc, auc)
    # beside the ceiling, per scan mass
    assert list(cn["mass_gev"][()]) == [50.0, 500.0]
    ca, aw = cn["ceiling_accuracy"][()], cn["accuracy_weighted"][()]
    assert np.all((ca > 0.85) & (ca < 1.0)), ca
    assert np.all((aw > 0.7) & (aw < 1.0)), aw
    # both ceilings; with NEST v2 S1 timing the image is judged against the one
    # with the S1 pulse shape, which lies clearly above (seen +0.024, +0.026)
    cs = cn["ceiling_accuracy_shape"][()]
    assert np.all(cs > ca + 0.01), (cs, ca)
    assert np.all(cn["ceiling_auc_shape"][()] > cn["ceiling_auc"][()])
    assert cn.attrs["ceiling_reference"] == "shape", cn.attrs["ceiling_reference"]
    assert np.array_equal(cn["ceiling_reference_accuracy"][()], cs)
    assert np.array_equal(cn["ceiling_reference_auc"][()], cn["ceiling_auc_shape"][()])
    assert np.array_equal(cs, f["banks/ceiling/accuracy_shape"][()])
    ex = t["examples"]
    assert ex["er_image"].shape == (4, 3, 75, 75) and ex["nr_reconstruction"].shape == (4, 3, 75, 75)
    for k in ("er_image", "er_reconstruction", "nr_image", "nr_reconstruction"):
        v = ex[k][()]
        assert v.min() >= 0.0 and v.max() <= 1.0 and v.max() > 0.1, k
    print("CVAE NR/ER %.3f, CNN accuracy %.3f AUC %.3f, at 50 GeV %.3f vs ceilings %.3f "
          "(cS1, cS2), %.3f (with the S1 shape)" % (ratio, acc, auc, aw[0], ca[0], cs[0]))
PY

# 2. again: the checkpoints and /training are current
cp "$D/results.h5" "$TMP/before.h5"
$MPIRUN -n 3 "$DDSCAN" train "$CFG" --set "$(set_dir "$D")" >"$TMP/again.log" 2>&1 ||
  fail "second train: $(tail -5 "$TMP/again.log")"
grep -q "reusing it" "$TMP/again.log" || fail "checkpoints not reused: $(cat "$TMP/again.log")"
grep -q "nothing to do" "$TMP/again.log" || fail "stage not skipped: $(cat "$TMP/again.log")"
! grep -q "cvae: epoch" "$TMP/again.log" || fail "the second train trained again"
cmp -s "$D/results.h5" "$TMP/before.h5" || fail "the skipped train changed results.h5"

# 3. score at np 1 and np 3 in two copies: the same bytes
cp -r "$D" "$TMP/s1"
cp -r "$D" "$TMP/s3"
$MPIRUN -n 1 "$DDSCAN" score "$CFG" --set "$(set_dir "$TMP/s1")" >"$TMP/score1.log" 2>&1 ||
  fail "score np 1: $(tail -5 "$TMP/score1.log")"
$MPIRUN -n 3 "$DDSCAN" score "$CFG" --set "$(set_dir "$TMP/s3")" >"$TMP/score3.log" 2>&1 ||
  fail "score np 3: $(tail -5 "$TMP/score3.log")"
h5diff -r "$TMP/s1/results.h5" "$TMP/s3/results.h5" /scores /scores >"$TMP/diff.txt" 2>&1 ||
  fail "/scores differ between np 1 and np 3: $(grep -v '^0 differences' "$TMP/diff.txt" | head -5)"
"$PY" - "$TMP/s1/results.h5" <<'PY' || fail "/scores contents"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r", locking=False) as f:
    er, nr = f["scores/er"], f["scores/nr"]
    assert er["event"].shape == (200,) and nr["event"].shape == (200,)
    # the analysis split follows train (300) and test (100)
    assert list(er["event"][:3]) == [400, 401, 402], er["event"][:3]
    assert er.attrs["n_draws_total"] == er["attempts"][()].sum()
    assert abs(er.attrs["beta"] - 0.5) < 1e-12
    z, hb = nr["logit"][()], nr["h_b"][()]
    assert np.allclose(hb, np.logaddexp(0.0, z), rtol=1e-12, atol=0)
    # anomaly on events never trained on: NR l_rec above ER l_rec by >= 4 standard errors
    # (Welch; seen: 8.7)
    a, b = er["l_rec"][()], nr["l_rec"][()]
    t = (b.mean() - a.mean()) / np.sqrt(a.var() / a.size + b.var() / b.size)
    assert t > 4.0, t
    # the CNN term separates the banks: mean H_B of NR above 3x that of ER (seen: 6x)
    assert nr["h_b"][()].mean() > 3.0 * er["h_b"][()].mean()
    print("analysis split: l_rec Welch t %.1f, H_B NR/ER %.1f" % (t, nr["h_b"][()].mean() / er["h_b"][()].mean()))
PY

# 4. refusals.  A corrupt checkpoint: train stops naming it.
cp -r "$D" "$TMP/bad"
printf 'XX' | dd of="$TMP/bad/checkpoints/cnn.ckpt" bs=1 seek=300 conv=notrunc 2>/dev/null
expect_rc 1 "train with a corrupt checkpoint" $MPIRUN -n 2 "$DDSCAN" train "$CFG" --set "$(set_dir "$TMP/bad")"
grep -q "cnn.ckpt' is corrupt" "$LAST_ERR" || fail "corrupt checkpoint: $(cat "$LAST_ERR")"
# a checkpoint of another configuration: --resume refuses it, naming it and the mismatch
expect_rc 2 "resume with another beta" $MPIRUN -n 2 "$DDSCAN" train "$CFG" --set "$(set_dir "$D")" \
  --set nn.cvae.beta=0.7 --resume
grep -q "cvae.ckpt' was trained for another configuration" "$LAST_ERR" ||
  fail "foreign checkpoint: $(cat "$LAST_ERR")"
# score refuses checkpoints that do not belong to the configuration
expect_rc 2 "score with another beta" $MPIRUN -n 2 "$DDSCAN" score "$CFG" --set "$(set_dir "$D")" \
  --set nn.cvae.beta=0.7
grep -q "cvae.ckpt' was written with another configuration" "$LAST_ERR" ||
  fail "score with foreign checkpoint: $(cat "$LAST_ERR")"
pass
