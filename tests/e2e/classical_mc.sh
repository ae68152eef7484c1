#!/usr/bin/env bash
# classical_mc.sh - the classical baseline's own detector MC (stats.classical.mc_events,
# issue 15): the classical templates, p-values, contours and limits are bitwise identical at
# np 1 and np 3; /templates/classical records where they came from (source, event and draw
# counts); mc_events = 0 keeps the templates on /scores, and synthetic scores never get the MC.
# The scores are synthetic (mpi_scan), relabelled as a detector's so the scan runs its MC.
set -u
. "$(dirname "$0")/../lib.sh"
BUILD=${DDSCAN_BUILD:-$ROOT/build}
MPI_SCAN=$BUILD/tests/mpi_scan
[ -x "$MPI_SCAN" ] || fail "test programs are not built (make tests)"
export HDF5_USE_FILE_LOCKING=FALSE
PY=${PYTHON:-/usr/bin/python3}

cat >"$TMP/cl.cfg" <<'CFG'
run = { name = "e2e"; seed = 5; output_dir = "run"; };
scan = {
  mass_gev = [50.0];
  sigma_cm2 = { log_from = 1e-47; log_to = 1e-44; points = 4; };
  exposure_ty = [2.0, 20.0];
  r = [0.0];
  methods = ["classical"];
  min_effective_events = 100.0;
};
stats = { classical = { mc_events = 3000; cs1_bins = 5; y_bins = 12; }; };
CFG

mkdir -p "$TMP/src"
(cd "$TMP/src" && timeout 120 $MPIRUN -n 2 "$MPI_SCAN" scores ../cl.cfg --er 2000 --nr 2000) \
  >"$TMP/scores.log" 2>&1 || fail "synthetic scores: $(tail -c 600 "$TMP/scores.log")"
cp -r "$TMP/src" "$TMP/syn"
# relabel: these scores now claim to come from the xent_sr0 detector
"$PY" - "$TMP/src/run/results.h5" <<'PYEOF' || fail "relabelling the scores"
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    for g in ("scores/er", "scores/nr"):
        f[g].attrs["detector_preset"] = "xent_sr0"
PYEOF

scan() { # scan DIR NP ARGS...
  local d=$1 np=$2
  shift 2
  (cd "$d" && timeout 300 $MPIRUN -n "$np" "$DDSCAN" scan "$@") >"$TMP/scan.log" 2>&1 ||
    fail "scan in $d at np=$np $*: $(tail -c 800 "$TMP/scan.log")"
}
attr() { # attr FILE NAME: an attribute of /templates/classical
  "$PY" -c 'import sys, h5py
v = h5py.File(sys.argv[1], "r")["templates/classical"].attrs[sys.argv[2]]
print(v.decode() if isinstance(v, bytes) else v)' "$1" "$2"
}

for np in 1 3; do
  cp -r "$TMP/src" "$TMP/np$np"
  scan "$TMP/np$np" $np ../cl.cfg
  grep -q "classical detector MC: 3000 ER" "$TMP/scan.log" || fail "np=$np: no MC line: $(cat "$TMP/scan.log")"
done
A=$TMP/np1/run/results.h5
B=$TMP/np3/run/results.h5
for g in /templates/classical /contours /scan/p_value /scan/z; do
  h5diff "$A" "$B" "$g" "$g" >"$TMP/h5diff.out" 2>&1 ||
    fail "np=1 vs np=3: h5diff $g: $(head -c 400 "$TMP/h5diff.out")"
done
[ "$(attr "$A" source)" = detector_mc ] || fail "source is '$(attr "$A" source)', not detector_mc"
[ "$(attr "$A" n_er_events)" = 3000 ] || fail "n_er_events $(attr "$A" n_er_events)"
[ "$(attr "$A" n_nr_events)" = 3000 ] || fail "n_nr_events $(attr "$A" n_nr_events)"
[ "$(attr "$A" n_er_draws)" -ge 3000 ] || fail "n_er_draws $(attr "$A" n_er_draws)"
[ "$(attr "$A" n_er_draws)" = "$(attr "$B" n_er_draws)" ] || fail "draws differ between np 1 and 3"

# mc_events = 0: the templates of /scores (the test can fail: they differ from the MC's)
cp -r "$TMP/src" "$TMP/zero"
scan "$TMP/zero" 2 ../cl.cfg --set stats.classical.mc_events=0
Z=$TMP/zero/run/results.h5
[ "$(attr "$Z" source)" = scores ] || fail "mc_events = 0: source '$(attr "$Z" source)'"
[ "$(attr "$Z" n_er_events)" = 2000 ] || fail "mc_events = 0: n_er_events $(attr "$Z" n_er_events)"
h5diff -q "$A" "$Z" /templates/classical/background /templates/classical/background >/dev/null 2>&1 &&
  fail "the MC and the /scores templates are identical"

# synthetic scores: no MC whatever mc_events says
scan "$TMP/syn" 2 ../cl.cfg
grep -q "synthetic scores: the classical templates are built from /scores" "$TMP/scan.log" ||
  fail "synthetic scores: no message: $(cat "$TMP/scan.log")"
[ "$(attr "$TMP/syn/run/results.h5" source)" = scores ] || fail "synthetic: source not scores"

# a bad value names the key and exits 2
expect_rc 2 "negative mc_events" "$DDSCAN" check-config "$TMP/cl.cfg" --set stats.classical.mc_events=-5
grep -q "stats.classical.mc_events" "$LAST_ERR" || fail "bad mc_events: $(cat "$LAST_ERR")"
pass
