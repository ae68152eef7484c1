#!/usr/bin/env bash
# faults_lock.sh - the output-directory lock (src/io/lock.c):
# 1. a second run on a directory a first run is writing refuses at once with
#    exit 2 and one message naming the holder (host, pid, command), touching
#    neither results.h5 nor results.h5.tmp; so do --resume and a merge into
#    that directory; the first run then completes with the same content as a
#    run alone;
# 2. readers (`ddscan info`, h5py) of results.h5 succeed while the run writes;
# 3. a run killed with SIGKILL leaves no stale lock: the next run starts;
# 4. the shards of one array run side by side, the same shard twice does not,
#    and a whole run is refused while a shard writes.
set -u
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/faults_lib.sh"

# the reference: one run alone
fresh "$TMP/ref"
(cd "$TMP/ref" && timeout 300 $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg -q) >"$TMP/ref.log" 2>&1 ||
  fail "reference scan: $(tail -c 600 "$TMP/ref.log")"

# 1. two runs, one directory.  The first is held still with SIGSTOP while the
# second tries (so the test never depends on how fast the first one is).
D=$TMP/two
fresh "$D"
(cd "$D" && exec $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg) >"$TMP/first.log" 2>&1 &
first=$!
wait_for 60 test -s "$D/run/results.h5.tmp" || fail "the first run made no .tmp: $(tail -c 600 "$TMP/first.log")"
wait_for 60 grep -q "work units" "$TMP/first.log" || fail "the first run did not start its units"
r0=$(rank_pid "$first" 0) && r1=$(rank_pid "$first" 1) || fail "no rank processes of the first run"
kill -STOP "$r0" "$r1"
snap() { md5sum "$D/run/results.h5" "$D/run/results.h5.tmp"; stat -c '%s %Y' "$D/run/results.h5" "$D/run/results.h5.tmp"; }
before=$(snap)
grep -q "pid $r0," "$D/run/.ddscan.lock" || fail "the lock file does not name rank 0 (pid $r0): $(cat "$D/run/.ddscan.lock")"
check_refused() { # WHAT: the last command was refused naming the holder
  [ "$(grep -c 'ddscan: error' "$LAST_ERR")" -eq 1 ] || fail "$1: not one error line: $(cat "$LAST_ERR")"
  grep -q "is in use by another ddscan run (host [^,]*, pid $r0, started [0-9T:-]*Z, command: .*ddscan scan ../scan.cfg)" \
    "$LAST_ERR" || fail "$1: the holder is not named: $(cat "$LAST_ERR")"
}
cd "$D"
expect_rc 2 "second run, np 1" timeout 60 "$DDSCAN" scan ../scan.cfg
check_refused "second run"
expect_rc 2 "second run, np 2" timeout 60 $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg
check_refused "second run at np 2"
expect_rc 2 "second run with --resume" timeout 60 "$DDSCAN" scan ../scan.cfg --resume
check_refused "--resume"
expect_rc 2 "the whole pipeline" timeout 60 "$DDSCAN" ../scan.cfg
check_refused "pipeline"
expect_rc 2 "merge into the directory" timeout 60 "$DDSCAN" merge run/merged.h5 run/results.h5
check_refused "merge"
cd "$TMP"
[ "$(snap)" = "$before" ] || fail "a refused run touched results.h5 or results.h5.tmp"
[ ! -e "$D/run/merged.h5" ] && [ ! -e "$D/run/merged.h5.tmp" ] || fail "a refused merge wrote its output"

# 2. readers while the first run writes (its .tmp open; then running again)
n_reads=0
read_once() {
  "$DDSCAN" info "$D/run/results.h5" >"$TMP/info.out" 2>"$TMP/info.err" ||
    fail "info during the write: $(cat "$TMP/info.err")"
  "$PYTHON" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r',locking=False); assert f['scores/er/h_b'].shape[0]==1000" \
    "$D/run/results.h5" 2>"$TMP/py.err" || fail "h5py during the write: $(tail -3 "$TMP/py.err")"
  n_reads=$((n_reads + 1))
}
read_once
kill -CONT "$r0" "$r1"
while kill -0 "$first" 2>/dev/null && [ "$n_reads" -lt 40 ]; do
  read_once
done
rc=0
wait_job "$first" 300 || rc=$?
[ "$rc" -eq 0 ] || fail "the first run failed after the refusals (exit $rc): $(tail -c 600 "$TMP/first.log")"
echo "$n_reads reads (info + h5py) during the write succeeded"
same "$TMP/ref/run/results.h5" "$D/run/results.h5" "the first run after a second one was refused"

# 3. kill -9: the kernel drops the lock, the next run starts at once
K=$TMP/killed
fresh "$K"
(cd "$K" && exec $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg) >"$TMP/k.log" 2>&1 &
job=$!
wait_for 60 test -s "$K/run/results.h5.tmp" || fail "the run to kill made no .tmp"
pkill -KILL -P "$job"
wait_job "$job" 60 && fail "the killed run exited 0"
(cd "$K" && timeout 300 $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg --resume) >"$TMP/k2.log" 2>&1 ||
  fail "a run after kill -9 (stale lock?): $(tail -c 600 "$TMP/k2.log")"
same "$TMP/ref/run/results.h5" "$K/run/results.h5" "kill -9, then --resume"

# 4. shards: side by side yes, the same shard twice no, a whole run no
S=$TMP/shards
fresh "$S"
(cd "$S" && exec $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg --shard 0/2) >"$TMP/s0.log" 2>&1 &
s0=$!
wait_for 60 test -s "$S/run/results.shard-0-of-2.h5.tmp" || fail "shard 0 made no .tmp: $(tail -c 400 "$TMP/s0.log")"
r0=$(rank_pid "$s0" 0) && r1=$(rank_pid "$s0" 1) || fail "no rank processes of shard 0"
kill -STOP "$r0" "$r1"
cd "$S"
expect_rc 2 "the same shard twice" timeout 60 "$DDSCAN" scan ../scan.cfg --shard 0/2
grep -q "pid $r0," "$LAST_ERR" || fail "the same shard: holder not named: $(cat "$LAST_ERR")"
expect_rc 2 "a whole run during a shard" timeout 60 "$DDSCAN" scan ../scan.cfg
grep -q "a \`scan --shard\` run: host [^,]*, pid $r0," "$LAST_ERR" ||
  fail "a whole run during a shard: holder not named: $(cat "$LAST_ERR")"
expect_rc 0 "another shard side by side" timeout 300 "$DDSCAN" scan ../scan.cfg --shard 1/2 -q
cd "$TMP"
kill -CONT "$r0" "$r1"
rc=0
wait_job "$s0" 300 || rc=$?
[ "$rc" -eq 0 ] || fail "shard 0 failed (exit $rc): $(tail -c 600 "$TMP/s0.log")"
(cd "$S" && timeout 120 "$DDSCAN" merge run/results.h5 run/results.shard-0-of-2.h5 \
  run/results.shard-1-of-2.h5) >"$TMP/merge.log" 2>&1 || fail "merge: $(tail -c 600 "$TMP/merge.log")"
same "$TMP/ref/run/results.h5" "$S/run/results.h5" "shards run side by side, merged"
pass
