/* io_internal.h - what the io source files share: the io_file struct, HDF5
 * error capture, type mapping and small collective helpers.  Private to
 * src/io/; nothing outside io sees an HDF5 handle.
 *
 * The files form layers; a file calls only files below it, never up or
 * sideways (tests/e2e/io_layers.sh fails on a cycle):
 *   h5util.c  lock.c          errors, types, paths, broadcasts; the output-directory
 *                             lock (neither uses io_file)
 *   file.c                    files, groups, attributes, the ownership check
 *   dataset.c                 datasets, axes, slabs, raw whole-dataset I/O
 *   table.c  units.c  copy.c  io_field tables; work units; copy/compare trees
 *   stage.c                   stage begin/commit/resume, provenance
 *   merge.c                   shard merging (uses copy, units and provenance) */
#ifndef DDSCAN_IO_INTERNAL_H
#define DDSCAN_IO_INTERNAL_H

#include <hdf5.h> /* uses: hid_t, H5T/H5S/H5D/H5A/H5F */

#include "ddscan/io.h" /* uses: io_file, io_type, io_units */

/* Longest file-system path we handle (final name + ".tmp"). */
#define IO_FS_PATH_MAX 1100
/* Longest stage name. */
#define IO_STAGE_NAME_MAX 32

struct io_file {
  hid_t fid;        /* owned; closed by io_file_close/commit */
  hid_t dxpl_coll;  /* owned: collective transfer */
  hid_t dxpl_indep; /* owned: independent transfer */
  par_world w;      /* copy of the caller's world (comm borrowed) */
  io_mode mode;
  int is_tmp;                         /* disk_path = final_path + ".tmp" */
  char final_path[IO_FS_PATH_MAX];    /* name after commit */
  char disk_path[IO_FS_PATH_MAX + 8]; /* name on disk now */
  /* Set by io_stage_begin (stage[0] == '\0' otherwise). */
  char stage[IO_STAGE_NAME_MAX];
  double t_start;     /* rank 0's dd_time_now at stage begin */
  char start_iso[32]; /* rank 0's wall clock at stage begin, ISO-8601 UTC */
  int resumed;        /* this session continues an interrupted .tmp */
  int n_owned;
  char **owned; /* owned: n_owned malloc'ed absolute paths */
};

/* Turns HDF5's automatic error printing off (once per process); every io
 * entry point that opens or creates a file calls it. */
void io_h5_init(void);
/* Registers (on = 1) or forgets (on = 0) the file this process writes, so
 * that a failed low-level write names it (see io_h5_fail). */
void io_h5_writing(const char *disk_path, int on);
/* Records DD_ERR_HDF5 with the caller's message plus the innermost HDF5
 * error description ("H5Dopen2: object 'x' doesn't exist"), then clears the
 * HDF5 error stack.  Use through IO_H5FAIL.  A failed low-level write
 * (H5E_WRITEERROR on the stack: disk full, I/O error) does not return: the
 * rank ends the job through dd_panic with one message naming the file and
 * saying "disk full" when the file system has no room (h5util.c says why). */
