/* dataset.c - axes as dimension scales, N-D datasets with units,
 * description and a scale on every dimension, and the collective transfers:
 * one contiguous row block per rank (offsets from MPI_Exscan), whole-dataset
 * writes from rank 0, per-rank boxes, reads.  Zero-row ranks take part and
 * select nothing. */
#define _POSIX_C_SOURCE 200809L
#include "io_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5_hl.h> /* uses: H5DSset_scale, H5DSattach_scale, H5DSiterate_scales */
#include <mpi.h>     /* uses: MPI_Exscan, MPI_Allreduce */

void io_rows_split(long long n_total, int rank, int size, long long *first, long long *count) {
  long long base = n_total / size, extra = n_total % size;
  *count = base + (rank < extra ? 1 : 0);
  *first = rank * base + (rank < extra ? rank : extra);
}

/* ---------------------------------------------------------------- shapes */

static dd_status dset_open(io_file *f, const char *path, hid_t *d) {
  *d = -1;
  if (!io_exists(f, path))
    return DD_FAIL(DD_ERR_HDF5, "'%s' has no dataset '%s'", f->disk_path, path);
  *d = H5Dopen2(f->fid, path, H5P_DEFAULT);
  if (*d < 0) return IO_H5FAIL("opening dataset '%s' in '%s'", path, f->disk_path);
  return DD_OK;
}

static dd_status dset_shape(hid_t d, const char *path, int *rank, hsize_t *dims) {
  hid_t sp = H5Dget_space(d);
  int r = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
  if (r < 0 || r > IO_MAX_RANK) {
    if (sp >= 0) H5Sclose(sp);
    return DD_FAIL(DD_ERR_HDF5, "dataset '%s' has an unsupported rank (%d)", path, r);
  }
  H5Sget_simple_extent_dims(sp, dims, NULL);
  H5Sclose(sp);
  *rank = r;
  return DD_OK;
}

dd_status io_dataset_shape(io_file *f, const char *path, int *rank, long long *dims) {
  hid_t d;
  DD_TRY(dset_open(f, path, &d), "shape of '%s'", path);
  hsize_t hd[IO_MAX_RANK];
  dd_status st = dset_shape(d, path, rank, hd);
  H5Dclose(d);
  for (int i = 0; st == DD_OK && i < IO_MAX_RANK; i++) dims[i] = i < *rank ? (long long)hd[i] : 0;
  return st;
}

typedef struct scale_name {
  char path[IO_PATH_MAX];
  int found;
} scale_name;

static herr_t scale_visit(hid_t did, unsigned dim, hid_t dsid, void *data) {
  (void)did;
  (void)dim;
  scale_name *s = data;
  if (H5Iget_name(dsid, s->path, sizeof s->path) > 0) s->found = 1;
  return 1; /* the first scale of the dimension is the one io attaches */
}

static dd_status dset_scale(hid_t d, const char *path, int dim, char **scale) {
  *scale = NULL;
  int n = H5DSget_num_scales(d, (unsigned)dim);
  if (n < 0) {
    H5Eclear2(H5E_DEFAULT);
    n = 0; /* no DIMENSION_LIST at all */
  }
  if (n == 0) return DD_OK;
  scale_name s;
  memset(&s, 0, sizeof s);
  if (H5DSiterate_scales(d, (unsigned)dim, NULL, scale_visit, &s) < 0)
    return IO_H5FAIL("dimension scales of '%s' (dimension %d)", path, dim);
  if (!s.found) return DD_OK;
  *scale = strdup(s.path);
  if (!*scale) return DD_FAIL(DD_ERR_NOMEM, "scale name");
  return DD_OK;
}

dd_status io_dataset_scale(io_file *f, const char *path, int dim, char **scale) {
  hid_t d;
  DD_TRY(dset_open(f, path, &d), "dimension scale of '%s'", path);
  dd_status st = dset_scale(d, path, dim, scale);
  H5Dclose(d);
  return st;
}

/* ---------------------------------------------------------------- creation */

static dd_status units_desc(io_file *f, const char *path, const char *units, const char *desc) {
  DD_TRY(io_attr_write_string(f, path, "units", units), "'%s'", path);
  DD_TRY(io_attr_write_string(f, path, "description", desc), "'%s'", path);
  return DD_OK;
}

