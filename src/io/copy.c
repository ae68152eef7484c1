/* copy.c - walking, copying and comparing results files, all collective:
 * listing datasets and attributes, copying a subtree between two open files
 * (data moved in row blocks, one per rank; dimension scales re-attached by
 * path, so no object reference ever points into another file), and a
 * bitwise comparison of two subtrees (what "same content" means for stages,
 * np invariance and shard merging). */
#define _POSIX_C_SOURCE 200809L
#include "io_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5_hl.h> /* uses: H5DSis_scale, H5DSset_scale, H5DSattach_scale */
#include <mpi.h>     /* uses: MPI_Allreduce */

/* Bytes moved per rank and pass when copying or comparing datasets. */
#define IO_COPY_PASS_BYTES (32u << 20)

/* ---------------------------------------------------------------- lists */

typedef struct str_list {
  char **v;
  int n, cap;
} str_list;

static dd_status list_push(str_list *l, const char *s) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 16;
    char **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return DD_FAIL(DD_ERR_NOMEM, "name list");
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n] = strdup(s);
  if (!l->v[l->n]) return DD_FAIL(DD_ERR_NOMEM, "name list");
  l->n++;
  return DD_OK;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static herr_t link_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
  (void)g;
  (void)info;
  return list_push(data, name) == DD_OK ? 0 : -1;
}

/* Names of the children of group `path`, sorted. */
static dd_status children(io_file *f, const char *path, str_list *out) {
  memset(out, 0, sizeof *out);
  hid_t g = H5Gopen2(f->fid, path, H5P_DEFAULT);
  if (g < 0) return IO_H5FAIL("opening group '%s' in '%s'", path, f->disk_path);
  hsize_t idx = 0;
  herr_t rc = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, link_cb, out);
  H5Gclose(g);
  if (rc < 0) {
    io_list_free(out->v, out->n);
    memset(out, 0, sizeof *out);
    return IO_H5FAIL("listing group '%s' in '%s'", path, f->disk_path);
  }
  if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
  return DD_OK;
}

static herr_t attr_cb(hid_t o, const char *name, const H5A_info_t *info, void *data) {
  (void)o;
  (void)info;
  return list_push(data, name) == DD_OK ? 0 : -1;
}

static dd_status attr_names(io_file *f, const char *obj, str_list *out) {
  memset(out, 0, sizeof *out);
  hid_t o = H5Oopen(f->fid, obj, H5P_DEFAULT);
  if (o < 0) return IO_H5FAIL("opening '%s' in '%s'", obj, f->disk_path);
  hsize_t idx = 0;
  herr_t rc = H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_cb, out);
  H5Oclose(o);
  if (rc < 0) {
    io_list_free(out->v, out->n);
    memset(out, 0, sizeof *out);
    return IO_H5FAIL("listing attributes of '%s' in '%s'", obj, f->disk_path);
  }
  if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
  return DD_OK;
}

