/* io.h - the results file (parallel HDF5 through MPI-IO): files that appear
 * under their final name only when complete, groups and attributes, axes as
 * dimension scales, N-D datasets with units and description, collective row
 * and slab I/O, io_field tables of plain structs, stages that replace their
 * own groups, per-work-unit results with a done mask (resume after kill -9),
 * provenance, and shard merging.  Knows nothing about physics or networks.
 * The file layout and the rules behind it are in docs/format.md. */
#ifndef DDSCAN_IO_H
#define DDSCAN_IO_H

#include <stddef.h>
#include <stdint.h>

#include "ddscan/core.h" /* uses: dd_status */
#include "ddscan/par.h"  /* uses: par_world */

/* Version of the file layout written to the root attribute format_version.
 * Changelog: 1 = first layout (docs/format.md). */
#define IO_FORMAT_VERSION 2
/* Longest object path inside a file, and the most dimensions of a dataset. */
#define IO_PATH_MAX 512
#define IO_MAX_RANK 8

/* Element types of datasets and of the memory buffers handed to io.  Files
 * always store little-endian IEEE / two's complement. */
typedef enum io_type {
  IO_F64 = 1, /* double */
  IO_F32 = 2, /* float */
  IO_I64 = 3, /* int64_t */
  IO_I32 = 4, /* int32_t */
  IO_U8 = 5,  /* uint8_t */
  IO_U64 = 6  /* uint64_t */
} io_type;
/* Bytes per element (0 for an unknown type). */
size_t io_type_size(io_type t);
/* "float64", "int32", ... (docs/format.md's names); "?" for an unknown type. */
const char *io_type_name(io_type t);

/* An open results file.  Opaque; every rank of the communicator holds one. */
typedef struct io_file io_file;

/* ------------------------------------------------------------------------ */
/* Files.  Every function taking an io_file is COLLECTIVE over the file's    */
/* communicator (all ranks, same order, same arguments) unless it says       */
/* "independent".                                                            */
/* ------------------------------------------------------------------------ */

/* Creates "<path>.tmp" (truncating any old one) through MPI-IO on w->comm and
 * writes the root attributes format_version, ddscan_version, git_rev, created
 * (rank 0's clock, ISO-8601 UTC) and n_ranks.  Nothing appears under `path`
 * until io_file_commit.  The parent directory must exist (dd_mkdir_p). */
dd_status io_file_create(const par_world *w, const char *path, io_file **out);

typedef enum io_mode {
  IO_READ = 0,  /* read only */
  IO_UPDATE = 1 /* read and write, in place */
} io_mode;
/* Opens exactly `path` (no .tmp logic).  A missing or damaged file is
 * DD_ERR_HDF5 naming the path. */
dd_status io_file_open(const par_world *w, const char *path, io_mode mode, io_file **out);
/* Reopens "<final_path>.tmp" for update, so that io_file_commit later renames
 * it to final_path (resume after an interrupted run). */
dd_status io_file_open_tmp(const par_world *w, const char *final_path, io_file **out);
/* Collective H5Fflush: everything written so far reaches the file. */
dd_status io_file_flush(io_file *f);
/* Closes a file made by io_file_create / io_file_open_tmp, then rank 0 fsyncs
 * it, renames "<path>.tmp" to path and fsyncs the directory; all ranks
 * return after the rename.  *f is freed and set to NULL even on failure. */
dd_status io_file_commit(io_file **f);
/* Closes without renaming (readers; or leaves a .tmp for a later resume).
 * Accepts *f == NULL.  *f is set to NULL. */
dd_status io_file_close(io_file **f);
/* The name on disk ("<final>.tmp" while writing) and the final name. */
const char *io_file_disk_path(const io_file *f);
const char *io_file_final_path(const io_file *f);
/* The communicator's view (borrowed). */
const par_world *io_file_world(const io_file *f);

/* ------------------------------------------------------------------------ */
/* Groups and attributes                                                     */
/* ------------------------------------------------------------------------ */

