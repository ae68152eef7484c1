#!/usr/bin/env bash
# io_layers.sh - no cycle between the source files of src/io, nor between
# those of src/nn (issue 13): each file may call only files below it.  The
# call graph comes from the built objects, not from the source text: `nm`
# lists the global symbols each .o defines and the ones it needs, so macros,
# callbacks passed by address, comments and strings are all handled exactly,
# and static functions (file-local by definition) never count.  A cycle is
# what `tsort` refuses to order; the graph of every module is printed to the
# log, and every module is checked before the script fails.
# Standalone: tests/e2e/io_layers.sh after `make` (MODULES="io nn" default).
set -u
. "$(dirname "$0")/../lib.sh"
OBJ=${DDSCAN_BUILD:-$ROOT/build}/obj
MODULES=${MODULES:-io nn}
export LC_ALL=C
bad=""

for mod in $MODULES; do
  srcs=("$ROOT"/src/"$mod"/*.c)
  [ -f "${srcs[0]}" ] || fail "no sources in src/$mod"
  defs="$TMP/$mod.defs" edges="$TMP/$mod.edges"
  : >"$defs"
  : >"$edges"
  for c in "${srcs[@]}"; do
    f=$(basename "$c" .c)
    o="$OBJ/src/$mod/$f.o"
    [ -f "$o" ] || fail "$o is not built (make)"
    [ "$o" -nt "$c" ] || fail "$o is older than $c (make)"
    nm --defined-only -g "$o" | awk -v f="$f" 'NF == 3 { print $3, f }' >>"$defs"
  done
  sort -u -o "$defs" "$defs"
  for c in "${srcs[@]}"; do
    f=$(basename "$c" .c)
    # needed symbol -> defining file, other files only: "caller callee symbol"
    nm -u "$OBJ/src/$mod/$f.o" | awk '{ print $NF }' | sort -u | join - "$defs" |
      awk -v f="$f" '$2 != f { print f, $2, $1 }' >>"$edges"
  done
  echo "src/$mod: which file calls which (caller -> callee: symbols)"
  awk '{ k = $1 " -> " $2; s[k] = s[k] " " $3 } END { for (k in s) print "  " k ":" s[k] }' \
    "$edges" | sort
  # tsort needs every file as a node, also the ones without edges.
  if ! { awk '{ print $1, $2 }' "$edges" | sort -u; for c in "${srcs[@]}"; do
    f=$(basename "$c" .c)
    echo "$f $f"
  done; } | tsort >"$TMP/$mod.order" 2>"$TMP/$mod.loop"; then
    echo "src/$mod has a cycle between files:"
    sed 's/^/  /' "$TMP/$mod.loop"
    bad="$bad $mod"
  else
    echo "src/$mod layers, callers first: $(tr '\n' ' ' <"$TMP/$mod.order")"
  fi
done
[ -z "$bad" ] || fail "cycle between the files of:$bad (see the loop above; move the shared" \
  "function into the lower file or a small file below both)"
pass
