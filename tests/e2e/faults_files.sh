#!/usr/bin/env bash
# faults_files.sh - damaged and foreign files (empty, text, truncated, another
# program's HDF5, a ddscan file without its root attributes, /config, a
# dataset or a group, a dataset of the wrong type):
# 1. `ddscan info` exits 1 on each with one error line saying what the file
#    is and what to do, and 0 on a good file;
# 2. `scan --resume` with each as results.h5.tmp never fails for ever: it
#    says why the .tmp cannot be continued, discards it and gives the result
#    of an uninterrupted run;
# 3. `ddscan merge` names the damaged shard.
set -u
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/faults_lib.sh"

fresh "$TMP/ref"
(cd "$TMP/ref" && timeout 300 $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg -q) >"$TMP/ref.log" 2>&1 ||
  fail "reference scan: $(tail -c 600 "$TMP/ref.log")"
GOOD=$TMP/ref/run/results.h5

# an unfinished .tmp: kill -9 during the scan's units
K=$TMP/killed
fresh "$K"
(cd "$K" && exec $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg) >"$TMP/k.log" 2>&1 &
job=$!
wait_for 60 grep -q "work units (mass, R)" "$TMP/k.log" || fail "the scan to kill did not start"
sleep 1
pkill -KILL -P "$job"
wait_job "$job" 60 && fail "the killed scan exited 0"
TMPFILE=$K/run/results.h5.tmp
[ -f "$TMPFILE" ] || fail "no .tmp after kill -9"

damage() { # damage SRC OUTDIR: one damaged copy of SRC per kind
  "$PYTHON" - "$1" "$2" <<'PY' || fail "cannot make the damaged files"
import os, shutil, sys
import h5py, numpy as np
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
data = open(src, "rb").read()
def put(name, b):
    open(os.path.join(out, name), "wb").write(b)
put("empty", b"")
put("text", b"run = { name = \"x\"; };\n")
put("trunc50", data[: len(data) // 2])
put("trunc90", data[: len(data) * 9 // 10])
with h5py.File(os.path.join(out, "foreign"), "w") as f:
    f["x"] = np.arange(5)
def edit(name, fn):
    p = os.path.join(out, name)
    shutil.copy(src, p)
    with h5py.File(p, "r+", locking=False) as f:
        fn(f)
edit("noattrs", lambda f: f.attrs.__delitem__("format_version"))
edit("noconfig", lambda f: f.__delitem__("config"))
edit("nodset", lambda f: f.__delitem__("scan/z"))
edit("nogroup", lambda f: f.__delitem__("scores"))
def wrongtype(f):
    shape = f["scan/p_value"].shape
    del f["scan/p_value"]
    f["scan/p_value"] = np.zeros(shape, dtype=np.int32)
edit("wrongtype", wrongtype)
PY
}
damage "$GOOD" "$TMP/bad"
damage "$TMPFILE" "$TMP/badtmp"

# 1. info
expect_rc 0 "info on a good file" "$DDSCAN" info "$GOOD"
expect_rc 0 "info on an unfinished .tmp" "$DDSCAN" info "$TMPFILE"
grep -q "status:  UNFINISHED" "$TMP/last.out" || fail "info on the .tmp: $(cat "$TMP/last.out")"
info_bad() { # info_bad FILE WANT: exit 1, one error line containing WANT
  expect_rc 1 "info on $(basename "$1")" "$DDSCAN" info "$1"
  [ "$(grep -c 'ddscan: error' "$LAST_ERR")" -eq 1 ] || fail "info on $1: not one error line: $(cat "$LAST_ERR")"
  grep -qF "$2" "$LAST_ERR" || fail "info on $1: expected '$2' in: $(cat "$LAST_ERR")"
}
for k in empty text trunc50 trunc90; do
  info_bad "$TMP/bad/$k" "is not an HDF5 file, or is truncated or damaged: rerun the stage"
done
for k in foreign noattrs; do info_bad "$TMP/bad/$k" "is not a ddscan results file"; done
info_bad "$TMP/bad/noconfig" "is damaged (its group /config is missing)"
info_bad "$TMP/bad/nodset" "is damaged (stage scan: '/scan/z' is missing): rerun the stage that writes it"
info_bad "$TMP/bad/nogroup" "is damaged (stage score: table '/scores/er'"
info_bad "$TMP/bad/wrongtype" "is damaged (stage scan: '/scan/p_value' is not of type float64)"
grep -q "status:  DAMAGED" "$TMP/last.out" || fail "info prints no DAMAGED status: $(cat "$TMP/last.out")"
info_bad "$TMP/badtmp/nodset" "delete it, or run the stage again without --resume"

# 2. --resume with a damaged .tmp
declare -A WHY=(
  [empty]="cannot resume" [text]="cannot resume" [trunc50]="cannot resume" [foreign]="not a ddscan file"
  [noattrs]="not a ddscan file" [nodset]="'/scan/z' is missing" [nogroup]="'/scores' (carried over from"
  [wrongtype]="'/scan/p_value' is not of type float64"
)
for k in text foreign nodset nogroup wrongtype; do # empty, trunc50 and noattrs take the same paths
  D=$TMP/resume_$k
  fresh "$D"
  cp "$TMP/badtmp/$k" "$D/run/results.h5.tmp"
  rc=0
  (cd "$D" && timeout 300 $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg -q --resume) >"$TMP/r.log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || fail "--resume with a damaged .tmp ($k) failed (exit $rc): $(tail -c 600 "$TMP/r.log")"
  grep "warning" "$TMP/r.log" | grep -qF "${WHY[$k]}" ||
    fail "--resume with a damaged .tmp ($k) does not say why: $(grep warning "$TMP/r.log")"
  same "$GOOD" "$D/run/results.h5" "--resume with a damaged .tmp ($k)"
done

# 3. merge names the damaged shard
S=$TMP/shards
fresh "$S"
for i in 0 1; do
  (cd "$S" && timeout 300 $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg -q --shard $i/2) >"$TMP/s.log" 2>&1 ||
    fail "shard $i: $(tail -c 600 "$TMP/s.log")"
done
damage "$S/run/results.shard-1-of-2.h5" "$TMP/badshard"
for k in empty text trunc50 foreign nodset wrongtype; do
  expect_rc 1 "merge with a damaged shard ($k)" "$DDSCAN" merge "$TMP/merged.h5" \
    "$S/run/results.shard-0-of-2.h5" "$TMP/badshard/$k"
  grep -q "badshard/$k" "$LAST_ERR" || fail "merge does not name the damaged shard ($k): $(cat "$LAST_ERR")"
  [ ! -e "$TMP/merged.h5" ] || fail "a failed merge ($k) left its output"
done
pass
