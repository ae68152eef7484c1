# lib.sh - shared helpers for the end-to-end scripts (sourced, not run).
ROOT=${DDSCAN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
DDSCAN=${DDSCAN:-$ROOT/bin/ddscan}
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
NP_LIST=${NP_LIST:-1 2 3 4}
# The Python with h5py (tests/run.sh exports it; tools/find-python.sh by hand).
PYTHON=${PYTHON:-$("$ROOT/tools/find-python.sh")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ddscan-e2e.XXXXXX")
LAST_ERR="$TMP/last.err"
trap 'rm -rf "$TMP"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

pass() {
  echo "ok: $(basename "$0")"
  exit 0
}

# expect_rc RC WHAT CMD... : runs CMD, requires exit status RC.
expect_rc() {
  local want=$1 what=$2 rc=0
  shift 2
  "$@" >"$TMP/last.out" 2>"$LAST_ERR" || rc=$?
  [ "$rc" -eq "$want" ] || fail "$what: exit $rc, expected $want ($(head -c 400 "$LAST_ERR"))"
}
