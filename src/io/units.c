/* units.c - per-work-unit results: datasets created up front (contiguous,
 * allocated early), a flush, then each unit's slices written by the rank
 * that computed it (independent I/O, raw data only), fsync, and its entry in
 * the done mask.  After a kill -9 the reopened file shows exactly the units
 * whose done entry was written (verified in tests/e2e/io_resume.sh). */
#define _POSIX_C_SOURCE 200809L
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h> /* uses: MPI_Barrier */

/* Written into the done mask at creation, overwritten by 0 once the whole
 * up-front phase is flushed: a mask still holding it marks a file whose
 * metadata may be incomplete (io_stage_begin refuses to resume it). */
#define IO_DONE_UNSET 2

typedef struct unit_ds {
  hid_t did; /* open for the lifetime of the io_units */
  int rank;
  long long dims[IO_MAX_RANK];
  int unit_dim[IO_MAX_RANK]; /* dimension carrying unit axis a */
  long long slice_len;
  char path[IO_PATH_MAX];
} unit_ds;

struct io_units {
  io_file *f; /* borrowed */
  int n_axes;
  long long axis_len[IO_MAX_RANK];
  long long n_units;
  int n_ds;
  unit_ds *ds; /* owned, n_ds entries */
  hid_t done;  /* the done mask, open */
  int fd;      /* POSIX descriptor of the file, for fsync; -1 if none */
  char done_path[IO_PATH_MAX];
};

int io_shard_owns(long long unit, int shard_index, int shard_count) {
  return shard_count <= 1 || unit % shard_count == shard_index;
}

dd_status io_units_map(io_file *f, const char *path, int n_axes, const char *const *unit_axes,
                       int *rank, long long *dims, int *unit_dim, long long *slice_len) {
  DD_TRY(io_dataset_shape(f, path, rank, dims), "per-unit dataset '%s'", path);
  char *scales[IO_MAX_RANK] = {0};
  dd_status st = DD_OK;
  for (int d = 0; d < *rank && st == DD_OK; d++) st = io_dataset_scale(f, path, d, &scales[d]);
  for (int a = 0; a < n_axes && st == DD_OK; a++) {
    int hits = 0;
    for (int d = 0; d < *rank; d++)
      if (io_axis_matches(path, unit_axes[a], scales[d])) {
        unit_dim[a] = d;
        hits++;
      }
    if (hits != 1)
      st = DD_FAIL(DD_ERR_ARG,
                   "per-unit dataset '%s' has unit axis '%s' attached to %d dimensions (needs "
                   "exactly 1)",
                   path, unit_axes[a], hits);
  }
  long long n = 1;
  for (int d = 0; d < *rank; d++) {
    int is_unit = 0;
    for (int a = 0; a < n_axes; a++) is_unit |= st == DD_OK && unit_dim[a] == d;
    if (!is_unit) n *= dims[d];
  }
  *slice_len = n;
  for (int d = 0; d < *rank; d++) free(scales[d]);
  return st;
}

long long io_units_of_element(long long e, int rank, const long long *dims, int n_axes,
                              const int *unit_dim, const long long *axis_len) {
  long long idx[IO_MAX_RANK];
  for (int d = rank - 1; d >= 0; d--) {
    idx[d] = dims[d] > 0 ? e % dims[d] : 0;
    e = dims[d] > 0 ? e / dims[d] : 0;
  }
  long long u = 0;
  for (int a = 0; a < n_axes; a++) u = u * axis_len[a] + idx[unit_dim[a]];
  return u;
}

static dd_status join_lines(int n, const char *const *items, char **out) {
  size_t len = 1;
  for (int i = 0; i < n; i++) len += strlen(items[i]) + 1;
  char *s = calloc(len, 1);
  if (!s) return DD_FAIL(DD_ERR_NOMEM, "list");
  for (int i = 0; i < n; i++) {
    if (i > 0) strcat(s, "\n");
    strcat(s, items[i]);
  }
  *out = s;
  return DD_OK;
}

/* MPI-IO's rule for seeing other ranks' writes: sync, barrier, sync. */
static dd_status sync_all(io_file *f) {
  DD_TRY(io_file_flush(f), "synchronising '%s'", f->disk_path);
  MPI_Barrier(f->w.comm);
  DD_TRY(io_file_flush(f), "synchronising '%s'", f->disk_path);
  return DD_OK;
}

static void units_free(io_units *u) {
  if (!u) return;
  for (int k = 0; k < u->n_ds; k++)
    if (u->ds[k].did >= 0) H5Dclose(u->ds[k].did);
  if (u->done >= 0) H5Dclose(u->done);
  if (u->fd >= 0) close(u->fd);
  free(u->ds);
  free(u);
}

