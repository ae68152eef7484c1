#!/usr/bin/env bash
# scan.sh - `ddscan scan`, `merge` and `info` on synthetic scores, as users run
# them: the same scores give bitwise identical files at np 1 and np 3
# (provenance excluded); shards (explicit and from SLURM's array variables)
# merged equal a single run, and merging twice is harmless; a missing,
# truncated or mismatched shard makes the merge fail naming it; kill -9 during
# a scan, then --resume, gives the content of an uninterrupted run and redoes
# only unfinished units; a scan without scores names the file, the dataset
# and the stage to run; info summarises complete, shard and scores-only files.
set -u
. "$(dirname "$0")/../lib.sh"
BUILD=${DDSCAN_BUILD:-$ROOT/build}
MPI_SCAN=$BUILD/tests/mpi_scan
MPI_IO=$BUILD/tests/mpi_io
[ -x "$MPI_SCAN" ] && [ -x "$MPI_IO" ] || fail "test programs are not built (make tests)"
export HDF5_USE_FILE_LOCKING=FALSE

# output_dir is relative, so every copy below has the same configuration text
cat >"$TMP/scan.cfg" <<'CFG'
run = { name = "e2e"; seed = 5; output_dir = "run"; };
scan = {
  mass_gev = [10.0, 50.0, 500.0];
  sigma_cm2 = { log_from = 1e-48; log_to = 1e-45; points = 7; };
  exposure_ty = [0.5, 2.0, 10.0, 50.0];
  r = [0.0, 100.0, 170.0, 250.0];
  methods = ["paper", "sound", "classical"];
  min_effective_events = 100.0;
};
stats = { binning = { rule = "quantile"; bins = 20; }; };
CFG
# slower units (toys) for the kill -9 test: about 0.3 s each
sed -e 's/methods = \["paper", "sound", "classical"\];/methods = ["sound", "toys"];/' \
  -e 's/points = 7;/points = 3;/' -e 's/^stats = {/stats = { toys = { count = 120; importance = false; };/' \
  "$TMP/scan.cfg" >"$TMP/slow.cfg"

same() { # same A B WHAT
  timeout 120 $MPIRUN -n 2 "$MPI_IO" compare "$1" "$2" >/dev/null 2>"$TMP/cmp.err" ||
    fail "$3: $(grep 'compare:' "$TMP/cmp.err" | head -c 600)"
  for g in /scan /contours /templates /spectra /axes /scores; do
    h5diff "$1" "$2" "$g" "$g" >"$TMP/h5diff.out" 2>&1 ||
      fail "$3: h5diff $g: $(head -c 400 "$TMP/h5diff.out")"
  done
}
fresh() { # fresh DIR: a run directory holding only the scores
  mkdir -p "$1"
  cp -r "$TMP/src/run" "$1/"
}
scan() { # scan DIR NP ARGS...
  local d=$1 np=$2
  shift 2
  (cd "$d" && timeout 300 $MPIRUN -n "$np" "$DDSCAN" scan "$@") >"$TMP/scan.log" 2>&1 ||
    fail "scan in $d at np=$np $*: $(tail -c 800 "$TMP/scan.log")"
}

mkdir -p "$TMP/src"
(cd "$TMP/src" && timeout 120 $MPIRUN -n 2 "$MPI_SCAN" scores ../scan.cfg --er 3000 --nr 3000) \
  >"$TMP/scores.log" 2>&1 || fail "synthetic scores: $(tail -c 600 "$TMP/scores.log")"
expect_rc 0 "check-config" "$DDSCAN" check-config "$TMP/scan.cfg"
grep -q '^# config hash: [0-9a-f]\{16\} ' "$TMP/last.out" || fail "check-config prints no config hash"

# 1. np invariance
fresh "$TMP/np1"
fresh "$TMP/np3"
scan "$TMP/np1" 1 ../scan.cfg
grep -q 'scan: 12/12 (100%)' "$TMP/scan.log" || fail "no final progress line: $(cat "$TMP/scan.log")"
grep -q 'effective sample size' "$TMP/scan.log" || fail "no effective sample size in the log"
scan "$TMP/np3" 3 ../scan.cfg
REF=$TMP/np1/run/results.h5
[ ! -e "$REF.tmp" ] || fail "results.h5.tmp left behind"
same "$REF" "$TMP/np3/run/results.h5" "np=1 vs np=3"
h5dump "$REF" >/dev/null 2>"$TMP/dump.err" || fail "h5dump: $(head -c 300 "$TMP/dump.err")"

