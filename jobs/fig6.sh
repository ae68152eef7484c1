#!/usr/bin/env bash
# fig6.sh - the paper's Fig. 6 end to end: the pipeline of configs/fig6.cfg
# (simulate, train, score, scan; stages already current are skipped) under
# mpirun, then the figure from the results file.
#   NP=64 jobs/fig6.sh            paper scale (a cluster node or allocation)
#   SMALL=1 NP=2 jobs/fig6.sh     the 2-core twin configs/fig6-small.cfg
# Inside a SLURM allocation use slurm/ddscan.sbatch instead, or run this script
# from the batch script (mpirun takes the allocation's size without NP).
# Every fig*.cfg shares its checkpoints (train.checkpoint_dir): run one figure
# first, or `ddscan train configs/fig6.cfg`, before starting several at once.
exec "$(dirname "$0")/run-figure.sh" 6 "$@"