dd_status io_units_begin(io_file *f, const char *done_path, int n_axes,
                         const char *const *unit_axes, int n_datasets, const char *const *datasets,
                         int shard_index, int shard_count, io_units **out, long long **todo,
                         long long *n_todo) {
  *out = NULL;
  *todo = NULL;
  *n_todo = 0;
  if (n_axes < 1 || n_axes > IO_MAX_RANK || n_datasets < 0)
    return DD_FAIL(DD_ERR_ARG, "work units: %d axes, %d datasets", n_axes, n_datasets);
  if (shard_count < 1 || shard_index < 0 || shard_index >= shard_count)
    return DD_FAIL(DD_ERR_ARG, "work units: shard %d of %d", shard_index, shard_count);
  DD_TRY(io_stage_check_owned(f, done_path, "done mask"), "work units");
  io_units *u = calloc(1, sizeof *u);
  if (!u) return DD_FAIL(DD_ERR_NOMEM, "io_units");
  u->f = f;
  u->n_axes = n_axes;
  u->done = -1;
  u->fd = -1;
  snprintf(u->done_path, sizeof u->done_path, "%s", done_path);
  dd_status st = DD_OK;
  u->n_units = 1;
  for (int a = 0; a < n_axes && st == DD_OK; a++) {
    int r;
    long long d[IO_MAX_RANK];
    st = io_dataset_shape(f, unit_axes[a], &r, d);
    if (st == DD_OK && r != 1) st = DD_FAIL(DD_ERR_ARG, "unit axis '%s' is not 1-D", unit_axes[a]);
    u->axis_len[a] = d[0];
    u->n_units *= d[0];
  }
  u->ds = calloc((size_t)(n_datasets > 0 ? n_datasets : 1), sizeof *u->ds);
  if (!u->ds && st == DD_OK) st = DD_FAIL(DD_ERR_NOMEM, "per-unit datasets");
  for (int k = 0; k < n_datasets && st == DD_OK; k++) {
    unit_ds *x = &u->ds[k];
    x->did = -1;
    snprintf(x->path, sizeof x->path, "%s", datasets[k]);
    st = io_units_map(f, datasets[k], n_axes, unit_axes, &x->rank, x->dims, x->unit_dim,
                      &x->slice_len);
    u->n_ds = k + 1;
  }
  char *list = NULL, *axes_list = NULL;
  if (st == DD_OK) st = join_lines(n_datasets, datasets, &list);
  if (st == DD_OK) st = join_lines(n_axes, unit_axes, &axes_list);
  int fresh = st == DD_OK && !io_exists(f, done_path);
  if (st == DD_OK && fresh) {
    unsigned char unset = IO_DONE_UNSET;
    st = io_dataset_create_raw(f, done_path, IO_U8, n_axes, u->axis_len, unit_axes, "1",
                               "work-unit completion mask: 1 = the unit's results are written "
                               "(resume skips it), 0 = not yet",
                               &unset);
    if (st == DD_OK) st = io_attr_write_string(f, done_path, "unit_datasets", list);
    if (st == DD_OK) st = io_attr_write_string(f, done_path, "unit_axes", axes_list);
  } else if (st == DD_OK) {
    char *old = NULL;
    int r;
    long long d[IO_MAX_RANK];
    st = io_dataset_shape(f, done_path, &r, d);
    for (int a = 0; st == DD_OK && a < n_axes; a++)
      if (r != n_axes || d[a] != u->axis_len[a])
        st = DD_FAIL(DD_ERR_HDF5, "'%s' does not match the unit grid", done_path);
    if (st == DD_OK) st = io_attr_read_string(f, done_path, "unit_datasets", &old);
    if (st == DD_OK && strcmp(old, list) != 0)
      st = DD_FAIL(DD_ERR_HDF5,
                   "'%s' was made for other per-unit datasets (a file from another version or "
                   "configuration?)",
                   done_path);
    free(old);
  }
  free(list);
  free(axes_list);
  /* From here on only raw data is written: the metadata must be on disk. */
  if (st == DD_OK) st = io_file_flush(f);
  unsigned char *mask = NULL;
  if (st == DD_OK)
    st = dd_calloc((void **)&mask, (size_t)(u->n_units > 0 ? u->n_units : 1), 1, "done mask");
  if (st == DD_OK && fresh) {
    st = io_write_root(f, done_path, IO_U8, mask); /* all zero: up-front phase complete */
    if (st == DD_OK) st = sync_all(f);
  } else if (st == DD_OK) {
    st = io_read_all(f, done_path, IO_U8, mask);
    for (long long i = 0; st == DD_OK && i < u->n_units; i++)
      if (mask[i] > 1)
        st = DD_FAIL(DD_ERR_HDF5, "'%s' holds %d at unit %lld (never initialised)", done_path,
                     mask[i], i);
  }
  for (int k = 0; k < n_datasets && st == DD_OK; k++) {
    u->ds[k].did = H5Dopen2(f->fid, datasets[k], H5P_DEFAULT);
    if (u->ds[k].did < 0) st = IO_H5FAIL("opening '%s'", datasets[k]);
  }
  if (st == DD_OK) {
    u->done = H5Dopen2(f->fid, done_path, H5P_DEFAULT);
    if (u->done < 0) st = IO_H5FAIL("opening '%s'", done_path);
  }
  if (st == DD_OK) {
    u->fd = open(f->disk_path, O_RDWR);
    if (u->fd < 0)
      st = DD_FAIL(DD_ERR_IO, "opening '%s' for fsync: %s", f->disk_path, strerror(errno));
  }
  st = par_agree(&f->w, st);
  long long *list_todo = NULL;
  if (st == DD_OK)
    st = dd_calloc((void **)&list_todo, (size_t)(u->n_units > 0 ? u->n_units : 1),
                   sizeof *list_todo, "unit list");
  long long n = 0;
  for (long long i = 0; st == DD_OK && i < u->n_units; i++)
    if (!mask[i] && io_shard_owns(i, shard_index, shard_count)) list_todo[n++] = i;
  free(mask);
  if (st != DD_OK) {
    free(list_todo);
    units_free(u);
    return DD_CONTEXT(st, "starting work units in '%s'", f->disk_path);
  }
  *out = u;
  *todo = list_todo;
  *n_todo = n;
  return DD_OK;
}