/* Creates the group and any missing parents ("/training/cvae"); fine if it
 * exists already. */
dd_status io_group_create(io_file *f, const char *path);
/* 1 if `path` names an object (every component exists), else 0. */
int io_exists(io_file *f, const char *path);
/* 1 if object `obj` has attribute `name`, else 0 (also 0 if obj is missing). */
int io_attr_exists(io_file *f, const char *obj, const char *name);

/* Attribute writers: `obj` is a group or dataset path ("/" for the root).
 * Strings are variable-length UTF-8 (h5py reads them as str); numbers are
 * real scalars (H5S_SCALAR).  Rank 0's value is broadcast first, so every rank
 * writes identical bytes.  An existing attribute with the same value is left
 * alone (no metadata change); a different one is replaced. */
dd_status io_attr_write_string(io_file *f, const char *obj, const char *name, const char *value);
dd_status io_attr_write_double(io_file *f, const char *obj, const char *name, double value);
dd_status io_attr_write_int(io_file *f, const char *obj, const char *name, long long value);
/* A 1-D double array attribute of n values (n >= 1). */
dd_status io_attr_write_doubles(io_file *f, const char *obj, const char *name, const double *v,
                                int n);
/* Removes an attribute; fine if it is absent. */
dd_status io_attr_delete(io_file *f, const char *obj, const char *name);

/* Attribute readers.  A missing attribute is DD_ERR_HDF5 naming obj and name.
 * io_attr_read_string returns a malloc'ed copy (caller frees); it also reads
 * fixed-length strings (e.g. a dimension scale's NAME). */
dd_status io_attr_read_string(io_file *f, const char *obj, const char *name, char **out);
dd_status io_attr_read_double(io_file *f, const char *obj, const char *name, double *out);
dd_status io_attr_read_int(io_file *f, const char *obj, const char *name, long long *out);

/* ------------------------------------------------------------------------ */
/* Axes and datasets.  Layout is contiguous, no filters; float datasets are  */
/* filled with NaN until written (so unfinished results read as NaN).        */
/* ------------------------------------------------------------------------ */

/* A 1-D axis dataset of n values, made a dimension scale whose NAME is the
 * last path component (netCDF/xarray use it as the dimension name, so use an
 * identifier: "mass_gev").  Every rank passes the same values (rank 0 writes).
 * If the axis exists with the same type, length and values this is a no-op
 * (resume); any difference is an error. */
dd_status io_axis_write(io_file *f, const char *path, io_type type, long long n, const void *values,
                        const char *units, const char *description);
/* An index axis: the int32 values 0 .. n-1, units "1" (bins, blocks). */
dd_status io_axis_write_index(io_file *f, const char *path, long long n, const char *description);
/* A label axis: n variable-length UTF-8 strings (method names, ...), the
 * netCDF string type that h5py, h5netcdf and netCDF4 read as str.  Rank 0's
 * labels are written; existing with the same labels: a no-op (resume). */
dd_status io_axis_write_labels(io_file *f, const char *path, int n, const char *const *labels,
                               const char *description);

/* Collective read of a 1-D string dataset (a label axis; variable- or
 * fixed-length strings) into n malloc'ed NUL-terminated strings (*out, freed
 * with io_strings_free). */
dd_status io_read_strings(io_file *f, const char *path, char ***out, long long *n);
void io_strings_free(char **s, long long n);

/* Creates an N-D dataset (rank 1..IO_MAX_RANK) of `type` with the given dims,
 * attributes `units` and `description`, and the dimension scale axes[d]
 * (a path made by io_axis_write*, of length dims[d]) attached to every
 * dimension d.  An axis outside the dataset's group is copied into it first
 * ("<group>/<axis name>", same values, units and description) and the copy
 * is attached, so every group carries its own coordinates (netCDF-4, xarray
 * open_dataset(group=...)).  Parent groups are created.  If the dataset exists with the
 * same type, dims and scales it is left as it is (resume); otherwise an error.
 * A units string for dimensionless numbers is "1". */
