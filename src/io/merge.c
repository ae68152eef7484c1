/* merge.c - combining the shard files of one `--shard I/N` run into one
 * results file with the same content as an unsharded run: checks that the
 * shards are complete, consistent and disjoint (naming the file at fault),
 * then copies shard 0 and fills every per-unit dataset from the shard that
 * owns each unit (io_shard_owns). */
#define _POSIX_C_SOURCE 200809L
#include "io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shard {
  const char *path; /* borrowed */
  io_file *f;
  long long index, count;
  char *hash;          /* owned */
  unsigned char *done; /* owned, n_units */
} shard;

/* Appends ", 12" style numbers to a message buffer (at most `max` of them). */
static void append_num(char *buf, size_t cap, long long v, int *shown, int max) {
  size_t len = strlen(buf);
  if (*shown == max) {
    snprintf(buf + len, cap - len, ", ...");
  } else if (*shown < max) {
    snprintf(buf + len, cap - len, "%s%lld", *shown ? ", " : "", v);
  }
  (*shown)++;
}

static dd_status shard_open(const par_world *w, shard *s) {
  DD_TRY(io_file_open(w, s->path, IO_READ, &s->f), "shard '%s'", s->path);
  if (io_attr_exists(s->f, "/", "stage_in_progress"))
    return DD_FAIL(DD_ERR_IO, "shard '%s' is unfinished (its stage never committed)", s->path);
  if (!io_attr_exists(s->f, "/", "shard_index") || !io_attr_exists(s->f, "/", "shard_count"))
    return DD_FAIL(DD_ERR_IO,
                   "'%s' is not a shard file (no shard_index/shard_count attributes; was it "
                   "written with --shard I/N?)",
                   s->path);
  DD_TRY(io_attr_read_int(s->f, "/", "shard_index", &s->index), "shard '%s'", s->path);
  DD_TRY(io_attr_read_int(s->f, "/", "shard_count", &s->count), "shard '%s'", s->path);
  DD_TRY(io_attr_read_string(s->f, "/", "config_hash", &s->hash), "shard '%s'", s->path);
  if (s->count < 1 || s->index < 0 || s->index >= s->count)
    return DD_FAIL(DD_ERR_IO, "shard '%s' claims to be shard %lld of %lld", s->path, s->index,
                   s->count);
  return DD_OK;
}

/* Shard files agree on count and hash, and cover 0..N-1 exactly once. */
static dd_status check_set(shard *sh, int n) {
  long long N = sh[0].count;
  for (int i = 1; i < n; i++) {
    if (sh[i].count != N)
      return DD_FAIL(DD_ERR_IO, "'%s' is shard %lld of %lld, but '%s' is one of %lld", sh[i].path,
                     sh[i].index, sh[i].count, sh[0].path, N);
    if (strcmp(sh[i].hash, sh[0].hash) != 0)
      return DD_FAIL(DD_ERR_IO,
                     "'%s' has config_hash %s but '%s' has %s (shards of different "
                     "configurations)",
                     sh[i].path, sh[i].hash, sh[0].path, sh[0].hash);
  }
  int *who = malloc((size_t)N * sizeof *who);
  if (!who) return DD_FAIL(DD_ERR_NOMEM, "shard table");
  for (long long k = 0; k < N; k++) who[k] = -1;
  dd_status st = DD_OK;
  for (int i = 0; i < n && st == DD_OK; i++) {
    if (who[sh[i].index] >= 0)
      st = DD_FAIL(DD_ERR_IO, "'%s' and '%s' are both shard %lld of %lld",
                   sh[who[sh[i].index]].path, sh[i].path, sh[i].index, N);
    who[sh[i].index] = i;
  }
  if (st == DD_OK && n != N) {
    char msg[512] = "";
    int shown = 0;
    for (long long k = 0; k < N; k++)
      if (who[k] < 0) append_num(msg, sizeof msg, k, &shown, 20);
    st = DD_FAIL(DD_ERR_IO, "missing shard%s %s of %lld (got %d file%s)", shown > 1 ? "s" : "", msg,
                 N, n, n == 1 ? "" : "s");
  }
  free(who);
  return st;
}