/* Checks an existing dataset against the requested type/shape/scales. */
static dd_status dset_check_same(io_file *f, const char *path, io_type type, int rank,
                                 const long long *dims, const char *const *axes) {
  hid_t d;
  DD_TRY(dset_open(f, path, &d), "checking '%s'", path);
  dd_status st = DD_OK;
  int r = 0;
  hsize_t hd[IO_MAX_RANK];
  hid_t t = H5Dget_type(d);
  st = dset_shape(d, path, &r, hd);
  if (st == DD_OK && H5Tequal(t, io_h5_file_type(type)) <= 0)
    st = DD_FAIL(DD_ERR_HDF5, "'%s' exists in '%s' with another element type", path, f->disk_path);
  if (st == DD_OK && r != rank)
    st = DD_FAIL(DD_ERR_HDF5, "'%s' exists in '%s' with %d dimensions, not %d", path, f->disk_path,
                 r, rank);
  for (int i = 0; st == DD_OK && i < rank; i++) {
    if ((long long)hd[i] != dims[i]) {
      st = DD_FAIL(DD_ERR_HDF5, "'%s' exists in '%s' with dimension %d = %lld, not %lld", path,
                   f->disk_path, i, (long long)hd[i], dims[i]);
      break;
    }
    char *sc = NULL;
    st = axes ? dset_scale(d, path, i, &sc) : DD_OK;
    if (st == DD_OK && axes && !io_axis_matches(path, axes[i], sc))
      st = DD_FAIL(DD_ERR_HDF5, "'%s' exists in '%s' with axis '%s' on dimension %d, not '%s'",
                   path, f->disk_path, sc ? sc : "(none)", i, axes[i]);
    free(sc);
  }
  H5Tclose(t);
  H5Dclose(d);
  return st;
}

/* Creates a dataset with contiguous layout, early allocation and a fill
 * value; returns it open in *out. */
static dd_status dset_make(io_file *f, const char *path, hid_t ftype, hid_t mtype, int rank,
                           const long long *dims, const void *fill, hid_t *out) {
  *out = -1;
  char parent[IO_PATH_MAX];
  io_path_parent(path, parent, sizeof parent);
  DD_TRY(io_group_create_raw(f, parent), "creating '%s'", path);
  hsize_t hd[IO_MAX_RANK];
  for (int i = 0; i < rank; i++) hd[i] = (hsize_t)dims[i];
  hid_t sp = H5Screate_simple(rank, hd, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  dd_status st = DD_OK;
  /* Parallel HDF5 allocates contiguous datasets early anyway; saying so
   * keeps the file layout independent of that default.  The fill value is
   * written at allocation, so an unwritten element reads as the fill. */
  if (sp < 0 || dcpl < 0 || H5Pset_layout(dcpl, H5D_CONTIGUOUS) < 0 ||
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0 ||
      (fill && H5Pset_fill_value(dcpl, mtype, fill) < 0) ||
      H5Pset_fill_time(dcpl, H5D_FILL_TIME_IFSET) < 0)
    st = IO_H5FAIL("dataset properties for '%s'", path);
  if (st == DD_OK) {
    *out = H5Dcreate2(f->fid, path, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (*out < 0) st = IO_H5FAIL("creating dataset '%s' in '%s'", path, f->disk_path);
  }
  if (dcpl >= 0) H5Pclose(dcpl);
  if (sp >= 0) H5Sclose(sp);
  return st;
}

static dd_status default_fill(io_type type, unsigned char fill[8]) {
  memset(fill, 0, 8);
  if (type == IO_F64) {
    double v = NAN;
    memcpy(fill, &v, sizeof v);
  } else if (type == IO_F32) {
    float v = NAN;
    memcpy(fill, &v, sizeof v);
  } else if (io_type_size(type) == 0) {
    return DD_FAIL(DD_ERR_ARG, "unknown io_type %d", (int)type);
  }
  return DD_OK;
}

static dd_status axis_localize(io_file *f, const char *axis, const char *local);

dd_status io_dataset_create_raw(io_file *f, const char *path, io_type type, int rank,
                                const long long *dims, const char *const *axes, const char *units,
                                const char *description, const void *fill) {
  if (rank < 1 || rank > IO_MAX_RANK)
    return DD_FAIL(DD_ERR_ARG, "dataset '%s': rank %d not in 1..%d", path, rank, IO_MAX_RANK);
  if (!units || !description)
    return DD_FAIL(DD_ERR_ARG, "dataset '%s' needs units and a description", path);
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0) return DD_FAIL(DD_ERR_ARG, "dataset '%s': dimension %d < 0", path, i);
    if (!axes || !axes[i])
      return DD_FAIL(DD_ERR_ARG, "dataset '%s': dimension %d has no axis", path, i);
  }
  unsigned char def[8];
  DD_TRY(default_fill(type, def), "dataset '%s'", path);
  /* Every axis must exist as a 1-D scale of the right length. */
  for (int i = 0; i < rank; i++) {
    int ar;
    long long ad[IO_MAX_RANK];
    if (!io_exists(f, axes[i]))
      return DD_FAIL(DD_ERR_ARG, "dataset '%s': axis '%s' (dimension %d) does not exist", path,
                     axes[i], i);
    DD_TRY(io_dataset_shape(f, axes[i], &ar, ad), "dataset '%s'", path);
    if (ar != 1 || ad[0] != dims[i])
      return DD_FAIL(DD_ERR_ARG,
                     "dataset '%s': axis '%s' has %lld points but dimension %d has %lld", path,
                     axes[i], ar == 1 ? ad[0] : -1LL, i, dims[i]);
  }
  /* Each dimension gets its scale from the dataset's own group (a copy of
   * the axis when it lives elsewhere), so that netCDF-4 readers (xarray with
   * h5netcdf or netCDF4) open every group on its own with named coordinates. */
  char local[IO_MAX_RANK][IO_PATH_MAX];
  for (int i = 0; i < rank; i++) {
    io_axis_local(path, axes[i], local[i], sizeof local[i]);
    if (strcmp(local[i], axes[i]) != 0)
      DD_TRY(axis_localize(f, axes[i], local[i]), "dataset '%s', dimension %d", path, i);
  }
  if (io_exists(f, path)) return dset_check_same(f, path, type, rank, dims, axes);
  hid_t d;
  DD_TRY(dset_make(f, path, io_h5_file_type(type), io_h5_mem_type(type), rank, dims,
                   fill ? fill : def, &d),
         "dataset '%s'", path);
  dd_status st = DD_OK;
  for (int i = 0; i < rank && st == DD_OK; i++) {
    hid_t s = H5Dopen2(f->fid, local[i], H5P_DEFAULT);
    if (s < 0 || H5DSattach_scale(d, s, (unsigned)i) < 0)
      st = IO_H5FAIL("attaching axis '%s' to dimension %d of '%s'", local[i], i, path);
    if (s >= 0) H5Dclose(s);
  }
  H5Dclose(d);
  if (st == DD_OK) st = units_desc(f, path, units, description);
  return st;
}

