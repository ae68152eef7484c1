#!/usr/bin/env bash
# spectrum.sh - `ddscan spectrum` as a physicist uses it: the TSV table and
# the integrated rate against an independent Python implementation of the
# formulas in docs/physics.md (math.erf, Simpson), the halo preset through
# --set and --config, and bad arguments (usage errors exit 2, config errors 1).
set -u
. "$(dirname "$0")/../lib.sh"
PY=$PYTHON

# Independent oracle: reads the TSV on stdin, recomputes every row.
cat >"$TMP/oracle.py" <<'PY'
import math, sys
v0, vesc, ve = (float(a) for a in sys.argv[1:4])
mass, sigma = float(sys.argv[4]), float(sys.argv[5])
A, u, c = 131.293, 0.93149410, 299792.458
mN = A * u
muN = mass * mN / (mass + mN)
mun = mass * u / (mass + u)
def helm2(e):
    q = math.sqrt(2 * mN * 1e3 * e * 1e-3) / 197.327
    cc = 1.23 * A ** (1 / 3) - 0.60
    rn = math.sqrt(cc * cc + 7 / 3 * math.pi ** 2 * 0.52 ** 2 - 5 * 0.9 ** 2)
    x = q * rn
    return (3 * (math.sin(x) - x * math.cos(x)) / x ** 3 * math.exp(-(q * 0.9) ** 2 / 2)) ** 2
def eta(vmin):
    x, y, z = vmin / v0, ve / v0, vesc / v0
    n = math.erf(z) - 2 * z * math.exp(-z * z) / math.sqrt(math.pi)
    if x < z - y:
        return (math.erf(x + y) - math.erf(x - y) - 4 * y * math.exp(-z * z) / math.sqrt(math.pi)) / (2 * n * v0 * y)
    if x < z + y:
        return (math.erf(z) - math.erf(x - y) - 2 * (z + y - x) * math.exp(-z * z) / math.sqrt(math.pi)) / (2 * n * v0 * y)
    return 0.0
def vmin(e):
    return c * math.sqrt(mN * e * 1e-6 / (2 * muN ** 2))
def rate(e):
    gev_kg = 1.602176634e-10 / 299792458.0 ** 2
    r = 0.3 * sigma * A * A * helm2(e) * (c * 1e5) ** 2 * eta(vmin(e)) * 1e-5 / (2 * mass * mun ** 2 * gev_kg)
    return r * 1e3 * 365.25 * 86400 * 1e-6
rows = [l.split('\t') for l in sys.stdin if not l.startswith('#')]
header, rows = rows[0], rows[1:]
if header[0].strip() == 'E1_keV':
    e1, e2, got = (float(v) for v in rows[0])
    end = 2 * muN ** 2 * ((vesc + ve) / c) ** 2 / mN * 1e6
    hi = min(e2, end)
    n = 200000
    h = (hi - e1) / n
    s = sum((1 if i in (0, n) else 4 if i % 2 else 2) * rate(e1 + i * h) for i in range(n + 1)) * h / 3
    if abs(got / s - 1) > 1e-6:
        sys.exit('integral %r vs oracle %r' % (got, s))
    print('integral ok: %.8g vs %.8g' % (got, s))
    sys.exit(0)
want = ['E_keV', 'dRdE_per_t_y_keV', 'F2', 'vmin_km_s', 'eta_s_per_km']
if [h.strip() for h in header] != want:
    sys.exit('header %r' % header)
for r in rows:
    e, got, f2, vm, et = (float(v) for v in r)
    ref = rate(e)
    if abs(got - ref) > 1e-8 * abs(ref) + 1e-300 or abs(f2 / helm2(e) - 1) > 1e-8 \
            or abs(vm / vmin(e) - 1) > 1e-8 or abs(et - eta(vmin(e))) > 1e-8 * eta(vmin(e)) + 1e-300:
        sys.exit('row E=%g: got %r, oracle %r' % (e, r, (ref, helm2(e), vmin(e), eta(vmin(e)))))
print('table ok: %d rows' % len(rows))
PY

# shm_2021 (defaults): a table running past the 50 GeV endpoint (145.26 keV).
"$DDSCAN" spectrum --mass 50 --emin 0.5 --emax 160 --step 0.5 >"$TMP/t50.tsv" 2>"$TMP/err" ||
  fail "spectrum --mass 50: $(cat "$TMP/err")"
grep -q '^# .*halo shm_2021' "$TMP/t50.tsv" || fail "header lacks the halo"
grep -q 'per tonne (1000 kg) per year (365.25 d) per keVnr' "$TMP/t50.tsv" || fail "header lacks units"
[ "$(grep -vc '^#' "$TMP/t50.tsv")" -eq 321 ] || fail "expected 320 rows + header"
$PY "$TMP/oracle.py" 238 544 252.13 50 1e-45 <"$TMP/t50.tsv" || fail "50 GeV table vs oracle"
awk -F'\t' '/^[0-9]/ && $1 > 145.27 && $2 != 0 { bad = 1 } END { exit bad }' "$TMP/t50.tsv" ||
  fail "non-zero rate above the endpoint"

