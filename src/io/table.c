/* table.c - io_field tables (STYLE.md §9): an array of plain structs becomes
 * one dataset per field under a group, with a row axis "index" and column
 * axes for array members; the same table drives writing, reading and the
 * Markdown layout in docs/format.md. */
#define _POSIX_C_SOURCE 200809L
#include "io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Exscan, MPI_Allreduce */

const char *io_type_name(io_type t) {
  switch (t) {
    case IO_F64:
      return "float64";
    case IO_F32:
      return "float32";
    case IO_I64:
      return "int64";
    case IO_I32:
      return "int32";
    case IO_U8:
      return "uint8";
    case IO_U64:
      return "uint64";
  }
  return "?";
}

static void col_axis_name(const io_field *fl, char *buf, size_t cap) {
  if (fl->col_axis)
    snprintf(buf, cap, "%s", fl->col_axis);
  else
    snprintf(buf, cap, "%s_col", fl->path);
}

static dd_status fields_check(const char *group, const io_field *fields, int n_fields) {
  if (n_fields < 1) return DD_FAIL(DD_ERR_ARG, "table '%s' has no fields", group);
  for (int i = 0; i < n_fields; i++) {
    const io_field *a = &fields[i];
    if (!a->path || !a->path[0] || strchr(a->path, '/'))
      return DD_FAIL(DD_ERR_ARG, "table '%s', field %d: the name must be a plain identifier", group,
                     i);
    if (strcmp(a->path, "index") == 0)
      return DD_FAIL(DD_ERR_ARG, "table '%s': 'index' is the row axis, not a field name", group);
    if (io_type_size(a->type) == 0 || a->ncols < 1 || !a->units || !a->description)
      return DD_FAIL(DD_ERR_ARG,
                     "table '%s', field '%s': needs a type, ncols >= 1, units and a description",
                     group, a->path);
    char ca[IO_PATH_MAX], cb[IO_PATH_MAX];
    col_axis_name(a, ca, sizeof ca);
    if (a->ncols > 1 && strcmp(ca, "index") == 0)
      return DD_FAIL(DD_ERR_ARG, "table '%s', field '%s': 'index' is the row axis", group, a->path);
    for (int j = 0; j < i; j++) {
      const io_field *b = &fields[j];
      if (strcmp(a->path, b->path) == 0)
        return DD_FAIL(DD_ERR_ARG, "table '%s': field '%s' appears twice", group, a->path);
      col_axis_name(b, cb, sizeof cb);
      if (a->ncols > 1 && b->ncols > 1 && strcmp(ca, cb) == 0 && a->ncols != b->ncols)
        return DD_FAIL(DD_ERR_ARG,
                       "table '%s': fields '%s' and '%s' share column axis '%s' but have %d and "
                       "%d columns",
                       group, b->path, a->path, ca, b->ncols, a->ncols);
      if (strcmp(a->path, cb) == 0 || strcmp(ca, b->path) == 0)
        return DD_FAIL(DD_ERR_ARG, "table '%s': '%s' is both a field and a column axis", group,
                       strcmp(a->path, cb) == 0 ? a->path : ca);
    }
  }
  return DD_OK;
}

/* Gathers field fl of n structs into a contiguous buffer (and back). */
static void gather(void *dst, const void *rows, size_t stride, long long n, const io_field *fl) {
  size_t w = io_type_size(fl->type) * (size_t)fl->ncols;
  const char *src = rows;
  for (long long i = 0; i < n; i++)
    memcpy((char *)dst + (size_t)i * w, src + (size_t)i * stride + fl->offset, w);
}

static void scatter(void *rows, size_t stride, const void *src, long long n, const io_field *fl) {
  size_t w = io_type_size(fl->type) * (size_t)fl->ncols;
  char *dst = rows;
  for (long long i = 0; i < n; i++)
    memcpy(dst + (size_t)i * stride + fl->offset, (const char *)src + (size_t)i * w, w);
}

static size_t max_row_bytes(const io_field *fields, int n_fields) {
  size_t m = 8;
  for (int i = 0; i < n_fields; i++) {
    size_t w = io_type_size(fields[i].type) * (size_t)fields[i].ncols;
    if (w > m) m = w;
  }
  return m;
}

/* Why create and write apart: a table filled in rounds (the streamed score
 * stage writes one block of rows per rank and round, and a resumed run only
 * the blocks still missing) needs its datasets at their final length before
 * the first row arrives.  io_table_write is the two in one call. */
