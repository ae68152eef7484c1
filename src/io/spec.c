/* spec.c - declarative dataset schemas (io_spec tables): one row per N-D
 * dataset a stage owns (path, type, axes, units, description).  The same row
 * creates the dataset (its dims come from the lengths of its axes, which are
 * written first, so a table needs no sizes), checks an existing file against
 * it (a resumed .tmp, a file someone hands to `ddscan info`) and prints the
 * Markdown row of docs/format.md.  Sits on top of the dataset writers. */
#include "io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int io_spec_rank(const io_spec *s) {
  int r = 0;
  while (r < IO_MAX_RANK && s->axes[r]) r++;
  return r;
}

const io_spec *io_spec_find(const io_spec *specs, int n, const char *path) {
  for (int i = 0; i < n; i++)
    if (strcmp(specs[i].path, path) == 0) return &specs[i];
  return NULL;
}

dd_status io_spec_create(io_file *f, const io_spec *s) {
  const int rank = io_spec_rank(s);
  if (rank < 1) return DD_FAIL(DD_ERR_INTERNAL, "schema of '%s' names no axis", s->path);
  long long dims[IO_MAX_RANK];
  for (int d = 0; d < rank; d++) {
    int ar = 0;
    long long ad[IO_MAX_RANK];
    DD_TRY(io_dataset_shape(f, s->axes[d], &ar, ad), "axis %d of '%s'", d, s->path);
    if (ar != 1)
      return DD_FAIL(DD_ERR_INTERNAL, "axis '%s' of '%s' is not 1-D", s->axes[d], s->path);
    dims[d] = ad[0];
  }
  return io_dataset_create(f, s->path, s->type, rank, dims, s->axes, s->units, s->description);
}

dd_status io_spec_create_all(io_file *f, const io_spec *specs, int n, const unsigned char *skip) {
  for (int i = 0; i < n; i++)
    if (!skip || !skip[i]) DD_TRY(io_spec_create(f, &specs[i]), "schema");
  return DD_OK;
}

/* The check reads the file only; it leaves no error recorded, because a
 * mismatch is an answer ("why"), not a failure of the reader. */
int io_spec_check(io_file *f, const io_spec *s, char *why, size_t cap) {
  if (!io_exists(f, s->path)) {
    snprintf(why, cap, "'%s' is missing", s->path);
    return 0;
  }
  int ok = 1, r = 0;
  long long dims[IO_MAX_RANK];
  const int rank = io_spec_rank(s);
  if (io_dataset_shape(f, s->path, &r, dims) != DD_OK) {
    snprintf(why, cap, "'%s' is not a readable dataset", s->path);
    ok = 0;
  } else if (r != rank) {
    snprintf(why, cap, "'%s' has %d dimensions, the schema %d", s->path, r, rank);
    ok = 0;
  }
  hid_t d = ok ? H5Dopen2(f->fid, s->path, H5P_DEFAULT) : -1;
  if (ok && d >= 0) {
    hid_t t = H5Dget_type(d);
    if (t < 0 || H5Tequal(t, io_h5_file_type(s->type)) <= 0) {
      snprintf(why, cap, "'%s' is not of type %s", s->path, io_type_name(s->type));
      ok = 0;
    }
    if (t >= 0) H5Tclose(t);
    H5Dclose(d);
  }
  for (int k = 0; ok && k < rank; k++) {
    char *scale = NULL;
    if (io_dataset_scale(f, s->path, k, &scale) != DD_OK ||
        !io_axis_matches(s->path, s->axes[k], scale)) {
      snprintf(why, cap, "dimension %d of '%s' is not on the axis '%s'", k, s->path, s->axes[k]);
      ok = 0;
    }
    free(scale);
  }
  H5Eclear2(H5E_DEFAULT);
  dd_error_clear();
  return ok;
}

int io_spec_check_all(io_file *f, const io_spec *specs, int n, const unsigned char *skip, char *why,
                      size_t cap) {
  for (int i = 0; i < n; i++)
    if ((!skip || !skip[i]) && !io_spec_check(f, &specs[i], why, cap)) return 0;
  return 1;
}

void io_spec_describe(FILE *fp, const io_spec *specs, int n) {
  for (int i = 0; i < n; i++) {
    const io_spec *s = &specs[i];
    fprintf(fp, "| `%s` | [", s->path);
    for (int d = 0; d < io_spec_rank(s); d++)
      fprintf(fp, "%s%s", d ? "][" : "", io_path_base(s->axes[d]));
    fprintf(fp, "] | %s | %s | %s |\n", io_type_name(s->type), s->units, s->description);
  }
}
