#!/usr/bin/env bash
# configure.sh - finds ddscan's libraries and writes the flags make uses.
# usage: tools/configure.sh OUT.mk         the program: MPI C compiler, parallel HDF5,
#                                           libconfig, libpng, a CBLAS
#        tools/configure.sh --test OUT.mk  the tests: cmocka
# Every library is tried in order, and a candidate counts only when a small
# program using it compiles and links with $CC:
#   explicit flags   HDF5_CFLAGS/HDF5_LIBS, LIBCONFIG_CFLAGS/LIBCONFIG_LIBS,
#                    PNG_CFLAGS/PNG_LIBS, BLAS_CFLAGS/BLAS_LIBS, CMOCKA_CFLAGS/CMOCKA_LIBS
#   a prefix         HDF5_DIR, LIBCONFIG_DIR, PNG_DIR, BLAS_DIR, CMOCKA_DIR, MKLROOT
#                    (DIR/include and DIR/lib or DIR/lib64, with an rpath)
#   pkg-config       hdf5-openmpi, hdf5-mpi, hdf5; libconfig; libpng; the BLAS's own
#                    name (openblas, blis, flexiblas, mkl-dynamic-lp64-seq); cmocka
#   h5pcc            `h5pcc -shlib -show` (on PATH or in HDF5_DIR/bin)
#   plain            -lconfig, -lpng, -lopenblas ... from the compiler's default paths
# BLAS=openblas|blis|flexiblas|mkl picks the CBLAS (default openblas).  Only
# BLAS=openblas defines DD_BLAS_OPENBLAS, which turns on the OpenBLAS extensions
# (kernel name and build string); DD_BLAS_NAME records the choice in provenance.
# When something is missing and this machine may run apt-get (root or
# password-less sudo on Debian), tools/deps.sh installs it and the search runs
# again; otherwise one line names what is missing and how to point at it.
set -u
# `candidates | find_lib` must set FOUND_* in this shell, not a subshell.
shopt -s lastpipe
root=$(cd "$(dirname "$0")/.." && pwd)
mode=build
if [ "${1:-}" = --test ]; then
  mode=test
  shift
fi
out=${1:?usage: tools/configure.sh [--test] OUT.mk}
CC=${CC:-mpicc}
BLAS=${BLAS:-openblas}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ddscan-configure.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# try NAME CFLAGS LIBS: compiles and links $tmp/NAME.c; 0 when it works.
try() {
  # shellcheck disable=SC2086
  $CC $2 "$tmp/$1.c" -o "$tmp/$1" $3 >>"$tmp/$1.log" 2>&1
}

# The flags of a prefix: DIR/include, DIR/lib64 or DIR/lib with an rpath.
dir_cflags() { echo "-I$1/include"; }
dir_libs() { # dir_libs DIR LIBS...
  local d=$1 l=$1/lib
  shift
  [ -d "$d/lib64" ] && [ ! -d "$d/lib" ] && l=$d/lib64
  echo "-L$l -Wl,-rpath,$l $*"
}

pc() { pkg-config "$@" 2>/dev/null; }

# `h5pcc -shlib -show` prints the compiler followed by the flags; keep the flags.
h5pcc_flags() { # h5pcc_flags cflags|libs
  local h5pcc=""
  if [ -n "${HDF5_DIR:-}" ] && [ -x "$HDF5_DIR/bin/h5pcc" ]; then
    h5pcc=$HDF5_DIR/bin/h5pcc
  elif command -v h5pcc >/dev/null 2>&1; then
    h5pcc=h5pcc
  fi
  [ -n "$h5pcc" ] || return 1
  local words w c="" l=""
  words=$("$h5pcc" -shlib -show 2>/dev/null) || return 1
  for w in ${words#* }; do
    case "$w" in
      -I* | -D*) c="$c $w" ;;
      -L* | -l* | -Wl,* | *.so | *.so.* | *.a) l="$l $w" ;;
    esac
  done
  if [ "$1" = cflags ]; then echo "$c"; else echo "$l"; fi
}