dd_status io_table_create(io_file *f, const char *group, const io_field *fields, int n_fields,
                          const char *row_description, long long n_total) {
  DD_TRY(fields_check(group, fields, n_fields), "creating table");
  DD_TRY(io_stage_check_owned(f, group, "table"), "creating table '%s'", group);
  if (!row_description) return DD_FAIL(DD_ERR_ARG, "table '%s': no row description", group);
  if (n_total < 0) return DD_FAIL(DD_ERR_ARG, "table '%s': %lld rows", group, n_total);
  DD_TRY(io_group_create_raw(f, group), "table '%s'", group);
  long long first = 0, n_local = 0;
  io_rows_split(n_total, f->w.rank, f->w.size, &first, &n_local);
  int64_t *idx = NULL;
  DD_TRY(dd_calloc((void **)&idx, (size_t)(n_local > 0 ? n_local : 1), sizeof *idx, "row axis"),
         "table '%s'", group);
  char idx_path[IO_PATH_MAX], path[IO_PATH_MAX], col[IO_PATH_MAX];
  dd_status st = io_path_join(idx_path, sizeof idx_path, group, "index");
  for (long long i = 0; i < n_local; i++) idx[i] = first + i;
  if (st == DD_OK) st = io_axis_write_rows(f, idx_path, IO_I64, n_local, idx, "1", row_description);
  free(idx);
  for (int i = 0; i < n_fields && st == DD_OK; i++) {
    const io_field *fl = &fields[i];
    const char *axes[2] = {idx_path, NULL};
    long long dims[2] = {n_total, fl->ncols};
    int rank = fl->ncols > 1 ? 2 : 1;
    if (rank == 2) {
      char name[IO_PATH_MAX];
      col_axis_name(fl, name, sizeof name);
      st = io_path_join(col, sizeof col, group, name);
      if (st == DD_OK && !io_exists(f, col)) {
        int32_t *vals = NULL;
        st = dd_calloc((void **)&vals, (size_t)fl->ncols, sizeof *vals, "column axis");
        for (int k = 0; st == DD_OK && k < fl->ncols; k++) vals[k] = k;
        char desc[IO_PATH_MAX + 64];
        snprintf(desc, sizeof desc, "column index (0-based) along the '%s' axis", name);
        if (st == DD_OK) st = io_axis_write(f, col, IO_I32, fl->ncols, vals, "1", desc);
        free(vals);
      }
      axes[1] = col;
    }
    if (st == DD_OK) st = io_path_join(path, sizeof path, group, fl->path);
    if (st == DD_OK)
      st = io_dataset_create_raw(f, path, fl->type, rank, dims, axes, fl->units, fl->description,
                                 NULL);
  }
  if (st != DD_OK) return DD_CONTEXT(st, "creating table '%s'", group);
  return DD_OK;
}

dd_status io_table_write_at(io_file *f, const char *group, const io_field *fields, int n_fields,
                            long long first, long long n, const void *rows, size_t stride) {
  DD_TRY(fields_check(group, fields, n_fields), "writing table");
  DD_TRY(io_stage_check_owned(f, group, "table"), "writing table '%s'", group);
  dd_status st = DD_OK;
  if (first < 0 || n < 0 || (n > 0 && !rows))
    st = DD_FAIL(DD_ERR_ARG, "table '%s': bad rows [%lld, +%lld)", group, first, n);
  DD_TRY(par_agree(&f->w, st), "writing table '%s'", group);
  /* One buffer, sized for the widest field, reused for every column. */
  void *buf = NULL;
  DD_TRY(dd_calloc(&buf, (size_t)(n > 0 ? n : 1), max_row_bytes(fields, n_fields),
                   "table column buffer"),
         "table '%s'", group);
  char path[IO_PATH_MAX];
  for (int i = 0; i < n_fields && st == DD_OK; i++) {
    const io_field *fl = &fields[i];
    long long start[2] = {first, 0}, count[2] = {n, fl->ncols};
    st = io_path_join(path, sizeof path, group, fl->path);
    if (st == DD_OK) {
      gather(buf, rows, stride, n, fl);
      st = io_write_slab(f, path, fl->type, start, count, buf);
    }
  }
  free(buf);
  if (st != DD_OK) return DD_CONTEXT(st, "writing table '%s'", group);
  return DD_OK;
}