dd_status io_dataset_create(io_file *f, const char *path, io_type type, int rank,
                            const long long *dims, const char *const *axes, const char *units,
                            const char *description) {
  DD_TRY(io_stage_check_owned(f, path, "dataset"), "creating '%s'", path);
  for (int i = 0; i < rank && axes && i < IO_MAX_RANK; i++)
    if (axes[i])
      DD_TRY(io_stage_check_owned(f, axes[i], "dimension scale"), "dataset '%s', dimension %d",
             path, i);
  return io_dataset_create_raw(f, path, type, rank, dims, axes, units, description, NULL);
}

/* Compares an existing axis with the requested values (resume: no-op). */
static dd_status axis_check_same(io_file *f, const char *path, hid_t ftype, long long n,
                                 const void *values, size_t esize) {
  void *old = NULL;
  size_t es;
  long long ne;
  int r;
  long long dims[IO_MAX_RANK];
  DD_TRY(io_read_raw(f, path, &old, &es, &ne, &r, dims), "checking axis '%s'", path);
  hid_t d = H5Dopen2(f->fid, path, H5P_DEFAULT);
  hid_t t = d >= 0 ? H5Dget_type(d) : -1;
  int same_type = t >= 0 && H5Tequal(t, ftype) > 0;
  if (t >= 0) H5Tclose(t);
  if (d >= 0) H5Dclose(d);
  int same = same_type && r == 1 && ne == n && es == esize &&
             (n == 0 || memcmp(old, values, (size_t)n * esize) == 0);
  free(old);
  if (!same)
    return DD_FAIL(DD_ERR_HDF5,
                   "axis '%s' exists in '%s' with other values (a file from another "
                   "configuration?)",
                   path, f->disk_path);
  return DD_OK;
}

/* Creates a 1-D scale dataset of ftype and writes rank 0's values. */
static dd_status axis_make(io_file *f, const char *path, hid_t ftype, hid_t mtype, long long n,
                           const void *values, const void *fill) {
  hid_t d;
  DD_TRY(dset_make(f, path, ftype, mtype, 1, &n, fill, &d), "axis '%s'", path);
  dd_status st = DD_OK;
  hid_t fs = H5Dget_space(d);
  hsize_t hn = (hsize_t)n;
  hid_t ms = H5Screate_simple(1, &hn, NULL);
  if (f->w.rank != 0 || n == 0) {
    H5Sselect_none(fs);
    H5Sselect_none(ms);
  }
  static const double dummy = 0; /* HDF5 wants a non-NULL buffer even for nothing */
  if (n > 0 && H5Dwrite(d, mtype, ms, fs, f->dxpl_coll, f->w.rank == 0 ? values : &dummy) < 0)
    st = IO_H5FAIL("writing axis '%s'", path);
  H5Sclose(ms);
  H5Sclose(fs);
  /* NAME = the dataset name: netCDF/xarray take the dimension name from the
   * dataset, so both agree (platform notes §7.2; no H5DSset_label). */
  if (st == DD_OK && H5DSset_scale(d, io_path_base(path)) < 0)
    st = IO_H5FAIL("making '%s' a dimension scale", path);
  H5Dclose(d);
  return st;
}

