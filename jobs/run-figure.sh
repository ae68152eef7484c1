#!/usr/bin/env bash
# run-figure.sh N [ddscan options] - shared body of jobs/figN.sh: runs
# configs/figN.cfg (or figN-small.cfg with SMALL=1) through the whole pipeline
# with mpirun and draws Fig. N into runs/figN[-small]/figures.
# Environment: NP (ranks; default: mpirun's own choice, i.e. the allocation or
# the cores), DDSCAN (binary; default bin/ddscan of this checkout, else ddscan
# on PATH), MPIRUN (default "mpirun"), SMALL=1.
set -euo pipefail
n=${1:?usage: run-figure.sh N [ddscan options]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
name="fig$n${SMALL:+-small}"
cfg="$root/configs/$name.cfg"
ddscan=${DDSCAN:-$root/bin/ddscan}
[ -x "$ddscan" ] || ddscan=$(command -v ddscan) || { echo "run-figure: no ddscan binary (make)" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd "$root" # the configs' output and checkpoint paths are relative to the checkout
echo "run-figure: $("$ddscan" --version)"
echo "run-figure: $cfg ($("$ddscan" check-config "$cfg" | grep '# config hash'))"
${MPIRUN:-mpirun} ${NP:+-n "$NP"} "$ddscan" "$cfg" "$@"
"$root/tools/ddplot" "runs/$name/results.h5" --fig "$n" --out "runs/$name/figures"
echo "run-figure: Fig. $n of $name in runs/$name/figures (results: runs/$name/results.h5)"
