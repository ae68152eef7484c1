#!/usr/bin/env bash
# io_resume.sh - a scan killed with SIGKILL (no H5Fclose, no atexit) resumes:
# 1. deterministic: units 0..K-1 finish, every rank raises SIGKILL; reopening
#    "results.h5.tmp" at another rank count shows exactly those units done,
#    their data intact and the others still NaN; the rest is redone and the
#    final file equals an uninterrupted run;
# 2. realistic: kill -9 the ranks of a running scan at a moment chosen by the
#    clock; --resume redoes at most the units that were not reported done,
#    and the final file again equals an uninterrupted run.
set -u
. "$(dirname "$0")/../lib.sh"
MPI_IO=${DDSCAN_BUILD:-$ROOT/build}/tests/mpi_io
[ -x "$MPI_IO" ] || fail "$MPI_IO is not built (make tests)"
export HDF5_USE_FILE_LOCKING=FALSE
N_UNITS=18 # 3 masses x 6 R in tests/mpi_io.c

same_as_ref() { # same_as_ref DIR WHAT
  for g in /events /axes /scan; do
    h5diff "$TMP/ref/results.h5" "$1/results.h5" "$g" "$g" >"$TMP/h5diff.out" 2>&1 ||
      fail "$2: h5diff $g: $(head -c 600 "$TMP/h5diff.out")"
  done
  timeout 60 "$MPI_IO" compare "$TMP/ref/results.h5" "$1/results.h5" 2>"$TMP/cmp.err" ||
    fail "$2: $(cat "$TMP/cmp.err")"
}

timeout 120 $MPIRUN -n 2 "$MPI_IO" demo "$TMP/ref" >"$TMP/ref.log" 2>&1 ||
  fail "reference run: $(tail -c 600 "$TMP/ref.log")"

# 1. Deterministic crash points and rank counts.
for case in "3 7 2" "4 11 1" "1 1 3"; do
  set -- $case
  np_crash=$1 k=$2 np_resume=$3
  d="$TMP/crash_${np_crash}_$k"
  rc=0
  timeout 120 $MPIRUN -n "$np_crash" "$MPI_IO" crash "$d" "$k" >"$TMP/crash.log" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || fail "crash run exited 0"
  [ "$rc" -ne 124 ] || fail "crash run hung"
  grep -q "SIGKILL now" "$TMP/crash.log" || fail "crash run died early: $(tail -c 600 "$TMP/crash.log")"
  [ -f "$d/results.h5.tmp" ] || fail "no results.h5.tmp after the crash"
  # the final name still holds the previous stage's complete file, without /scan
  h5dump -H "$d/results.h5" >"$TMP/head.txt" 2>&1 || fail "results.h5 unreadable after the crash"
  ! grep -q 'GROUP "scan"' "$TMP/head.txt" || fail "results.h5 already has /scan"
  timeout 120 $MPIRUN -n "$np_resume" "$MPI_IO" check-resume "$d" "$k" >"$TMP/resume.log" 2>&1 ||
    fail "resume np $np_crash -> $np_resume after $k units: $(tail -c 800 "$TMP/resume.log")"
  grep -q "exactly $k units were done; redid $((N_UNITS - k))" "$TMP/resume.log" ||
    fail "resume report: $(cat "$TMP/resume.log")"
  [ ! -e "$d/results.h5.tmp" ] || fail "results.h5.tmp left after the resumed commit"
  same_as_ref "$d" "crash at np=$np_crash after $k units, resumed at np=$np_resume"
done

# 2. kill -9 from outside while units are being written.
d="$TMP/killed"
$MPIRUN -n 3 "$MPI_IO" demo "$d" --slow 150 >"$TMP/kill.log" 2>&1 &
mpirun_pid=$!
for _ in $(seq 1 1200); do
  [ "$(grep -c ' done on rank' "$TMP/kill.log")" -ge 4 ] && break
  kill -0 "$mpirun_pid" 2>/dev/null || break
  sleep 0.05
done
ranks=$(ps -o pid= --ppid "$mpirun_pid" || true)
[ -n "$ranks" ] || fail "no rank processes to kill (the run ended too early: $(tail -c 300 "$TMP/kill.log"))"
kill -9 $ranks
wait "$mpirun_pid" && fail "the killed run exited 0"
reported=$(grep -c ' done on rank' "$TMP/kill.log")
[ -f "$d/results.h5.tmp" ] || fail "no results.h5.tmp after kill -9"
timeout 120 $MPIRUN -n 2 "$MPI_IO" demo "$d" --resume >"$TMP/resume2.log" 2>&1 ||
  fail "resume after kill -9: $(tail -c 800 "$TMP/resume2.log")"
todo=$(sed -n 's/^demo: resumed, \([0-9]*\) units to do at start$/\1/p' "$TMP/resume2.log")
[ -n "$todo" ] || fail "the killed scan was not resumed: $(cat "$TMP/resume2.log")"
[ "$todo" -le $((N_UNITS - reported)) ] ||
  fail "resume redid $todo units although $reported of $N_UNITS were reported done"
echo "kill -9 after $reported reported units: resume redid $todo of $N_UNITS"
same_as_ref "$d" "kill -9 then --resume"
pass