static dd_status obj_type(io_file *f, const char *path, H5O_type_t *t) {
  H5O_info_t info;
  if (H5Oget_info_by_name2(f->fid, path, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
    return IO_H5FAIL("inspecting '%s' in '%s'", path, f->disk_path);
  *t = info.type;
  return DD_OK;
}

static int skipped(const char *path, const char *const *skip, int n_skip) {
  for (int i = 0; i < n_skip; i++)
    if (skip[i] && io_path_within(path, skip[i])) return 1;
  return 0;
}

static dd_status list_rec(io_file *f, const char *path, str_list *out) {
  H5O_type_t t = H5O_TYPE_UNKNOWN;
  DD_TRY(obj_type(f, path, &t), "listing");
  if (t == H5O_TYPE_DATASET) return list_push(out, path);
  if (t != H5O_TYPE_GROUP) return DD_OK;
  str_list ch;
  DD_TRY(children(f, path, &ch), "listing");
  dd_status st = DD_OK;
  char sub[IO_PATH_MAX];
  for (int i = 0; i < ch.n && st == DD_OK; i++) {
    st = io_path_join(sub, sizeof sub, path, ch.v[i]);
    if (st == DD_OK) st = list_rec(f, sub, out);
  }
  io_list_free(ch.v, ch.n);
  return st;
}

dd_status io_list_datasets(io_file *f, const char *group, char ***paths, int *n) {
  str_list l;
  memset(&l, 0, sizeof l);
  *paths = NULL;
  *n = 0;
  if (!io_exists(f, group)) return DD_FAIL(DD_ERR_HDF5, "'%s' has no '%s'", f->disk_path, group);
  dd_status st = list_rec(f, group, &l);
  if (st != DD_OK) {
    io_list_free(l.v, l.n);
    return st;
  }
  if (l.n > 1) qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_str);
  *paths = l.v;
  *n = l.n;
  return DD_OK;
}

dd_status io_list_attrs(io_file *f, const char *obj, char ***names, int *n) {
  str_list l;
  *names = NULL;
  *n = 0;
  if (!io_exists(f, obj)) return DD_FAIL(DD_ERR_HDF5, "'%s' has no '%s'", f->disk_path, obj);
  DD_TRY(attr_names(f, obj, &l), "listing attributes");
  *names = l.v;
  *n = l.n;
  return DD_OK;
}

/* ---------------------------------------------------------------- attributes */

/* Attributes that H5DS maintains itself: never copied, compared by meaning. */
static int ds_managed(const char *name) {
  return strcmp(name, "DIMENSION_LIST") == 0 || strcmp(name, "REFERENCE_LIST") == 0;
}

/* An attribute's type, dataspace and value (VL strings as an array of char*). */
typedef struct attr_val {
  hid_t type, space, mtype;
  int vlstr;
  hssize_t n;
  void *buf;
} attr_val;

static void attr_val_free(attr_val *v) {
  if (v->buf && v->vlstr) H5Dvlen_reclaim(v->mtype, v->space, H5P_DEFAULT, v->buf);
  free(v->buf);
  if (v->vlstr && v->mtype >= 0) H5Tclose(v->mtype);
  if (v->space >= 0) H5Sclose(v->space);
  if (v->type >= 0) H5Tclose(v->type);
  memset(v, 0, sizeof *v);
  v->type = v->space = v->mtype = -1;
}

static dd_status attr_load(io_file *f, const char *obj, const char *name, attr_val *v) {
  memset(v, 0, sizeof *v);
  v->type = v->space = v->mtype = -1;
  hid_t a = H5Aopen_by_name(f->fid, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) return IO_H5FAIL("opening attribute '%s' of '%s'", name, obj);
  dd_status st = DD_OK;
  v->type = H5Aget_type(a);
  v->space = H5Aget_space(a);
  v->n = H5Sget_simple_extent_npoints(v->space);
  v->vlstr = H5Tis_variable_str(v->type) > 0;
  if (v->vlstr) {
    v->mtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(v->mtype, H5T_VARIABLE);
    H5Tset_cset(v->mtype, H5Tget_cset(v->type));
    v->buf = calloc((size_t)(v->n > 0 ? v->n : 1), sizeof(char *));
  } else if (H5Tdetect_class(v->type, H5T_VLEN) > 0 ||
             H5Tdetect_class(v->type, H5T_REFERENCE) > 0) {
    st = DD_FAIL(DD_ERR_HDF5, "attribute '%s' of '%s' holds references or variable-length data",
                 name, obj);
  } else {
    v->mtype = v->type;
    v->buf = calloc((size_t)(v->n > 0 ? v->n : 1), H5Tget_size(v->type));
  }
  if (st == DD_OK && !v->buf) st = DD_FAIL(DD_ERR_NOMEM, "attribute '%s'", name);
  if (st == DD_OK && H5Aread(a, v->mtype, v->buf) < 0)
    st = IO_H5FAIL("reading attribute '%s' of '%s'", name, obj);
  if (st != DD_OK && v->vlstr) {
    free(v->buf); /* nothing was allocated inside */
    v->buf = NULL;
  }
  H5Aclose(a);
  if (st != DD_OK) attr_val_free(v);
  return st;
}

/* 1 if two loaded attributes have the same type, shape and value. */
static int attr_same(const attr_val *x, const attr_val *y) {
  if (H5Tequal(x->type, y->type) <= 0 || x->n != y->n) return 0;
  if (H5Sget_simple_extent_ndims(x->space) != H5Sget_simple_extent_ndims(y->space)) return 0;
  if (x->vlstr) {
    char *const *a = x->buf, *const *b = y->buf;
    for (hssize_t i = 0; i < x->n; i++)
      if (strcmp(a[i] ? a[i] : "", b[i] ? b[i] : "") != 0) return 0;
    return 1;
  }
  return memcmp(x->buf, y->buf, (size_t)x->n * H5Tget_size(x->type)) == 0;
}

static dd_status copy_attrs(io_file *dst, io_file *src, const char *path, int is_scale) {
  str_list names;
  DD_TRY(attr_names(src, path, &names), "copying attributes of '%s'", path);
  dd_status st = DD_OK;
  for (int i = 0; i < names.n && st == DD_OK; i++) {
    const char *name = names.v[i];
    if (ds_managed(name)) continue;
    if (is_scale && (strcmp(name, "CLASS") == 0 || strcmp(name, "NAME") == 0)) continue;
    if (H5Aexists_by_name(dst->fid, path, name, H5P_DEFAULT) > 0) continue;
    attr_val v;
    st = attr_load(src, path, name, &v);
    if (st != DD_OK) break;
    hid_t o = H5Oopen(dst->fid, path, H5P_DEFAULT);
    hid_t a = o < 0 ? -1 : H5Acreate2(o, name, v.type, v.space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, v.mtype, v.buf) < 0)
      st = IO_H5FAIL("copying attribute '%s' of '%s' into '%s'", name, path, dst->disk_path);
    if (a >= 0) H5Aclose(a);
    if (o >= 0) H5Oclose(o);
    attr_val_free(&v);
  }
  io_list_free(names.v, names.n);
  return st;
}

