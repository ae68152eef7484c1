#!/usr/bin/env bash
# bench_score.sh - the streamed score stage (simulate -> render -> CVAE + CNN
# inference -> per-event record, in blocks), side by side in one run:
#  * events/s per rank at np 1, np 2 and np 1 again (the repeat brackets load
#    from elsewhere; the better np 1 round is the reference), and the np 2
#    parallel efficiency = rate(np 2) / (2 rate(np 1));
#  * the peak memory per rank the stage reports ("score: peak memory N MB per
#    rank") at N_SMALL and N_LARGE analysis events: it must not grow;
#  * a paper-scale estimate: hours for 10^6 ER + 10^6 NR analysis events on 64
#    ranks, from the measured np 1 rate and the np 2 efficiency.
# The networks are the paper's (configs/tiny.cfg architectures), trained for a
# few epochs on a small bank: inference cost does not depend on the training.
# Nothing is asserted.  Used by docs/performance.md "Score stage".
# usage: tools/bench/bench_score.sh
#   env: DDSCAN, MPIRUN, BENCH_SCORE_N=10000 (rate runs), BENCH_SCORE_SMALL=10000,
#        BENCH_SCORE_LARGE=100000 (set 1000000 for the issue's 10^6 point:
#        about half an hour per core)
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
DDSCAN=${DDSCAN:-$root/bin/ddscan}
MPIRUN=${MPIRUN:-mpirun}
N=${BENCH_SCORE_N:-10000}
SMALL=${BENCH_SCORE_SMALL:-10000}
LARGE=${BENCH_SCORE_LARGE:-100000}
export HDF5_USE_FILE_LOCKING=FALSE OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ddscan-bench-score.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cfg="$root/configs/tiny.cfg"
base="$tmp/base"
set_dir() { echo "run.output_dir=\"$1\""; }
"$MPIRUN" -n 1 "$DDSCAN" simulate "$cfg" --set "$(set_dir "$base")" -q &&
  "$MPIRUN" -n 1 "$DDSCAN" train "$cfg" --set "$(set_dir "$base")" -q ||
  { echo "simulate/train of the bench networks failed"; exit 1; }

now() { date +%s%N; }
score() { # NP NER NNR NAME -> prints "seconds peak_mb"
  local np=$1 ner=$2 nnr=$3 d="$tmp/$4"
  rm -rf "$d"
  cp -r "$base" "$d"
  local t0 t1
  t0=$(now)
  "$MPIRUN" -n "$np" "$DDSCAN" score "$cfg" --set "$(set_dir "$d")" \
    --set score.er_events="$ner" --set score.nr_events="$nnr" >"$d.log" 2>&1 ||
    { echo "score np $np failed: $(tail -3 "$d.log")" >&2; return 1; }
  t1=$(now)
  local mb
  mb=$(sed -n 's/.*score: peak memory \([0-9]*\) MB per rank.*/\1/p' "$d.log" | tail -1)
  rm -rf "$d"
  echo "$(((t1 - t0) / 1000000)) ${mb:-?}"
}

nnr=$((N / 10))
echo "rate runs: $N ER + $nnr NR analysis events, tiny.cfg networks, score.batch_size 100"
read -r ta ma < <(score 1 "$N" "$nnr" np1a) || exit 1
read -r tb mb < <(score 2 "$N" "$nnr" np2) || exit 1
read -r tc mc < <(score 1 "$N" "$nnr" np1b) || exit 1
[ "$tc" -lt "$ta" ] && ta=$tc
/usr/bin/python3 - "$N" "$nnr" "$ta" "$tb" "$ma" "$mb" <<'PY'
import sys
n, nnr, t1, t2 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) / 1e3, int(sys.argv[4]) / 1e3
ev = n + nnr
r1, r2 = ev / t1, ev / t2 / 2
eff = r2 / r1
print(f"  np 1: {t1:7.1f} s  {r1:8.0f} events/s per rank  (peak {sys.argv[5]} MB per rank)")
print(f"  np 2: {t2:7.1f} s  {r2:8.0f} events/s per rank  (peak {sys.argv[6]} MB per rank)")
print(f"  np 2 parallel efficiency: {eff:.2f}   (wall times include MPI start-up and the network load)")
paper = 2e6  # 10^6 ER + 10^6 NR analysis events
ranks = 64
e64 = min(eff, 1.0)
print(f"  paper scale (10^6 ER + 10^6 NR, {ranks} ranks at the np 2 efficiency): "
      f"{paper / (r1 * e64 * ranks) / 3600:.2f} h ({paper / (r1 * e64 * ranks) / 60:.1f} min)")
PY
echo "memory: np 1, $SMALL and $LARGE ER events (+10 % NR)"
read -r ts ms < <(score 1 "$SMALL" $((SMALL / 10)) mem_small) || exit 1
read -r tl ml < <(score 1 "$LARGE" $((LARGE / 10)) mem_large) || exit 1
echo "  $SMALL events: peak $ms MB per rank ($((ts / 1000)) s)"
echo "  $LARGE events: peak $ml MB per rank ($((tl / 1000)) s)"
if [ "$ms" != "?" ] && [ "$ml" != "?" ]; then
  echo "  ratio large/small: $(/usr/bin/python3 -c "print(f'{$ml/$ms:.3f}')")"
fi
