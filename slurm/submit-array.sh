#!/usr/bin/env bash
# submit-array.sh - submits a sharded scan as a chain of SLURM jobs:
#   [prep]  (--prep) the stages before the scan, so the shards find the scores
#   array   N shards: slurm/ddscan-array.sbatch, task I runs `ddscan scan --shard I/N`
#   merge   slurm/ddscan-merge.sbatch: `ddscan merge` of the N shard files into
#           <run.output_dir>/results.h5, then `ddscan info`
# Each job starts only when the previous one succeeded (--dependency=afterok);
# --kill-on-invalid-dep=yes cancels the rest of the chain when one fails
# instead of leaving it pending forever.
#
# usage: slurm/submit-array.sh [-n SHARDS] [-m MAX_RUNNING] [-A ACCOUNT] [-p PARTITION] [-t TIME] [--after JOBID] [--prep] CONFIG [ddscan options]
#   -n SHARDS       array size N (default 8; at most the number of work units is useful)
#   -m MAX_RUNNING  at most this many shards at once (--array=0-(N-1)%M)
#   -A ACCOUNT, -p PARTITION, -t TIME
#                   sbatch's --account, --partition and --time for every job of
#                   the chain (per job: PREP/SHARD/MERGE_SBATCH_ARGS below)
#   --after JOBID   the chain's first job waits for JOBID to succeed
#                   (afterok), e.g. a job that trains the networks once
#   --prep          first submit a preparation job that runs the stages before
#                   the scan ($DDSCAN_PREP_STAGES, default "simulate train score")
#                   with slurm/ddscan.sbatch, or the batch script $DDSCAN_PREP_SBATCH
#                   (called with CONFIG [ddscan options]); without --prep,
#                   <run.output_dir>/results.h5 must already hold the scores.
# Environment: DDSCAN_ENV (a file sourced here and in every job first: module
# load, conda activate), SBATCH_ARGS (options for every job, e.g. "-A myproj -p cpu"),
# PREP_SBATCH_ARGS (e.g. "-N 4 --ntasks-per-node=32 -t 4:00:00"),
# SHARD_SBATCH_ARGS (per shard, e.g. "-n 16 -t 0:30:00"), MERGE_SBATCH_ARGS,
# DDSCAN (the binary), DDSCAN_LAUNCHER, ... as in slurm/ddscan.sbatch; jobs
# inherit this shell's environment and working directory (relative paths in
# CONFIG are relative to it).
# Prints the job ids, and as its last line "jobs: PREP ARRAY MERGE" (PREP is
# "-" without --prep).  See docs/cluster.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=8
m=""
prep=0
after=""
common=()
usage() {
  sed -n 's/^# usage: //p' "$0" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    -n) [ $# -ge 2 ] || usage; n=$2; shift 2 ;;
    -m) [ $# -ge 2 ] || usage; m=$2; shift 2 ;;
    -A | -p | -t) [ $# -ge 2 ] || usage; common+=("$1" "$2"); shift 2 ;;
    --after) [ $# -ge 2 ] || usage; after=$2; shift 2 ;;
    --prep) prep=1; shift ;;
    -h | --help) usage ;;
    -*) echo "submit-array.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "submit-array.sh: -n needs a positive count" >&2; exit 2; }
[ -z "$m" ] || [[ "$m" =~ ^[1-9][0-9]*$ ]] || { echo "submit-array.sh: -m needs a positive count" >&2; exit 2; }
[ -z "$after" ] || [[ "$after" =~ ^[0-9]+(_[0-9]+)?$ ]] || { echo "submit-array.sh: --after needs a job id" >&2; exit 2; }
config=$1
shift
me=submit-array.sh
# --- common to the slurm/ scripts (kept inline: sbatch runs a copy of the
# --- script, so a sourced helper file could not be found reliably)
# DDSCAN_ENV: a file sourced before anything else (module load, conda
# activate, spack load, exports); it may put ddscan on PATH.
if [ -n "${DDSCAN_ENV:-}" ]; then
  if [ ! -r "$DDSCAN_ENV" ]; then
    echo "$me: DDSCAN_ENV='$DDSCAN_ENV' is not a readable file" >&2
    exit 2
  fi
  set +eu # module and conda scripts read unset variables
  # shellcheck disable=SC1090
  . "$DDSCAN_ENV"
  env_rc=$?
  set -eu
  if [ "$env_rc" -ne 0 ]; then
    echo "$me: sourcing DDSCAN_ENV='$DDSCAN_ENV' failed (exit $env_rc)" >&2
    exit 1
  fi
  echo "$me: environment from $DDSCAN_ENV"
