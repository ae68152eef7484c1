#!/usr/bin/env bash
# unprivileged.sh - a cluster user's build: `make` and the tiny pipeline as a
# user who is not root and cannot use sudo or apt (issue 17).  Run as root:
# it creates the user ddscanci when absent, copies the tree (tracked and
# untracked files, no build output) to a folder that user owns, and runs
#   make -j2 WERROR=1   and   bin/ddscan configs/tiny.cfg
# as that user (runuser).  The libraries must be installed already (make
# check or tools/deps.sh build first).  usage: tests/ci/unprivileged.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
user=${DDSCAN_CI_USER:-ddscanci}
[ "$(id -u)" -eq 0 ] || { echo "unprivileged.sh: run as root (it creates and switches to '$user')" >&2; exit 2; }
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)
dir="$home/ddscan-ci"
rm -rf "$dir"
mkdir -p "$dir"
# The working tree as git sees it (a clone would miss uncommitted changes).
(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 tar cf -) | tar xf - -C "$dir"
chown -R "$user:" "$dir"
t0=$(date +%s)
as_user() { runuser -u "$user" -- env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin \
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 bash -c "set -o pipefail; cd '$dir' && $1"; }
as_user 'id -un; sudo -n true 2>/dev/null && { echo "unprivileged.sh: the user can sudo" >&2; exit 1; } || true'
as_user 'make -j2 WERROR=1 2>&1 | grep -v "^mpicc \|^ar "'
as_user 'bin/ddscan --version'
as_user 'bin/ddscan configs/tiny.cfg --set run.output_dir=\"runs/ci\" -q && test -s runs/ci/results.h5'
echo "unprivileged.sh: make and the tiny pipeline ran as '$user' in $(($(date +%s) - t0)) s"
