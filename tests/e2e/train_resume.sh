#!/usr/bin/env bash
# train_resume.sh - `ddscan train` killed with SIGKILL (no cleanup at all)
# after a few epochs continues with --resume:
# 1. at the same rank count (2) the checkpoints are byte-identical to those of
#    an uninterrupted run and every dataset of /training (curves, CNN
#    metrics, example images) is the same bit for bit (timing columns excepted);
# 2. at another rank count (3) the results agree within tolerance: the
#    gradient sums round differently and Adam carries the difference on.  With
#    the summed reconstruction loss (nn.cvae.reconstruction = "sum") seen on
#    this schedule: CVAE curves (3 epochs at np 3) within 0.8 % of each curve's
#    largest magnitude, CNN curves (60 steps at np 3) within 2e-3; bounds: 2e-2
#    of the curve's scale,
#    accuracies and ROC areas within one test event of 100 per class, example
#    logits (which span -8..8) within 0.2 (seen 0.06).
set -u
. "$(dirname "$0")/../lib.sh"
CFG="$ROOT/configs/tiny.cfg"
export HDF5_USE_FILE_LOCKING=FALSE
# shorter than tiny.cfg's own schedule, long enough to be killed in the middle
SETS=(--set train.cvae.epochs=6 --set train.cnn.epochs=2)
set_dir() { echo "run.output_dir=\"$1\""; }
TIMING="wall_s images_per_s allreduce_share wait_share eval_s"

$MPIRUN -n 2 "$DDSCAN" simulate "$CFG" --set "$(set_dir "$TMP/ref")" -q >"$TMP/sim.log" 2>&1 ||
  fail "simulate: $(tail -5 "$TMP/sim.log")"
cp -r "$TMP/ref" "$TMP/k2"
cp -r "$TMP/ref" "$TMP/k3"
$MPIRUN -n 2 "$DDSCAN" train "$CFG" --set "$(set_dir "$TMP/ref")" "${SETS[@]}" >"$TMP/ref.log" 2>&1 ||
  fail "reference run: $(tail -5 "$TMP/ref.log")"

# kill_after DIR EPOCH_LINE: starts a training at np 2 and kill -9s its ranks
# once the log shows EPOCH_LINE (the checkpoint of that epoch is then on disk)
kill_after() {
  local d=$1 line=$2 log="$1.kill.log"
  $MPIRUN -n 2 "$DDSCAN" train "$CFG" --set "$(set_dir "$d")" "${SETS[@]}" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 1200); do
    grep -q "$line" "$log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  local ranks
  ranks=$(ps -o pid= --ppid "$pid" || true)
  [ -n "$ranks" ] || fail "no rank processes to kill (the run ended early: $(tail -c 300 "$log"))"
  kill -9 $ranks
  wait "$pid" && fail "the killed run exited 0"
  grep -q "train cnn: epoch 2/2" "$log" && fail "the run finished before it was killed"
  [ -f "$d/checkpoints/cvae.ckpt" ] || fail "no checkpoint after the kill"
}

same_curves() { # same_curves DIR WHAT RTOL: every non-timing dataset of /training
  "$PYTHON" - "$TMP/ref/results.h5" "$1/results.h5" "$3" "$TIMING" <<'PY' ||
import sys, h5py, numpy as np
ref, got, rtol, timing = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4].split()
with h5py.File(ref, "r", locking=False) as a, h5py.File(got, "r", locking=False) as b:
    names = []
    a["training"].visit(names.append)
    n = 0
    for k in names:
        if not isinstance(a["training"][k], h5py.Dataset) or k.split("/")[-1] in timing:
            continue
        x, y = a["training"][k][()], b["training"][k][()]
        if rtol == 0:
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), k
        elif "accuracy" in k or "auc" in k:
            # counts of events on either side of a threshold: one test event
            # (of 100 per class) may cross it
            assert np.allclose(x, y, rtol=0, atol=0.011, equal_nan=True), (k, x, y)
        elif "logit" in k:
            assert np.allclose(x, y, rtol=0, atol=0.2, equal_nan=True), (k, x, y)
        else:
            # relative to the curve's own scale: a KL term that crosses zero
            # has no meaningful element-wise relative difference
            scale = float(np.nanmax(np.abs(x))) if x.size else 0.0
            assert np.allclose(x, y, rtol=0, atol=rtol * scale, equal_nan=True), (k, x, y)
        n += 1
    assert n > 20, n
PY
    fail "$2: /training differs from the uninterrupted run"
}

# 1. killed during the CVAE's third epoch at np 2, resumed at np 2
kill_after "$TMP/k2" "cvae: epoch 2/6"
$MPIRUN -n 2 "$DDSCAN" train "$CFG" --set "$(set_dir "$TMP/k2")" "${SETS[@]}" --resume \
  >"$TMP/resume2.log" 2>&1 || fail "resume at np 2: $(tail -5 "$TMP/resume2.log")"
grep -q "train cvae: resuming" "$TMP/resume2.log" || fail "not resumed: $(head -c 800 "$TMP/resume2.log")"
for f in cvae.ckpt cnn.ckpt; do
  cmp "$TMP/ref/checkpoints/$f" "$TMP/k2/checkpoints/$f" >/dev/null ||
    fail "resumed $f differs from the uninterrupted run's"
done
same_curves "$TMP/k2" "resumed at np 2" 0
echo "killed after $(grep -c 'cvae: epoch' "$TMP/k2.kill.log") CVAE epochs; resumed at np 2: bitwise equal"

# 2. killed at np 2, resumed at np 3
kill_after "$TMP/k3" "cvae: epoch 3/6"
$MPIRUN -n 3 "$DDSCAN" train "$CFG" --set "$(set_dir "$TMP/k3")" "${SETS[@]}" --resume \
  >"$TMP/resume3.log" 2>&1 || fail "resume at np 3: $(tail -5 "$TMP/resume3.log")"
grep -q "on 3 rank(s)" "$TMP/resume3.log" || fail "not resumed at np 3: $(head -c 800 "$TMP/resume3.log")"
same_curves "$TMP/k3" "resumed at np 3" 2e-2
echo "resumed at np 3: curves within 2e-2 of their scale"
pass
