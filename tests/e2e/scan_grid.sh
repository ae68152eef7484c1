#!/usr/bin/env bash
# scan_grid.sh - the scan grid at every rank count: a bad grid is one message
# naming file:line and the key (never a hang), and a good one is echoed in
# the resolved configuration.
set -u
. "$(dirname "$0")/../lib.sh"

cat >"$TMP/grid.cfg" <<'CFG'
scan = {
  mass_gev = [50.0];
  sigma_cm2 = { log_from = 1e-48; log_to = 1e-45; points = 4; };
  exposure_ty = 5.0;
  r = { from = 100.0; to = 250.0; points = 4; };
  methods = ["sound"];
};
CFG
for np in $NP_LIST; do
  for bad in scan_exposure_zero scan_duplicate; do
    f="$ROOT/tests/data/cfg_bad/$bad.cfg"
    want=$(sed -n 's/^# expect: //p' "$f")
    rc=0
    timeout 60 $MPIRUN -n "$np" "$DDSCAN" check-config "$f" >/dev/null 2>"$TMP/err.txt" || rc=$?
    [ "$rc" -ne 0 ] || fail "np=$np $bad: exit 0"
    [ "$rc" -ne 124 ] || fail "np=$np $bad: hung"
    grep -qF -- "$want" "$TMP/err.txt" || fail "np=$np $bad: message lacks '$want': $(cat "$TMP/err.txt")"
    n=$(grep -c 'ddscan: error' "$TMP/err.txt")
    [ "$n" -eq 1 ] || fail "np=$np $bad: $n error messages instead of one"
  done
  timeout 60 $MPIRUN -n "$np" "$DDSCAN" check-config "$TMP/grid.cfg" >"$TMP/ok.txt" 2>&1 ||
    fail "np=$np: good grid rejected: $(cat "$TMP/ok.txt")"
  grep -q 'log_from = 1e-48;' "$TMP/ok.txt" || fail "np=$np: sigma range not echoed: $(cat "$TMP/ok.txt")"
  grep -q 'methods = \[ "sound" \];' "$TMP/ok.txt" || fail "np=$np: methods not echoed"
done
pass