dd_status io_axis_write(io_file *f, const char *path, io_type type, long long n, const void *values,
                        const char *units, const char *description) {
  DD_TRY(io_stage_check_owned(f, path, "axis"), "axis '%s'", path);
  size_t es = io_type_size(type);
  if (es == 0) return DD_FAIL(DD_ERR_ARG, "axis '%s': unknown io_type %d", path, (int)type);
  if (n < 0 || (n > 0 && !values)) return DD_FAIL(DD_ERR_ARG, "axis '%s': %lld values", path, n);
  if (!units || !description)
    return DD_FAIL(DD_ERR_ARG, "axis '%s' needs units and a description", path);
  /* Rank 0's values are the truth (identical on every rank by contract). */
  void *v = NULL;
  DD_TRY(dd_calloc(&v, (size_t)(n > 0 ? n : 1), es, "axis values"), "axis '%s'", path);
  if (n > 0) memcpy(v, values, (size_t)n * es);
  MPI_Bcast(v, (int)((size_t)n * es), MPI_BYTE, 0, f->w.comm);
  dd_status st;
  if (io_exists(f, path)) {
    st = axis_check_same(f, path, io_h5_file_type(type), n, v, es);
  } else {
    unsigned char fill[8];
    st = default_fill(type, fill);
    if (st == DD_OK)
      st = axis_make(f, path, io_h5_file_type(type), io_h5_mem_type(type), n, v, fill);
    if (st == DD_OK) st = units_desc(f, path, units, description);
  }
  free(v);
  return st;
}

dd_status io_axis_write_index(io_file *f, const char *path, long long n, const char *description) {
  int32_t *v = NULL;
  DD_TRY(dd_calloc((void **)&v, n > 0 ? (size_t)n : 1, sizeof *v, "index axis"), "axis '%s'", path);
  for (long long i = 0; i < n; i++) v[i] = (int32_t)i;
  dd_status st = io_axis_write(f, path, IO_I32, n, v, "1", description);
  free(v);
  return st;
}

dd_status io_axis_write_rows(io_file *f, const char *path, io_type type, long long n_local,
                             const void *values, const char *units, const char *description) {
  long long total = 0;
  MPI_Allreduce(&n_local, &total, 1, MPI_LONG_LONG, MPI_SUM, f->w.comm);
  if (io_type_size(type) == 0)
    return DD_FAIL(DD_ERR_ARG, "axis '%s': unknown io_type %d", path, (int)type);
  if (io_exists(f, path)) {
    int r;
    long long d[IO_MAX_RANK];
    DD_TRY(io_dataset_shape(f, path, &r, d), "axis '%s'", path);
    if (r != 1 || d[0] != total)
      return DD_FAIL(DD_ERR_HDF5, "axis '%s' exists in '%s' with %lld points, not %lld", path,
                     f->disk_path, r == 1 ? d[0] : -1LL, total);
  } else {
    unsigned char fill[8];
    DD_TRY(default_fill(type, fill), "axis '%s'", path);
    hid_t d;
    DD_TRY(dset_make(f, path, io_h5_file_type(type), io_h5_mem_type(type), 1, &total, fill, &d),
           "axis '%s'", path);
    dd_status st = DD_OK;
    if (H5DSset_scale(d, io_path_base(path)) < 0)
      st = IO_H5FAIL("making '%s' a dimension scale", path);
    H5Dclose(d);
    if (st != DD_OK) return st;
    DD_TRY(units_desc(f, path, units, description), "axis '%s'", path);
  }
  return io_write_rows(f, path, type, n_local, values);
}

/* Label axes are variable-length UTF-8 strings (netCDF's string type, which
 * h5py, h5netcdf and netCDF4 return as str): netCDF-C before 4.9.1 cannot read
 * arrays of fixed-length strings (Unidata/netcdf-c#2159; Debian 12 ships
 * 4.9.0).  Parallel HDF5 refuses H5Dwrite of variable-length data through
 * MPI-IO, so every rank writes the same labels into a private in-memory file
 * (core driver, no backing store) and H5Ocopy, a collective metadata
 * operation, moves the dataset into the results file. */
static hid_t vlstr_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

static dd_status labels_make(io_file *f, const char *path, int n, const char *const *labels) {
  char parent[IO_PATH_MAX];
  io_path_parent(path, parent, sizeof parent);
  DD_TRY(io_group_create_raw(f, parent), "label axis '%s'", path);
  dd_status st = DD_OK;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), m = -1, t = vlstr_type(), sp = -1, d = -1;
  hsize_t hn = (hsize_t)n;
  if (fapl < 0 || t < 0 || H5Pset_fapl_core(fapl, 4096, 0) < 0)
    st = IO_H5FAIL("label axis '%s': in-memory file", path);
  if (st == DD_OK) m = H5Fcreate("ddscan-labels.mem", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (st == DD_OK && m < 0) st = IO_H5FAIL("label axis '%s': in-memory file", path);
  if (st == DD_OK) {
    sp = H5Screate_simple(1, &hn, NULL);
    d = sp < 0 ? -1 : H5Dcreate2(m, "labels", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels) < 0)
      st = IO_H5FAIL("label axis '%s': writing the labels", path);
  }
  if (d >= 0) H5Dclose(d);
  if (st == DD_OK && H5Ocopy(m, "labels", f->fid, path, H5P_DEFAULT, H5P_DEFAULT) < 0)
    st = IO_H5FAIL("copying label axis '%s' into '%s'", path, f->disk_path);
  if (sp >= 0) H5Sclose(sp);
  if (m >= 0) H5Fclose(m);
  if (t >= 0) H5Tclose(t);
  if (fapl >= 0) H5Pclose(fapl);
  if (st != DD_OK) return st;
  d = H5Dopen2(f->fid, path, H5P_DEFAULT);
  if (d < 0 || H5DSset_scale(d, io_path_base(path)) < 0)
    st = IO_H5FAIL("making '%s' a dimension scale", path);
  if (d >= 0) H5Dclose(d);
  return st;
}