dd_status io_dataset_create(io_file *f, const char *path, io_type type, int rank,
                            const long long *dims, const char *const *axes, const char *units,
                            const char *description);
/* Rank and dims (IO_MAX_RANK entries) of a dataset. */
dd_status io_dataset_shape(io_file *f, const char *path, int *rank, long long *dims);
/* The path of the dimension scale attached to dimension `dim` (malloc'ed in
 * *scale, NULL when none). */
dd_status io_dataset_scale(io_file *f, const char *path, int dim, char **scale);

/* Static block split used for every row-parallel write: rank r of size gets
 * rows [*first, *first + *count) of n_total (the first n_total % size ranks
 * get one more).  Pure arithmetic, not collective. */
void io_rows_split(long long n_total, int rank, int size, long long *first, long long *count);

/* Collective write of one contiguous block of rows (along dimension 0) per
 * rank, in rank order: rank r's block starts at the sum of n_local over ranks
 * below r (MPI_Exscan).  buf holds n_local rows in C order (NULL allowed when
 * n_local == 0; such a rank still takes part, selecting nothing).  The sum of
 * n_local over ranks must equal dims[0]. */
dd_status io_write_rows(io_file *f, const char *path, io_type mem, long long n_local,
                        const void *buf);
/* Collective write of the whole dataset from rank 0's buf (others: NULL). */
dd_status io_write_root(io_file *f, const char *path, io_type mem, const void *buf);
/* Collective write of one box per rank: start[d], count[d] for every
 * dimension (any count 0 = this rank writes nothing).  buf: the box in C
 * order.  Boxes of different ranks must not overlap. */
dd_status io_write_slab(io_file *f, const char *path, io_type mem, const long long *start,
                        const long long *count, const void *buf);
/* Collective read of one box per rank (count may be 0). */
dd_status io_read_slab(io_file *f, const char *path, io_type mem, const long long *start,
                       const long long *count, void *buf);
/* Collective read of the whole dataset into every rank's buf. */
dd_status io_read_all(io_file *f, const char *path, io_type mem, void *buf);

/* ------------------------------------------------------------------------ */
/* io_field tables (STYLE.md §9): an array of plain structs written as one   */
/* 1-D [n] or 2-D [n][ncols] dataset per field inside a group.               */
/* ------------------------------------------------------------------------ */

typedef struct io_field {
  const char *path;        /* dataset name inside the table group ("cs1") */
  io_type type;            /* element type of the struct member */
  int ncols;               /* 1: member is a scalar, dataset [n]; >1: member is an
                              array of ncols elements, dataset [n][ncols] */
  const char *units;       /* "keV", "PE", "1" for dimensionless */
  const char *description; /* one sentence */
  size_t offset;           /* offsetof(struct, member) */
  const char *col_axis;    /* ncols > 1: name of the column axis ("pmt"); fields
                              sharing it must agree on ncols.  NULL = "<path>_col" */
} io_field;

/* Collective.  Creates group `group` with the row axis "<group>/index" (int64
 * 0..n-1, described by row_description, e.g. "event index in the ER bank"),
 * one dataset per field with units, description and scales, and writes every
 * rank's n_local rows (structs `stride` bytes apart) as contiguous blocks in
 * rank order (like io_write_rows).  A rank with no rows passes n_local = 0. */
dd_status io_table_write(io_file *f, const char *group, const io_field *fields, int n_fields,
                         const char *row_description, const void *rows, size_t stride,
                         long long n_local);
/* Collective.  The table of io_table_write with n_total rows, created but
 * not filled (floats NaN, integers 0 until written): for tables written in
 * rounds.  The row axis is written. */
dd_status io_table_create(io_file *f, const char *group, const io_field *fields, int n_fields,
                          const char *row_description, long long n_total);
/* Collective.  Rows [first, first + n) of a created table from this rank's
 * structs (each rank its own range, disjoint; n may be 0). */
dd_status io_table_write_at(io_file *f, const char *group, const io_field *fields, int n_fields,
                            long long first, long long n, const void *rows, size_t stride);
