#!/usr/bin/env bash
# score_stream.sh - the streamed score stage on configs/tiny.cfg with analysis
# samples far beyond the bank's analysis split:
# 1. the first events are the bank's (the same /scores rows as a sample of
#    exactly the analysis split) and the rest follow from (seed, class, index);
# 2. np 1 and np 3 write bitwise the same /scores;
# 3. kill -9 in the middle at np 2, then --resume at np 3, equals the
#    uninterrupted run and redoes only unmarked blocks;
# 4. peak memory per rank does not grow with the sample (4x the events,
#    within 10 %), as the stage reports it;
# 5. an analysis sample of 0 is refused at configuration time, naming the key.
set -u
. "$(dirname "$0")/../lib.sh"
CFG="$ROOT/configs/tiny.cfg"
export HDF5_USE_FILE_LOCKING=FALSE
D="$TMP/run"
dir() { echo "run.output_dir=\"$1\""; }

$MPIRUN -n 2 "$DDSCAN" simulate "$CFG" --set "$(dir "$D")" -q >"$TMP/sim.log" 2>&1 ||
  fail "simulate: $(tail -5 "$TMP/sim.log")"
$MPIRUN -n 2 "$DDSCAN" train "$CFG" --set "$(dir "$D")" -q >"$TMP/train.log" 2>&1 ||
  fail "train: $(tail -5 "$TMP/train.log")"
for d in small a b c; do cp -r "$D" "$TMP/$d"; done

scores_equal() { # A B WHAT
  for g in /scores/er /scores/nr; do
    h5diff -c "$1" "$2" "$g" "$g" >"$TMP/diff.out" 2>&1 || fail "$3: $g differs: $(head -c 400 "$TMP/diff.out")"
  done
}

# 1. the default sample is the bank's analysis split (200 + 200); a larger one starts with it
"$DDSCAN" score "$CFG" --set "$(dir "$TMP/small")" >"$TMP/small.log" 2>&1 || fail "score: $(tail -3 "$TMP/small.log")"
BIG=(--set score.er_events=3000 --set score.nr_events=700 --set score.block_batches=1)
$MPIRUN -n 1 "$DDSCAN" score "$CFG" --set "$(dir "$TMP/a")" "${BIG[@]}" >"$TMP/a.log" 2>&1 ||
  fail "score np 1: $(tail -3 "$TMP/a.log")"
/usr/bin/python3 - "$TMP/small/results.h5" "$TMP/a/results.h5" <<'PY' || fail "the large sample does not start with the bank's analysis split"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r", locking=False) as s, h5py.File(sys.argv[2], "r", locking=False) as b:
    for g, n in (("scores/er", 3000), ("scores/nr", 700)):
        assert b[g + "/event"].shape == (n,), (g, b[g + "/event"].shape)
        k = s[g + "/event"].shape[0]
        for name in ("event", "l_rec", "kl", "logit", "h_b", "cs1", "cs2", "energy_kev", "attempts", "weight"):
            assert np.array_equal(s[g + "/" + name][()], b[g + "/" + name][:k]), (g, name)
        ev = b[g + "/event"][()]
        assert np.array_equal(np.diff(ev), np.ones(n - 1, dtype=ev.dtype)), "events not consecutive"
        assert b[g].attrs["n_draws_total"] == b[g + "/attempts"][()].sum()
    assert b["scores/done"][()].min() == 1
PY

# 2. np 3 equals np 1
$MPIRUN -n 3 "$DDSCAN" score "$CFG" --set "$(dir "$TMP/b")" "${BIG[@]}" >"$TMP/b.log" 2>&1 ||
  fail "score np 3: $(tail -3 "$TMP/b.log")"
scores_equal "$TMP/a/results.h5" "$TMP/b/results.h5" "np 1 vs np 3"

# 3. kill -9 after some blocks, resume at another rank count
$MPIRUN -n 2 "$DDSCAN" score "$CFG" --set "$(dir "$TMP/c")" "${BIG[@]}" >"$TMP/c.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  grep -q "score ER: [1-9]" "$TMP/c.log" 2>/dev/null && break
  sleep 0.1
done
kill -9 $pid 2>/dev/null
pkill -9 -f "ddscan score.*$TMP/c" 2>/dev/null
wait $pid 2>/dev/null
[ -f "$TMP/c/results.h5.tmp" ] || fail "no unfinished .tmp after the kill (the run ended too soon?)"
$MPIRUN -n 3 "$DDSCAN" score "$CFG" --set "$(dir "$TMP/c")" "${BIG[@]}" --resume >"$TMP/r.log" 2>&1 ||
  fail "resume: $(tail -3 "$TMP/r.log")"
grep -q "score: resuming: [1-9][0-9]* of 37 blocks already scored" "$TMP/r.log" ||
  fail "the resume redid everything: $(grep -i resum "$TMP/r.log")"
scores_equal "$TMP/a/results.h5" "$TMP/c/results.h5" "killed + resumed vs uninterrupted"

# 4. memory per rank does not grow with the sample
peak() { sed -n 's/.*score: peak memory \([0-9]*\) MB per rank.*/\1/p' "$1"; }
p_small=$(peak "$TMP/small.log")
p_big=$(peak "$TMP/a.log")
[ -n "$p_small" ] && [ -n "$p_big" ] || fail "the score stage reports no peak memory"
echo "peak memory per rank: $p_small MB (400 events), $p_big MB (3700 events)"
[ "$p_big" -le $((p_small * 110 / 100)) ] || fail "memory grows with the sample: $p_small -> $p_big MB"

# 5. an empty analysis sample is a configuration error
"$DDSCAN" check-config "$CFG" --set score.er_events=0 >/dev/null 2>"$LAST_ERR" &&
  fail "score.er_events = 0 was accepted"
grep -q "score.er_events" "$LAST_ERR" || fail "score.er_events = 0: $(cat "$LAST_ERR")"
pass