/* ---------------------------------------------------------------- data */

/* Row blocks: every rank moves rows [first, first+count) of dimension 0 in
 * passes of at most `per_pass` rows; all ranks run the same number of passes
 * (collective transfers). */
typedef struct row_plan {
  int rank;
  hsize_t dims[IO_MAX_RANK];
  size_t row_bytes;
  long long first, count, per_pass, passes;
} row_plan;

static void plan_rows(const par_world *w, hid_t space, size_t esize, row_plan *p) {
  memset(p, 0, sizeof *p);
  p->rank = H5Sget_simple_extent_ndims(space);
  H5Sget_simple_extent_dims(space, p->dims, NULL);
  long long rows = p->rank > 0 ? (long long)p->dims[0] : 1;
  p->row_bytes = esize;
  for (int d = 1; d < p->rank; d++) p->row_bytes *= p->dims[d];
  if (p->rank == 0) { /* scalar: rank 0 moves it */
    p->first = 0;
    p->count = w->rank == 0 ? 1 : 0;
  } else {
    io_rows_split(rows, w->rank, w->size, &p->first, &p->count);
  }
  long long max_count = (rows + w->size - 1) / w->size;
  p->per_pass = p->row_bytes > 0 ? (long long)(IO_COPY_PASS_BYTES / p->row_bytes) : max_count;
  if (p->per_pass < 1) p->per_pass = 1;
  p->passes = max_count > 0 ? (max_count + p->per_pass - 1) / p->per_pass : 0;
  if (p->row_bytes == 0) p->passes = 0;
}

/* Selects pass k of plan p in file space fs: *n rows starting at *row0. */
static dd_status plan_select(const row_plan *p, long long k, hid_t fs, long long *n,
                             long long *row0) {
  long long off = k * p->per_pass;
  long long cnt = p->count - off;
  if (cnt > p->per_pass) cnt = p->per_pass;
  if (cnt < 0) cnt = 0;
  *n = cnt;
  *row0 = p->first + off;
  if (cnt == 0) {
    H5Sselect_none(fs);
    return DD_OK;
  }
  if (p->rank == 0) return DD_OK; /* scalar: whole selection */
  hsize_t start[IO_MAX_RANK] = {0}, count[IO_MAX_RANK];
  start[0] = (hsize_t)(p->first + off);
  count[0] = (hsize_t)cnt;
  for (int d = 1; d < p->rank; d++) count[d] = p->dims[d];
  if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
    return IO_H5FAIL("selecting rows");
  return DD_OK;
}

/* Memory space for `rows` rows of row_elems values, read and written in the
 * dataset's own file type (no conversion: the bytes move unchanged). */
static hid_t mem_space_elems(long long rows, size_t row_elems) {
  hsize_t n = (hsize_t)(rows > 0 ? rows : 1) * (hsize_t)row_elems;
  hid_t ms = H5Screate_simple(1, &n, NULL);
  if (rows == 0) H5Sselect_none(ms);
  return ms;
}

static dd_status copy_data(io_file *dst, io_file *src, const char *path, hid_t sd, hid_t dd,
                           hid_t type) {
  hid_t space = H5Dget_space(sd);
  size_t es = H5Tget_size(type);
  row_plan p;
  plan_rows(&src->w, space, es, &p);
  size_t row_elems = es > 0 ? p.row_bytes / es : 0;
  void *buf = NULL;
  dd_status st = dd_calloc(&buf, (size_t)(p.per_pass > 0 ? p.per_pass : 1),
                           p.row_bytes > 0 ? p.row_bytes : 1, "copy buffer");
  for (long long k = 0; st == DD_OK && k < p.passes; k++) {
    hid_t fs_src = H5Scopy(space), fs_dst = H5Scopy(space);
    long long n, row0;
    st = plan_select(&p, k, fs_src, &n, &row0);
    if (st == DD_OK) st = plan_select(&p, k, fs_dst, &n, &row0);
    hid_t m = mem_space_elems(n, p.rank == 0 ? 1 : row_elems);
    if (st == DD_OK && H5Dread(sd, type, m, fs_src, src->dxpl_coll, buf) < 0)
      st = IO_H5FAIL("reading '%s' from '%s'", path, src->disk_path);
    if (st == DD_OK && H5Dwrite(dd, type, m, fs_dst, dst->dxpl_coll, buf) < 0)
      st = IO_H5FAIL("writing '%s' to '%s'", path, dst->disk_path);
    H5Sclose(m);
    H5Sclose(fs_src);
    H5Sclose(fs_dst);
  }
  free(buf);
  H5Sclose(space);
  return st;
}