/* Each shard finished exactly its own units. */
static dd_status check_units(shard *sh, int n, long long n_units) {
  for (int i = 0; i < n; i++) {
    char missing[256] = "", foreign[256] = "";
    int n_missing = 0, n_foreign = 0;
    for (long long u = 0; u < n_units; u++) {
      int own = io_shard_owns(u, (int)sh[i].index, (int)sh[i].count);
      if (own && sh[i].done[u] != 1) append_num(missing, sizeof missing, u, &n_missing, 12);
      if (!own && sh[i].done[u] != 0) append_num(foreign, sizeof foreign, u, &n_foreign, 12);
    }
    if (n_missing)
      return DD_FAIL(DD_ERR_IO,
                     "shard '%s' (%lld of %lld) did not finish %d of its units (%s); rerun it "
                     "with --resume",
                     sh[i].path, sh[i].index, sh[i].count, n_missing, missing);
    if (n_foreign)
      return DD_FAIL(DD_ERR_IO,
                     "shard '%s' (%lld of %lld) holds %d unit(s) of other shards (%s): shards "
                     "overlap",
                     sh[i].path, sh[i].index, sh[i].count, n_foreign, foreign);
  }
  return DD_OK;
}

/* Fills per-unit dataset `path` of out from the owning shards. */
static dd_status merge_dataset(io_file *out, shard *sh, int n, const char *path, int n_axes,
                               const char *const *axes) {
  int rank, unit_dim[IO_MAX_RANK];
  long long dims[IO_MAX_RANK], slice, axis_len[IO_MAX_RANK];
  DD_TRY(io_units_map(sh[0].f, path, n_axes, axes, &rank, dims, unit_dim, &slice), "merging");
  for (int a = 0; a < n_axes; a++) axis_len[a] = dims[unit_dim[a]];
  void *acc = NULL;
  size_t es;
  long long ne;
  DD_TRY(io_read_raw(sh[0].f, path, &acc, &es, &ne, NULL, NULL), "merging '%s'", path);
  dd_status st = DD_OK;
  for (int i = 1; i < n && st == DD_OK; i++) {
    void *b = NULL;
    size_t es2;
    long long ne2;
    st = io_read_raw(sh[i].f, path, &b, &es2, &ne2, NULL, NULL);
    if (st == DD_OK && (es2 != es || ne2 != ne))
      st = DD_FAIL(DD_ERR_IO, "'%s' has another shape in '%s'", path, sh[i].path);
    for (long long e = 0; st == DD_OK && e < ne; e++) {
      long long u = io_units_of_element(e, rank, dims, n_axes, unit_dim, axis_len);
      if (io_shard_owns(u, (int)sh[i].index, (int)sh[i].count))
        memcpy((char *)acc + (size_t)e * es, (char *)b + (size_t)e * es, es);
    }
    free(b);
  }
  if (st == DD_OK) st = io_write_raw_root(out, path, out->w.rank == 0 ? acc : NULL);
  free(acc);
  return st;
}

