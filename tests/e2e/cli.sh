#!/usr/bin/env bash
# cli.sh - the command line as a user meets it: --help, --version, usage errors
# (exit 2), and bad configurations at every rank count: one clear message that
# names file:line and the key, a non-zero exit, never a hang.
set -u
. "$(dirname "$0")/../lib.sh"

out=$("$DDSCAN" --help) || fail "--help exited non-zero"
grep -q 'check-config' <<<"$out" || fail "--help does not list check-config"
out=$("$DDSCAN" --version) || fail "--version exited non-zero"
grep -q '^ddscan ' <<<"$out" || fail "--version prints: $out"
grep -q 'BLAS kernel' <<<"$out" || fail "--version does not name the BLAS kernel"

expect_rc 2 "no arguments" "$DDSCAN"
expect_rc 2 "unknown command" "$DDSCAN" frobnicate
grep -q "unknown command 'frobnicate'" "$LAST_ERR" || fail "unknown command message: $(cat "$LAST_ERR")"
expect_rc 2 "check-config without CONFIG" "$DDSCAN" check-config
expect_rc 2 "--set without value" "$DDSCAN" check-config "$ROOT/configs/tiny.cfg" --set

# A good configuration, singleton and under mpirun.
"$DDSCAN" check-config "$ROOT/configs/tiny.cfg" >"$TMP/ok.txt" 2>&1 || fail "tiny.cfg rejected: $(cat "$TMP/ok.txt")"
grep -q 'configuration OK' "$TMP/ok.txt" || fail "check-config did not confirm"
grep -q 'seed = 1;' "$TMP/ok.txt" || fail "resolved config lacks run.seed"
grep -q 'output_dir = "runs/tiny"' "$TMP/ok.txt" || fail "resolved config lacks the default output_dir"
"$DDSCAN" check-config "$ROOT/configs/tiny.cfg" --set run.seed=7 >"$TMP/ok.txt" 2>&1 || fail "--set rejected"
grep -q 'seed = 7;' "$TMP/ok.txt" || fail "--set run.seed=7 not applied"

# Bad input at every rank count: one message with file:line, non-zero exit.
cat >"$TMP/neg.cfg" <<'CFG'
run = {
  seed = -4;
};
CFG
for np in $NP_LIST; do
  for case in missing syntax type unknown range; do
    case $case in
      missing) args=("$TMP/does-not-exist.cfg"); want="does-not-exist.cfg" ;;
      syntax) args=("$ROOT/tests/data/cfg_bad/bad_syntax.cfg"); want="bad_syntax.cfg:3: syntax error" ;;
      type) args=("$ROOT/tests/data/cfg_bad/wrong_type.cfg"); want="wrong_type.cfg:2: run.seed: expected an integer" ;;
      unknown) args=("$ROOT/tests/data/cfg_bad/unknown_key.cfg"); want="unknown_key.cfg:4: run.sede: unknown key" ;;
      range) args=("$TMP/neg.cfg"); want="neg.cfg:2: run.seed: must be in" ;;
    esac
    rc=0
    timeout 60 $MPIRUN -n "$np" "$DDSCAN" check-config "${args[@]}" >"$TMP/out.txt" 2>"$TMP/err.txt" || rc=$?
    [ "$rc" -ne 0 ] || fail "np=$np $case: exit 0"
    [ "$rc" -ne 124 ] || fail "np=$np $case: hung"
    grep -q -- "$want" "$TMP/err.txt" || fail "np=$np $case: message lacks '$want': $(cat "$TMP/err.txt")"
    n=$(grep -c 'ddscan: error' "$TMP/err.txt")
    [ "$n" -eq 1 ] || fail "np=$np $case: $n error messages instead of one: $(cat "$TMP/err.txt")"
  done
  # --set of an unknown key is named as such
  rc=0
  timeout 60 $MPIRUN -n "$np" "$DDSCAN" check-config "$ROOT/configs/tiny.cfg" --set run.sed=3 >/dev/null 2>"$TMP/err.txt" || rc=$?
  [ "$rc" -ne 0 ] || fail "np=$np unknown --set key accepted"
  grep -q -- "--set run.sed=3: run.sed: unknown key (did you mean 'seed'?)" "$TMP/err.txt" || fail "np=$np --set message: $(cat "$TMP/err.txt")"
done
pass