void io_strings_free(char **s, long long n) {
  for (long long i = 0; s && i < n; i++) free(s[i]);
  free(s);
}

dd_status io_read_strings(io_file *f, const char *path, char ***out, long long *n_out) {
  *out = NULL;
  *n_out = 0;
  hid_t d;
  DD_TRY(dset_open(f, path, &d), "reading strings '%s'", path);
  int rank = 0;
  hsize_t dims[IO_MAX_RANK];
  dd_status st = dset_shape(d, path, &rank, dims);
  hid_t t = H5Dget_type(d), mt = -1;
  if (st == DD_OK && (rank != 1 || H5Tget_class(t) != H5T_STRING))
    st = DD_FAIL(DD_ERR_HDF5, "'%s' in '%s' is not a 1-D string dataset", path, f->disk_path);
  long long n = st == DD_OK ? (long long)dims[0] : 0;
  int vl = H5Tis_variable_str(t) > 0;
  size_t w = vl ? sizeof(char *) : H5Tget_size(t);
  void *buf = NULL;
  char **s = NULL;
  if (st == DD_OK) st = dd_calloc(&buf, (size_t)(n > 0 ? n : 1), w, "strings");
  if (st == DD_OK) st = dd_calloc((void **)&s, (size_t)(n > 0 ? n : 1), sizeof *s, "strings");
  if (st == DD_OK) {
    mt = vl ? vlstr_type() : H5Tcopy(t);
    if (mt < 0 || (n > 0 && H5Dread(d, mt, H5S_ALL, H5S_ALL, f->dxpl_coll, buf) < 0))
      st = IO_H5FAIL("reading '%s' in '%s'", path, f->disk_path);
  }
  for (long long i = 0; st == DD_OK && i < n; i++) {
    const char *v = vl ? ((char **)buf)[i] : (const char *)buf + (size_t)i * w;
    size_t len = v ? (vl ? strlen(v) : strnlen(v, w)) : 0;
    s[i] = malloc(len + 1);
    if (!s[i]) {
      st = DD_FAIL(DD_ERR_NOMEM, "strings of '%s'", path);
      break;
    }
    if (len) memcpy(s[i], v, len);
    s[i][len] = '\0';
  }
  if (vl && buf && n > 0 && mt >= 0) {
    hid_t sp = H5Dget_space(d);
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
    H5Sclose(sp);
  }
  if (mt >= 0) H5Tclose(mt);
  free(buf);
  H5Tclose(t);
  H5Dclose(d);
  if (st != DD_OK) {
    io_strings_free(s, n);
    return st;
  }
  *out = s;
  *n_out = n;
  return DD_OK;
}

/* 1 when the string axis `path` holds exactly labels[0..n). */
static dd_status labels_same(io_file *f, const char *path, int n, const char *const *labels,
                             int *same) {
  char **old = NULL;
  long long m = 0;
  DD_TRY(io_read_strings(f, path, &old, &m), "checking axis '%s'", path);
  *same = m == n;
  for (long long i = 0; *same && i < m; i++) *same = strcmp(old[i], labels[i]) == 0;
  io_strings_free(old, m);
  return DD_OK;
}

dd_status io_axis_write_labels(io_file *f, const char *path, int n, const char *const *labels,
                               const char *description) {
  DD_TRY(io_stage_check_owned(f, path, "axis"), "axis '%s'", path);
  if (n < 1) return DD_FAIL(DD_ERR_ARG, "label axis '%s': no labels", path);
  /* Rank 0's labels are the truth: broadcast as one NUL-separated block. */
  size_t total = 0;
  for (int i = 0; i < n; i++) total += strlen(labels[i]) + 1;
  unsigned long long len = total;
  MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, f->w.comm);
  char *buf = NULL;
  const char **v = NULL;
  DD_TRY(dd_calloc((void **)&buf, (size_t)len, 1, "labels"), "axis '%s'", path);
  dd_status st = dd_calloc((void **)&v, (size_t)n, sizeof *v, "labels");
  if (st != DD_OK) {
    free(buf);
    return st;
  }
  if (f->w.rank == 0)
    for (int i = 0, o = 0; i < n; o += (int)strlen(labels[i]) + 1, i++)
      memcpy(buf + o, labels[i], strlen(labels[i]) + 1);
  MPI_Bcast(buf, (int)len, MPI_CHAR, 0, f->w.comm);
  for (int i = 0, o = 0; i < n; i++) {
    v[i] = buf + o;
    o += (int)strlen(v[i]) + 1;
  }
  if (io_exists(f, path)) {
    int same = 0;
    st = labels_same(f, path, n, v, &same);
    if (st == DD_OK && !same)
      st = DD_FAIL(DD_ERR_HDF5,
                   "axis '%s' exists in '%s' with other labels (a file from another "
                   "configuration?)",
                   path, f->disk_path);
  } else {
    st = labels_make(f, path, n, v);
    /* Labels have no unit: the attribute is present and empty. */
    if (st == DD_OK) st = units_desc(f, path, "", description);
  }
  free(v);
  free(buf);
  return st;
}

