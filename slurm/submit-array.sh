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
# usage: slurm/submit-array.sh [-n SHARDS] [-m MAX_RUNNING] [--prep] CONFIG [ddscan options]
#   -n SHARDS       array size N (default 8; at most the number of work units is useful)
#   -m MAX_RUNNING  at most this many shards at once (--array=0-(N-1)%M)
#   --prep          first submit a preparation job that runs the stages before
#                   the scan ($DDSCAN_PREP_STAGES, default "simulate train score")
#                   with slurm/ddscan.sbatch, or the batch script $DDSCAN_PREP_SBATCH
#                   (called with CONFIG [ddscan options]); without --prep,
#                   <run.output_dir>/results.h5 must already hold the scores.
# Environment: SBATCH_ARGS (options for every job, e.g. "-A myproj -p cpu"),
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
usage() {
  sed -n 's/^# usage: //p' "$0" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    -n) [ $# -ge 2 ] || usage; n=$2; shift 2 ;;
    -m) [ $# -ge 2 ] || usage; m=$2; shift 2 ;;
    --prep) prep=1; shift ;;
    -h | --help) usage ;;
    -*) echo "submit-array.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "submit-array.sh: -n needs a positive count" >&2; exit 2; }
[ -z "$m" ] || [[ "$m" =~ ^[1-9][0-9]*$ ]] || { echo "submit-array.sh: -m needs a positive count" >&2; exit 2; }
config=$1
shift
ddscan=${DDSCAN:-$(command -v ddscan || echo "$PWD/bin/ddscan")}
[ -x "$ddscan" ] || { echo "submit-array.sh: no ddscan binary at '$ddscan' (set DDSCAN)" >&2; exit 1; }
export DDSCAN=$ddscan

# The shard files live in run.output_dir of the resolved configuration.
resolved=$("$ddscan" check-config "$config" "$@") || exit 1
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
if [ "$prep" = 1 ]; then
  if [ -n "${DDSCAN_PREP_SBATCH:-}" ]; then
    prep_id=$(submit ${SBATCH_ARGS:-} ${PREP_SBATCH_ARGS:-} "$DDSCAN_PREP_SBATCH" "$config" "$@")
  else
    prep_id=$(DDSCAN_STAGES=${DDSCAN_PREP_STAGES:-simulate train score} \
      submit ${SBATCH_ARGS:-} ${PREP_SBATCH_ARGS:-} "$here/ddscan.sbatch" "$config" "$@")
  fi
  echo "submit-array.sh: preparation job $prep_id"
  dep=(--dependency="afterok:$prep_id" --kill-on-invalid-dep=yes)
fi
array_id=$(DDSCAN_SHARD_COUNT=$n submit --array="0-$((n - 1))${m:+%$m}" "${dep[@]}" ${SBATCH_ARGS:-} \
  ${SHARD_SBATCH_ARGS:-} "$here/ddscan-array.sbatch" "$config" "$@")
echo "submit-array.sh: array job $array_id (tasks 0-$((n - 1))${m:+, at most $m at once})"
shards=()
for ((i = 0; i < n; i++)); do shards+=("$out/results.shard-$i-of-$n.h5"); done
merge_id=$(submit --dependency="afterok:$array_id" --kill-on-invalid-dep=yes ${SBATCH_ARGS:-} \
  ${MERGE_SBATCH_ARGS:-} "$here/ddscan-merge.sbatch" "$out/results.h5" "${shards[@]}")
echo "submit-array.sh: merge job $merge_id -> $out/results.h5 (watch: squeue -j $array_id,$merge_id)"
echo "jobs: $prep_id $array_id $merge_id"
