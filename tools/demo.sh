#!/usr/bin/env bash
# demo.sh - `make demo`: configs/quick.cfg end to end on 2 ranks (simulate,
# train, score, scan; a few minutes on 2 cores), then every figure its results
# file supports, and where everything is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Open MPI refuses root without explicit consent (containers, CI machines);
# this developer script gives it, as the test runner does; ddscan never does.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
np=${NP:-2}
out=runs/quick
t0=$(date +%s)
${MPIRUN:-mpirun --oversubscribe} -n "$np" bin/ddscan configs/quick.cfg --preview 4
tools/ddplot "$out/results.h5" --out "$out/figures"
bin/ddscan info "$out/results.h5"
cat <<MSG

demo done in $(($(date +%s) - t0)) s:
  results file   $out/results.h5      (h5dump -H, h5py, HDFView; docs/format.md)
  figures        $out/figures/        (paper Figs. 1, 3-9: tools/ddplot)
  event previews $out/preview/        (ER and NR images as the networks see them)
  training       $out/training/       (test images beside their CVAE reconstructions)
  summary        bin/ddscan info $out/results.h5
MSG
