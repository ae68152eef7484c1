#!/usr/bin/env bash
# fig8.sh - the paper's Fig. 8 end to end: the pipeline of configs/fig8.cfg
# (simulate, train, score, scan; stages already current are skipped) under
# mpirun, then the figure from the results file.
#   NP=64 jobs/fig8.sh            paper scale (a cluster node or allocation)
#   SMALL=1 NP=2 jobs/fig8.sh     the 2-core twin configs/fig8-small.cfg
# Inside a SLURM allocation use slurm/ddscan.sbatch instead, or run this script
# from the batch script (mpirun takes the allocation's size without NP).
# Every fig*.cfg shares its checkpoints (train.checkpoint_dir): run one figure
# first, or `ddscan train configs/fig8.cfg`, before starting several at once.
exec "$(dirname "$0")/run-figure.sh" 8 "$@"
