#!/usr/bin/env bash
# faults_ranks.sh - a rank that dies or stops ends the job:
# 1. SIGKILL of one rank of three: the job ends (non-zero, no hang), the .tmp
#    stays and results.h5 is untouched; --resume completes it;
# 2. SIGSTOP of one rank of three with run.watchdog_s = 3: the watchdog
#    (src/par/watchdog.c) ends the job with one message naming the stopped
#    rank and its stage; the stopped process is gone afterwards; --resume
#    completes it with the content of an uninterrupted run;
# 3. SIGSTOP of rank 0 (the watcher itself): rank 1's watchdog ends the job;
# 4. an error or an allocation failure on one rank while the others wait for
#    it in a collective (tests/mpi_par.c fault modes) ends the job with that
#    rank's message.
set -u
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/faults_lib.sh"

# references: /config holds the resolved text, run.watchdog_s included
for w in 600 3; do
  fresh "$TMP/ref$w"
  (cd "$TMP/ref$w" && timeout 300 $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg -q --set run.watchdog_s=$w) \
    >"$TMP/ref.log" 2>&1 || fail "reference scan: $(tail -c 600 "$TMP/ref.log")"
done

# start_job DIR ARGS...: a 3-rank scan in the background; sets $job
start_job() {
  local d=$1
  shift
  (cd "$d" && exec $MPIRUN -n 3 "$DDSCAN" scan ../scan.cfg "$@") >"$TMP/job.log" 2>&1 &
  job=$!
  wait_for 60 grep -q "work units (mass, R) on 3" "$TMP/job.log" ||
    fail "the job did not start its units: $(tail -c 600 "$TMP/job.log")"
}
after() { # after DIR WHAT WATCHDOG_S: the final name untouched, --resume completes the scan
  local d=$1 what=$2 w=$3
  [ -f "$d/run/results.h5.tmp" ] || fail "$what: no .tmp left"
  "$DDSCAN" info "$d/run/results.h5" >"$TMP/info.out" 2>&1 || fail "$what: results.h5 unreadable"
  grep -q "lacks:.*/scan (scan stage)" "$TMP/info.out" || fail "$what: results.h5 was replaced"
  # the same configuration text as the run it continues (/config is compared)
  (cd "$d" && timeout 300 $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg -q --resume --set run.watchdog_s=$w) >"$TMP/resume.log" 2>&1 ||
    fail "$what: --resume: $(tail -c 600 "$TMP/resume.log")"
  same "$TMP/ref$w/run/results.h5" "$d/run/results.h5" "$what, then --resume"
}

# 1. SIGKILL of rank 2
D=$TMP/kill
fresh "$D"
start_job "$D" --set run.watchdog_s=600
victim=$(rank_pid "$job" 2) || fail "no rank 2"
kill -KILL "$victim"
rc=0
wait_job "$job" 120 || rc=$?
[ "$rc" -ne 0 ] || fail "SIGKILL of rank 2: the job exited 0"
after "$D" "SIGKILL of rank 2" 600
echo "SIGKILL of rank 2: the job ended with exit $rc"

# 2. SIGSTOP of rank 1, watchdog 3 s
D=$TMP/stop
fresh "$D"
start_job "$D" --set run.watchdog_s=3
victim=$(rank_pid "$job" 1) || fail "no rank 1"
kill -STOP "$victim"
rc=0
wait_job "$job" 120 || rc=$?
[ "$rc" -ne 0 ] || fail "SIGSTOP of rank 1: the job exited 0"
[ "$(grep -c 'watchdog:' "$TMP/job.log")" -eq 1 ] || fail "not one watchdog message: $(head -c 1200 "$TMP/job.log")"
grep -q "watchdog: rank 1 of 3 has not responded for [0-9]* s (run.watchdog_s = 3; it was in stage 'scan')" \
  "$TMP/job.log" || fail "the watchdog does not name rank 1 and its stage: $(grep watchdog "$TMP/job.log")"
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
wait_for 30 gone "$victim" || {
  kill -KILL "$victim"
  fail "the stopped rank outlived the job: $(grep State "/proc/$victim/status")"
}
echo "SIGSTOP of rank 1: $(grep -o 'watchdog: rank 1[^:]*' "$TMP/job.log")"
after "$D" "SIGSTOP of rank 1" 3

# 3. SIGSTOP of rank 0: rank 1 watches it
D=$TMP/stop0
fresh "$D"
start_job "$D" --set run.watchdog_s=3
victim=$(rank_pid "$job" 0) || fail "no rank 0"
kill -STOP "$victim"
rc=0
wait_job "$job" 120 || rc=$?
[ "$rc" -ne 0 ] || fail "SIGSTOP of rank 0: the job exited 0"
grep -q "PANIC rank 1 .*watchdog: rank 0 of 3 has not responded" "$TMP/job.log" ||
  fail "rank 1 did not name the stopped rank 0: $(head -c 1200 "$TMP/job.log")"
after "$D" "SIGSTOP of rank 0" 3

# 4. one rank's own error, the others waiting in a collective
MPI_PAR=$BUILD/tests/mpi_par
[ -x "$MPI_PAR" ] || fail "$MPI_PAR is not built (make tests)"
for mode in stranded nomem; do
  mkdir -p "$TMP/$mode"
  (exec $MPIRUN -n 3 "$MPI_PAR" "$mode" "$TMP/$mode") >"$TMP/$mode.log" 2>&1 &
  job=$!
  rc=0
  wait_job "$job" 120 || rc=$?
  [ "$rc" -ne 0 ] || fail "$mode: the job exited 0: $(head -c 600 "$TMP/$mode.log")"
  [ "$(grep -c 'PANIC' "$TMP/$mode.log")" -eq 1 ] || fail "$mode: not one message: $(head -c 900 "$TMP/$mode.log")"
  case $mode in
  stranded) want="PANIC rank 1 .*injected read error on rank 1 .*the other ranks did not follow within 3 s" ;;
  nomem) want="PANIC rank 1 .*out of memory: allocating a buffer no machine has" ;;
  esac
  grep -q "$want" "$TMP/$mode.log" || fail "$mode: $(head -c 900 "$TMP/$mode.log")"
  echo "$mode: $(grep -o 'PANIC rank 1 [^:]*' "$TMP/$mode.log")"
done
pass