dd_status io_shards_merge(const par_world *w, const char *output_path, const char *const *shards,
                          int n_shards, const char *done_path, int argc, char *const *argv,
                          io_merge_fn finish, void *finish_ctx) {
  if (n_shards < 1) return DD_FAIL(DD_ERR_ARG, "merge: no shard files given");
  for (int i = 0; i < n_shards; i++)
    if (strcmp(shards[i], output_path) == 0)
      return DD_FAIL(DD_ERR_ARG, "merge: the output '%s' is also a shard", output_path);
  shard *sh = calloc((size_t)n_shards, sizeof *sh);
  if (!sh) return DD_FAIL(DD_ERR_NOMEM, "shards");
  dd_status st = DD_OK;
  for (int i = 0; i < n_shards && st == DD_OK; i++) {
    sh[i].path = shards[i];
    st = shard_open(w, &sh[i]);
  }
  if (st == DD_OK) st = check_set(sh, n_shards);

  /* The unit grid and the per-unit datasets, from shard 0's done mask. */
  char *list = NULL, *axes_text = NULL, **ds = NULL, **axes = NULL;
  int n_ds = 0, n_axes = 0;
  long long n_units = 0;
  for (int i = 0; i < n_shards && st == DD_OK; i++) {
    size_t es;
    long long n;
    if (!io_exists(sh[i].f, done_path)) {
      st = DD_FAIL(DD_ERR_IO, "shard '%s' has no work-unit mask '%s'", sh[i].path, done_path);
      break;
    }
    st = io_read_raw(sh[i].f, done_path, (void **)&sh[i].done, &es, &n, NULL, NULL);
    if (st == DD_OK && (es != 1 || (i > 0 && n != n_units)))
      st = DD_FAIL(DD_ERR_IO, "shard '%s': '%s' does not match the other shards", sh[i].path,
                   done_path);
    n_units = n;
  }
  if (st == DD_OK) st = io_attr_read_string(sh[0].f, done_path, "unit_datasets", &list);
  if (st == DD_OK) st = io_attr_read_string(sh[0].f, done_path, "unit_axes", &axes_text);
  if (st == DD_OK) st = io_split_lines(list, &ds, &n_ds);
  if (st == DD_OK) st = io_split_lines(axes_text, &axes, &n_axes);
  if (st == DD_OK && (n_axes < 1 || n_axes > IO_MAX_RANK))
    st = DD_FAIL(DD_ERR_IO, "'%s' in '%s' lists %d unit axes", done_path, sh[0].path, n_axes);
  if (st == DD_OK) st = check_units(sh, n_shards, n_units);

  /* Everything but the units and the provenance must be identical. */
  const char **skip = calloc((size_t)n_ds + 2, sizeof *skip);
  if (!skip && st == DD_OK) st = DD_FAIL(DD_ERR_NOMEM, "skip list");
  if (skip) {
    skip[0] = "/provenance";
    skip[1] = done_path;
    for (int k = 0; k < n_ds; k++) skip[k + 2] = ds[k];
  }
  for (int i = 1; i < n_shards && st == DD_OK; i++) {
    int equal = 0;
    char diff[600];
    st = io_compare(sh[0].f, sh[i].f, "/", skip, n_ds + 2, &equal, diff, sizeof diff);
    if (st == DD_OK && !equal)
      st = DD_FAIL(DD_ERR_IO, "shards '%s' and '%s' differ outside their work units: %s",
                   sh[0].path, sh[i].path, diff);
  }

  io_file *out = NULL;
  if (st == DD_OK) st = io_file_create(w, output_path, &out);
  const char *skip_merge[1] = {"/provenance/merge"};
  if (st == DD_OK) st = io_copy(out, sh[0].f, "/", skip_merge, 1);
  if (st == DD_OK) st = io_attr_write_string(out, "/", "config_hash", sh[0].hash);
  for (int k = 0; k < n_ds && st == DD_OK; k++)
    st = merge_dataset(out, sh, n_shards, ds[k], n_axes, (const char *const *)axes);
  unsigned char *ones = NULL;
  if (st == DD_OK)
    st = dd_calloc((void **)&ones, (size_t)(n_units > 0 ? n_units : 1), 1, "done mask");
  if (st == DD_OK) {
    memset(ones, 1, (size_t)n_units);
    st = io_write_raw_root(out, done_path, ones);
  }
  free(ones);
  if (st == DD_OK && finish) {
    st = finish(out, finish_ctx);
    if (st != DD_OK) st = DD_CONTEXT(st, "finishing the merged file");
  }
  if (st == DD_OK) {
    char now[32];
    io_now_iso(w, now);
    st = io_group_create_raw(out, "/provenance/merge");
    if (st == DD_OK) st = io_provenance_write(out, "/provenance/merge", now, argc, argv);
    if (st == DD_OK) st = io_attr_write_int(out, "/provenance/merge", "shard_count", sh[0].count);
  }
  if (st == DD_OK) {
    st = io_file_commit(&out);
  } else {
    io_file_close(&out);
  }
  for (int i = 0; i < n_shards; i++) {
    io_file_close(&sh[i].f);
    free(sh[i].hash);
    free(sh[i].done);
  }
  free(sh);
  free(skip);
  free(list);
  free(axes_text);
  io_list_free(ds, n_ds);
  io_list_free(axes, n_axes);
  if (st != DD_OK) return DD_CONTEXT(st, "merging %d shard(s) into '%s'", n_shards, output_path);
  return DD_OK;
}
