#!/usr/bin/env bash
# io_files.sh - the results file across rank counts and shards: the demo
# pipeline of tests/mpi_io.c (a table stage and a per-unit scan stage) written
# at np 1..4 gives identical content (h5diff on every data group, provenance
# excluded); shards run at different np and merged equal a single run, and
# merging twice is harmless; a missing shard is named; h5dump reads the files.
set -u
. "$(dirname "$0")/../lib.sh"
MPI_IO=${DDSCAN_BUILD:-$ROOT/build}/tests/mpi_io
[ -x "$MPI_IO" ] || fail "$MPI_IO is not built (make tests)"
export HDF5_USE_FILE_LOCKING=FALSE
DATA_GROUPS="/events /axes /scan /config"

same_content() { # same_content A B WHAT
  for g in $DATA_GROUPS; do
    h5diff "$1" "$2" "$g" "$g" >"$TMP/h5diff.out" 2>&1 ||
      fail "$3: h5diff $g: $(head -c 600 "$TMP/h5diff.out")"
  done
  timeout 60 "$MPI_IO" compare "$1" "$2" 2>"$TMP/cmp.err" || fail "$3: $(cat "$TMP/cmp.err")"
}

for np in $NP_LIST; do
  timeout 120 $MPIRUN -n "$np" "$MPI_IO" demo "$TMP/np$np" >"$TMP/np$np.log" 2>&1 ||
    fail "demo at np=$np: $(tail -c 800 "$TMP/np$np.log")"
  f="$TMP/np$np/results.h5"
  [ -f "$f" ] || fail "np=$np: no results.h5"
  [ ! -e "$f.tmp" ] || fail "np=$np: results.h5.tmp left behind"
  h5dump "$f" >/dev/null 2>"$TMP/dump.err" || fail "h5dump np=$np: $(head -c 400 "$TMP/dump.err")"
done
ref="$TMP/np1/results.h5"
for np in $NP_LIST; do
  [ "$np" = 1 ] || same_content "$ref" "$TMP/np$np/results.h5" "np=1 vs np=$np"
done
# provenance does differ (n_ranks), so the comparison above really excluded it
h5dump -a /provenance/scan/n_ranks "$TMP/np1/results.h5" | grep -q '(0): 1' ||
  fail "np=1 file does not record n_ranks = 1"

# Shards at different rank counts, then merge (twice).
sh="$TMP/shards"
for i in 0 1 2; do
  np=$((i % 3 + 1))
  timeout 120 $MPIRUN -n "$np" "$MPI_IO" demo "$sh" --shard "$i/3" >"$TMP/sh$i.log" 2>&1 ||
    fail "shard $i/3 at np=$np: $(tail -c 800 "$TMP/sh$i.log")"
done
shards=("$sh/results.shard-2-of-3.h5" "$sh/results.shard-0-of-3.h5" "$sh/results.shard-1-of-3.h5")
for pass in 1 2; do
  timeout 120 $MPIRUN -n 2 "$MPI_IO" merge "$sh/merged.h5" "${shards[@]}" >"$TMP/merge.log" 2>&1 ||
    fail "merge pass $pass: $(tail -c 800 "$TMP/merge.log")"
  same_content "$ref" "$sh/merged.h5" "merged shards (pass $pass) vs a single run"
done
h5dump "$sh/merged.h5" >/dev/null || fail "h5dump cannot read the merged file"

# A missing shard makes the merge fail and says which.
rc=0
timeout 120 $MPIRUN -n 2 "$MPI_IO" merge "$sh/bad.h5" "${shards[0]}" "${shards[1]}" \
  >"$TMP/bad.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "merge without shard 1 succeeded"
[ "$rc" -ne 124 ] || fail "merge without shard 1 hung"
grep -q "missing shard 1 of 3" "$TMP/bad.log" || fail "merge message: $(cat "$TMP/bad.log")"
[ ! -e "$sh/bad.h5" ] || fail "a failed merge left an output file"
pass