dd_status io_table_write(io_file *f, const char *group, const io_field *fields, int n_fields,
                         const char *row_description, const void *rows, size_t stride,
                         long long n_local) {
  dd_status st = DD_OK;
  if (n_local < 0 || (n_local > 0 && !rows))
    st = DD_FAIL(DD_ERR_ARG, "table '%s': bad rows (n_local %lld)", group, n_local);
  DD_TRY(par_agree(&f->w, st), "writing table '%s'", group);
  long long first = 0, total = 0;
  MPI_Exscan(&n_local, &first, 1, MPI_LONG_LONG, MPI_SUM, f->w.comm);
  if (f->w.rank == 0) first = 0; /* MPI_Exscan leaves rank 0's result undefined */
  MPI_Allreduce(&n_local, &total, 1, MPI_LONG_LONG, MPI_SUM, f->w.comm);
  DD_TRY(io_table_create(f, group, fields, n_fields, row_description, total), "writing table");
  return io_table_write_at(f, group, fields, n_fields, first, n_local, rows, stride);
}

dd_status io_table_length(io_file *f, const char *group, const io_field *fields, int n_fields,
                          long long *n_rows) {
  DD_TRY(fields_check(group, fields, n_fields), "reading table");
  *n_rows = -1;
  char path[IO_PATH_MAX];
  for (int i = 0; i < n_fields; i++) {
    DD_TRY(io_path_join(path, sizeof path, group, fields[i].path), "table '%s'", group);
    int rank;
    long long dims[IO_MAX_RANK];
    DD_TRY(io_dataset_shape(f, path, &rank, dims), "table '%s'", group);
    int want = fields[i].ncols > 1 ? 2 : 1;
    if (rank != want || (want == 2 && dims[1] != fields[i].ncols))
      return DD_FAIL(DD_ERR_HDF5, "table '%s', field '%s': shape does not match %d column(s)",
                     group, fields[i].path, fields[i].ncols);
    if (*n_rows >= 0 && dims[0] != *n_rows)
      return DD_FAIL(DD_ERR_HDF5, "table '%s': field '%s' has %lld rows, others %lld", group,
                     fields[i].path, dims[0], *n_rows);
    *n_rows = dims[0];
  }
  return DD_OK;
}

dd_status io_table_read(io_file *f, const char *group, const io_field *fields, int n_fields,
                        long long first, long long n, void *rows, size_t stride) {
  long long total;
  DD_TRY(io_table_length(f, group, fields, n_fields, &total), "reading table '%s'", group);
  dd_status st = DD_OK;
  if (first < 0 || n < 0 || first + n > total || (n > 0 && !rows))
    st = DD_FAIL(DD_ERR_ARG, "table '%s': rows [%lld, %lld) outside [0, %lld)", group, first,
                 first + n, total);
  DD_TRY(par_agree(&f->w, st), "reading table '%s'", group);
  void *buf = NULL;
  DD_TRY(dd_calloc(&buf, (size_t)(n > 0 ? n : 1), max_row_bytes(fields, n_fields),
                   "table column buffer"),
         "table '%s'", group);
  char path[IO_PATH_MAX];
  for (int i = 0; i < n_fields && st == DD_OK; i++) {
    const io_field *fl = &fields[i];
    long long start[2] = {first, 0}, count[2] = {n, fl->ncols};
    st = io_path_join(path, sizeof path, group, fl->path);
    if (st == DD_OK) st = io_read_slab(f, path, fl->type, start, count, buf);
    if (st == DD_OK) scatter(rows, stride, buf, n, fl);
  }
  free(buf);
  if (st != DD_OK) return DD_CONTEXT(st, "reading table '%s'", group);
  return DD_OK;
}

void io_table_describe(FILE *fp, const char *group, const io_field *fields, int n_fields) {
  fprintf(fp, "| `%s/index` | [n] | int64 | 1 | row axis |\n", group);
  for (int i = 0; i < n_fields; i++) {
    const io_field *fl = &fields[i];
    char col[IO_PATH_MAX];
    col_axis_name(fl, col, sizeof col);
    if (fl->ncols > 1)
      fprintf(fp, "| `%s/%s` | [n][%d] (index, %s) | %s | %s | %s |\n", group, fl->path, fl->ncols,
              col, io_type_name(fl->type), fl->units, fl->description);
    else
      fprintf(fp, "| `%s/%s` | [n] (index) | %s | %s | %s |\n", group, fl->path,
              io_type_name(fl->type), fl->units, fl->description);
  }
}
