#!/usr/bin/env bash
# bench_train.sh - data-parallel training throughput, side by side in one run:
# `ddscan train` on the same banks at np 1, np 2 and np 1 again (the repeat
# brackets load from elsewhere), the paper's CVAE and CNN at minibatch 100.
# Prints training images/s per rank count (the best epoch of each run: the
# least disturbed by other processes), the speed-up, the parallel efficiency
# and the share of the step time spent in the gradient MPI_Allreduce, and
# the measured cost of one allreduce of the flat gradient (timed after a
# barrier, so waiting for a slower rank is reported apart as "wait").  Nothing is
# asserted.  Used by docs/performance.md "Training".
# usage: tools/bench/bench_train.sh   (env: DDSCAN, BENCH_TRAIN_EPOCHS=2, BENCH_TRAIN_N=1200)
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
DDSCAN=${DDSCAN:-$root/bin/ddscan}
MPIRUN=${MPIRUN:-mpirun}
PY=/usr/bin/python3
EPOCHS=${BENCH_TRAIN_EPOCHS:-2}
N=${BENCH_TRAIN_N:-1200}
export HDF5_USE_FILE_LOCKING=FALSE OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ddscan-bench-train.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/bench.cfg" <<EOF
run = { name = "bench_train"; seed = 5; output_dir = "$tmp/base"; };
scan = { mass_gev = [50.0]; sigma_cm2 = [1e-45]; exposure_ty = [1.0]; r = [0.0]; };
detector = {
  bank = { er_train = $N; er_test = 100; er_analysis = 1;
           nr_train = $N; nr_test = 100; nr_analysis = 1; };
  ceiling = { events = 0; };
};
train = { cvae = { epochs = $EPOCHS; }; cnn = { epochs = $EPOCHS; }; examples = 0; };
EOF
"$MPIRUN" -n 1 "$DDSCAN" simulate "$tmp/bench.cfg" -q || exit 1
echo "banks: $N ER + $N NR training images, minibatch 100, $EPOCHS epochs per model and run"
i=0
for np in 1 2 1; do
  i=$((i + 1))
  d="$tmp/run$i"
  cp -r "$tmp/base" "$d"
  "$MPIRUN" -n $np "$DDSCAN" train "$tmp/bench.cfg" --set "run.output_dir=\"$d\"" -q ||
    { echo "train at np $np failed"; exit 1; }
  echo "$np $d/results.h5" >>"$tmp/runs.txt"
done
# what one of 64 ranks computes per step at minibatch 100: a slice of 2
# images, plus the whole Adam update (one epoch at np 1, minibatch 2)
d="$tmp/run_b2"
cp -r "$tmp/base" "$d"
"$MPIRUN" -n 1 "$DDSCAN" train "$tmp/bench.cfg" --set "run.output_dir=\"$d\"" -q \
  --set train.cvae.batch_size=2 --set train.cnn.batch_size=2 --set train.cvae.epochs=1 \
  --set train.cnn.epochs=1 || { echo "train at minibatch 2 failed"; exit 1; }
echo "b2 $d/results.h5" >>"$tmp/runs.txt"
"$PY" - "$tmp/runs.txt" <<'PY'
import sys, h5py, numpy as np
runs = [l.split() for l in open(sys.argv[1])]
rows, b2 = {}, {}
for np_, path in runs:
    if np_ == "b2":
        with h5py.File(path, "r", locking=False) as f:
            for m in ("cvae", "cnn"):
                b2[m] = f["training"][m]["images_per_s"][()].max()
        continue
    with h5py.File(path, "r", locking=False) as f:
        for m in ("cvae", "cnn"):
            g = f["training"][m]
            ips, sh, wt = g["images_per_s"][()], g["allreduce_share"][()], g["wait_share"][()]
            b = int(np.argmax(ips))
            rows.setdefault(m, []).append((int(np_), ips[b], sh[b], int(g.attrs["n_weights"]),
                                           int(g.attrs["batch_size"]), wt[b]))
print("%-5s %10s %10s %10s %9s %10s %14s %9s %15s" % ("model", "np1 img/s", "np2 img/s",
      "np1 again", "speed-up", "efficiency", "allreduce np2", "wait np2", "allreduce/step"))
for m, r in rows.items():
    one = max(r[0][1], r[2][1])          # the better np-1 round
    two, share = r[1][1], r[1][2]
    step = r[1][4] / two                 # seconds per step at np 2
    print("%-5s %10.0f %10.0f %10.0f %8.2fx %9.0f %% %12.1f %% %7.1f %% %12.2f ms" %
          (m, r[0][1], two, r[2][1], two / one, 100 * two / (2 * one), 100 * share,
           100 * r[1][5], 1e3 * share * step))
    print("      %d weights: one allreduce moves %.1f MB of float32 gradient; per image "
          "%.2f ms at np 1 (minibatch 100); a step on a slice of 2 images (Adam included) "
          "%.2f ms" % (r[0][3], 4e-6 * r[0][3], 1e3 / one, 2e3 / b2[m]))
PY
