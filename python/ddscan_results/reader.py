"""reader.py - a ddscan results file as named arrays.

    import ddscan_results as dr
    r = dr.open("runs/x/results.h5")
    r.scan("z", method="sound").sel(mass_gev=50.0)       # numpy values + coordinates

A dataset's coordinates are the HDF5 dimension scales attached to each of its
dimensions (the DIMENSION_LIST attribute, read through h5py's `Dataset.dims`),
named like netCDF-4 and xarray name them: by the scale dataset's own name.  No
path of an axis is assumed, so files whose axes live in /axes and files whose
axes live beside the data in each group read the same way.  A dimension
without a scale gets the name dim_<i> and the coordinates 0..n-1.  Fixed-length
byte strings (labels such as the method names) are decoded to str.
"""
import os
import re

import h5py
import numpy as np

# netCDF-4 marks a dimension that has no coordinate variable with this NAME.
_NC_PHONY = "This is a netCDF dimension but not a netCDF variable"


def decode(v):
    """bytes or a numpy byte array -> str or a numpy str array; anything else unchanged."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace").rstrip("\x00").strip()
    if isinstance(v, np.ndarray) and v.dtype.kind in "SO":
        return np.array([decode(x) for x in v.ravel()], dtype=object).astype(str).reshape(v.shape)
    if isinstance(v, np.generic):
        return v.item()
    return v


# Which stage writes a top-level group, and the command that runs it (docs/format.md §1).
STAGES = {
    "training": ("train", "ddscan train CONFIG"),
    "scores": ("score", "ddscan score CONFIG"),
    "banks": ("simulate", "ddscan simulate CONFIG"),
}
SCAN_STAGE = ("scan", "ddscan scan CONFIG; shards: ddscan merge")

# The dimension of the statistical methods is `analysis` (format 2; `method` is a keyword of
# xarray's sel).  `method=` is accepted wherever a selection is made, and files of format 1
# (dimension `method`, axes in /axes) read the same way.
ANALYSIS_DIMS = ("analysis", "method")


# Bits of /contours/flags (and the stats flags of include/ddscan/stats.h) that mark a
# contour point as doubtful, with the reason a figure or a table gives.
FLAGS = {
    1: ("floored-background", "a bin with signal had no background MC (background floored)"),
    2: ("low-count", "few expected background counts in the signal-rich bins: asymptotic formulae doubtful"),
    8: ("non-monotone", "significance not monotone in sigma (dense-scan fallback)"),
    16: ("no-root", "the 5-sigma threshold is not reached in the search range"),
    32: ("at-zero", "the 5-sigma threshold is already exceeded as sigma -> 0"),
    512: ("toy-limited", "p beyond what the toys resolve (an upper bound)"),
    1024: ("low-mc", "the signal-rich bins hold fewer than stats.min_mc effective background MC events in all"),
    2048: ("mc-ratio", "MC-to-data ratio below stats.mc_ratio_min (/contours/mc_ratio)"),
}
QUALITY_FLAGS = sum(FLAGS)


def flag_names(value):
    """The names of the quality flags set in one /contours/flags value, e.g. ['mc-ratio']."""
    v = int(value)
    return [name for bit, (name, _) in FLAGS.items() if v & bit]


def stage_of(path):
    """(stage, command) that writes path."""
    top = path.strip("/").split("/")[0]
    return STAGES.get(top, SCAN_STAGE)


class Missing(KeyError):
    """A dataset the caller needs is not in the file; the message names the stage that writes it."""

    def __str__(self):
        return str(self.args[0]) if self.args else "missing"


def _alias(dims, labels):
    """labels with `method` renamed to the file's analysis dimension (and back)."""
    out = {}
    for k, v in labels.items():
        if k not in dims and k in ANALYSIS_DIMS:
            k = next((d for d in ANALYSIS_DIMS if d in dims), k)
        out[k] = v
    return out