static dd_status copy_dataset(io_file *dst, io_file *src, const char *path) {
  if (io_exists(dst, path))
    return DD_FAIL(DD_ERR_HDF5, "cannot copy '%s': it exists in '%s'", path, dst->disk_path);
  char parent[IO_PATH_MAX];
  io_path_parent(path, parent, sizeof parent);
  DD_TRY(io_group_create_raw(dst, parent), "copying '%s'", path);
  hid_t sd = H5Dopen2(src->fid, path, H5P_DEFAULT);
  if (sd < 0) return IO_H5FAIL("opening '%s' in '%s'", path, src->disk_path);
  dd_status st = DD_OK;
  hid_t type = H5Dget_type(sd), space = H5Dget_space(sd), dcpl = H5Dget_create_plist(sd);
  int vlstr = H5Tis_variable_str(type) > 0;
  if (!vlstr && (H5Tdetect_class(type, H5T_VLEN) > 0 || H5Tdetect_class(type, H5T_REFERENCE) > 0))
    st = DD_FAIL(DD_ERR_HDF5,
                 "'%s' in '%s' holds variable-length or reference data, which parallel HDF5 "
                 "cannot write",
                 path, src->disk_path);
  hid_t dd = -1;
  if (st == DD_OK && vlstr) {
    /* Label axes: parallel HDF5 cannot H5Dwrite variable-length strings,
     * H5Ocopy (collective metadata) moves them; the attributes follow below
     * like any dataset's, and the scale bookkeeping is made anew. */
    hid_t ocp = H5Pcreate(H5P_OBJECT_COPY);
    if (ocp < 0 || H5Pset_copy_object(ocp, H5O_COPY_WITHOUT_ATTR_FLAG) < 0 ||
        H5Ocopy(src->fid, path, dst->fid, path, ocp, H5P_DEFAULT) < 0)
      st = IO_H5FAIL("copying the strings '%s' into '%s'", path, dst->disk_path);
    if (ocp >= 0) H5Pclose(ocp);
    if (st == DD_OK) dd = H5Dopen2(dst->fid, path, H5P_DEFAULT);
    if (st == DD_OK && dd < 0) st = IO_H5FAIL("opening '%s' in '%s'", path, dst->disk_path);
  } else if (st == DD_OK) {
    dd = H5Dcreate2(dst->fid, path, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dd < 0) st = IO_H5FAIL("creating '%s' in '%s'", path, dst->disk_path);
    if (st == DD_OK) st = copy_data(dst, src, path, sd, dd, type);
  }
  int is_scale = H5DSis_scale(sd) > 0;
  if (st == DD_OK && is_scale) {
    char *name = NULL;
    if (io_attr_exists(src, path, "NAME")) st = io_attr_read_string(src, path, "NAME", &name);
    if (st == DD_OK && H5DSset_scale(dd, name) < 0)
      st = IO_H5FAIL("making '%s' a dimension scale in '%s'", path, dst->disk_path);
    free(name);
  }
  if (dd >= 0) H5Dclose(dd);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(sd);
  if (st == DD_OK) st = copy_attrs(dst, src, path, is_scale);
  return st;
}

static dd_status copy_rec(io_file *dst, io_file *src, const char *path, const char *const *skip,
                          int n_skip, str_list *copied) {
  if (skipped(path, skip, n_skip)) return DD_OK;
  H5O_type_t t = H5O_TYPE_UNKNOWN;
  DD_TRY(obj_type(src, path, &t), "copying");
  if (t == H5O_TYPE_DATASET) {
    DD_TRY(copy_dataset(dst, src, path), "copying '%s'", path);
    return list_push(copied, path);
  }
  if (t != H5O_TYPE_GROUP)
    return DD_FAIL(DD_ERR_HDF5, "'%s' in '%s' is neither a group nor a dataset", path,
                   src->disk_path);
  int root = strcmp(path, "/") == 0;
  if (!root) {
    DD_TRY(io_group_create_raw(dst, path), "copying '%s'", path);
    /* The root's attributes describe the file, not its content: never copied. */
    DD_TRY(copy_attrs(dst, src, path, 0), "copying '%s'", path);
  }
  str_list ch;
  DD_TRY(children(src, path, &ch), "copying '%s'", path);
  dd_status st = DD_OK;
  char sub[IO_PATH_MAX];
  for (int i = 0; i < ch.n && st == DD_OK; i++) {
    st = io_path_join(sub, sizeof sub, path, ch.v[i]);
    if (st == DD_OK) st = copy_rec(dst, src, sub, skip, n_skip, copied);
  }
  io_list_free(ch.v, ch.n);
  return st;
}

