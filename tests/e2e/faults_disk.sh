#!/usr/bin/env bash
# faults_disk.sh - a full disk ends the job (src/io/h5util.c write_failed):
# on a small tmpfs that holds the scores but not the scan's file, a scan at
# np 1 and np 2 exits non-zero (no hang: the script's timeout; no segfault)
# with one message that says "disk full" and names the file, results.h5 stays
# the complete scores file it was, and no final file of the scan appears.
# Then, with room again, --resume finishes the scan: nothing was lost.
# Needs root to mount a tmpfs: skipped with the reason otherwise.
set -u
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/faults_lib.sh"

M=$TMP/mnt
mkdir -p "$M"
scores=$TMP/src/run/results.h5
size_k=$(($(stat -c %s "$scores") / 1024 + 120)) # the scores and part of the scan's .tmp
if ! mount -t tmpfs -o "size=${size_k}k" tmpfs "$M" 2>"$TMP/mount.err"; then
  echo "skipped: cannot mount a tmpfs ($(head -c 200 "$TMP/mount.err"); needs root)"
  pass
fi
trap 'faults_cleanup_all' EXIT
faults_cleanup_all() {
  faults_kill_jobs
  umount "$M" 2>/dev/null
  rm -rf "$TMP"
}

# The run-time disk check (src/stage/resources.c) would refuse this scan
# before it writes anything (tests/e2e/resources.sh shows that); this test is
# about the write that fails anyway, so it switches that check off.
export DDSCAN_NO_DISK_CHECK=1
fresh "$TMP/ref"
(cd "$TMP/ref" && timeout 300 $MPIRUN -n 2 "$DDSCAN" scan ../scan.cfg -q) >"$TMP/ref.log" 2>&1 ||
  fail "reference scan: $(tail -c 600 "$TMP/ref.log")"

for np in 1 2; do
  rm -rf "${M:?}"/*
  cp -r "$TMP/src/run" "$M/"
  sum=$(md5sum <"$M/run/results.h5")
  rc=0
  (cd "$M" && timeout 120 $MPIRUN -n "$np" "$DDSCAN" scan "$TMP/scan.cfg" -q) >"$TMP/full.log" 2>&1 || rc=$?
  [ "$rc" -ne 124 ] || fail "np $np: the scan on a full disk hung"
  [ "$rc" -ne 0 ] || fail "np $np: the scan on a full disk exited 0"
  [ "$rc" -ne 139 ] && ! grep -qi "segmentation fault\|signal 11" "$TMP/full.log" ||
    fail "np $np: segfault on a full disk: $(tail -c 600 "$TMP/full.log")"
  [ "$(grep -c 'disk full' "$TMP/full.log")" -eq 1 ] ||
    fail "np $np: not one 'disk full' message: $(head -c 1200 "$TMP/full.log")"
  grep -q "disk full: cannot write '[^']*run/results.h5.tmp' (.* free of .* on its file system" "$TMP/full.log" ||
    fail "np $np: the message does not name the file: $(grep 'disk full' "$TMP/full.log")"
  grep -q "rank [01] " "$TMP/full.log" || fail "np $np: the message names no rank"
  [ "$(md5sum <"$M/run/results.h5")" = "$sum" ] || fail "np $np: results.h5 changed on a full disk"
  "$DDSCAN" info "$M/run/results.h5" >"$TMP/info.out" 2>&1 || fail "np $np: results.h5 unreadable: $(cat "$TMP/info.out")"
  grep -q "lacks:.*/scan (scan stage)" "$TMP/info.out" || fail "np $np: results.h5 is not the scores file any more"
  echo "np $np: exit $rc, $(grep -o 'disk full: cannot write [^(]*' "$TMP/full.log")"
done

# room again: --resume (the .tmp is discarded or continued) gives the full result
mount -o remount,size=4m "$M" || fail "cannot grow the tmpfs"
(cd "$M" && timeout 300 $MPIRUN -n 2 "$DDSCAN" scan "$TMP/scan.cfg" -q --resume) >"$TMP/again.log" 2>&1 ||
  fail "scan with room again: $(tail -c 600 "$TMP/again.log")"
[ ! -e "$M/run/results.h5.tmp" ] || fail "results.h5.tmp left after the commit"
same "$TMP/ref/run/results.h5" "$M/run/results.h5" "the scan after the disk was full"
pass