/* ---------------------------------------------------------------- group-local axes */

void io_axis_local(const char *path, const char *axis, char *buf, size_t cap) {
  char pd[IO_PATH_MAX], pa[IO_PATH_MAX];
  io_path_parent(path, pd, sizeof pd);
  io_path_parent(axis, pa, sizeof pa);
  if (strcmp(pd, pa) == 0 || io_path_join(buf, cap, pd, io_path_base(axis)) != DD_OK) {
    snprintf(buf, cap, "%s", axis);
    dd_error_clear();
  }
}

int io_axis_matches(const char *path, const char *axis, const char *scale) {
  char local[IO_PATH_MAX];
  io_axis_local(path, axis, local, sizeof local);
  return scale && (strcmp(scale, local) == 0 || strcmp(scale, axis) == 0);
}

/* 1 when two 1-D axes hold the same values in the same type. */
static dd_status axes_same(io_file *f, const char *a, const char *b, int *same) {
  *same = 0;
  hid_t da, db;
  DD_TRY(dset_open(f, a, &da), "comparing axes");
  dd_status st = dset_open(f, b, &db);
  if (st != DD_OK) {
    H5Dclose(da);
    return st;
  }
  hid_t ta = H5Dget_type(da), tb = H5Dget_type(db);
  int strings = H5Tget_class(ta) == H5T_STRING && H5Tget_class(tb) == H5T_STRING;
  int typed = strings || H5Tequal(ta, tb) > 0;
  H5Tclose(ta);
  H5Tclose(tb);
  H5Dclose(da);
  H5Dclose(db);
  if (!typed) return DD_OK;
  if (strings) {
    char **x = NULL, **y = NULL;
    long long nx = 0, ny = 0;
    st = io_read_strings(f, a, &x, &nx);
    if (st == DD_OK) st = io_read_strings(f, b, &y, &ny);
    *same = st == DD_OK && nx == ny;
    for (long long i = 0; *same && i < nx; i++) *same = strcmp(x[i], y[i]) == 0;
    io_strings_free(x, nx);
    io_strings_free(y, ny);
    return st;
  }
  void *x = NULL, *y = NULL;
  size_t ex = 0, ey = 0;
  long long nx = 0, ny = 0;
  int rx = 0, ry = 0;
  st = io_read_raw(f, a, &x, &ex, &nx, &rx, NULL);
  if (st == DD_OK) st = io_read_raw(f, b, &y, &ey, &ny, &ry, NULL);
  *same = st == DD_OK && rx == 1 && ry == 1 && nx == ny && ex == ey &&
          memcmp(x, y, (size_t)nx * ex) == 0;
  free(x);
  free(y);
  return st;
}

/* Makes `local` (in the dataset's group) a copy of the axis `axis`: same
 * values, type, units and description, a dimension scale named like it.  An
 * existing `local` must hold the same values. */
static dd_status axis_localize(io_file *f, const char *axis, const char *local) {
  if (io_exists(f, local)) {
    int same = 0;
    DD_TRY(axes_same(f, axis, local, &same), "axis '%s'", local);
    if (!same)
      return DD_FAIL(DD_ERR_HDF5,
                     "'%s' exists in '%s' but is not a copy of the axis '%s' (a dataset of "
                     "that name in the group?)",
                     local, f->disk_path, axis);
    return DD_OK;
  }
  char *units = NULL, *desc = NULL;
  dd_status st =
      io_attr_exists(f, axis, "units") ? io_attr_read_string(f, axis, "units", &units) : DD_OK;
  if (st == DD_OK && io_attr_exists(f, axis, "description"))
    st = io_attr_read_string(f, axis, "description", &desc);
  hid_t d = -1, t = -1;
  if (st == DD_OK) st = dset_open(f, axis, &d);
  if (st == DD_OK) t = H5Dget_type(d);
  if (st == DD_OK && H5Tget_class(t) == H5T_STRING) {
    char **s = NULL;
    long long n = 0;
    st = io_read_strings(f, axis, &s, &n);
    if (st == DD_OK) st = labels_make(f, local, (int)n, (const char *const *)s);
    io_strings_free(s, n);
  } else if (st == DD_OK) {
    void *v = NULL;
    size_t es = 0;
    long long n = 0;
    int r = 0;
    st = io_read_raw(f, axis, &v, &es, &n, &r, NULL);
    if (st == DD_OK && r != 1) st = DD_FAIL(DD_ERR_HDF5, "axis '%s' is not 1-D", axis);
    if (st == DD_OK) st = axis_make(f, local, t, t, n, v, NULL);
    free(v);
  }
  if (t >= 0) H5Tclose(t);
  if (d >= 0) H5Dclose(d);
  if (st == DD_OK) st = units_desc(f, local, units ? units : "", desc ? desc : "");
  free(units);
  free(desc);
  if (st != DD_OK) return DD_CONTEXT(st, "copying axis '%s' to '%s'", axis, local);
  return DD_OK;
}

