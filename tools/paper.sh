#!/usr/bin/env bash
# paper.sh - `make paper`: runs every configs/fig*-small.cfg through the whole
# pipeline on this machine (NP ranks, default 2; the networks are trained once
# and shared through train.checkpoint_dir), then regenerates docs/results.md
# with tools/mkresults: each figure from the run made for it, the paper's
# statements with computed verdicts, and the hand-written notes of
# docs/results-notes.md, and the two-halves check of the Fig. 9 run's Monte
# Carlo (tools/mc_halves.py).  The analysis samples are sized for unflagged
# contours (120 000 - 150 000 scored events for Figs. 8 and 9): with the shared
# networks already trained, about 25 minutes on 2 idle cores; training them
# first adds about 25 minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Open MPI refuses root without explicit consent (containers, CI machines);
# this developer script gives it, as the test runner does; ddscan never does.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export NP=${NP:-2} SMALL=1 MPIRUN=${MPIRUN:-mpirun --oversubscribe}
t0=$(date +%s)
for n in 9 5 6 7 8; do # Fig. 9 first: it trains the shared networks
  echo "== paper: Fig. $n ($(($(date +%s) - t0)) s so far)"
  jobs/fig$n.sh -q
done
files=()
for n in 5 6 7 8 9; do
  figs=$n
  [ "$n" = 9 ] && figs="1,3,4,9" # the networks' figures once, from the Fig. 9 run
  files+=("runs/fig$n-small/results.h5:$figs")
done
# Is the analysis Monte Carlo large enough?  Two independent halves of the
# Fig. 9 run's scored events, each scanned alone (issue 14: within 3 %).
echo "== paper: Monte-Carlo halves of the Fig. 9 run ($(($(date +%s) - t0)) s so far)"
halves=runs/fig9-small/mc_halves.txt
hrc=0
/usr/bin/python3 tools/mc_halves.py runs/fig9-small/results.h5 configs/fig9-small.cfg \
  --np "$NP" >"$halves" 2>&1 || hrc=$?
cat "$halves"
[ "$hrc" -le 1 ] || { echo "paper: tools/mc_halves.py failed (exit $hrc)"; exit 1; }
notes=$(mktemp)
trap 'rm -f "$notes"' EXIT
{
  cat docs/results-notes.md
  echo
  echo "### Is the analysis Monte Carlo large enough? (Fig. 9 run, two halves)"
  echo
  echo "\`tools/mc_halves.py runs/fig9-small/results.h5 configs/fig9-small.cfg\` splits the scored"
  echo "events into two independent halves (even and odd event index), scans each alone and compares"
  echo "σ5 (issue 14 asks for agreement within 3 % at every exposure; exit status $hrc, 0 = met):"
  echo
  echo '```'
  cat "$halves"
  echo '```'
} >"$notes"
tools/mkresults --out docs/results.md --notes "$notes" "${files[@]}"
echo "== paper: done in $(($(date +%s) - t0)) s: docs/results.md, figures in docs/img/results/"
