#!/usr/bin/env bash
# cfg_corpus.sh - `ddscan check-config` on every file of tests/data/cfg_bad/
# (>= 100 bad configurations, tests/tools/gen_cfg_bad.py writes the g_*.cfg
# ones) as one process, and on every 8th under `mpirun -n 3`: exit status 2,
# exactly one error line, from one rank, holding the file's "# expect:" text
# (file:line, the key, what is wrong); every g_res_* (resources) also runs at np 3.
# Every file of tests/data/cfg_ok/ (the
# edges that must pass: seed = 4294967295, the plausibility limits, ...) is
# accepted.
set -u
. "$(dirname "$0")/../lib.sh"

check() { # check NP FILE
  local np=$1 f=$2 name want rc=0
  name=$(basename "$f")
  want=$(head -1 "$f" | sed -n 's/^# expect: //p')
  [ -n "$want" ] || fail "$name has no '# expect:' line"
  if [ "$np" -eq 0 ]; then
    timeout 60 "$DDSCAN" check-config "$f" >"$TMP/out.txt" 2>"$TMP/err.txt" || rc=$?
  else
    timeout 60 $MPIRUN -n "$np" "$DDSCAN" check-config "$f" >"$TMP/out.txt" 2>"$TMP/err.txt" || rc=$?
  fi
  [ "$rc" -ne 124 ] || fail "np=$np $name: hung"
  [ "$rc" -eq 2 ] || fail "np=$np $name: exit $rc, expected 2: $(head -c 400 "$TMP/err.txt")"
  local n
  n=$(grep -c '^ddscan: ' "$TMP/err.txt")
  [ "$n" -eq 1 ] || fail "np=$np $name: $n ddscan lines instead of one: $(cat "$TMP/err.txt")"
  grep -q '^ddscan: error: ' "$TMP/err.txt" || fail "np=$np $name: no error line: $(cat "$TMP/err.txt")"
  grep -qF -- "$want" "$TMP/err.txt" || fail "np=$np $name: message lacks '$want': $(cat "$TMP/err.txt")"
  ! grep -q 'configuration OK' "$TMP/out.txt" || fail "np=$np $name: said configuration OK"
}

n=0
for f in "$ROOT"/tests/data/cfg_bad/*.cfg; do
  check 0 "$f"
  n=$((n + 1))
done
[ "$n" -ge 100 ] || fail "only $n bad configurations (at least 100 expected)"
k=0
for f in "$ROOT"/tests/data/cfg_bad/*.cfg; do
  case $(basename "$f") in g_res_*) check 3 "$f" ;; *) [ $((k % 8)) -eq 0 ] && check 3 "$f" ;; esac
  k=$((k + 1))
done
m=0
for f in "$ROOT"/tests/data/cfg_ok/*.cfg; do
  "$DDSCAN" check-config "$f" >"$TMP/out.txt" 2>"$TMP/err.txt" ||
    fail "$(basename "$f") refused: $(cat "$TMP/err.txt")"
  grep -q 'configuration OK' "$TMP/out.txt" || fail "$(basename "$f"): no 'configuration OK'"
  m=$((m + 1))
done
[ "$m" -ge 5 ] || fail "only $m valid edge configurations"
echo "$n bad configurations refused (every 8th and every g_res_* also at np 3), $m edge configurations accepted"
pass