typedef struct scale_list {
  str_list paths;
  dd_status st;
} scale_list;

static herr_t scale_collect(hid_t did, unsigned dim, hid_t dsid, void *data) {
  (void)did;
  (void)dim;
  scale_list *l = data;
  char name[IO_PATH_MAX];
  if (H5Iget_name(dsid, name, sizeof name) <= 0) return -1;
  l->st = list_push(&l->paths, name);
  return l->st == DD_OK ? 0 : -1;
}

/* Scale paths attached to dimension `dim` of open dataset d, in order. */
static dd_status dim_scales(hid_t d, const char *path, unsigned dim, str_list *out) {
  memset(out, 0, sizeof *out);
  int n = H5DSget_num_scales(d, dim);
  if (n <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return DD_OK;
  }
  scale_list l;
  memset(&l, 0, sizeof l);
  if (H5DSiterate_scales(d, dim, NULL, scale_collect, &l) < 0) {
    io_list_free(l.paths.v, l.paths.n);
    return l.st != DD_OK ? l.st : IO_H5FAIL("dimension scales of '%s'", path);
  }
  *out = l.paths;
  return DD_OK;
}

/* One dimension-scale attachment to recreate: dataset, dimension, scale. */
typedef struct attach {
  char *ds, *scale; /* owned */
  int dim;
  int done;
} attach;

typedef struct attach_list {
  attach *v;
  int n, cap;
} attach_list;

static void attach_list_free(attach_list *l) {
  for (int i = 0; i < l->n; i++) {
    free(l->v[i].ds);
    free(l->v[i].scale);
  }
  free(l->v);
  memset(l, 0, sizeof *l);
}

static dd_status attach_push(attach_list *l, const char *ds, int dim, const char *scale) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 16;
    attach *v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return DD_FAIL(DD_ERR_NOMEM, "attachment list");
    l->v = v;
    l->cap = cap;
  }
  attach *a = &l->v[l->n];
  a->ds = strdup(ds);
  a->scale = strdup(scale);
  a->dim = dim;
  a->done = 0;
  if (!a->ds || !a->scale) {
    free(a->ds);
    free(a->scale);
    return DD_FAIL(DD_ERR_NOMEM, "attachment list");
  }
  l->n++;
  return DD_OK;
}

/* The attachments of copied dataset `path` in src. */
static dd_status collect_attachments(io_file *src, const char *path, attach_list *out) {
  hid_t sd = H5Dopen2(src->fid, path, H5P_DEFAULT);
  if (sd < 0) return IO_H5FAIL("opening '%s' in '%s'", path, src->disk_path);
  dd_status st = DD_OK;
  if (H5DSis_scale(sd) <= 0) {
    hid_t sp = H5Dget_space(sd);
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sclose(sp);
    for (int dim = 0; dim < rank && st == DD_OK; dim++) {
      str_list sc;
      st = dim_scales(sd, path, (unsigned)dim, &sc);
      for (int i = 0; i < sc.n && st == DD_OK; i++) st = attach_push(out, path, dim, sc.v[i]);
      io_list_free(sc.v, sc.n);
    }
  }
  H5Dclose(sd);
  return st;
}

/* The (dataset, dimension) pairs of a scale's REFERENCE_LIST in src, in the
 * order they were attached: re-attaching in this order gives the copy the
 * same REFERENCE_LIST, which h5diff compares entry by entry. */
typedef struct ref_entry {
  hobj_ref_t ref;
  int dim;
} ref_entry;

static dd_status scale_order(io_file *src, const char *scale, str_list *ds, int **dims) {
  memset(ds, 0, sizeof *ds);
  *dims = NULL;
  if (H5Aexists_by_name(src->fid, scale, "REFERENCE_LIST", H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return DD_OK;
  }
  hid_t a = H5Aopen_by_name(src->fid, scale, "REFERENCE_LIST", H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) return IO_H5FAIL("REFERENCE_LIST of '%s'", scale);
  hid_t sp = H5Aget_space(a);
  hssize_t n = H5Sget_simple_extent_npoints(sp);
  hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(ref_entry));
  H5Tinsert(mt, "dataset", HOFFSET(ref_entry, ref), H5T_STD_REF_OBJ);
  H5Tinsert(mt, "dimension", HOFFSET(ref_entry, dim), H5T_NATIVE_INT);
  ref_entry *e = calloc((size_t)(n > 0 ? n : 1), sizeof *e);
  int *d = calloc((size_t)(n > 0 ? n : 1), sizeof *d);
  dd_status st = DD_OK;
  if (!e || !d) st = DD_FAIL(DD_ERR_NOMEM, "REFERENCE_LIST");
  if (st == DD_OK && H5Aread(a, mt, e) < 0) st = IO_H5FAIL("reading REFERENCE_LIST of '%s'", scale);
  char name[IO_PATH_MAX];
  for (hssize_t i = 0; st == DD_OK && i < n; i++) {
    if (H5Rget_name(src->fid, H5R_OBJECT, &e[i].ref, name, sizeof name) <= 0) {
      st = IO_H5FAIL("resolving REFERENCE_LIST entry %lld of '%s'", (long long)i, scale);
      break;
    }
    d[ds->n] = e[i].dim;
    st = list_push(ds, name);
  }
  free(e);
  H5Tclose(mt);
  H5Sclose(sp);
  H5Aclose(a);
  if (st != DD_OK) {
    io_list_free(ds->v, ds->n);
    memset(ds, 0, sizeof *ds);
    free(d);
    return st;
  }
  *dims = d;
  return DD_OK;
}