long long io_units_count(const io_units *u) {
  return u->n_units;
}

void io_units_index(const io_units *u, long long unit, long long *idx) {
  for (int a = u->n_axes - 1; a >= 0; a--) {
    idx[a] = unit % u->axis_len[a];
    unit /= u->axis_len[a];
  }
}

long long io_units_slice_len(const io_units *u, int k) {
  return k >= 0 && k < u->n_ds ? u->ds[k].slice_len : -1;
}

/* Independent write of one unit's box of dataset did. */
static dd_status unit_box_write(io_units *u, hid_t did, const char *path, int rank,
                                const long long *dims, const int *unit_dim, long long unit,
                                hid_t mtype, const void *buf, long long n) {
  long long idx[IO_MAX_RANK];
  io_units_index(u, unit, idx);
  hsize_t start[IO_MAX_RANK], count[IO_MAX_RANK];
  for (int d = 0; d < rank; d++) {
    start[d] = 0;
    count[d] = (hsize_t)dims[d];
  }
  for (int a = 0; a < u->n_axes; a++) {
    start[unit_dim[a]] = (hsize_t)idx[a];
    count[unit_dim[a]] = 1;
  }
  if (n == 0) return DD_OK;
  hid_t fs = H5Dget_space(did);
  hsize_t hn = (hsize_t)n;
  hid_t ms = H5Screate_simple(1, &hn, NULL);
  dd_status st = DD_OK;
  if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
      H5Dwrite(did, mtype, ms, fs, u->f->dxpl_indep, buf) < 0)
    st = IO_H5FAIL("writing unit %lld of '%s' in '%s'", unit, path, u->f->disk_path);
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  return st;
}

dd_status io_unit_write(io_units *u, int k, long long unit, io_type mem, const void *buf) {
  if (k < 0 || k >= u->n_ds) return DD_FAIL(DD_ERR_ARG, "per-unit dataset %d of %d", k, u->n_ds);
  if (unit < 0 || unit >= u->n_units)
    return DD_FAIL(DD_ERR_ARG, "unit %lld outside [0, %lld)", unit, u->n_units);
  if (io_type_size(mem) == 0 || !buf)
    return DD_FAIL(DD_ERR_ARG, "unit %lld of '%s': bad buffer", unit, u->ds[k].path);
  unit_ds *x = &u->ds[k];
  return unit_box_write(u, x->did, x->path, x->rank, x->dims, x->unit_dim, unit,
                        io_h5_mem_type(mem), buf, x->slice_len);
}

dd_status io_unit_done(io_units *u, long long unit) {
  if (unit < 0 || unit >= u->n_units)
    return DD_FAIL(DD_ERR_ARG, "unit %lld outside [0, %lld)", unit, u->n_units);
  /* The unit's data must be durable before its done entry can be. */
  if (u->fd >= 0 && fsync(u->fd) != 0)
    return DD_FAIL(DD_ERR_IO, "fsync '%s': %s", u->f->disk_path, strerror(errno));
  long long dims[IO_MAX_RANK];
  int unit_dim[IO_MAX_RANK];
  for (int a = 0; a < u->n_axes; a++) {
    dims[a] = u->axis_len[a];
    unit_dim[a] = a;
  }
  static const unsigned char one = 1;
  return unit_box_write(u, u->done, u->done_path, u->n_axes, dims, unit_dim, unit, H5T_NATIVE_UINT8,
                        &one, 1);
}

dd_status io_units_end(io_units **up, long long *n_done) {
  io_units *u = *up;
  *up = NULL;
  if (n_done) *n_done = 0;
  if (!u) return DD_OK;
  io_file *f = u->f;
  char path[IO_PATH_MAX];
  snprintf(path, sizeof path, "%s", u->done_path);
  long long n_units = u->n_units;
  units_free(u); /* H5Dclose is collective: every rank gets here */
  DD_TRY(sync_all(f), "ending work units");
  unsigned char *mask = NULL;
  DD_TRY(dd_calloc((void **)&mask, (size_t)(n_units > 0 ? n_units : 1), 1, "done mask"),
         "ending work units");
  dd_status st = io_read_all(f, path, IO_U8, mask);
  long long n = 0;
  for (long long i = 0; st == DD_OK && i < n_units; i++) n += mask[i] == 1;
  free(mask);
  if (n_done) *n_done = n;
  return st;
}