class Quantity:
    """One dataset: values (numpy), dims (names, in order), coords (name -> 1-D numpy array),
    attrs (str-decoded attributes such as units and description) and its path."""

    def __init__(self, name, values, dims, coords, attrs):
        self.name = name
        self.values = values
        self.dims = tuple(dims)
        self.coords = dict(coords)
        self.attrs = dict(attrs)

    @property
    def units(self):
        return self.attrs.get("units", "")

    @property
    def shape(self):
        return np.shape(self.values)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.values, dtype=dtype)

    def __repr__(self):
        dims = ", ".join(f"{d}: {len(self.coords[d])}" for d in self.dims)
        head = f"<ddscan_results.Quantity {self.name} ({dims}) [{self.units}]>"
        if np.size(self.values) == 1:
            return head + f" = {np.asarray(self.values).item()!r}"
        return head

    def index(self, dim, label, nearest=False):
        """The position of `label` on dimension `dim`: exact (numbers within a relative 1e-9),
        or the nearest grid value when nearest=True (in log for positive axes)."""
        if dim not in self.coords:
            raise KeyError(f"{self.name} has no dimension '{dim}' (dimensions: {', '.join(self.dims)})")
        c = self.coords[dim]
        if c.dtype.kind in "US":
            hits = np.flatnonzero(c == str(label))
            if hits.size == 0:
                raise KeyError(f"{self.name}: '{label}' is not on dimension {dim} ({', '.join(c)})")
            return int(hits[0])
        c = np.asarray(c, dtype=float)
        x = float(label)
        if nearest:
            if x > 0 and (c > 0).all():
                return int(np.argmin(np.abs(np.log(c) - np.log(x))))
            return int(np.argmin(np.abs(c - x)))
        hits = np.flatnonzero(np.isclose(c, x, rtol=1e-9, atol=0.0))
        if hits.size == 0:
            raise KeyError(f"{self.name}: {label!r} is not on dimension {dim} "
                           f"({', '.join(f'{v:g}' for v in c)}); use nearest=True for the closest")
        return int(hits[0])

    def isel(self, **positions):
        """Select by position, e.g. isel(analysis=0); an int drops the dimension, a list keeps it."""
        positions = _alias(self.dims, positions)
        index, dims, coords = [], [], {}
        for d in self.dims:
            if d in positions:
                k = positions[d]
                index.append(k)
                if not np.isscalar(k):
                    dims.append(d)
                    coords[d] = self.coords[d][k]
            else:
                index.append(slice(None))
                dims.append(d)
                coords[d] = self.coords[d]
        unknown = set(positions) - set(self.dims)
        if unknown:
            raise KeyError(f"{self.name} has no dimension {sorted(unknown)} (dimensions: {', '.join(self.dims)})")
        return Quantity(self.name, np.asarray(self.values)[tuple(index)], dims, coords, self.attrs)

    def sel(self, labels=None, nearest=False, **kw):
        """Select by coordinate value: sel(mass_gev=50.0, analysis="paper") (method= works as
        well), or a dict for names that are Python keywords; a list of labels keeps the
        dimension; nearest=True takes the closest grid value."""
        labels = _alias(self.dims, dict(labels or {}, **kw))
        pos = {}
        for d, v in labels.items():
            if isinstance(v, (list, tuple, np.ndarray)):
                pos[d] = [self.index(d, x, nearest) for x in v]
            else:
                pos[d] = self.index(d, v, nearest)
        return self.isel(**pos)

    def to_xarray(self):
        """This quantity as an xarray.DataArray (xarray must be importable)."""
        xr = _xarray()
        return xr.DataArray(np.asarray(self.values), dims=self.dims,
                            coords={d: self.coords[d] for d in self.dims},
                            name=self.name.rsplit("/", 1)[-1], attrs=self.attrs)


def _xarray():
    try:
        import xarray
    except ImportError as e:
        raise ImportError(f"ddscan_results: xarray is not importable ({e}); install it "
                          "(Debian python3-xarray, or pip install xarray) or use .get() for numpy") from None
    return xarray


