#!/usr/bin/env bash
# cli.sh - the command line as a user meets it: the global and per-command
# --help, --version, usage errors (exit 2, one line) for unknown options,
# options of other commands and stray or missing arguments, --set with bare
# strings, errors as one sentence (the internal chain only with -v), and bad
# configurations at every rank count: one clear message that names file:line
# and the key, a non-zero exit, never a hang.
set -u
. "$(dirname "$0")/../lib.sh"

out=$("$DDSCAN" --help) || fail "--help exited non-zero"
grep -q 'check-config' <<<"$out" || fail "--help does not list check-config"
out=$("$DDSCAN" --version) || fail "--version exited non-zero"
grep -q '^ddscan ' <<<"$out" || fail "--version prints: $out"
grep -q 'BLAS kernel' <<<"$out" || fail "--version does not name the BLAS kernel"

grep -q '^ddscan [0-9][0-9.]* (git ' <<<"$out" || fail "--version lacks the release version: $out"
grep -qF "ddscan $(cat "$ROOT/VERSION") (git " <<<"$out" || fail "--version is not VERSION's: $out"

# Every command's own help: its usage line, distinct from the others and from
# the global help; -h is the same; options spelled out with units and defaults.
global=$("$DDSCAN" --help)
cmds="run check-config spectrum simulate train score scan merge info schema"
declare -A seen=()
for c in $cmds; do
  h=$("$DDSCAN" "$c" --help) || fail "$c --help exited non-zero"
  grep -q "^usage: ddscan $c" <<<"$h" || fail "$c --help: no usage line: $(head -n 2 <<<"$h")"
  grep -q -- '-h, --help' <<<"$h" || fail "$c --help lists no -h"
  [ "$h" != "$global" ] || fail "$c --help prints the global help"
  [ -z "${seen[$h]:-}" ] || fail "$c --help is the same as ${seen[$h]} --help"
  seen[$h]=$c
  [ "$("$DDSCAN" "$c" -h)" = "$h" ] || fail "$c -h differs from $c --help"
  # the help goes first even after an unknown option
  [ "$("$DDSCAN" "$c" --frobnicate --help)" = "$h" ] || fail "$c --frobnicate --help"
done
h=$("$DDSCAN" spectrum --help)
for want in '--mass GEV .*GeV' '--sigma CM2 .*cm\^2' '--emin KEV .*keVnr (default 1)' \
  '--emax KEV .*(default 100)' '--step KEV .*(default 1)' '--integrate E1:E2' '--config CONFIG'; do
  grep -q -- "$want" <<<"$h" || fail "spectrum --help lacks '$want': $h"
done
grep -q '\[\.\.\.\]' <<<"$h$global" && fail "a help still says [...]"
grep -q -- '--shard I/N' <<<"$("$DDSCAN" scan --help)" || fail "scan --help lacks --shard"
grep -q -- '--resume' <<<"$("$DDSCAN" train --help)" || fail "train --help lacks --resume"
grep -q -- '--preview N' <<<"$("$DDSCAN" simulate --help)" || fail "simulate --help lacks --preview"
grep -q -- '--set' <<<"$("$DDSCAN" merge --help)" && fail "merge --help offers --set"
[ "$("$DDSCAN" tiny.cfg --help)" = "$("$DDSCAN" run --help)" ] || fail "ddscan CONFIG --help is not run's"

