#!/usr/bin/env bash
# deps.sh - installs the Debian 12 packages ddscan needs, when they are missing.
# usage: tools/deps.sh [build|slurm|torch]
#   build (default): compiler stack, libraries, test and plotting packages
#   slurm:           a local SLURM for `make check-slurm`
#   torch:           Debian's python3-torch for the PyTorch side of `make bench`
# As root it runs apt-get; otherwise it uses sudo when that works without a
# password; otherwise it prints one line naming the packages and fails.
set -euo pipefail

case "${1:-build}" in
  build)
    pkgs=(gcc make pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev
          hdf5-tools libopenblas-dev libconfig-dev libcmocka-dev libpng-dev
          python3 python3-numpy python3-h5py python3-matplotlib) ;;
  slurm) pkgs=(slurmctld slurmd slurm-client munge) ;;
  torch) pkgs=(python3-torch) ;;
  *) echo "deps.sh: unknown package set '$1' (build, slurm or torch)" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "ddscan: missing Debian packages; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "ddscan: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_install() {
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/ddscan-apt.log 2>&1
}
if ! apt_install; then
  # A fresh machine may have empty package lists.
  "${as_root[@]}" apt-get update -q >>/tmp/ddscan-apt.log 2>&1 || true
  if ! apt_install; then
    tail -n 20 /tmp/ddscan-apt.log >&2
    echo "ddscan: apt-get could not install: ${missing[*]} (log: /tmp/ddscan-apt.log)" >&2
    exit 1
  fi
fi
echo "ddscan: installed ${missing[*]}"
