#!/usr/bin/env bash
# find-python.sh - prints the Python interpreter ddscan's tests and tools use:
# $PYTHON when set, else the first of `python3` on PATH and /usr/bin/python3
# that can import h5py (a pyenv or conda python3 may lack it), else python3.
if [ -n "${PYTHON:-}" ]; then
  echo "$PYTHON"
  exit 0
fi
for p in python3 /usr/bin/python3; do
  command -v "$p" >/dev/null 2>&1 || continue
  if "$p" -c 'import h5py' >/dev/null 2>&1; then
    command -v "$p"
    exit 0
  fi
done
echo python3