# 2. shards (--shard and SLURM's variables) and merge, twice
fresh "$TMP/sh"
scan "$TMP/sh" 1 ../scan.cfg --shard 0/3
(cd "$TMP/sh" && SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=0 \
  SLURM_ARRAY_TASK_STEP=1 timeout 120 $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg) >"$TMP/s1.log" 2>&1 ||
  fail "shard from SLURM variables: $(tail -c 600 "$TMP/s1.log")"
scan "$TMP/sh" 3 ../scan.cfg --shard 2/3 --resume
S=$TMP/sh/run
for i in 0 1 2; do [ -f "$S/results.shard-$i-of-3.h5" ] || fail "no shard file $i of 3"; done
for pass in 1 2; do
  (cd "$TMP/sh" && timeout 120 $MPIRUN -n 2 "$DDSCAN" merge run/results.h5 run/results.shard-2-of-3.h5 \
    run/results.shard-0-of-3.h5 run/results.shard-1-of-3.h5) >"$TMP/merge.log" 2>&1 ||
    fail "merge pass $pass: $(tail -c 600 "$TMP/merge.log")"
  same "$REF" "$S/results.h5" "merged shards (pass $pass) vs a single run"
done

# 3. merges that must fail, naming the file
expect_rc 1 "merge without shard 1" $MPIRUN -n 2 "$DDSCAN" merge "$TMP/bad.h5" "$S/results.shard-0-of-3.h5" \
  "$S/results.shard-2-of-3.h5"
grep -q "missing shard 1 of 3" "$LAST_ERR" || fail "missing shard: $(cat "$LAST_ERR")"
[ ! -e "$TMP/bad.h5" ] || fail "a failed merge left its output"
head -c 40000 "$S/results.shard-1-of-3.h5" >"$TMP/trunc.h5"
expect_rc 1 "merge with a truncated shard" "$DDSCAN" merge "$TMP/bad.h5" "$S/results.shard-0-of-3.h5" \
  "$TMP/trunc.h5" "$S/results.shard-2-of-3.h5"
grep -q "trunc.h5" "$LAST_ERR" || fail "truncated shard not named: $(cat "$LAST_ERR")"
fresh "$TMP/other"
scan "$TMP/other" 1 ../scan.cfg --shard 1/3 --set stats.binning.bins=12 \
  --set scan.min_effective_events=1000.0
grep -q "warning: scan: 10 GeV: effective sample size [0-9]* < scan.min_effective_events = 1000" \
  "$TMP/scan.log" || fail "no effective-sample-size warning: $(cat "$TMP/scan.log")"
expect_rc 1 "merge with a shard of another configuration" "$DDSCAN" merge "$TMP/bad.h5" \
  "$S/results.shard-0-of-3.h5" "$TMP/other/run/results.shard-1-of-3.h5" "$S/results.shard-2-of-3.h5"
grep -q "other/run/results.shard-1-of-3.h5' has config_hash" "$LAST_ERR" ||
  fail "mismatched shard: $(cat "$LAST_ERR")"
expect_rc 2 "merge with no shard" "$DDSCAN" merge "$TMP/bad.h5"

# 4. info
expect_rc 0 "info" "$DDSCAN" info "$S/results.h5"
for want in "status:  complete" "units        12 of 12" "R_opt" "sound" "effective sample size" \
  "scores nr: 3000 events"; do
  grep -qF "$want" "$TMP/last.out" || fail "info lacks '$want': $(cat "$TMP/last.out")"
