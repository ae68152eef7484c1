#!/usr/bin/env bash
# run.sh - runs every ddscan test and prints a summary; exits non-zero on any
# failure.  usage: tests/run.sh BUILD_DIR BIN_DIR
#   BUILD_DIR/tests/test_*   unit tests (cmocka), one process
#   BUILD_DIR/tests/mpi_*    MPI tests, under mpirun -n 1, 2, 3 and 4
#   tests/e2e/*.sh           end-to-end scripts (get $DDSCAN, $NP_LIST)
#   tests/py/*.py            Python checks of results files, under $PYTHON
# Set TESTS=pattern to run only the tests whose name contains it (several
# patterns separated by '|': any of them; ^pattern: the name starts with it,
# so ^test_ is the unit tests without py/test_*); NP_LIST="1 3" for other
# rank counts than 1 2 3 4.
set -u
build=${1:-build}
bin=${2:-bin}
root=$(cd "$(dirname "$0")/.." && pwd)
export DDSCAN="$root/$bin/ddscan"
export DDSCAN_ROOT="$root"
export DDSCAN_BUILD="$root/$build"
logs="$root/$build/test-logs"
mkdir -p "$logs"

# Running as root (containers, CI) needs Open MPI's explicit consent; more
# ranks than cores needs oversubscription.  Set here only, never in ddscan.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader
export OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_mpi_yield_when_idle=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export MPIRUN="mpirun --oversubscribe"
# The Python the tests run under (tools/find-python.sh: the first python3 that
# imports h5py, unless PYTHON is set).
PYTHON=$("$root/tools/find-python.sh")
export PYTHON
export NP_LIST=${NP_LIST:-1 2 3 4}
if [ "${DDSCAN_ASAN:-0}" = 1 ]; then
  # Open MPI leaks inside dlopen'ed components (platform notes §2): leak checks
  # only for programs that never call MPI_Init.
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  asan_serial="detect_leaks=1:abort_on_error=0"
  asan_mpi="detect_leaks=0"
fi

pass=0
fail=0
failed=()
t_all=$(date +%s%N)

secs() { # seconds since a `date +%s%N` stamp, one decimal
  local ms=$((($(date +%s%N) - $1) / 1000000))
  printf '%d.%d' $((ms / 1000)) $(((ms % 1000) / 100))
}

run() { # run NAME TIMEOUT CMD...
  local name=$1 limit=$2
  shift 2
  if [ -n "${TESTS:-}" ]; then
    local pat hit=0
    IFS='|' read -ra pats <<<"$TESTS"
    for pat in "${pats[@]}"; do
      case $pat in
        ^*) [[ "$name" == ${pat#^}* ]] && hit=1 ;; # ^PATTERN: at the start of the name
        *) [[ "$name" == *${pat}* ]] && hit=1 ;;
      esac
    done
    [ "$hit" -eq 1 ] || return
  fi
  local log="$logs/${name//[^A-Za-z0-9_.-]/_}.log"
  local t0=$(date +%s%N)
  if timeout "$limit" "$@" >"$log" 2>&1; then
    pass=$((pass + 1))
    printf 'PASS  %-40s %6ss\n' "$name" "$(secs "$t0")"
  else
    local rc=$?
    fail=$((fail + 1))
    failed+=("$name")
    printf 'FAIL  %-40s %6ss (exit %d%s)\n' "$name" "$(secs "$t0")" "$rc" \
      "$([ $rc -eq 124 ] && echo ', timed out')"
    tail -n 30 "$log" | sed 's/^/      | /'
  fi
}

for t in "$root/$build"/tests/test_*; do
  [ -x "$t" ] || continue
  ASAN_OPTIONS=${asan_serial:-} run "$(basename "$t")" 900 "$t"
done
for t in "$root/$build"/tests/mpi_*; do
  [ -x "$t" ] || continue
  for np in $NP_LIST; do
    ASAN_OPTIONS=${asan_mpi:-} run "$(basename "$t") np=$np" 600 $MPIRUN -n "$np" "$t"
  done
done
for s in "$root"/tests/e2e/*.sh; do
  [ -f "$s" ] || continue
  ASAN_OPTIONS=${asan_mpi:-} run "e2e/$(basename "$s" .sh)" 1800 bash "$s"
done
for p in "$root"/tests/py/*.py; do
  [ -f "$p" ] || continue
  run "py/$(basename "$p" .py)" 600 "$PYTHON" "$p"
done

total=$(secs "$t_all")
echo "----------------------------------------------------------------"
printf '%d passed, %d failed (%s s; logs in %s)\n' "$pass" "$fail" "$total" "$logs"
if [ "$fail" -gt 0 ]; then
  printf 'failed: %s\n' "${failed[@]}"
  exit 1
fi
if [ "$pass" -eq 0 ]; then
  echo "no tests ran" >&2
  exit 1
fi