dd_status io_h5_fail(const char *file, int line, const char *func, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
#define IO_H5FAIL(...) io_h5_fail(__FILE__, __LINE__, __func__, __VA_ARGS__)

/* File (little-endian) and memory (native) HDF5 types of an io_type; the
 * handles are library constants, never closed.  -1 for an unknown type. */
hid_t io_h5_file_type(io_type t);
hid_t io_h5_mem_type(io_type t);

/* Path helpers.  io_path_join writes "a/b" (one slash) into buf. */
dd_status io_path_join(char *buf, size_t cap, const char *a, const char *b);
/* The last component of "/a/b/c" ("c"), borrowed from path. */
const char *io_path_base(const char *path);
/* 1 when path equals prefix or lies below it ("/a/b" is below "/a"). */
int io_path_within(const char *path, const char *prefix);
/* Parent of path into buf ("/a/b" -> "/a", "/a" -> "/"). */
void io_path_parent(const char *path, char *buf, size_t cap);

/* Creates every missing group on the way to (and including) path, without
 * the stage-ownership check of io_group_create. */
dd_status io_group_create_raw(io_file *f, const char *path);
/* io_dataset_create without the ownership check, with an explicit fill value
 * (NULL: NaN for floats, 0 for integers) and an optional file type override
 * (-1: io_h5_file_type(type)). */
dd_status io_dataset_create_raw(io_file *f, const char *path, io_type type, int rank,
                                const long long *dims, const char *const *axes, const char *units,
                                const char *description, const void *fill);
/* A 1-D axis whose values are spread over the ranks: rank r holds n_local
 * values that go to its row block (like io_write_rows).  If the axis exists
 * with the same length, the values are written again (idempotent). */
dd_status io_axis_write_rows(io_file *f, const char *path, io_type type, long long n_local,
                             const void *values, const char *units, const char *description);
/* Ownership check of the active stage (file.c): DD_OK without a stage or
 * when path lies inside one of the stage's owned paths, else DD_ERR_ARG
 * naming the stage, `what` and path.  The public writers call it before
 * they create anything (the rule is explained in file.c). */
dd_status io_stage_check_owned(io_file *f, const char *path, const char *what);

/* Collective read of a whole dataset in its own file type (raw bytes; no
 * VL types).  *buf is malloc'ed (caller frees), *elem_size and *n_elems set;
 * dims (IO_MAX_RANK) and *rank optional (may be NULL). */
dd_status io_read_raw(io_file *f, const char *path, void **buf, size_t *elem_size,
                      long long *n_elems, int *rank, long long *dims);
/* Collective write of a whole dataset from rank 0's raw bytes in the
 * dataset's own file type (others pass NULL). */
dd_status io_write_raw_root(io_file *f, const char *path, const void *buf);

/* Where a dataset at `path` finds its scale for the axis `axis`: the axis
 * itself when both share a group, else "<dataset's group>/<axis name>", a
 * copy io_dataset_create makes (so every group carries its coordinates, as
 * netCDF-4 and xarray need).  Pure string work. */
void io_axis_local(const char *path, const char *axis, char *buf, size_t cap);
/* 1 when `scale` (an attached scale's path, may be NULL) stands for `axis` on
 * a dataset at `path`: its group-local copy, or the axis itself (files
 * written before format 2). */
int io_axis_matches(const char *path, const char *axis, const char *scale);

/* For per-unit datasets: which dimension of `path` carries each unit axis
 * (unit_dim[a]), the dims, and the slice length.  Errors name the dataset and
 * the axis that is not attached exactly once. */
dd_status io_units_map(io_file *f, const char *path, int n_axes, const char *const *unit_axes,
                       int *rank, long long *dims, int *unit_dim, long long *slice_len);
/* Unit index of the element at linear position e of a dataset with these
 * dims and unit dims (row-major over the unit axes with lengths axis_len). */
long long io_units_of_element(long long e, int rank, const long long *dims, int n_axes,
                              const int *unit_dim, const long long *axis_len);

/* Writes the static provenance attributes of a stage into group `grp`
 * (build, MPI/HDF5/BLAS versions, hosts, start time, n_ranks, command line,
 * SLURM ids). */
dd_status io_provenance_write(io_file *f, const char *grp, const char *start_iso, int argc,
                              char *const *argv);
/* Current UTC time as "YYYY-MM-DDTHH:MM:SSZ" from rank 0, broadcast. */
void io_now_iso(const par_world *w, char out[32]);

/* Broadcasts rank 0's string (NULL allowed) to every rank: *out is a malloc'ed
 * copy on every rank (NULL when rank 0 passed NULL); caller frees.  Unlike
 * par_bcast_string it never writes into rank 0's buffer, which may be a
 * string literal. */
dd_status io_bcast_string(const par_world *w, const char *s, char **out);

/* Splits "a\nb\nc" into a malloc'ed list (free with io_list_free). */
dd_status io_split_lines(const char *text, char ***list, int *n);

#endif /* DDSCAN_IO_INTERNAL_H */