fi
# The MPI launcher of the stages (DDSCAN_LAUNCHER): srun (with --mpi=TYPE
# only when DDSCAN_SRUN_MPI is set, else the cluster's MpiDefault), mpirun,
# or none (one process, no launcher).
launcher() {
  case "${DDSCAN_LAUNCHER:-srun}" in
    srun) launch=(srun ${DDSCAN_SRUN_MPI:+"--mpi=$DDSCAN_SRUN_MPI"} --kill-on-bad-exit=1 ${DDSCAN_SRUN_ARGS:-}) ;;
    mpirun) launch=(mpirun ${DDSCAN_MPIRUN_ARGS:-}) ;;
    none) launch=() ;;
    *)
      echo "$me: DDSCAN_LAUNCHER must be srun, mpirun or none, got '$DDSCAN_LAUNCHER'" >&2
      exit 2
      ;;
  esac
}
# args_for COMMAND ARGS...: sets cmd_args to ARGS without the ddscan options
# that COMMAND does not take but another stage does (check-config takes no
# --resume, simulate no --resume or --shard, ...), read from the option table
# through `ddscan COMMAND --help`; anything unknown stays, for ddscan to refuse.
args_for() {
  local cmd=$1 mine all a name valued
  shift
  mine=$("$ddscan" "$cmd" --help)
  all=$("$ddscan" run --help)
  cmd_args=()
  while [ $# -gt 0 ]; do
    a=$1
    shift
    case "$a" in
      --*=*) name=${a%%=*} valued=0 ;;
      -*) name=$a valued=0 ;;
      *) cmd_args+=("$a") && continue ;;
    esac
    if [ "$a" = "$name" ] && grep -Eq -- "^  (-[a-z], )?$name [A-Z]" <<<"$all"; then valued=1; fi
    if grep -Eq -- "^  (-[a-z], )?$name( |,|$)" <<<"$mine" ||
      ! grep -Eq -- "^  (-[a-z], )?$name( |,|$)" <<<"$all"; then
      cmd_args+=("$a")
      if [ "$valued" = 1 ] && [ $# -gt 0 ]; then cmd_args+=("$1") && shift; fi
    else
      [ "$cmd" = check-config ] || echo "$me: not passing $a to '$cmd' (not one of its options)"
      if [ "$valued" = 1 ] && [ $# -gt 0 ]; then shift; fi
    fi
  done
}
# --- end of the common part
ddscan=${DDSCAN:-$(command -v ddscan || echo "$PWD/bin/ddscan")}
[ -x "$ddscan" ] || { echo "submit-array.sh: no ddscan binary at '$ddscan' (set DDSCAN)" >&2; exit 1; }
export DDSCAN=$ddscan

# The shard files live in run.output_dir of the resolved configuration.
args_for check-config "$@"
resolved=$("$ddscan" check-config "$config" "${cmd_args[@]}") || exit $?
out=$(printf '%s\n' "$resolved" | sed -n 's/^[[:space:]]*output_dir = "\(.*\)";$/\1/p' | head -n 1)
[ -n "$out" ] || { echo "submit-array.sh: no run.output_dir in the resolved configuration" >&2; exit 1; }
hash=$(printf '%s\n' "$resolved" | sed -n 's/^# config hash: \([0-9a-f]*\).*/\1/p')
echo "submit-array.sh: $("$ddscan" --version)"
echo "submit-array.sh: config $config (hash $hash), $n shard(s) -> $out/results.h5"

submit() { # submit SBATCH-ARGS... : prints the job id
  local id
  id=$(sbatch --parsable "$@") || exit 1
  echo "${id%%;*}"
}

prep_id="-"
dep=()
if [ -n "$after" ]; then
  dep=(--dependency="afterok:$after" --kill-on-invalid-dep=yes)
  echo "submit-array.sh: the chain waits for job $after (afterok)"
fi
if [ "$prep" = 1 ]; then
  if [ -n "${DDSCAN_PREP_SBATCH:-}" ]; then
    prep_id=$(submit "${dep[@]}" "${common[@]}" ${SBATCH_ARGS:-} ${PREP_SBATCH_ARGS:-} "$DDSCAN_PREP_SBATCH" "$config" "$@")
  else
    prep_id=$(DDSCAN_STAGES=${DDSCAN_PREP_STAGES:-simulate train score} \
      submit "${dep[@]}" "${common[@]}" ${SBATCH_ARGS:-} ${PREP_SBATCH_ARGS:-} "$here/ddscan.sbatch" "$config" "$@")
  fi
  echo "submit-array.sh: preparation job $prep_id"
  dep=(--dependency="afterok:$prep_id" --kill-on-invalid-dep=yes)
fi
array_id=$(DDSCAN_SHARD_COUNT=$n submit --array="0-$((n - 1))${m:+%$m}" "${dep[@]}" "${common[@]}" ${SBATCH_ARGS:-} \
  ${SHARD_SBATCH_ARGS:-} "$here/ddscan-array.sbatch" "$config" "$@")
echo "submit-array.sh: array job $array_id (tasks 0-$((n - 1))${m:+, at most $m at once})"
shards=()
for ((i = 0; i < n; i++)); do shards+=("$out/results.shard-$i-of-$n.h5"); done
merge_id=$(submit --dependency="afterok:$array_id" --kill-on-invalid-dep=yes "${common[@]}" ${SBATCH_ARGS:-} \
  ${MERGE_SBATCH_ARGS:-} "$here/ddscan-merge.sbatch" "$out/results.h5" "${shards[@]}")
echo "submit-array.sh: merge job $merge_id -> $out/results.h5 (watch: squeue -j $array_id,$merge_id)"
echo "jobs: $prep_id $array_id $merge_id"