static dd_status attach_one(io_file *dst, attach *a) {
  if (!io_exists(dst, a->scale))
    return DD_FAIL(DD_ERR_HDF5,
                   "dimension scale '%s' of '%s' (dimension %d) is missing in '%s' (was it "
                   "skipped?)",
                   a->scale, a->ds, a->dim, dst->disk_path);
  hid_t d = H5Dopen2(dst->fid, a->ds, H5P_DEFAULT);
  hid_t s = H5Dopen2(dst->fid, a->scale, H5P_DEFAULT);
  dd_status st = DD_OK;
  if (d < 0 || s < 0 || H5DSattach_scale(d, s, (unsigned)a->dim) < 0)
    st = IO_H5FAIL("attaching '%s' to '%s' in '%s'", a->scale, a->ds, dst->disk_path);
  if (s >= 0) H5Dclose(s);
  if (d >= 0) H5Dclose(d);
  a->done = 1;
  return st;
}

static dd_status reattach_all(io_file *dst, io_file *src, const str_list *copied) {
  attach_list l;
  memset(&l, 0, sizeof l);
  dd_status st = DD_OK;
  for (int i = 0; i < copied->n && st == DD_OK; i++)
    st = collect_attachments(src, copied->v[i], &l);
  for (int i = 0; i < l.n && st == DD_OK; i++) {
    if (l.v[i].done) continue;
    const char *scale = l.v[i].scale;
    str_list order;
    int *dims = NULL;
    st = scale_order(src, scale, &order, &dims);
    for (int k = 0; k < order.n && st == DD_OK; k++)
      for (int j = i; j < l.n && st == DD_OK; j++)
        if (!l.v[j].done && l.v[j].dim == dims[k] && strcmp(l.v[j].scale, scale) == 0 &&
            strcmp(l.v[j].ds, order.v[k]) == 0)
          st = attach_one(dst, &l.v[j]);
    io_list_free(order.v, order.n);
    free(dims);
    /* anything the list did not mention, in dataset order */
    for (int j = i; j < l.n && st == DD_OK; j++)
      if (!l.v[j].done && strcmp(l.v[j].scale, scale) == 0) st = attach_one(dst, &l.v[j]);
  }
  attach_list_free(&l);
  return st;
}

dd_status io_copy(io_file *dst, io_file *src, const char *path, const char *const *skip,
                  int n_skip) {
  if (!io_exists(src, path))
    return DD_FAIL(DD_ERR_HDF5, "cannot copy '%s': not in '%s'", path, src->disk_path);
  str_list copied;
  memset(&copied, 0, sizeof copied);
  dd_status st = copy_rec(dst, src, path, skip, n_skip, &copied);
  /* Scales are attached once everything exists, so the order of the copy
   * does not matter. */
  if (st == DD_OK) st = reattach_all(dst, src, &copied);
  io_list_free(copied.v, copied.n);
  if (st != DD_OK) return DD_CONTEXT(st, "copying '%s' from '%s'", path, src->disk_path);
  return DD_OK;
}

/* ---------------------------------------------------------------- compare */

typedef struct cmp_ctx {
  io_file *a, *b;
  const char *const *skip;
  int n_skip;
  int equal;
  char *diff;
  size_t cap;
} cmp_ctx;

static void differ(cmp_ctx *c, const char *fmt, const char *path, const char *what) {
  c->equal = 0;
  snprintf(c->diff, c->cap, fmt, path, what);
}

