#!/usr/bin/env bash
# check.sh - `make check-slurm`: the SLURM scripts against a real SLURM on
# localhost (tests/slurm/local.sh: private munged, slurmctld, slurmd; needs
# root and tools/deps.sh slurm).  On synthetic scores:
#   1. slurm/ddscan.sbatch, srun --mpi=pmix (DDSCAN_SRUN_MPI), 2 ranks, with a
#      DDSCAN_ENV hook and --resume: one whole scan;
#   2. slurm/submit-array.sh --prep with DDSCAN_LAUNCHER=mpirun: preparation
#      job -> array of 3 shards (at most 2 at once) -> dependent merge; the
#      merged file equals the single run (provenance excluded);
#   3. a chain whose shards fail (no scores, no --prep): the merge is
#      cancelled by --kill-on-invalid-dep instead of pending forever.
# The daemons are always stopped (trap), even on failure.
# usage: tests/slurm/check.sh BUILD_DIR BIN_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/${1:-build}
bin=$root/${2:-bin}
fail() {
  echo "FAIL: check-slurm: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "a private SLURM needs root"
for f in "$bin/ddscan" "$build/tests/mpi_scan" "$build/tests/mpi_io"; do
  [ -x "$f" ] || fail "$f is not built (make all tests)"
done
work=$(mktemp -d "${TMPDIR:-/tmp}/ddscan-check-slurm.XXXXXX")
chmod 755 "$work"
# A port pair of our own, so that another SLURM on this host does not collide.
export SL_PORT=${SL_PORT:-$((20000 + 2 * ($$ % 10000)))}
cleanup() {
  "$root/tests/slurm/local.sh" stop "$work/slurm" >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "check-slurm: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
t0=$(date +%s)
eval "$("$root/tests/slurm/local.sh" start "$work/slurm")"
daemons=$(cat "$work/slurm/slurmctld.pid" "$work/slurm/slurmd.pid" "$work/slurm/munge/munged.pid")
echo "check-slurm: SLURM up on localhost (ports $SL_PORT, $((SL_PORT + 1)); pids" $daemons")"

# Test-harness-only settings: Open MPI as root, and no busy-polling.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_btl=self,vader
export HDF5_USE_FILE_LOCKING=FALSE
export DDSCAN=$bin/ddscan DDSCAN_BUILD=$build

cat >"$work/scan.cfg" <<'CFG'
run = { name = "slurm"; seed = 21; output_dir = "run"; };
scan = {
  mass_gev = [10.0, 100.0];
  sigma_cm2 = { log_from = 1e-48; log_to = 1e-45; points = 5; };
  exposure_ty = [1.0, 5.0, 20.0];
  r = [0.0, 100.0, 170.0];
};
stats = { binning = { rule = "quantile"; bins = 20; }; };
CFG

state() { # state JOBID: the job's state (COMPLETED, FAILED, CANCELLED, PENDING, ...)
  scontrol show job -o "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'
}
wait_final() { # wait_final JOBID SECONDS: prints the final state
  local s=""
  for _ in $(seq 1 $((${2} * 5))); do
    s=$(state "$1")
    case "$s" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
    sleep 0.2
  done
  echo "$s"
}

# 1. One whole scan: srun --mpi=pmix, 2 ranks.
mkdir -p "$work/single"
cd "$work/single"
mpirun -n 1 "$build/tests/mpi_scan" scores ../scan.cfg --er 3000 --nr 3000 >scores.log 2>&1 ||
  fail "synthetic scores: $(cat scores.log)"
# the environment hook, srun's --mpi passed through, and a stage option
# (--resume) that check-config does not take: the script hands each command
# only its own options.
printf 'export DDSCAN_HOOK_MARK=sourced\necho "hook: $DDSCAN_HOOK_MARK"\n' >env.sh
DDSCAN_ENV=$PWD/env.sh DDSCAN_SRUN_MPI=pmix DDSCAN_STAGES=scan sbatch --wait -n 2 -o single.out \
  "$root/slurm/ddscan.sbatch" ../scan.cfg --resume >/dev/null ||
  fail "ddscan.sbatch (srun): $(tail -n 20 single.out)"
grep -q '^hook: sourced$' single.out && grep -q "^ddscan.sbatch: environment from $PWD/env.sh" single.out ||
  fail "DDSCAN_ENV not sourced: $(head -n 5 single.out)"
grep -q 'stage scan: srun --mpi=pmix --kill-on-bad-exit=1 ddscan scan ../scan.cfg --resume' single.out ||
  fail "srun line: $(grep stage single.out)"
grep -q '^ddscan.sbatch: ddscan ' single.out || fail "no version line: $(head -n 5 single.out)"
grep -q '^ddscan.sbatch: config ../scan.cfg (hash [0-9a-f]\{16\})' single.out ||
  fail "no config hash line: $(head -n 5 single.out)"
grep -q 'scan: 6 work units (mass, R) on 2 rank(s)' single.out ||
  fail "not a 2-rank scan: $(cat single.out)"
[ -f run/results.h5 ] || fail "the single run wrote no results.h5"
echo "check-slurm: ddscan.sbatch (srun --mpi=pmix, 2 ranks) ok"

# 2. Preparation job -> array of shards (mpirun inside each) -> merge.
mkdir -p "$work/array"
cd "$work/array"
DDSCAN_PREP_SBATCH=$root/tests/slurm/prep-synthetic.sbatch DDSCAN_LAUNCHER=mpirun \
  "$root/slurm/submit-array.sh" -n 3 -m 2 --prep ../scan.cfg >submit.log 2>&1 ||
  fail "submit-array.sh: $(cat submit.log)"
read -r _ prep_id array_id merge_id < <(tail -n 1 submit.log)
[ -n "$merge_id" ] || fail "submit-array.sh printed no job ids: $(cat submit.log)"
s=$(wait_final "$merge_id" 300)
[ "$s" = COMPLETED ] || fail "merge job $merge_id ended $s: $(cat ./*.out 2>/dev/null | tail -n 40)"
for i in 0 1 2; do
  log=ddscan-shard-${array_id}_$i.out
  grep -q "task $i of 3" "$log" && grep -q "^ddscan-array.sbatch: mpirun ddscan scan ../scan.cfg --resume --shard $i/3" "$log" ||
    fail "shard log $i: $(cat "$log")"
  [ -f "run/results.shard-$i-of-3.h5" ] || fail "no shard file $i"
done
grep -q "status:  complete" "ddscan-merge-$merge_id.out" || fail "merge log: $(cat ddscan-merge-"$merge_id".out)"
mpirun -n 2 "$build/tests/mpi_io" compare "$work/single/run/results.h5" run/results.h5 >cmp.log 2>&1 ||
  fail "the merged shards differ from the single run: $(cat cmp.log)"
for g in /scan /contours /templates /scores; do
  h5diff "$work/single/run/results.h5" run/results.h5 "$g" "$g" >/dev/null ||
    fail "h5diff $g: merged shards vs single run"
done
echo "check-slurm: submit-array.sh --prep (prep $prep_id, array $array_id of 3 via mpirun, merge $merge_id) equals the single run"

# 3. Failing shards cancel the merge.
mkdir -p "$work/broken"
cd "$work/broken"
"$root/slurm/submit-array.sh" -n 2 ../scan.cfg >submit.log 2>&1 || fail "submit-array.sh: $(cat submit.log)"
read -r _ _ array_id merge_id < <(tail -n 1 submit.log)
s=$(wait_final "$merge_id" 120)
[ "$s" = CANCELLED ] || fail "merge after failed shards ended '$s', expected CANCELLED"
grep -q "does not exist" "ddscan-shard-${array_id}_0.out" ||
  fail "failed shard log: $(cat "ddscan-shard-${array_id}_0.out")"
echo "check-slurm: failed shards -> merge $merge_id CANCELLED (--kill-on-invalid-dep=yes)"

cd "$root"
cleanup
trap - EXIT
for pid in $daemons; do
  st=$(ps -o stat= -p "$pid" 2>/dev/null || true)
  [ -z "$st" ] || [ "${st:0:1}" = Z ] || fail "daemon $pid still running after stop"
done
echo "check-slurm: passed in $(($(date +%s) - t0)) s; daemons stopped"
