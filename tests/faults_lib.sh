# faults_lib.sh - shared set-up of the tests/e2e/faults_*.sh scripts (sourced
# after lib.sh): synthetic scores in $TMP/src/run (no training needed), two
# scan configurations (fast; slow = toys units of ~0.3 s each) and helpers to
# find, stop and kill the ranks of a running job.
BUILD=${DDSCAN_BUILD:-$ROOT/build}
MPI_SCAN=$BUILD/tests/mpi_scan
MPI_IO=$BUILD/tests/mpi_io
[ -x "$MPI_SCAN" ] && [ -x "$MPI_IO" ] || fail "test programs are not built (make tests)"
export HDF5_USE_FILE_LOCKING=FALSE

# On any exit (a failure included) no rank of ours is left behind, stopped or
# running: the launchers are this script's children, the ranks theirs.
faults_kill_jobs() {
  local c
  for c in $(ps -o pid= --ppid $$); do
    pkill -KILL -P "$c" 2>/dev/null
    kill -KILL "$c" 2>/dev/null
  done
}
faults_cleanup() {
  faults_kill_jobs
  rm -rf "$TMP"
}
trap faults_cleanup EXIT

# output_dir is relative, so every copy has the same configuration text
cat >"$TMP/scan.cfg" <<'CFG'
run = { name = "faults"; seed = 5; output_dir = "run"; };
scan = {
  mass_gev = [10.0, 50.0, 500.0];
  sigma_cm2 = { log_from = 1e-48; log_to = 1e-45; points = 3; };
  exposure_ty = [0.5, 2.0, 10.0, 50.0];
  r = [0.0, 100.0, 170.0, 250.0];
  methods = ["sound", "toys"];
  min_effective_events = 100.0;
};
stats = { toys = { count = 30; importance = false; }; binning = { rule = "quantile"; bins = 20; }; };
CFG

mkdir -p "$TMP/src"
(cd "$TMP/src" && timeout 120 $MPIRUN -n 2 "$MPI_SCAN" scores ../scan.cfg --er 1000 --nr 1000) \
  >"$TMP/scores.log" 2>&1 || fail "synthetic scores: $(tail -c 600 "$TMP/scores.log")"

fresh() { # fresh DIR: a run directory holding only the scores
  rm -rf "$1"
  mkdir -p "$1"
  cp -r "$TMP/src/run" "$1/"
}

# same A B WHAT: the scan's content of two results files is identical
same() {
  timeout 120 $MPIRUN -n 2 "$MPI_IO" compare "$1" "$2" >/dev/null 2>"$TMP/cmp.err" ||
    fail "$3: $(grep 'compare:' "$TMP/cmp.err" | head -c 600)"
  for g in /scan /contours /templates /axes /scores; do
    h5diff "$1" "$2" "$g" "$g" >"$TMP/h5diff.out" 2>&1 ||
      fail "$3: h5diff $g: $(head -c 400 "$TMP/h5diff.out")"
  done
}

# rank_pid LAUNCHER_PID RANK: the pid of that rank among the launcher's children
rank_pid() {
  local p
  for p in $(ps -o pid= --ppid "$1"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s; 1 if it never succeeded
wait_for() {
  local n=$(($1 * 10))
  shift
  for _ in $(seq 1 "$n"); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# wait_job PID SECONDS: waits for a background job; its exit status, or fails
# the test (after killing it) when it is still running then (a hang)
wait_job() {
  local pid=$1 n=$(($2 * 10))
  for _ in $(seq 1 "$n"); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    pkill -KILL -P "$pid" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null
    pkill -CONT -P "$pid" 2>/dev/null
    fail "the job did not end within $2 s (a hang)"
  fi
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}
