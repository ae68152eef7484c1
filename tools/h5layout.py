#!/usr/bin/env python3
"""h5layout.py - print the layout of a ddscan results file as Markdown.

usage: tools/h5layout.py RESULTS.h5 [--attrs]

One table row per dataset: path, shape with the dimension names taken from
the attached dimension scales, element type, units and description, all
read from the file itself (the io module writes them from the same
io_field tables and calls that write the data).  --attrs also lists every
group's attributes.  docs/format.md's layout section is generated with it.
Needs Debian's python3-h5py; the file may be open elsewhere (no locking).
"""
import sys

import h5py


def dims_of(ds):
    """'[mass_gev=3][r=6]' from the attached dimension scales."""
    out = []
    for i, n in enumerate(ds.shape):
        name = "?"
        if is_scale(ds):  # a scale is its own dimension
            name = ds.name.rsplit("/", 1)[-1]
        elif len(ds.dims[i]) > 0:
            name = ds.dims[i][0].name.rsplit("/", 1)[-1]
        out.append(f"[{name}={n}]")
    return "".join(out) if out else "scalar"


def type_name(ds):
    if ds.dtype.kind == "S":
        return f"string({ds.dtype.itemsize})"
    if h5py.check_string_dtype(ds.dtype) is not None:  # variable-length (label axes)
        return "string"
    return str(ds.dtype)


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def is_scale(ds):
    return text(ds.attrs.get("CLASS", b"")) == "DIMENSION_SCALE"


def layout(path, with_attrs=False, out=sys.stdout):
    with h5py.File(path, "r", locking=False) as f:
        rows, groups = [], []

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                kind = "axis" if is_scale(obj) else "data"
                rows.append((
                    "/" + name,
                    dims_of(obj),
                    type_name(obj),
                    text(obj.attrs.get("units", "(missing)")),
                    text(obj.attrs.get("description", "(missing)")),
                    kind,
                ))
            elif isinstance(obj, h5py.Group):
                groups.append(("/" + name, obj))

        f.visititems(visit)
        out.write("| path | shape | type | units | description |\n")
        out.write("|---|---|---|---|---|\n")
        for p, shape, dtype, units, desc, kind in rows:
            tag = " (dimension scale)" if kind == "axis" else ""
            desc = desc.replace("|", "\\|").replace("\n", " ")
            out.write(f"| `{p}` | {shape} | {dtype} | {units or '-'} | {desc}{tag} |\n")
        if with_attrs:
            out.write("\n| group | attributes |\n|---|---|\n")
            for p, g in [("/", f)] + groups:
                names = ", ".join(sorted(g.attrs.keys()))
                if names:
                    out.write(f"| `{p}` | {names} |\n")
    return [r[0] for r in rows]


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    layout(argv[1], "--attrs" in argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