/* Number of rows of a table (every field must agree). */
dd_status io_table_length(io_file *f, const char *group, const io_field *fields, int n_fields,
                          long long *n_rows);
/* Collective read of rows [first, first + n) into structs `stride` bytes apart
 * (each rank its own range; n may be 0).  Members not in `fields` are left
 * untouched. */
dd_status io_table_read(io_file *f, const char *group, const io_field *fields, int n_fields,
                        long long first, long long n, void *rows, size_t stride);
/* Writes the table's layout as Markdown rows "| path | shape | type | units |
 * description |" (for docs/format.md).  Not collective; pure formatting. */
void io_table_describe(FILE *fp, const char *group, const io_field *fields, int n_fields);

/* ------------------------------------------------------------------------ */
/* io_spec tables: the declarative schema of N-D datasets (src/io/spec.c).   */
/* ------------------------------------------------------------------------ */

/* One dataset a stage owns.  Its dims are the lengths of its axes (dimension
 * scales written before it), so the row holds no sizes; the same row
 * creates the dataset, checks a file against it and documents it. */
typedef struct io_spec {
  const char *path;              /* absolute dataset path ("/scan/p_value") */
  io_type type;                  /* element type in the file */
  const char *axes[IO_MAX_RANK]; /* axis path per dimension, NULL after the last */
  const char *units;             /* "1" for dimensionless */
  const char *description;       /* one sentence */
  unsigned need;                 /* the caller's bits: which runs have the row (0: every run) */
} io_spec;

/* Number of dimensions of a row (axes before the first NULL). */
int io_spec_rank(const io_spec *s);
/* The row of `path` in a table, or NULL. */
const io_spec *io_spec_find(const io_spec *specs, int n, const char *path);
/* Collective: io_dataset_create of the row, with dims read from its axes.
 * Existing with the same layout: left as it is (resume). */
dd_status io_spec_create(io_file *f, const io_spec *s);
/* Every row i with skip == NULL or skip[i] == 0. */
dd_status io_spec_create_all(io_file *f, const io_spec *specs, int n, const unsigned char *skip);
/* Collective: 1 when the file holds the row's dataset with its type, rank and
 * axes; else 0 with the reason in why.  Records no error. */
int io_spec_check(io_file *f, const io_spec *s, char *why, size_t cap);
int io_spec_check_all(io_file *f, const io_spec *specs, int n, const unsigned char *skip, char *why,
                      size_t cap);
/* Markdown rows "| `path` | [axis][axis] | type | units | description |"
 * (docs/format.md).  Not collective; pure formatting. */
void io_spec_describe(FILE *fp, const io_spec *specs, int n);

/* ------------------------------------------------------------------------ */
/* Stages: one results file per run; a stage replaces the groups it owns.    */
/* ------------------------------------------------------------------------ */

/* What a stage writes and where.  All strings borrowed for the call. */
typedef struct io_stage {
  const char *name;         /* "simulate", "train", "score", "scan", "merge" */
  const char *const *owned; /* absolute paths this stage (re)writes: "/scores" */
  int n_owned;              /* everything else is carried over from input_path */
  const char *input_path;   /* the previous results file (NULL or absent: none) */
  const char *output_path;  /* final name; written as "<output_path>.tmp" */
  const char *config_text;  /* resolved configuration -> /config attribute text */
  uint64_t config_hash;     /* hash of the keys this stage depends on */
  int argc;                 /* command line for provenance */
  char *const *argv;        /* borrowed */
  int shard_index;          /* -1 unless a `--shard I/N` run */
  int shard_count;          /* -1 unless a `--shard I/N` run */
  int resume;               /* --resume: continue "<output_path>.tmp" if it holds
                               this stage's unfinished work */
  const char *units_done;   /* stages with work units: the done-mask path
                               ("/scan/done"), used to validate a resume; NULL else */
} io_stage;