static dd_status cmp_attrs(cmp_ctx *c, const char *path) {
  str_list na, nb;
  DD_TRY(attr_names(c->a, path, &na), "comparing");
  dd_status st = attr_names(c->b, path, &nb);
  if (st != DD_OK) {
    io_list_free(na.v, na.n);
    return st;
  }
  for (int i = 0, j = 0; c->equal && (i < na.n || j < nb.n);) {
    int k = i >= na.n ? 1 : j >= nb.n ? -1 : strcmp(na.v[i], nb.v[j]);
    if (k != 0) {
      const char *name = k < 0 ? na.v[i] : nb.v[j];
      if (strcmp(name, "REFERENCE_LIST") == 0) { /* derived: see DIMENSION_LIST */
        if (k < 0)
          i++;
        else
          j++;
        continue;
      }
      differ(c,
             k < 0 ? "%s: attribute '%s' only in the first file"
                   : "%s: attribute '%s' only in the second file",
             path, name);
      break;
    }
    const char *name = na.v[i];
    i++;
    j++;
    if (ds_managed(name)) continue;
    attr_val x, y;
    st = attr_load(c->a, path, name, &x);
    if (st != DD_OK) break;
    st = attr_load(c->b, path, name, &y);
    if (st != DD_OK) {
      attr_val_free(&x);
      break;
    }
    if (!attr_same(&x, &y)) differ(c, "%s: attribute '%s' differs", path, name);
    attr_val_free(&x);
    attr_val_free(&y);
  }
  io_list_free(na.v, na.n);
  io_list_free(nb.v, nb.n);
  return st;
}

/* Compares the data of two open datasets of equal type and shape; the first
 * differing element (lowest index over all ranks) is reported. */
static dd_status cmp_data(cmp_ctx *c, const char *path, hid_t da, hid_t db, hid_t type) {
  hid_t space = H5Dget_space(da);
  size_t es = H5Tget_size(type);
  row_plan p;
  plan_rows(&c->a->w, space, es, &p);
  size_t row_elems = es > 0 ? p.row_bytes / es : 0;
  unsigned char *x = NULL, *y = NULL;
  size_t cap = (size_t)(p.per_pass > 0 ? p.per_pass : 1) * (p.row_bytes > 0 ? p.row_bytes : 1);
  dd_status st = dd_calloc((void **)&x, cap, 1, "compare buffer");
  if (st == DD_OK) st = dd_calloc((void **)&y, cap, 1, "compare buffer");
  long long first_diff = LLONG_MAX;
  for (long long k = 0; st == DD_OK && k < p.passes; k++) {
    hid_t fa = H5Scopy(space), fb = H5Scopy(space);
    long long n, row0;
    st = plan_select(&p, k, fa, &n, &row0);
    if (st == DD_OK) st = plan_select(&p, k, fb, &n, &row0);
    hid_t m = mem_space_elems(n, p.rank == 0 ? 1 : row_elems);
    if (st == DD_OK && (H5Dread(da, type, m, fa, c->a->dxpl_coll, x) < 0 ||
                        H5Dread(db, type, m, fb, c->b->dxpl_coll, y) < 0))
      st = IO_H5FAIL("reading '%s' to compare", path);
    size_t nb = (size_t)n * p.row_bytes;
    if (st == DD_OK && first_diff == LLONG_MAX && memcmp(x, y, nb) != 0) {
      for (size_t e = 0; e < nb; e += es)
        if (memcmp(x + e, y + e, es) != 0) {
          first_diff = (long long)(row0 * (long long)row_elems) + (long long)(e / es);
          break;
        }
    }
    H5Sclose(m);
    H5Sclose(fa);
    H5Sclose(fb);
  }
  free(x);
  free(y);
  H5Sclose(space);
  st = par_agree(&c->a->w, st);
  if (st != DD_OK) return st;
  long long g = LLONG_MAX;
  MPI_Allreduce(&first_diff, &g, 1, MPI_LONG_LONG, MPI_MIN, c->a->w.comm);
  if (g != LLONG_MAX) {
    char what[64];
    snprintf(what, sizeof what, "%lld", g);
    differ(c, "%s: data differ at element %s", path, what);
  }
  return DD_OK;
}

/* Compares two string datasets (label axes) element by element. */
static dd_status cmp_strings(cmp_ctx *c, const char *path) {
  char **x = NULL, **y = NULL;
  long long nx = 0, ny = 0;
  DD_TRY(io_read_strings(c->a, path, &x, &nx), "comparing");
  dd_status st = io_read_strings(c->b, path, &y, &ny);
  for (long long i = 0; st == DD_OK && i < nx && i < ny; i++)
    if (strcmp(x[i], y[i]) != 0) {
      char what[32];
      snprintf(what, sizeof what, "%lld", i);
      differ(c, "%s: strings differ at element %s", path, what);
      break;
    }
  io_strings_free(x, nx);
  io_strings_free(y, ny);
  return st;
}