/* ---------------------------------------------------------------- transfers */

/* Selects box (start, count) of a dataset with `rank` dims in file space fs
 * and a matching 1-D memory space; a box with any count 0 selects nothing. */
static dd_status select_box(hid_t fs, int rank, const long long *start, const long long *count,
                            hid_t *ms, long long *n_elems) {
  hsize_t st[IO_MAX_RANK], ct[IO_MAX_RANK];
  long long n = 1;
  for (int i = 0; i < rank; i++) {
    st[i] = (hsize_t)start[i];
    ct[i] = (hsize_t)count[i];
    n *= count[i];
  }
  hsize_t hn = (hsize_t)(n > 0 ? n : 1);
  *ms = H5Screate_simple(1, &hn, NULL);
  *n_elems = n;
  if (n == 0) {
    H5Sselect_none(*ms);
    if (H5Sselect_none(fs) < 0) return IO_H5FAIL("empty selection");
    return DD_OK;
  }
  if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL) < 0)
    return IO_H5FAIL("selecting a box");
  return DD_OK;
}

/* Checks locally, then agrees: a rank with a bad box must not leave the
 * others waiting inside the collective transfer. */
static dd_status box_check(io_file *f, const char *path, int rank, const hsize_t *dims,
                           const long long *start, const long long *count, const void *buf) {
  dd_status st = DD_OK;
  long long n = 1;
  for (int i = 0; i < rank; i++) {
    n *= count[i];
    if (start[i] < 0 || count[i] < 0 || (hsize_t)(start[i] + count[i]) > dims[i]) {
      st = DD_FAIL(DD_ERR_ARG, "'%s': box [%lld, %lld) outside dimension %d of length %lld", path,
                   start[i], start[i] + count[i], i, (long long)dims[i]);
      break;
    }
  }
  if (st == DD_OK && n > 0 && !buf) st = DD_FAIL(DD_ERR_ARG, "'%s': NULL buffer", path);
  return par_agree(&f->w, st);
}

static dd_status transfer_box(io_file *f, const char *path, int write, hid_t mtype,
                              const long long *start, const long long *count, void *buf) {
  hid_t d;
  DD_TRY(dset_open(f, path, &d), "%s '%s'", write ? "writing" : "reading", path);
  int rank = 0;
  hsize_t dims[IO_MAX_RANK];
  dd_status st = dset_shape(d, path, &rank, dims);
  if (st == DD_OK) st = box_check(f, path, rank, dims, start, count, buf);
  hsize_t total = 1;
  for (int i = 0; i < rank; i++) total *= dims[i];
  /* An empty dataset has no storage: parallel HDF5 1.10 fails even a
   * transfer that selects nothing ("addr overflow"), so there is none. */
  if (st != DD_OK || total == 0) {
    H5Dclose(d);
    return st;
  }
  hid_t fs = H5Dget_space(d), ms = -1;
  long long n = 0;
  st = select_box(fs, rank, start, count, &ms, &n);
  static double dummy;
  void *b = n > 0 ? buf : &dummy;
  if (st == DD_OK) {
    herr_t rc = write ? H5Dwrite(d, mtype, ms, fs, f->dxpl_coll, b)
                      : H5Dread(d, mtype, ms, fs, f->dxpl_coll, b);
    if (rc < 0)
      st = IO_H5FAIL("%s '%s' in '%s'", write ? "writing" : "reading", path, f->disk_path);
  }
  if (ms >= 0) H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(d);
  return st;
}

static hid_t mem_type_checked(io_type t) {
  return io_type_size(t) ? io_h5_mem_type(t) : -1;
}

dd_status io_write_slab(io_file *f, const char *path, io_type mem, const long long *start,
                        const long long *count, const void *buf) {
  hid_t mt = mem_type_checked(mem);
  if (mt < 0) return DD_FAIL(DD_ERR_ARG, "'%s': unknown io_type %d", path, (int)mem);
  return transfer_box(f, path, 1, mt, start, count, (void *)buf);
}

dd_status io_read_slab(io_file *f, const char *path, io_type mem, const long long *start,
                       const long long *count, void *buf) {
  hid_t mt = mem_type_checked(mem);
  if (mt < 0) return DD_FAIL(DD_ERR_ARG, "'%s': unknown io_type %d", path, (int)mem);
  return transfer_box(f, path, 0, mt, start, count, buf);
}