/* Collective.  Fresh start: creates "<output_path>.tmp", copies every object
 * of input_path except the owned paths, /config and /provenance/<name>, then
 * writes the root attributes (plus config_hash, stage_in_progress = name and,
 * for shards, shard_index/shard_count), /config (attribute text) and
 * /provenance/<name> (build, MPI, HDF5, BLAS, host, start time, n_ranks,
 * command line, SLURM ids).  Owned paths are absent afterwards: the stage
 * creates them.  With s->resume and a valid "<output_path>.tmp" of the same
 * stage and config_hash (and, with units_done, a complete up-front phase), the
 * file is reopened unchanged and *resumed = 1; an unusable one is discarded
 * with a warning that says why.  Dimension scales attached inside owned paths
 * must also live inside owned paths (checked by io_dataset_create). */
dd_status io_stage_begin(const par_world *w, const io_stage *s, io_file **out, int *resumed);
/* For a stage whose work runs before io_stage_begin (train: the networks are
 * trained, then the file is written): wall_time_s counts from t, a
 * dd_time_now() taken when the work began, instead of from io_stage_begin. */
void io_stage_started_at(io_file *f, double t);
/* Collective.  Records wall_time_s (and, after a resume, resumed_at) in
 * /provenance/<name>, updates n_ranks, removes stage_in_progress and commits
 * (close, fsync, rename). */
dd_status io_stage_commit(io_file **f);
/* Collective.  *current = 1 when `path` exists, is a complete results file and
 * its /provenance/<stage> records config_hash == hash (stage skipping). */
dd_status io_stage_is_current(const par_world *w, const char *path, const char *stage,
                              uint64_t hash, int *current);
/* "<dir>/results.h5", or for a shard "<dir>/results.shard-I-of-N.h5". */
dd_status io_results_path(const char *dir, int shard_index, int shard_count, char *buf, size_t cap);

/* Collective.  The output-directory lock (src/io/lock.c): rank 0 creates dir
 * if needed and takes an advisory POSIX lock on "<dir>/.ddscan.lock" for the
 * rest of the process (the kernel releases it when the process ends, however
 * it ends), recording host, pid, start time and argv in the file.  A shard
 * (shard_count > 0) takes it shared plus ".ddscan.shard-I-of-N.lock"
 * exclusive, so the shards of one array run side by side; everything else
 * takes it exclusive.  Held by another process: DD_ERR_ARG (exit 2) on every
 * rank, naming the holder and what to do.  Taking the same lock again in one
 * process is a no-op.  DDSCAN_NO_LOCK=1 skips it with a warning (file
 * systems without POSIX locks). */
dd_status io_dir_lock(const par_world *w, const char *dir, int shard_index, int shard_count,
                      int argc, char *const *argv);
/* Releases what io_dir_lock took (rank 0; a no-op elsewhere or when none). */
void io_dir_unlock(void);
/* The hash as the 16 lowercase hex digits stored in files. */
void io_hash_hex(uint64_t hash, char out[17]);

/* ------------------------------------------------------------------------ */
/* Work units: results written as soon as a unit finishes, then marked done  */
/* ------------------------------------------------------------------------ */

/* The unit grid is the product of K unit axes (e.g. /axes/mass_gev and
 * /axes/r); unit u is their row-major multi-index.  A per-unit dataset has
 * each unit axis attached to exactly one of its dimensions; a unit's slice
 * is the sub-array at the unit's indices (all other dimensions whole). */
typedef struct io_units io_units;

/* Shard rule shared by the scan and the merge: unit u belongs to shard i of n
 * when u % n == i. */
int io_shard_owns(long long unit, int shard_index, int shard_count);

/* Collective; call after every per-unit dataset was created (up front).
 * Creates done_path (uint8 over the unit axes, attribute unit_datasets
 * listing `datasets`) unless present, keeps the per-unit datasets open,
 * flushes the file (from here on only raw data is written, which survives a
 * kill -9) and returns in *todo (malloc'ed, caller frees) the units of shard
 * shard_index/shard_count (pass 0/1 for all) that are not done, ascending.
 * On a resumed file the done mask says which those are. */