# find NAME: tries the candidates for NAME, sets FOUND_CFLAGS/FOUND_LIBS.
# Candidates are "CFLAGS|LIBS" lines; an empty list means not found.
find_lib() { # find_lib NAME (candidates on stdin)
  local name=$1 line
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    FOUND_CFLAGS=${line%%|*}
    FOUND_LIBS=${line#*|}
    echo "== $FOUND_CFLAGS | $FOUND_LIBS" >>"$tmp/$name.log"
    if try "$name" "$FOUND_CFLAGS" "$FOUND_LIBS"; then return 0; fi
  done
  return 1
}

cat >"$tmp/hdf5.c" <<'EOF'
#include <hdf5.h>
#include <hdf5_hl.h>
#include <mpi.h>
int main(void) {
  hid_t p = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(p, MPI_COMM_WORLD, MPI_INFO_NULL);
  return H5DSis_scale(p) < 0 && H5Pclose(p) < 0;
}
EOF
cat >"$tmp/libconfig.c" <<'EOF'
#include <libconfig.h>
int main(void) { config_t c; config_init(&c); config_destroy(&c); return 0; }
EOF
cat >"$tmp/png.c" <<'EOF'
#include <png.h>
int main(void) { return png_access_version_number() == 0; }
EOF
cat >"$tmp/blas.c" <<'EOF'
#include <cblas.h>
#ifdef DD_BLAS_OPENBLAS
extern char *openblas_get_corename(void);
#endif
int main(void) {
  float a[1] = {1}, b[1] = {2}, c[1] = {0};
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, a, 1, b, 1, 0.0f, c, 1);
#ifdef DD_BLAS_OPENBLAS
  if (!openblas_get_corename()) return 1;
#endif
  return c[0] != 2.0f;
}
EOF
cat >"$tmp/cmocka.c" <<'EOF'
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
static void t(void **s) { (void)s; }
int main(void) {
  const struct CMUnitTest ts[] = {cmocka_unit_test(t)};
  return cmocka_run_group_tests(ts, NULL, NULL);
}
EOF

missing=()   # what is missing, in words
pointers=()  # how to point the build at it
debs=()      # the Debian packages that provide it

search() { # search: fills the flags of every library, or the missing lists
  missing=() pointers=() debs=()
  if ! command -v "${CC%% *}" >/dev/null 2>&1; then
    missing+=("the MPI C compiler '$CC'")
    pointers+=("CC=/path/to/mpicc")
    debs+=(libopenmpi-dev openmpi-bin)
    return
  fi
  if [ "$mode" = test ]; then
    if ! {
      [ -n "${CMOCKA_LIBS:-}" ] && echo "${CMOCKA_CFLAGS:-}|$CMOCKA_LIBS"
      [ -n "${CMOCKA_DIR:-}" ] && echo "$(dir_cflags "$CMOCKA_DIR")|$(dir_libs "$CMOCKA_DIR" -lcmocka)"
      pc --exists cmocka && echo "$(pc --cflags cmocka)|$(pc --libs cmocka)"
      echo "|-lcmocka"
    } | find_lib cmocka; then
      missing+=("cmocka (needed by make check only)")
      pointers+=("CMOCKA_DIR=PREFIX")
      debs+=(libcmocka-dev)
    fi
    CMOCKA_FLAGS=("$FOUND_CFLAGS" "$FOUND_LIBS")
    return
  fi

  if ! {
    [ -n "${HDF5_LIBS:-}" ] && echo "${HDF5_CFLAGS:-}|$HDF5_LIBS"
    [ -n "${HDF5_DIR:-}" ] && echo "$(dir_cflags "$HDF5_DIR")|$(dir_libs "$HDF5_DIR" -lhdf5_hl -lhdf5)"
    for p in hdf5-openmpi hdf5-mpi hdf5; do
      pc --exists $p && echo "$(pc --cflags $p)|-lhdf5_hl $(pc --libs $p)"
    done
    c=$(h5pcc_flags cflags) && echo "$c|$(h5pcc_flags libs)"
    echo "|-lhdf5_hl -lhdf5"
  } | find_lib hdf5; then
    missing+=("parallel HDF5 (with the high-level library)")
    pointers+=("HDF5_DIR=PREFIX (or h5pcc on PATH, or HDF5_CFLAGS/HDF5_LIBS)")
    debs+=(libhdf5-openmpi-dev)
  fi
  HDF5_FLAGS=("$FOUND_CFLAGS" "$FOUND_LIBS")

  if ! {
    [ -n "${LIBCONFIG_LIBS:-}" ] && echo "${LIBCONFIG_CFLAGS:-}|$LIBCONFIG_LIBS"
    [ -n "${LIBCONFIG_DIR:-}" ] && echo "$(dir_cflags "$LIBCONFIG_DIR")|$(dir_libs "$LIBCONFIG_DIR" -lconfig)"
    pc --exists libconfig && echo "$(pc --cflags libconfig)|$(pc --libs libconfig)"
    echo "|-lconfig"
  } | find_lib libconfig; then
    missing+=("libconfig")
    pointers+=("LIBCONFIG_DIR=PREFIX")
    debs+=(libconfig-dev)
  fi
  LIBCONFIG_FLAGS=("$FOUND_CFLAGS" "$FOUND_LIBS")

  if ! {
    [ -n "${PNG_LIBS:-}" ] && echo "${PNG_CFLAGS:-}|$PNG_LIBS"
    [ -n "${PNG_DIR:-}" ] && echo "$(dir_cflags "$PNG_DIR")|$(dir_libs "$PNG_DIR" -lpng)"
    pc --exists libpng && echo "$(pc --cflags libpng)|$(pc --libs libpng)"
    echo "|-lpng"
  } | find_lib png; then
    missing+=("libpng")
    pointers+=("PNG_DIR=PREFIX")
    debs+=(libpng-dev)
  fi
  PNG_FLAGS=("$FOUND_CFLAGS" "$FOUND_LIBS")

  # The CBLAS.  MKL has no cblas.h: a one-line header in the build folder
  # includes mkl_cblas.h instead.
  local pcname lib deb inc=""
  case "$BLAS" in
    openblas) pcname=openblas lib=-lopenblas deb=libopenblas-dev ;;
    blis) pcname=blis lib=-lblis deb=libblis-dev inc=/usr/include/blis ;;
    flexiblas) pcname=flexiblas lib=-lflexiblas deb=libflexiblas-dev inc=/usr/include/flexiblas ;;
    mkl)
      pcname=mkl-dynamic-lp64-seq lib="-lmkl_intel_lp64 -lmkl_sequential -lmkl_core -lpthread -lm -ldl" deb=""
      mkdir -p "$(dirname "$out")/blas-include"
      echo '#include <mkl_cblas.h>' >"$(dirname "$out")/blas-include/cblas.h"
      inc="$(cd "$(dirname "$out")" && pwd)/blas-include" ;;
    *) pcname=$BLAS lib=-l$BLAS deb="" ;;
  esac
  local def=""
  [ "$BLAS" = openblas ] && def=-DDD_BLAS_OPENBLAS
  local mklinc=""
  [ "$BLAS" = mkl ] && mklinc="-I$inc"
  if ! {
    [ -n "${BLAS_LIBS:-}" ] && echo "$def $mklinc ${BLAS_CFLAGS:-}|$BLAS_LIBS"
    [ -n "${BLAS_DIR:-}" ] && echo "$def $mklinc $(dir_cflags "$BLAS_DIR")|$(dir_libs "$BLAS_DIR" $lib)"
    [ "$BLAS" = mkl ] && [ -n "${MKLROOT:-}" ] &&
      echo "$def -I$inc -I$MKLROOT/include|-L$MKLROOT/lib/intel64 -Wl,-rpath,$MKLROOT/lib/intel64 $lib"
    pc --exists "$pcname" && echo "$def $mklinc $(pc --cflags "$pcname")|$(pc --libs "$pcname")"
    # Debian's OpenBLAS headers live in a per-variant folder pkg-config knows.
    [ -n "$inc" ] && echo "$def -I$inc|$lib"
    echo "$def|$lib"
  } | find_lib blas; then
    missing+=("a CBLAS for BLAS=$BLAS")
    pointers+=("BLAS_DIR=PREFIX or BLAS_CFLAGS=-I... BLAS_LIBS='-L... -l...'")
    [ -n "$deb" ] && debs+=("$deb")
  fi
  BLAS_FLAGS=("$FOUND_CFLAGS" "$FOUND_LIBS")
}