# sigma, another mass, the classic halo via --set.
"$DDSCAN" spectrum --mass 1000 --sigma 3e-46 --emin 1 --emax 100 --step 3 \
  --set 'physics.halo.preset="shm_classic"' >"$TMP/t1000.tsv" 2>"$TMP/err" ||
  fail "spectrum shm_classic: $(cat "$TMP/err")"
grep -q 'halo shm_classic' "$TMP/t1000.tsv" || fail "--set preset not applied"
$PY "$TMP/oracle.py" 220 544 232 1000 3e-46 <"$TMP/t1000.tsv" || fail "1000 GeV classic vs oracle"

# --config with a physics group, plus --integrate.
cat >"$TMP/run.cfg" <<'CFG'
physics = {
  halo = { v_earth_km_s = 240.0; };
};
CFG
"$DDSCAN" spectrum --config "$TMP/run.cfg" --mass 30 --integrate 4:50 >"$TMP/int.tsv" 2>"$TMP/err" ||
  fail "--integrate: $(cat "$TMP/err")"
grep -q '^E1_keV	E2_keV	events_per_t_y$' "$TMP/int.tsv" || fail "integral header: $(cat "$TMP/int.tsv")"
$PY "$TMP/oracle.py" 238 544 240 30 1e-45 <"$TMP/int.tsv" || fail "integral vs oracle"
"$DDSCAN" spectrum --mass 10 --integrate=3:200 >"$TMP/int10.tsv" || fail "--integrate= form"
$PY "$TMP/oracle.py" 238 544 252.13 10 1e-45 <"$TMP/int10.tsv" || fail "10 GeV integral past its endpoint"

# Under mpirun (not needed, but harmless): one table, from rank 0 only.
n=$(timeout 60 $MPIRUN -n 2 "$DDSCAN" spectrum --mass 50 --emin 10 --emax 11 --step 0.5 | grep -vc '^#')
[ "$n" -eq 4 ] || fail "mpirun -n 2: $n non-comment lines instead of 4"

# Bad arguments: usage errors (exit 2) with a clear message.
expect_rc 2 "no --mass" "$DDSCAN" spectrum
grep -q 'spectrum needs --mass GEV' "$LAST_ERR" || fail "no --mass message: $(cat "$LAST_ERR")"
expect_rc 2 "mass 0" "$DDSCAN" spectrum --mass 0
grep -q -- '--mass must be > 0 GeV, got 0' "$LAST_ERR" || fail "mass message: $(cat "$LAST_ERR")"
expect_rc 2 "negative mass" "$DDSCAN" spectrum --mass -50
expect_rc 2 "negative sigma" "$DDSCAN" spectrum --mass 50 --sigma -1e-45
grep -q -- '--sigma must be >= 0 cm2' "$LAST_ERR" || fail "sigma message: $(cat "$LAST_ERR")"
expect_rc 2 "emin >= emax" "$DDSCAN" spectrum --mass 50 --emin 20 --emax 10
grep -q -- '--emin (20 keV) must be below --emax (10 keV)' "$LAST_ERR" || fail "range message: $(cat "$LAST_ERR")"
expect_rc 2 "zero step" "$DDSCAN" spectrum --mass 50 --step 0
expect_rc 2 "reversed integral" "$DDSCAN" spectrum --mass 50 --integrate 50:4
grep -q -- '--integrate E1:E2 needs 0 <= E1 < E2' "$LAST_ERR" || fail "integrate message: $(cat "$LAST_ERR")"
expect_rc 2 "malformed integral" "$DDSCAN" spectrum --mass 50 --integrate 4-50
expect_rc 2 "not a number" "$DDSCAN" spectrum --mass fifty
grep -q -- "--mass: 'fifty' is not a number" "$LAST_ERR" || fail "number message: $(cat "$LAST_ERR")"
expect_rc 2 "unknown option" "$DDSCAN" spectrum --mass 50 --bogus 1
expect_rc 2 "missing value" "$DDSCAN" spectrum --mass

# Configuration errors: exit 1 naming file:line and the key.
cat >"$TMP/bad.cfg" <<'CFG'
physics = {
  sigma_ref_cm2 = -1e-45;
};
CFG
expect_rc 2 "bad config" "$DDSCAN" spectrum --config "$TMP/bad.cfg" --mass 50
grep -q 'bad.cfg:2: physics.sigma_ref_cm2: must be > 0' "$LAST_ERR" || fail "config message: $(cat "$LAST_ERR")"
expect_rc 2 "reversed window via --set" "$DDSCAN" spectrum --mass 50 --set 'physics.analysis_window_kev=[50.0, 4.0]'
grep -q 'physics.analysis_window_kev: range is reversed' "$LAST_ERR" || fail "--set message: $(cat "$LAST_ERR")"
expect_rc 1 "missing config" "$DDSCAN" spectrum --config "$TMP/nope.cfg" --mass 50
"$DDSCAN" --help | grep -q '^  spectrum' || fail "--help does not list spectrum"
pass