dd_status io_write_rows(io_file *f, const char *path, io_type mem, long long n_local,
                        const void *buf) {
  int rank = 0;
  long long dims[IO_MAX_RANK];
  DD_TRY(io_dataset_shape(f, path, &rank, dims), "writing rows of '%s'", path);
  long long first = 0, total = 0;
  MPI_Exscan(&n_local, &first, 1, MPI_LONG_LONG, MPI_SUM, f->w.comm);
  if (f->w.rank == 0) first = 0; /* MPI_Exscan leaves rank 0's result undefined */
  MPI_Allreduce(&n_local, &total, 1, MPI_LONG_LONG, MPI_SUM, f->w.comm);
  if (total != dims[0])
    return DD_FAIL(DD_ERR_ARG, "'%s' has %lld rows but the ranks hold %lld", path, dims[0], total);
  long long start[IO_MAX_RANK] = {0}, count[IO_MAX_RANK];
  start[0] = first;
  count[0] = n_local;
  for (int i = 1; i < rank; i++) count[i] = dims[i];
  return io_write_slab(f, path, mem, start, count, buf);
}

dd_status io_write_root(io_file *f, const char *path, io_type mem, const void *buf) {
  int rank = 0;
  long long dims[IO_MAX_RANK];
  DD_TRY(io_dataset_shape(f, path, &rank, dims), "writing '%s'", path);
  long long start[IO_MAX_RANK] = {0}, count[IO_MAX_RANK];
  for (int i = 0; i < rank; i++) count[i] = f->w.rank == 0 ? dims[i] : 0;
  return io_write_slab(f, path, mem, start, count, buf);
}

dd_status io_read_all(io_file *f, const char *path, io_type mem, void *buf) {
  int rank = 0;
  long long dims[IO_MAX_RANK];
  DD_TRY(io_dataset_shape(f, path, &rank, dims), "reading '%s'", path);
  long long start[IO_MAX_RANK] = {0};
  return io_read_slab(f, path, mem, start, dims, buf);
}

/* ---------------------------------------------------------------- raw bytes */

dd_status io_read_raw(io_file *f, const char *path, void **buf, size_t *elem_size,
                      long long *n_elems, int *rank_out, long long *dims_out) {
  *buf = NULL;
  hid_t d;
  DD_TRY(dset_open(f, path, &d), "reading '%s'", path);
  int rank = 0;
  hsize_t dims[IO_MAX_RANK];
  dd_status st = dset_shape(d, path, &rank, dims);
  hid_t t = H5Dget_type(d);
  if (st == DD_OK && (H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tis_variable_str(t) > 0))
    st = DD_FAIL(DD_ERR_HDF5, "'%s' holds variable-length data, which io cannot copy", path);
  long long n = 1;
  for (int i = 0; i < rank; i++) n *= (long long)dims[i];
  size_t es = H5Tget_size(t);
  if (st == DD_OK) st = dd_calloc(buf, (size_t)(n > 0 ? n : 1), es, "dataset bytes");
  if (st == DD_OK && n > 0 && H5Dread(d, t, H5S_ALL, H5S_ALL, f->dxpl_coll, *buf) < 0)
    st = IO_H5FAIL("reading '%s' in '%s'", path, f->disk_path);
  H5Tclose(t);
  H5Dclose(d);
  if (st != DD_OK) {
    free(*buf);
    *buf = NULL;
    return st;
  }
  *elem_size = es;
  *n_elems = n;
  if (rank_out) *rank_out = rank;
  for (int i = 0; dims_out && i < IO_MAX_RANK; i++) dims_out[i] = i < rank ? (long long)dims[i] : 0;
  return DD_OK;
}

dd_status io_write_raw_root(io_file *f, const char *path, const void *buf) {
  hid_t d;
  DD_TRY(dset_open(f, path, &d), "writing '%s'", path);
  int rank = 0;
  hsize_t dims[IO_MAX_RANK];
  dd_status st = dset_shape(d, path, &rank, dims);
  long long n = 1;
  for (int i = 0; i < rank; i++) n *= (long long)dims[i];
  if (st == DD_OK) st = par_agree(&f->w, f->w.rank == 0 && n > 0 && !buf ? DD_ERR_ARG : DD_OK);
  hid_t t = H5Dget_type(d);
  hid_t fs = H5Dget_space(d);
  if (f->w.rank != 0 || n == 0) H5Sselect_none(fs);
  hsize_t hn = (hsize_t)(n > 0 ? n : 1);
  hid_t ms = H5Screate_simple(1, &hn, NULL);
  if (f->w.rank != 0 || n == 0) H5Sselect_none(ms);
  static double dummy;
  if (st == DD_OK && n > 0 &&
      H5Dwrite(d, t, ms, fs, f->dxpl_coll, f->w.rank == 0 ? buf : &dummy) < 0)
    st = IO_H5FAIL("writing '%s' in '%s'", path, f->disk_path);
  H5Sclose(ms);
  H5Sclose(fs);
  H5Tclose(t);
  H5Dclose(d);
  return st;
}
