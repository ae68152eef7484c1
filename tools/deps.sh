#!/usr/bin/env bash
# deps.sh - installs missing Debian 12 packages, only when it can.
# usage: tools/deps.sh [build|test|slurm|torch|blis|flexiblas]  a package set (default build)
#        tools/deps.sh install PKG...  these packages
#        tools/deps.sh can-install     exit 0 when apt-get may run here
#   build:  compiler stack and libraries of bin/ddscan
#   test:   what `make check` adds: cmocka, h5dump/h5diff, Python with h5py, matplotlib, xarray
#           and its two netCDF-4 engines (h5netcdf, netCDF4: tests/py/test_xarray.py)
#   slurm:  a local SLURM for `make check-slurm`
#   torch:  Debian's python3-torch for the PyTorch side of `make bench`
#   blis, flexiblas: a second CBLAS (make BLAS=blis)
# apt-get runs only when a package is missing AND this is Debian (dpkg-query
# and apt-get exist) AND it runs as root or password-less sudo works.  Else a
# set prints one line naming what is missing (exit 1 for build, slurm, torch,
# blis, flexiblas; 0 for test, whose tests say what they lack) and a machine
# without dpkg is left alone: tools/configure.sh finds libraries by
# compiling against them and names the variables that point at them.
set -euo pipefail

is_debian() { command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; }
as_root=()
can_install() {
  is_debian || return 1
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    return 1
  fi
}

apt_install() { # apt_install PKG...
  echo "ddscan: installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  local log=${TMPDIR:-/tmp}/ddscan-apt.$$.log
  if ! "${as_root[@]}" apt-get install -y -q --no-install-recommends "$@" >"$log" 2>&1; then
    # A fresh machine may have empty package lists.
    "${as_root[@]}" apt-get update -q >>"$log" 2>&1 || true
    if ! "${as_root[@]}" apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1; then
      tail -n 20 "$log" >&2
      echo "ddscan: apt-get could not install: $* (log: $log)" >&2
      return 1
    fi
  fi
  rm -f "$log"
  echo "ddscan: installed $*"
}

set_name=${1:-build}
case "$set_name" in
  can-install) can_install; exit ;;
  install)
    shift
    can_install || { echo "ddscan: cannot run apt-get here (not Debian, or neither root nor sudo): install $* yourself" >&2; exit 1; }
    apt_install "$@"; exit ;;
  build) pkgs=(gcc make pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev libopenblas-dev
               libconfig-dev libpng-dev) ;;
  test) pkgs=(hdf5-tools libcmocka-dev python3 python3-numpy python3-h5py python3-matplotlib
              python3-xarray python3-h5netcdf python3-netcdf4) ;;
  slurm) pkgs=(slurmctld slurmd slurm-client munge) ;;
  torch) pkgs=(python3-torch) ;;
  blis) pkgs=(libblis-dev) ;;
  flexiblas) pkgs=(libflexiblas-dev) ;;
  *) echo "deps.sh: unknown package set '$set_name' (build, test, slurm, torch, blis, flexiblas)" >&2; exit 2 ;;
esac

if ! is_debian; then
  [ "$set_name" = test ] && exit 0
  echo "ddscan: not a Debian system (no dpkg-query/apt-get): install the '$set_name' set (${pkgs[*]}) by your site's means" >&2
  exit 1
fi
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! can_install; then
  if [ "$set_name" = test ]; then
    echo "ddscan: Debian packages for the tests are not installed (${missing[*]}); not root and no sudo: tests that need them say so" >&2
    exit 0
  fi
  echo "ddscan: missing Debian packages (${missing[*]}); install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
apt_install "${missing[@]}"