dd_status io_units_begin(io_file *f, const char *done_path, int n_axes,
                         const char *const *unit_axes, int n_datasets, const char *const *datasets,
                         int shard_index, int shard_count, io_units **out, long long **todo,
                         long long *n_todo);
/* Number of units in the grid, and the multi-index (n_axes entries) of u. */
long long io_units_count(const io_units *u);
void io_units_index(const io_units *u, long long unit, long long *idx);
/* Elements in unit slices of dataset k (product of its non-unit dims). */
long long io_units_slice_len(const io_units *u, int k);
/* INDEPENDENT: the rank that computed `unit` writes its slice of per-unit
 * dataset k (index into `datasets`); buf holds io_units_slice_len(u, k)
 * elements in C order of the remaining dimensions. */
dd_status io_unit_write(io_units *u, int k, long long unit, io_type mem, const void *buf);
/* INDEPENDENT: after all of a unit's slices are written: fsync the file's
 * data, then set done[unit] = 1.  A unit without its done entry is redone on
 * resume, so a kill between write and done loses nothing. */
dd_status io_unit_done(io_units *u, long long unit);
/* Collective: closes the datasets and reports in *n_done (may be NULL) how
 * many units of the grid are done.  *u is freed and set to NULL. */
dd_status io_units_end(io_units **u, long long *n_done);

/* ------------------------------------------------------------------------ */
/* Listing, comparing, copying, merging                                      */
/* ------------------------------------------------------------------------ */

/* All datasets under `group` (recursive), sorted by path; *paths is a
 * malloc'ed array of malloc'ed strings (free with io_list_free). */
dd_status io_list_datasets(io_file *f, const char *group, char ***paths, int *n);
/* Attribute names of an object, sorted; free with io_list_free. */
dd_status io_list_attrs(io_file *f, const char *obj, char ***names, int *n);
void io_list_free(char **list, int n);

/* Collective over both files (same communicator).  Copies the group or
 * dataset `path` of src (recursively, with attributes and data) to the same
 * path in dst, skipping the absolute paths in skip[0..n_skip) and anything
 * below them.  Parent groups are created.  Dimension scales are re-attached
 * by path; a scale that ends up missing in dst is an error. */
dd_status io_copy(io_file *dst, io_file *src, const char *path, const char *const *skip,
                  int n_skip);
/* Collective.  *equal = 1 when `path` (group or dataset) has the same
 * objects, types, shapes, data bytes and attributes in a and b, ignoring
 * anything below the paths in skip.  Otherwise diff gets the first
 * difference ("/scan/p_value: data differ at element 12"). */
dd_status io_compare(io_file *a, io_file *b, const char *path, const char *const *skip, int n_skip,
                     int *equal, char *diff, size_t cap);

/* Called by io_shards_merge on the assembled output file (every rank,
 * collectively) after the per-unit datasets and the done mask are in place
 * and before the commit: a stage derives what needs every unit there (e.g.
 * the scan's R band).  It may write data into existing datasets. */
typedef dd_status (*io_merge_fn)(io_file *out, void *ctx);

/* Collective.  Combines the shard files of one `--shard I/N` run into
 * output_path (written as .tmp, then renamed; re-running gives the same
 * result).  Checks, naming the file at fault: every shard opens and is
 * complete; all share shard_count N and config_hash; indices 0..N-1 appear
 * once each (missing ones listed); each shard's done mask is exactly its
 * units (io_shard_owns), so the units are disjoint and none is missing; all
 * other content (outside /provenance) is identical.  The output holds shard
 * 0's content with every per-unit dataset filled from the shard that owns
 * each unit, done set to 1 everywhere, no shard attributes, and
 * /provenance/merge: the same content as an unsharded run.  finish (may be
 * NULL) runs on the output before the commit. */
dd_status io_shards_merge(const par_world *w, const char *output_path, const char *const *shards,
                          int n_shards, const char *done_path, int argc, char *const *argv,
                          io_merge_fn finish, void *finish_ctx);

#endif /* DDSCAN_IO_H */