static dd_status cmp_dataset(cmp_ctx *c, const char *path) {
  hid_t da = H5Dopen2(c->a->fid, path, H5P_DEFAULT);
  hid_t db = H5Dopen2(c->b->fid, path, H5P_DEFAULT);
  dd_status st = DD_OK;
  if (da < 0 || db < 0) st = IO_H5FAIL("opening '%s' to compare", path);
  hid_t ta = -1, tb = -1, sa = -1, sb = -1;
  if (st == DD_OK) {
    ta = H5Dget_type(da);
    tb = H5Dget_type(db);
    sa = H5Dget_space(da);
    sb = H5Dget_space(db);
    hsize_t xa[IO_MAX_RANK], xb[IO_MAX_RANK];
    int ra = H5Sget_simple_extent_dims(sa, xa, NULL), rb = H5Sget_simple_extent_dims(sb, xb, NULL);
    if (H5Tequal(ta, tb) <= 0)
      differ(c, "%s: element types differ%s", path, "");
    else if (ra != rb || memcmp(xa, xb, (size_t)(ra > 0 ? ra : 0) * sizeof *xa) != 0)
      differ(c, "%s: shapes differ%s", path, "");
    else if (H5Tdetect_class(ta, H5T_VLEN) > 0 && H5Tis_variable_str(ta) <= 0)
      st = DD_FAIL(DD_ERR_HDF5, "'%s': cannot compare variable-length data", path);
    /* Dimension scales compared by the paths they resolve to. */
    for (int dim = 0; st == DD_OK && c->equal && dim < ra; dim++) {
      str_list la, lb;
      st = dim_scales(da, path, (unsigned)dim, &la);
      if (st != DD_OK) break;
      st = dim_scales(db, path, (unsigned)dim, &lb);
      if (st == DD_OK) {
        int same = la.n == lb.n;
        for (int i = 0; same && i < la.n; i++) same = strcmp(la.v[i], lb.v[i]) == 0;
        if (!same) differ(c, "%s: dimension scales differ%s", path, "");
      }
      io_list_free(la.v, la.n);
      io_list_free(lb.v, lb.n);
    }
    if (st == DD_OK && c->equal && H5Tis_variable_str(ta) > 0)
      st = cmp_strings(c, path);
    else if (st == DD_OK && c->equal)
      st = cmp_data(c, path, da, db, ta);
  }
  if (sa >= 0) H5Sclose(sa);
  if (sb >= 0) H5Sclose(sb);
  if (ta >= 0) H5Tclose(ta);
  if (tb >= 0) H5Tclose(tb);
  if (da >= 0) H5Dclose(da);
  if (db >= 0) H5Dclose(db);
  if (st == DD_OK && c->equal) st = cmp_attrs(c, path);
  return st;
}

static dd_status cmp_rec(cmp_ctx *c, const char *path) {
  if (skipped(path, c->skip, c->n_skip)) return DD_OK;
  H5O_type_t ta = H5O_TYPE_UNKNOWN, tb = H5O_TYPE_UNKNOWN;
  DD_TRY(obj_type(c->a, path, &ta), "comparing");
  DD_TRY(obj_type(c->b, path, &tb), "comparing");
  if (ta != tb) {
    differ(c, "%s: object kinds differ%s", path, "");
    return DD_OK;
  }
  if (ta == H5O_TYPE_DATASET) return cmp_dataset(c, path);
  if (strcmp(path, "/") != 0) DD_TRY(cmp_attrs(c, path), "comparing");
  str_list ca, cb;
  DD_TRY(children(c->a, path, &ca), "comparing");
  dd_status st = children(c->b, path, &cb);
  if (st != DD_OK) {
    io_list_free(ca.v, ca.n);
    return st;
  }
  char sub[IO_PATH_MAX];
  for (int i = 0, j = 0; st == DD_OK && c->equal && (i < ca.n || j < cb.n);) {
    int k = i >= ca.n ? 1 : j >= cb.n ? -1 : strcmp(ca.v[i], cb.v[j]);
    const char *name = k <= 0 ? ca.v[i] : cb.v[j];
    st = io_path_join(sub, sizeof sub, path, name);
    if (st != DD_OK) break;
    if (k != 0) {
      if (!skipped(sub, c->skip, c->n_skip))
        differ(c, k < 0 ? "%s: only in the first file%s" : "%s: only in the second file%s", sub,
               "");
      if (k < 0)
        i++;
      else
        j++;
      continue;
    }
    i++;
    j++;
    st = cmp_rec(c, sub);
  }
  io_list_free(ca.v, ca.n);
  io_list_free(cb.v, cb.n);
  return st;
}

dd_status io_compare(io_file *a, io_file *b, const char *path, const char *const *skip, int n_skip,
                     int *equal, char *diff, size_t cap) {
  char dummy[8];
  cmp_ctx c = {a, b, skip, n_skip, 1, diff ? diff : dummy, diff ? cap : sizeof dummy};
  c.diff[0] = '\0';
  *equal = 0;
  int ea = io_exists(a, path), eb = io_exists(b, path);
  if (!ea || !eb) {
    snprintf(c.diff, c.cap, "%s: missing in the %s file", path, ea ? "second" : "first");
    return DD_OK;
  }
  DD_TRY(cmp_rec(&c, path), "comparing '%s' in '%s' and '%s'", path, a->disk_path, b->disk_path);
  *equal = c.equal;
  return DD_OK;
}