done
expect_rc 0 "info on a shard" "$DDSCAN" info "$S/results.shard-1-of-3.h5"
grep -q "shard 1 of 3" "$TMP/last.out" || fail "info on a shard: $(cat "$TMP/last.out")"
expect_rc 0 "info on scores only" "$DDSCAN" info "$TMP/src/run/results.h5"
grep -q "lacks:.*/scan (scan stage)" "$TMP/last.out" || fail "info on scores: $(cat "$TMP/last.out")"
expect_rc 1 "info on a missing file" "$DDSCAN" info "$TMP/nope.h5"

# 5. bad inputs
mkdir -p "$TMP/empty"
expect_rc 1 "scan without results.h5" env -C "$TMP/empty" "$DDSCAN" scan ../scan.cfg
grep -q "run/results.h5' does not exist.*score" "$LAST_ERR" || fail "no results.h5: $(cat "$LAST_ERR")"
fresh "$TMP/nonr"
"$PYTHON" -c "import h5py,sys; f=h5py.File(sys.argv[1],'a'); del f['scores/nr']; f.close()" \
  "$TMP/nonr/run/results.h5" || fail "h5py could not edit the copy"
expect_rc 1 "scan without /scores/nr" env -C "$TMP/nonr" "$DDSCAN" scan ../scan.cfg
grep -q "run/results.h5' has no /scores/nr.*ddscan score CONFIG" "$LAST_ERR" ||
  fail "no /scores/nr: $(cat "$LAST_ERR")"
n=$(grep -c 'ddscan: error\|DD_ERR' "$LAST_ERR")
[ "$n" -eq 1 ] || fail "$n error messages instead of one: $(cat "$LAST_ERR")"
expect_rc 2 "bad SLURM task" env -C "$TMP/np1" SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_COUNT=3 \
  "$DDSCAN" scan ../scan.cfg
grep -q "pass --shard I/N" "$LAST_ERR" || fail "bad SLURM task: $(cat "$LAST_ERR")"
fresh "$TMP/one"
expect_rc 0 "--shard 0/1" env -C "$TMP/one" SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 \
  "$DDSCAN" scan ../scan.cfg --shard 0/1 -q
[ -f "$TMP/one/run/results.h5" ] && ! ls "$TMP/one/run/"*shard* >/dev/null 2>&1 ||
  fail "--shard 0/1 did not write results.h5"

# 6. kill -9 during a scan, then --resume
fresh "$TMP/slowref"
fresh "$TMP/killed"
scan "$TMP/slowref" 2 ../slow.cfg
K=$TMP/killed/run/results.h5.tmp
(cd "$TMP/killed" && exec $MPIRUN -n 3 "$DDSCAN" scan ../slow.cfg) >"$TMP/kill.log" 2>&1 &
mpirun_pid=$!
done_units() { # units marked done in the .tmp (0 until the mask exists)
  h5dump -d /scan/done -A 0 -y -w 0 "$K" 2>/dev/null | sed -n '/DATA {/,/}/p' | grep -o 1 | wc -l
}
seen=0
for _ in $(seq 1 600); do
  seen=$(done_units)
  [ "$seen" -ge 3 ] && break
  kill -0 "$mpirun_pid" 2>/dev/null || break
  sleep 0.05
done
ranks=$(ps -o pid= --ppid "$mpirun_pid" || true)
[ -n "$ranks" ] || fail "the scan ended before it could be killed: $(tail -c 300 "$TMP/kill.log")"
kill -9 $ranks
wait "$mpirun_pid" && fail "the killed scan exited 0"
[ -f "$K" ] || fail "no results.h5.tmp after kill -9"
before=$(done_units)
[ "$before" -lt 12 ] || fail "every unit was done before the kill; the test proves nothing"
scan "$TMP/killed" 2 ../slow.cfg --resume
todo=$(sed -n 's/.*scan: resuming: \([0-9]*\) of 12 units already done, \([0-9]*\) to do/\2/p' "$TMP/scan.log")
[ -n "$todo" ] || fail "the killed scan was not resumed: $(cat "$TMP/scan.log")"
[ "$todo" -eq $((12 - before)) ] || fail "resume redid $todo units; $before were done on disk"
echo "kill -9 with $before of 12 units on disk: --resume redid $todo"
same "$TMP/slowref/run/results.h5" "$TMP/killed/run/results.h5" "kill -9 then --resume"
pass
