#!/usr/bin/env bash
# fuzz.sh BUILD SECONDS TARGET... - runs each libFuzzer harness
# BUILD/fuzz/fuzz_TARGET for SECONDS (one process, nice), growing the
# corpus BUILD/fuzz/corpus/TARGET from the seeds (configs/, tests/data/
# cfg_bad and cfg_ok for "config"; tests/fuzz/set_seeds for "set";
# tests/fuzz/TARGET_seeds for any other).  A crash leaves its input in
# BUILD/fuzz/crashes/ and fails the run: add it to tests/data/cfg_bad/
# (tests/e2e/cfg_corpus.sh) as a regression case.  Prints the final
# cov/ft/exec figures of each target (docs/reliability.md "Fuzzing").
set -u
build=$1 secs=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
rc=0
for t in "$@"; do
  bin="$build/fuzz/fuzz_$t"
  corpus="$build/fuzz/corpus/$t"
  mkdir -p "$corpus" "$build/fuzz/crashes"
  case $t in
    config) seeds=("$root/configs" "$root/tests/data/cfg_bad" "$root/tests/data/cfg_ok"
                   "$root/tests/fuzz/config_seeds") ;;
    *) seeds=("$root/tests/fuzz/${t}_seeds") ;;
  esac
  # -max_len: a configuration is a few kB; an events file (HDF5) tens of kB
  # events: the reader runs through Open MPI and parallel HDF5, whose
  # dlopen'ed components leak at MPI_Init (as in `make asan`): no leak checks
  # events also: a corrupt size field makes libhdf5 itself ask malloc for
  # exabytes (H5C_protect); production malloc returns NULL and HDF5 fails the
  # read, which is the path to test, so ASan may return NULL too
  maxlen=8192 leaks=1 asan=${ASAN_OPTIONS:-}
  [ "$t" = events ] && maxlen=65536 leaks=0 asan="allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  log="$build/fuzz/$t.log"
  echo "fuzz: $t for ${secs} s (log $log)"
  # -timeout: one input never takes a second; -rss_limit_mb: the estimate,
  # not an allocation, sizes a grid
  ASAN_OPTIONS=$asan LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0" \
    nice -n 10 "$bin" -max_total_time="$secs" -max_len=$maxlen -detect_leaks=$leaks -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/fuzz/crashes/$t-" "$corpus" "${seeds[@]}" \
    >"$log" 2>&1
  r=$?
  # the last status line and the final statistics
  grep -E '^#[0-9]+' "$log" | tail -1
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log"
  if [ $r -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $r): see $log and $build/fuzz/crashes/"
    grep -m3 -E 'ERROR|runtime error|SUMMARY' "$log"
    rc=1
  fi
done
exit $rc