# Unknown options, options of another command, stray and missing arguments:
# exit 2 with exactly one line naming the offender; nothing runs.
CFG=$ROOT/configs/tiny.cfg
one_line() { # one_line WHAT WANT CMD...: exit 2, one line on stderr containing WANT
  local what=$1 want=$2
  shift 2
  expect_rc 2 "$what" "$@"
  [ "$(wc -l <"$LAST_ERR")" -eq 1 ] || fail "$what: not one line: $(cat "$LAST_ERR")"
  grep -qF -- "$want" "$LAST_ERR" || fail "$what: message lacks '$want': $(cat "$LAST_ERR")"
  [ ! -s "$TMP/last.out" ] || fail "$what: printed to stdout: $(head -c 300 "$TMP/last.out")"
}
one_line "check-config --frobnicate" "unknown option '--frobnicate'" "$DDSCAN" check-config "$CFG" --frobnicate
one_line "check-config stray arg" "unexpected argument 'extra'" "$DDSCAN" check-config "$CFG" extra
one_line "check-config --resume" "'--resume' is not an option of check-config" "$DDSCAN" check-config "$CFG" --resume
one_line "check-config without CONFIG" "missing the CONFIG file" "$DDSCAN" check-config
one_line "run --frobnicate" "unknown option '--frobnicate'" "$DDSCAN" "$CFG" --frobnicate
one_line "simulate --shard" "'--shard' is not an option of simulate" "$DDSCAN" simulate "$CFG" --shard 0/2
one_line "train --preview" "'--preview' is not an option of train" "$DDSCAN" train "$CFG" --preview 2
one_line "score stray arg" "unexpected argument 'x'" "$DDSCAN" score "$CFG" x
one_line "scan --preview" "'--preview' is not an option of scan" "$DDSCAN" scan "$CFG" --preview 2
one_line "scan bad shard" "--shard needs I/N" "$DDSCAN" scan "$CFG" --shard 3/2
one_line "merge --set" "'--set' is not an option of merge" "$DDSCAN" merge a.h5 b.h5 --set run.seed=1
one_line "merge one file" "missing OUT.h5 SHARD.h5" "$DDSCAN" merge a.h5
one_line "info two files" "unexpected argument 'b.h5'" "$DDSCAN" info a.h5 b.h5
one_line "info --resume" "'--resume' is not an option of info" "$DDSCAN" info a.h5 --resume
one_line "schema stray arg" "unexpected argument 'x'" "$DDSCAN" schema x
one_line "spectrum stray arg" "unexpected argument '50'" "$DDSCAN" spectrum --mass 30 50
one_line "spectrum --shard" "'--shard' is not an option of spectrum" "$DDSCAN" spectrum --mass 30 --shard 0/2
one_line "spectrum --masss" "unknown option '--masss'" "$DDSCAN" spectrum --masss 30
one_line "--verbose=1" "--verbose takes no value" "$DDSCAN" schema --verbose=1

# --set: strings need no quotes; quoted strings, numbers, booleans and arrays still work.
"$DDSCAN" check-config "$CFG" --set run.output_dir=runs/x --set stats.binning.rule=quantile \
  --set run.name=2024 --set 'scan.r=[0.0, 50.0]' --set run.seed=9 >"$TMP/set.txt" 2>&1 ||
  fail "--set with bare strings rejected: $(cat "$TMP/set.txt")"
for want in 'output_dir = "runs/x";' 'rule = "quantile";' 'name = "2024";' 'r = \[ 0.0, 50.0 \];' 'seed = 9;'; do
  grep -q "$want" "$TMP/set.txt" || fail "--set: resolved config lacks '$want': $(grep -E 'output_dir|rule|name|seed|r =' "$TMP/set.txt")"
done
"$DDSCAN" check-config "$CFG" --set 'run.output_dir="runs/q"' >"$TMP/set.txt" 2>&1 || fail "quoted --set rejected"
grep -q 'output_dir = "runs/q";' "$TMP/set.txt" || fail "quoted --set not applied"
one_line "--set bad enum" "--set stats.binning.rule=quantil: stats.binning.rule:" "$DDSCAN" check-config "$CFG" --set stats.binning.rule=quantil
one_line "--set string to int key" "run.seed: expected an integer" "$DDSCAN" check-config "$CFG" --set run.seed=abc
one_line "--set broken array" "--set scan.r=[0.0, 1: scan.r:" "$DDSCAN" check-config "$CFG" --set 'scan.r=[0.0, 1'

# Errors: one sentence without the internal status, C file:line, function or
# the "<-" chain; -v adds them.
expect_rc 2 "bad type" "$DDSCAN" check-config "$ROOT/tests/data/cfg_bad/wrong_type.cfg"
grep -q '^ddscan: error: .*wrong_type.cfg:2: run.seed: expected an integer' "$LAST_ERR" || fail "error text: $(cat "$LAST_ERR")"
grep -Eq 'DD_ERR|\.c:[0-9]|<-' "$LAST_ERR" && fail "error without -v shows internals: $(cat "$LAST_ERR")"
[ "$(wc -l <"$LAST_ERR")" -eq 1 ] || fail "error is not one line: $(cat "$LAST_ERR")"
expect_rc 2 "bad type -v" "$DDSCAN" check-config "$ROOT/tests/data/cfg_bad/wrong_type.cfg" -v
grep -q 'wrong_type.cfg:2: run.seed: expected an integer' "$LAST_ERR" || fail "-v error text: $(cat "$LAST_ERR")"
grep -Eq 'DD_ERR_CONFIG [a-z/_]+\.c:[0-9]+ [a-z_]+: ' "$LAST_ERR" || fail "-v lacks status and file:line: $(cat "$LAST_ERR")"
grep -q ' <- ' "$LAST_ERR" || fail "-v lacks the context chain: $(cat "$LAST_ERR")"
expect_rc 1 "info on a missing file" "$DDSCAN" info "$TMP/nope.h5"
grep -q "^ddscan: error: info: '$TMP/nope.h5' does not exist$" "$LAST_ERR" || fail "info error: $(cat "$LAST_ERR")"

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