search
if [ ${#missing[@]} -gt 0 ] && [ ${#debs[@]} -gt 0 ] && "$root/tools/deps.sh" can-install; then
  "$root/tools/deps.sh" install "${debs[@]}" && search
fi
if [ ${#missing[@]} -gt 0 ]; then
  m=$(printf '%s, ' "${missing[@]}")
  p=$(printf '%s ' "${pointers[@]}")
  d=""
  [ ${#debs[@]} -gt 0 ] && d=", or install Debian's ${debs[*]}"
  echo "ddscan: cannot find ${m%, }: point the build at it with make $p(see make help)$d; details in ${out%.mk}.log" >&2
  mkdir -p "$(dirname "$out")"
  cat "$tmp"/*.log >"${out%.mk}.log" 2>/dev/null
  exit 1
fi

mkdir -p "$(dirname "$out")"
if [ "$mode" = test ]; then
  {
    echo "# written by tools/configure.sh --test: edit by re-running make with other variables"
    echo "CMOCKA_CFLAGS := ${CMOCKA_FLAGS[0]}"
    echo "CMOCKA_LIBS := ${CMOCKA_FLAGS[1]}"
  } >"$out.tmp"
else
  blas_name=$BLAS
  [ -n "${BLAS_LIBS:-}" ] && blas_name="$BLAS ($BLAS_LIBS)"
  {
    echo "# written by tools/configure.sh: edit by re-running make with other variables"
    echo "PKG_CFLAGS := ${HDF5_FLAGS[0]} ${LIBCONFIG_FLAGS[0]} ${PNG_FLAGS[0]} ${BLAS_FLAGS[0]}"
    echo "PKG_LIBS := ${HDF5_FLAGS[1]} ${LIBCONFIG_FLAGS[1]} ${PNG_FLAGS[1]} ${BLAS_FLAGS[1]} -lm"
    echo "BLAS_NAME := $blas_name"
  } >"$out.tmp"
fi
mv "$out.tmp" "$out"
echo "ddscan: configured $(basename "$out"): $(grep -v '^#' "$out" | tr '\n' ' ' | tr -s ' ')"
