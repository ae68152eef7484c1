#!/usr/bin/env bash
# resources.sh - the resource estimate of check-config (issue 18):
#  1. `ddscan check-config` prints memory per rank, the results-file size
#     and the disk free on run.output_dir's filesystem, and warns once when
#     memory per rank is above run.memory_per_rank_mb;
#  2. a 200-point grid on four axes (about 115 GB of /scan datasets) with
#     run.output_dir on a 64 MB tmpfs is refused at check-config, at np 1
#     and np 3, with one error line naming the size, the free space and the
#     key; the pipeline refuses it too before writing anything; tiny.cfg on
#     the same tmpfs is accepted (skipped with the reason when this process
#     cannot mount a tmpfs);
#  3. the estimate of memory per rank is within a factor 2 of the peak RSS
#     the score stage reports for tiny.cfg at np 2.
set -u
. "$(dirname "$0")/../lib.sh"

one_error() { # one_error FILE WHAT: exactly one "ddscan:" line, an error
  local n
  n=$(grep -c '^ddscan: ' "$1")
  [ "$n" -eq 1 ] || fail "$2: $n ddscan lines instead of one: $(cat "$1")"
  grep -q '^ddscan: error: ' "$1" || fail "$2: no error line: $(cat "$1")"
}

# 1. the printed estimate
"$DDSCAN" check-config "$ROOT/configs/tiny.cfg" --set "run.output_dir=\"$TMP/t\"" \
  >"$TMP/tiny.out" 2>"$TMP/tiny.err" || fail "tiny.cfg refused: $(cat "$TMP/tiny.err")"
for want in '# resources at 1 rank' '#   memory per rank: simulate ' '#   results file: ' \
  "#   disk free for $TMP/t: " 'configuration OK'; do
  grep -qF -- "$want" "$TMP/tiny.out" || fail "check-config lacks '$want': $(cat "$TMP/tiny.out")"
done

# a limit per rank below the estimate: one warning with the numbers, still OK
"$DDSCAN" check-config "$ROOT/configs/tiny.cfg" --set "run.output_dir=\"$TMP/t\"" \
  --set run.memory_per_rank_mb=100 >"$TMP/warn.out" 2>"$TMP/warn.err" ||
  fail "a low memory limit refused the run: $(cat "$TMP/warn.err")"
grep -q 'configuration OK' "$TMP/warn.out" || fail "no 'configuration OK' under a low limit"
[ "$(grep -c 'warning: the score stage needs an estimated [0-9]* MB per rank' \
  "$TMP/warn.err")" -eq 1 ] || fail "no single memory warning: $(cat "$TMP/warn.err")"
grep -qF '100 MB per rank available (run.memory_per_rank_mb)' "$TMP/warn.err" ||
  fail "the warning does not name the limit: $(cat "$TMP/warn.err")"

# 2. the grid that cannot fit
cat >"$TMP/big.cfg" <<CFG
run = { name = "big"; output_dir = "$TMP/mnt/big"; };
scan = {
  mass_gev = { log_from = 20.0; log_to = 1000.0; points = 200; };
  sigma_cm2 = { log_from = 1e-47; log_to = 1e-45; points = 200; };
  exposure_ty = { log_from = 0.1; log_to = 10.0; points = 200; };
  r = { from = 0.0; to = 200.0; points = 200; };
};
CFG
mkdir -p "$TMP/mnt"
if ! mount -t tmpfs -o size=64m tmpfs "$TMP/mnt" 2>"$TMP/mount.err"; then
  echo "skipped (2): cannot mount a tmpfs here: $(head -1 "$TMP/mount.err")"
else
  trap 'umount "$TMP/mnt" 2>/dev/null; rm -rf "$TMP"' EXIT
  expect_rc 2 "check-config of a 200^4 grid on 64 MB" "$DDSCAN" check-config "$TMP/big.cfg"
  one_error "$LAST_ERR" "np 1"
  for want in "big.cfg:3: scan.mass_gev: the results file needs an estimated" \
    "scan grid 3 x 200 x 200 x 200 x 200" "but $TMP/mnt has 67 MB free"; do
    grep -qF -- "$want" "$LAST_ERR" || fail "np 1: message lacks '$want': $(cat "$LAST_ERR")"
  done
  size=$(sed -n 's/.*needs an estimated \([0-9]*\) MB.*/\1/p' "$LAST_ERR")
  [ "${size:-0}" -gt 100000 ] || fail "estimated size ${size:-?} MB, expected > 100 GB"
  expect_rc 2 "np 3 check-config of the grid" $MPIRUN -n 3 "$DDSCAN" check-config "$TMP/big.cfg"
  one_error "$LAST_ERR" "np 3"
  grep -qF "scan.mass_gev: the results file needs an estimated $size MB" "$LAST_ERR" ||
    fail "np 3: $(cat "$LAST_ERR")"
  # the pipeline checks it again before it writes anything
  expect_rc 2 "the pipeline on the grid" "$DDSCAN" "$TMP/big.cfg"
  one_error "$LAST_ERR" "run"
  grep -qF "the results file needs an estimated $size MB" "$LAST_ERR" || fail "run: $(cat "$LAST_ERR")"
  [ -z "$(ls -A "$TMP/mnt")" ] || fail "the refused run wrote $(ls -A "$TMP/mnt")"
  # what fits is accepted on the same filesystem
  "$DDSCAN" check-config "$ROOT/configs/tiny.cfg" --set "run.output_dir=\"$TMP/mnt/tiny\"" \
    >"$TMP/fit.out" 2>"$TMP/fit.err" || fail "tiny.cfg on 64 MB refused: $(cat "$TMP/fit.err")"
  umount "$TMP/mnt" || fail "umount $TMP/mnt"
  echo "200^4 grid refused on a 64 MB tmpfs: estimated $size MB"
fi

# 3. estimate vs measured peak RSS (np 2; one epoch each: the buffers do not
#    depend on the epochs)
sets=(--set "run.output_dir=\"$TMP/run\"" --set 'train.cvae.epochs=1' --set 'train.cnn.epochs=1')
$MPIRUN -n 2 "$DDSCAN" check-config "$ROOT/configs/tiny.cfg" "${sets[@]}" >"$TMP/est.out" \
  2>"$TMP/est.err" || fail "check-config np 2: $(cat "$TMP/est.err")"
est=$(sed -n 's/.*largest \([0-9]*\) MB (.*/\1/p' "$TMP/est.out")
$MPIRUN -n 2 "$DDSCAN" "$ROOT/configs/tiny.cfg" "${sets[@]}" >"$TMP/run.log" 2>&1 ||
  fail "tiny.cfg np 2 failed: $(tail -5 "$TMP/run.log")"
meas=$(sed -n 's/.*score: peak memory \([0-9]*\) MB per rank.*/\1/p' "$TMP/run.log")
[ -n "$est" ] && [ -n "$meas" ] || fail "no estimate ($est) or no measurement ($meas)"
[ $((2 * est)) -ge "$meas" ] && [ $((2 * meas)) -ge "$est" ] ||
  fail "estimate $est MB per rank vs measured peak $meas MB: not within a factor 2"
echo "memory per rank at np 2: estimated $est MB, measured peak $meas MB"
pass
