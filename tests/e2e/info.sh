#!/usr/bin/env bash
# info.sh - `ddscan info` on a scan of synthetic scores says what the numbers
# are worth: an R_opt on the first or last R of the grid is reported as "at
# the grid edge (R=...), not an optimum", the classical method (which has no
# R) shows no R_opt, and flagged contour points are marked (!) with the flag
# names and what each flag means (/contours/flags, stats_flags_describe).
set -u
. "$(dirname "$0")/../lib.sh"
BUILD=${DDSCAN_BUILD:-$ROOT/build}
MPI_SCAN=$BUILD/tests/mpi_scan
[ -x "$MPI_SCAN" ] || fail "test programs are not built (make tests)"
export HDF5_USE_FILE_LOCKING=FALSE

# Two R values: whichever is best lies on the edge of the R grid.
cat >"$TMP/scan.cfg" <<'CFG'
run = { name = "info"; seed = 21; output_dir = "run"; };
scan = {
  mass_gev = [10.0, 100.0];
  sigma_cm2 = { log_from = 1e-48; log_to = 1e-45; points = 5; };
  exposure_ty = [1.0, 5.0, 20.0];
  r = [100.0, 170.0];
  methods = ["paper", "sound", "classical"];
};
stats = { binning = { rule = "quantile"; bins = 20; }; };
CFG
cd "$TMP" || fail "no $TMP"
timeout 120 $MPIRUN -n 1 "$MPI_SCAN" scores scan.cfg --er 3000 --nr 3000 >scores.log 2>&1 ||
  fail "synthetic scores: $(tail -c 600 scores.log)"
# A minimum MC-to-data ratio no contour point reaches: every finite contour
# point carries the mc-ratio flag (2048).
timeout 120 $MPIRUN -n 2 "$DDSCAN" scan scan.cfg --set stats.mc_ratio_min=1e12 -q >scan.log 2>&1 ||
  fail "scan: $(tail -c 600 scan.log)"
"$DDSCAN" info run/results.h5 >info.txt 2>&1 || fail "info: $(tail -c 600 info.txt)"

grep -Eq '^  paper +10 +(100|170) edge ' info.txt || fail "paper R_opt not marked as an edge: $(cat info.txt)"
grep -Eq "^  paper at 10 GeV: R_opt at the grid edge \(R=(100|170)\), not an optimum" info.txt ||
  fail "no grid-edge sentence: $(cat info.txt)"
grep -Eq '^  classical +10 +- ' info.txt || fail "classical shows an R_opt: $(grep classical info.txt)"
! grep -Eq '^  classical +[0-9.e+-]+ +0 ' info.txt || fail "classical shows R_opt 0"
grep -q 'classical at 10 GeV: R_opt' info.txt && fail "classical reported with an R_opt edge"
grep -q '^contour quality (/contours/flags' info.txt || fail "no contour quality section: $(cat info.txt)"
grep -Eq '^  paper +[0-9]+ of 12 contour points flagged: .*mc-ratio [1-9]' info.txt ||
  fail "paper flag summary: $(sed -n '/contour quality/,$p' info.txt)"
grep -Eq '^  classical +[0-9]+ of 6 contour points flagged' info.txt ||
  fail "classical counted once per R: $(sed -n '/contour quality/,$p' info.txt)"
grep -q '^    mc-ratio  *MC-to-data ratio below stats.mc_ratio_min' info.txt ||
  fail "the mc-ratio flag is not explained: $(sed -n '/contour quality/,$p' info.txt)"
grep -Eq '^  paper +10 .*\] !' info.txt || fail "no flagged cell marked with !: $(cat info.txt)"
grep -Eq '^  ! paper at 10 GeV, E=1 t\*y, R=(100|170): .*mc-ratio' info.txt ||
  fail "flagged point not listed with its reason: $(sed -n '/contour quality/,$p' info.txt)"
grep -Eq '^  ! classical at 10 GeV, E=1 t\*y: ' info.txt ||
  fail "classical flagged point (no R): $(sed -n '/contour quality/,$p' info.txt)"
pass