class ResultsFile:
    """A ddscan results file opened read-only (HDF5 file locking off, so a file being read by
    ddscan or on a shared file system opens too).  Use as a context manager or call close()."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.f = h5py.File(self.path, "r", locking=False)

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def text(v):
        """An attribute or label as str (bytes decoded, trailing NULs and blanks removed)."""
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        return str(v).rstrip("\x00").strip()

    @staticmethod
    def _key(path):
        return path if path.startswith("/") else "/" + path

    def has(self, path):
        """True when path names a dataset."""
        p = self._key(path)
        return p in self.f and isinstance(self.f[p], h5py.Dataset)

    def attr(self, obj, name, default=None):
        """Attribute `name` of group/dataset `obj`, decoded (str, Python scalar or array)."""
        obj = self._key(obj)
        if obj not in self.f or name not in self.f[obj].attrs:
            return default
        v = self.f[obj].attrs[name]
        if isinstance(v, (bytes, str)):
            return self.text(v)
        return v.item() if hasattr(v, "item") and np.ndim(v) == 0 else decode(v)

    def attrs(self, obj="/"):
        """Every attribute of obj except the dimension-scale bookkeeping, decoded."""
        skip = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "_Netcdf4Dimid", "_Netcdf4Coordinates"}
        node = self.f[self._key(obj)]
        return {k: self.attr(obj, k) for k in node.attrs if k not in skip}

    def list(self, group="/"):
        """The paths of every dataset under group, sorted (dimension scales included)."""
        out = []
        node = self.f[self._key(group)]
        if isinstance(node, h5py.Dataset):
            return [node.name]
        node.visititems(lambda n, o: out.append(o.name) if isinstance(o, h5py.Dataset) else None)
        return sorted(out)

    def dims(self, path):
        """The dimension names of a dataset (scale dataset names; dim_<i> where none is attached)."""
        return tuple(name for name, _ in self._axes(self.f[self._key(path)]))

    def _axes(self, d):
        """[(name, coordinate array)] per dimension of dataset d."""
        if d.ndim == 1 and self.text(d.attrs.get("CLASS", b"")) == "DIMENSION_SCALE":
            return [(d.name.rsplit("/", 1)[-1], np.asarray(decode(d[()])))]  # a scale is its own axis
        out, seen = [], set()
        for i, n in enumerate(d.shape):
            name, values = f"dim_{i}", np.arange(n)
            scales = d.dims[i] if d.ndim else []
            if len(scales):
                s = scales[0]
                label = self.text(s.attrs.get("NAME", b""))
                name = s.name.rsplit("/", 1)[-1]
                if not label.startswith(_NC_PHONY) and s.shape == (n,):
                    values = decode(s[()])
            while name in seen:  # one scale on two dimensions: keep both distinct
                name += "_"
            seen.add(name)
            out.append((name, np.asarray(values)))
        return out

    def coords(self, path):
        """{dimension name: 1-D numpy array} of a dataset."""
        return dict(self._axes(self.f[self._key(path)]))

    def get(self, path):
        """A dataset as a Quantity: numpy values with dims, coords and decoded attributes."""
        p = self._key(path)
        if not self.has(p):
            raise KeyError(f"'{self.path}' has no dataset {p} (datasets: {len(self.list())}; see .list())")
        d = self.f[p]
        axes = self._axes(d)
        return Quantity(p, decode(d[()]), [a for a, _ in axes], dict(axes), self.attrs(p))

    def to_xarray(self, path):
        """A dataset as an xarray.DataArray with named coordinates (xarray must be importable)."""
        return ResultsFile.get(self, path).to_xarray()  # subclasses may redefine get

    # ---- the scan's quantities by name
    def quantity(self, group, name, nearest=False, **labels):
        """/group/name as a Quantity, with an optional selection by coordinate
        (e.g. method="sound", mass_gev=50.0; nearest=True for the closest grid value)."""
        q = ResultsFile.get(self, self.need(f"/{group.strip('/')}/{name}").name)
        return q.sel(labels, nearest=nearest) if labels else q

    def scan(self, name, nearest=False, **labels):
        """A /scan quantity (p_value, z, log_p, done, effective_events, signal_rate, ...)."""
        return self.quantity("scan", name, nearest, **labels)

    def contours(self, name, nearest=False, **labels):
        """A /contours quantity (sigma5, flags, mc_ratio, band_lo, band_hi, best_r, ...)."""
        return self.quantity("contours", name, nearest, **labels)

    def templates(self, name, nearest=False, **labels):
        """A /templates quantity, e.g. templates("ts/background", mass_gev=50.0, r=170.0)."""
        return self.quantity("templates", name, nearest, **labels)

    def dataset(self, group="scan"):
        """Every dataset of one group as an xarray.Dataset with its coordinates (needs xarray,
        not h5netcdf; xarray.open_dataset(path, group=..., engine="h5netcdf") gives the same)."""
        xr = _xarray()
        node = self.f[self._key(group)]
        das = {}
        for k in node:
            if isinstance(node[k], h5py.Dataset):
                q = ResultsFile.get(self, node[k].name)
                if q.name.rsplit("/", 1)[-1] not in q.dims:  # scales become coordinates
                    das[k] = q.to_xarray()
        return xr.Dataset(das, attrs=self.attrs(group))

    # ---- raw access with messages that name the stage to run
    def need(self, path, why=""):
        """The h5py dataset at path, or Missing naming the stage that writes it."""
        p = self._key(path)
        if not self.has(p):
            stage, cmd = stage_of(p)
            raise Missing(f"'{self.path}' has no {p}{why}: the {stage} stage writes it (`{cmd}`)")
        return self.f[p]

    def data(self, path):
        """The values of a dataset as numpy (cached; labels decoded to str)."""
        cache = self.__dict__.setdefault("_data", {})
        p = self._key(path)
        if p not in cache:
            cache[p] = decode(self.need(p)[()])
        return cache[p]

    def _scan_axis(self, name):
        for p in (f"/scan/{name}", f"/axes/{name}"):
            if self.has(p):
                return p
        return None

    def analyses(self):
        """The statistical methods of the scan, in file order (scan.methods)."""
        p = next((q for q in map(self._scan_axis, ANALYSIS_DIMS) if q), None)
        if p is None:
            self.need("/scan/analysis")
        return [str(m) for m in np.atleast_1d(self.data(p))]

    def grid(self, name):
        """A scan axis as float numpy: mass_gev, sigma_cm2, exposure_ty or r."""
        p = self._scan_axis(name)
        if p is None:
            self.need(f"/scan/{name}")
        return np.asarray(self.data(p), dtype=float)

    # ---- what the run was
    def config_text(self):
        """The resolved configuration the last stage stored (/config@text)."""
        return self.attr("/config", "text", "") or ""

    def run_name(self):
        """run.name of the configuration (else the file name)."""
        m = re.search(r'\brun\s*[:=]\s*\{[^}]*?\bname\s*=\s*"([^"]*)"', self.config_text())
        return m.group(1) if m else os.path.splitext(os.path.basename(self.path))[0]

    def preset(self):
        """The detector preset of the run ("synthetic" for test-fixture scores)."""
        return (self.attr("/scan", "detector_preset") or self.attr("/scores/er", "detector_preset")
                or self.attr("/training/cvae", "detector_preset") or "unknown")

    def n_scored(self, bank):
        """Events scored in bank "er" or "nr" (None without /scores)."""
        p = f"/scores/{bank}/l_rec"
        return int(self.f[p].shape[0]) if self.has(p) else None

    def status(self):
        """None for a finished, unsharded file; else a sentence saying why it is not one."""
        a = self.f.attrs
        if "stage_in_progress" in a:
            return (f"'{self.path}' is unfinished (stage '{self.text(a['stage_in_progress'])}' was "
                    "writing it)")
        if "shard_count" in a:
            return (f"'{self.path}' is shard {int(a['shard_index'])} of {int(a['shard_count'])}: it "
                    "holds only some (mass, R) units and no R band; merge the shards first "
                    "(`ddscan merge results.h5 SHARD.h5...`)")
        return None

    def describe(self, group="/"):
        """One line per dataset: path(dims) shape [units] description."""
        lines = []
        for p in self.list(group):
            d = self.f[p]
            dims = ", ".join(self.dims(p))
            desc = self.attr(p, "description", "")
            lines.append(f"{p}({dims}) {d.shape} [{self.attr(p, 'units', '')}] {desc}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<ddscan_results.ResultsFile '{self.path}': {len(self.list())} datasets>"

    def __str__(self):
        return f"{self.path}\n{self.describe()}"


def open(path):  # noqa: A001 - the name a user expects: ddscan_results.open(path)
    """Open a results file read-only."""
    return ResultsFile(path)
