/* file.c - results files through MPI-IO: create as "<name>.tmp", open,
 * flush, commit (collective close, fsync, rename by rank 0), groups and
 * attributes (VL UTF-8 strings, H5S_SCALAR numbers), all collective. */
#define _POSIX_C_SOURCE 200809L
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h> /* uses: MPI_Bcast, MPI_Barrier */

/* ---------------------------------------------------------------- files */

static dd_status file_alloc(const par_world *w, const char *final_path, int is_tmp, io_mode mode,
                            io_file **out) {
  *out = NULL;
  if (strlen(final_path) >= IO_FS_PATH_MAX)
    return DD_FAIL(DD_ERR_ARG, "file name longer than %d characters: '%s'", IO_FS_PATH_MAX - 1,
                   final_path);
  io_file *f = calloc(1, sizeof *f);
  if (!f) return DD_FAIL(DD_ERR_NOMEM, "io_file");
  f->fid = f->dxpl_coll = f->dxpl_indep = -1;
  f->w = *w;
  f->mode = mode;
  f->is_tmp = is_tmp;
  snprintf(f->final_path, sizeof f->final_path, "%s", final_path);
  snprintf(f->disk_path, sizeof f->disk_path, "%s%s", final_path, is_tmp ? ".tmp" : "");
  if (mode == IO_UPDATE) io_h5_writing(f->disk_path, 1);
  f->dxpl_coll = H5Pcreate(H5P_DATASET_XFER);
  f->dxpl_indep = H5Pcreate(H5P_DATASET_XFER);
  if (f->dxpl_coll < 0 || f->dxpl_indep < 0 ||
      H5Pset_dxpl_mpio(f->dxpl_coll, H5FD_MPIO_COLLECTIVE) < 0 ||
      H5Pset_dxpl_mpio(f->dxpl_indep, H5FD_MPIO_INDEPENDENT) < 0) {
    dd_status st = IO_H5FAIL("transfer property lists for '%s'", f->disk_path);
    if (f->dxpl_coll >= 0) H5Pclose(f->dxpl_coll);
    if (f->dxpl_indep >= 0) H5Pclose(f->dxpl_indep);
    if (mode == IO_UPDATE) io_h5_writing(f->disk_path, 0);
    free(f);
    return st;
  }
  *out = f;
  return DD_OK;
}

static void file_free(io_file *f) {
  if (!f) return;
  if (f->mode == IO_UPDATE) io_h5_writing(f->disk_path, 0);
  if (f->dxpl_coll >= 0) H5Pclose(f->dxpl_coll);
  if (f->dxpl_indep >= 0) H5Pclose(f->dxpl_indep);
  io_list_free(f->owned, f->n_owned);
  free(f);
}

/* MPI-IO on the world's communicator, collective metadata reads and writes
 * (platform notes §4: every metadata call is then collective, which io
 * guarantees by making every entry point collective). */
static hid_t make_fapl(const par_world *w) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) return -1;
  if (H5Pset_fapl_mpio(fapl, w->comm, MPI_INFO_NULL) < 0 ||
      H5Pset_all_coll_metadata_ops(fapl, 1) < 0 || H5Pset_coll_metadata_write(fapl, 1) < 0) {
    H5Pclose(fapl);
    return -1;
  }
  return fapl;
}

static dd_status root_attrs_write(io_file *f) {
  dd_provenance p;
  dd_provenance_get(&p);
  char now[32];
  io_now_iso(&f->w, now);
  DD_TRY(io_attr_write_int(f, "/", "format_version", IO_FORMAT_VERSION), "root attributes");
  DD_TRY(io_attr_write_string(f, "/", "ddscan_version", p.version), "root attributes");
  DD_TRY(io_attr_write_string(f, "/", "git_rev", p.git_rev), "root attributes");
  DD_TRY(io_attr_write_string(f, "/", "created", now), "root attributes");
  DD_TRY(io_attr_write_int(f, "/", "n_ranks", f->w.size), "root attributes");
  return DD_OK;
}

dd_status io_file_create(const par_world *w, const char *path, io_file **out) {
  io_h5_init();
  io_file *f = NULL;
  DD_TRY(file_alloc(w, path, 1, IO_UPDATE, &f), "creating '%s'", path);
  hid_t fapl = make_fapl(w);
  if (fapl < 0) {
    file_free(f);
    return IO_H5FAIL("MPI-IO file access list for '%s'", path);
  }
  f->fid = H5Fcreate(f->disk_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f->fid < 0) {
    dd_status st = IO_H5FAIL("cannot create '%s' (does the directory exist and is it writable?)",
                             f->disk_path);
    file_free(f);
    return st;
  }
  dd_status st = root_attrs_write(f);
  if (st != DD_OK) {
    io_file_close(&f);
    return DD_CONTEXT(st, "creating '%s'", path);
  }
  *out = f;
  return DD_OK;
}

static dd_status file_open_disk(const par_world *w, const char *final_path, int is_tmp,
                                io_mode mode, io_file **out) {
  io_h5_init();
  *out = NULL;
  io_file *f = NULL;
  DD_TRY(file_alloc(w, final_path, is_tmp, mode, &f), "opening '%s'", final_path);
  /* Rank 0 looks first, so that a missing file is one clear message. */
  int exists = w->rank == 0 ? dd_path_exists(f->disk_path) : 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, w->comm);
  if (!exists) {
    dd_status st = DD_FAIL(DD_ERR_IO, "'%s' does not exist", f->disk_path);
    file_free(f);
    return st;
  }
  hid_t fapl = make_fapl(w);
  if (fapl < 0) {
    file_free(f);
    return IO_H5FAIL("MPI-IO file access list for '%s'", final_path);
  }
  f->fid = H5Fopen(f->disk_path, mode == IO_UPDATE ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f->fid < 0) {
    dd_status st =
        IO_H5FAIL("cannot open '%s' (not an HDF5 file, truncated, or damaged)", f->disk_path);
    file_free(f);
    return st;
  }
  *out = f;
  return DD_OK;
}

dd_status io_file_open(const par_world *w, const char *path, io_mode mode, io_file **out) {
  return file_open_disk(w, path, 0, mode, out);
}

dd_status io_file_open_tmp(const par_world *w, const char *final_path, io_file **out) {
  return file_open_disk(w, final_path, 1, IO_UPDATE, out);
}

dd_status io_file_flush(io_file *f) {
  if (H5Fflush(f->fid, H5F_SCOPE_GLOBAL) < 0) return IO_H5FAIL("flushing '%s'", f->disk_path);
  return DD_OK;
}

const char *io_file_disk_path(const io_file *f) {
  return f->disk_path;
}
const char *io_file_final_path(const io_file *f) {
  return f->final_path;
}
const par_world *io_file_world(const io_file *f) {
  return &f->w;
}

dd_status io_file_close(io_file **fp) {
  io_file *f = *fp;
  *fp = NULL;
  if (!f) return DD_OK;
  dd_status st = DD_OK;
  if (f->fid >= 0) {
    /* Any object left open would keep the file open (and is a bug). */
    ssize_t open_objs =
        H5Fget_obj_count(f->fid, H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_ATTR | H5F_OBJ_DATATYPE);
    if (H5Fclose(f->fid) < 0)
      st = IO_H5FAIL("closing '%s' (%zd objects still open)", f->disk_path, open_objs);
    f->fid = -1;
  }
  file_free(f);
  return st;
}

/* fsync of a path (file or directory); 0 on success. */
static int sync_path(const char *path, int dir) {
  int fd = open(path, dir ? O_RDONLY : O_RDWR);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

dd_status io_file_commit(io_file **fp) {
  io_file *f = *fp;
  if (!f) return DD_FAIL(DD_ERR_ARG, "io_file_commit: no file");
  char disk[sizeof f->disk_path], final[sizeof f->final_path];
  snprintf(disk, sizeof disk, "%s", f->disk_path);
  snprintf(final, sizeof final, "%s", f->final_path);
  int is_tmp = f->is_tmp;
  par_world w = f->w;
  DD_TRY(io_file_close(fp), "committing '%s'", final);
  if (!is_tmp) return DD_OK;
  /* Every rank has closed (H5Fclose is collective); rank 0 makes the file
   * durable and gives it its final name, then tells the others. */
  char msg[3 * IO_FS_PATH_MAX] = "";
  if (w.rank == 0) {
    if (sync_path(disk, 0) != 0)
      snprintf(msg, sizeof msg, "fsync '%s': %s", disk, strerror(errno));
    else if (rename(disk, final) != 0)
      snprintf(msg, sizeof msg, "renaming '%s' to '%s': %s", disk, final, strerror(errno));
    else {
      char dir[IO_FS_PATH_MAX];
      snprintf(dir, sizeof dir, "%s", final);
      char *slash = strrchr(dir, '/');
      if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
      else
        snprintf(dir, sizeof dir, ".");
      sync_path(dir, 1); /* best effort: some file systems refuse a dir fsync */
    }
  }
  MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, 0, w.comm);
  if (msg[0]) return DD_FAIL(DD_ERR_IO, "%s", msg);
  return DD_OK;
}

/* ---------------------------------------------------------------- ownership */

/* The ownership rule.  A stage's file starts as a copy of the previous
 * stage's file minus the paths the stage owns (io_stage_begin), so whatever
 * the stage writes outside its owned paths would silently change data that
 * another stage produced and that this stage's config_hash does not describe;
 * a later io_stage_is_current would then vouch for it.  Every public writer
 * that can create an object (groups here; datasets, axes, tables, done masks
 * in dataset.c, table.c, units.c) therefore checks its path first, and so do
 * the dimension scales a dataset attaches, since attaching writes into the
 * scale.  The *_raw variants skip the check: they serve callers that have
 * checked an enclosing path already (table.c, units.c), io's own groups
 * (/config, /provenance) and the carrying over of objects (copy.c, merge.c).
 * The check lives here, with the io_file whose owned list it reads, so that
 * the writers never call up into stage.c. */
dd_status io_stage_check_owned(io_file *f, const char *path, const char *what) {
  if (!f->stage[0]) return DD_OK; /* plain io_file_create/open: no stage, no rule */
  for (int i = 0; i < f->n_owned; i++)
    if (io_path_within(path, f->owned[i])) return DD_OK;
  return DD_FAIL(DD_ERR_ARG,
                 "stage '%s' writes %s '%s' outside the paths it owns (a stage may only "
                 "write, and attach scales from, its own groups)",
                 f->stage, what, path);
}

/* ---------------------------------------------------------------- groups */

int io_exists(io_file *f, const char *path) {
  if (strcmp(path, "/") == 0) return 1;
  char buf[IO_PATH_MAX];
  size_t n = strlen(path);
  if (n >= sizeof buf) return 0;
  /* H5Lexists needs every parent to exist: test component by component. */
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != '\0') continue;
    memcpy(buf, path, i);
    buf[i] = '\0';
    htri_t e = H5Lexists(f->fid, buf, H5P_DEFAULT);
    if (e <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return 0;
    }
  }
  return 1;
}

dd_status io_group_create_raw(io_file *f, const char *path) {
  if (strlen(path) >= IO_PATH_MAX)
    return DD_FAIL(DD_ERR_ARG, "object path longer than %d characters: '%s'", IO_PATH_MAX - 1,
                   path);
  if (path[0] != '/') return DD_FAIL(DD_ERR_ARG, "object path '%s' must start with '/'", path);
  char buf[IO_PATH_MAX];
  size_t n = strlen(path);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != '\0') continue;
    if (i == 1 && path[1] == '\0') break; /* "/" itself */
    memcpy(buf, path, i);
    buf[i] = '\0';
    htri_t e = H5Lexists(f->fid, buf, H5P_DEFAULT);
    if (e < 0) return IO_H5FAIL("looking up '%s' in '%s'", buf, f->disk_path);
    if (e > 0) {
      H5O_info_t info;
      if (H5Oget_info_by_name2(f->fid, buf, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        return IO_H5FAIL("inspecting '%s' in '%s'", buf, f->disk_path);
      if (info.type != H5O_TYPE_GROUP)
        return DD_FAIL(DD_ERR_HDF5, "'%s' in '%s' exists and is not a group", buf, f->disk_path);
      continue;
    }
    hid_t g = H5Gcreate2(f->fid, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return IO_H5FAIL("creating group '%s' in '%s'", buf, f->disk_path);
    H5Gclose(g);
  }
  return DD_OK;
}

dd_status io_group_create(io_file *f, const char *path) {
  DD_TRY(io_stage_check_owned(f, path, "group"), "creating group '%s'", path);
  return io_group_create_raw(f, path);
}

/* ---------------------------------------------------------------- attributes */

static hid_t obj_open(io_file *f, const char *obj) {
  return H5Oopen(f->fid, obj, H5P_DEFAULT);
}

int io_attr_exists(io_file *f, const char *obj, const char *name) {
  if (!io_exists(f, obj)) return 0;
  htri_t e = H5Aexists_by_name(f->fid, obj, name, H5P_DEFAULT);
  if (e < 0) H5Eclear2(H5E_DEFAULT);
  return e > 0;
}

/* Reads a scalar (or first element of a) string attribute, VL or fixed. */
static dd_status attr_read_string_id(hid_t a, const char *what, char **out) {
  *out = NULL;
  hid_t t = H5Aget_type(a);
  if (t < 0) return IO_H5FAIL("type of attribute %s", what);
  dd_status st = DD_OK;
  if (H5Tget_class(t) != H5T_STRING) {
    st = DD_FAIL(DD_ERR_HDF5, "attribute %s is not a string", what);
  } else if (H5Tis_variable_str(t) > 0) {
    hid_t sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(t));
    char **v = calloc(np > 0 ? (size_t)np : 1, sizeof *v);
    if (!v) {
      st = DD_FAIL(DD_ERR_NOMEM, "attribute %s", what);
    } else if (np < 1 || H5Aread(a, mt, v) < 0) {
      st = IO_H5FAIL("reading attribute %s", what);
    } else {
      *out = strdup(v[0] ? v[0] : "");
      H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
      if (!*out) st = DD_FAIL(DD_ERR_NOMEM, "attribute %s", what);
    }
    free(v);
    H5Tclose(mt);
    H5Sclose(sp);
  } else {
    size_t n = H5Tget_size(t);
    hid_t sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    char *buf = calloc((size_t)(np > 0 ? np : 1) * n + 1, 1);
    if (!buf) {
      st = DD_FAIL(DD_ERR_NOMEM, "attribute %s", what);
    } else if (H5Aread(a, t, buf) < 0) {
      st = IO_H5FAIL("reading attribute %s", what);
      free(buf);
    } else {
      buf[n] = '\0'; /* first element; padding NULs or spaces trimmed below */
      while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\0')) buf[--n] = '\0';
      *out = buf;
    }
    H5Sclose(sp);
  }
  H5Tclose(t);
  return st;
}

dd_status io_attr_read_string(io_file *f, const char *obj, const char *name, char **out) {
  *out = NULL;
  if (!io_attr_exists(f, obj, name))
    return DD_FAIL(DD_ERR_HDF5, "'%s' in '%s' has no attribute '%s'", obj, f->disk_path, name);
  hid_t a = H5Aopen_by_name(f->fid, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) return IO_H5FAIL("opening attribute '%s' of '%s'", name, obj);
  char what[IO_PATH_MAX + 64];
  snprintf(what, sizeof what, "'%s' of '%s'", name, obj);
  dd_status st = attr_read_string_id(a, what, out);
  H5Aclose(a);
  return st;
}

static dd_status attr_read_number(io_file *f, const char *obj, const char *name, hid_t mt,
                                  void *out) {
  if (!io_attr_exists(f, obj, name))
    return DD_FAIL(DD_ERR_HDF5, "'%s' in '%s' has no attribute '%s'", obj, f->disk_path, name);
  hid_t a = H5Aopen_by_name(f->fid, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) return IO_H5FAIL("opening attribute '%s' of '%s'", name, obj);
  dd_status st = DD_OK;
  hid_t sp = H5Aget_space(a), t = H5Aget_type(a);
  H5T_class_t cls = H5Tget_class(t);
  if (H5Sget_simple_extent_npoints(sp) != 1 || (cls != H5T_INTEGER && cls != H5T_FLOAT))
    st = DD_FAIL(DD_ERR_HDF5, "attribute '%s' of '%s' is not a single number", name, obj);
  else if (H5Aread(a, mt, out) < 0)
    st = IO_H5FAIL("reading attribute '%s' of '%s'", name, obj);
  H5Tclose(t);
  H5Sclose(sp);
  H5Aclose(a);
  return st;
}

dd_status io_attr_read_double(io_file *f, const char *obj, const char *name, double *out) {
  return attr_read_number(f, obj, name, H5T_NATIVE_DOUBLE, out);
}

dd_status io_attr_read_int(io_file *f, const char *obj, const char *name, long long *out) {
  return attr_read_number(f, obj, name, H5T_NATIVE_LLONG, out);
}

dd_status io_attr_delete(io_file *f, const char *obj, const char *name) {
  if (!io_attr_exists(f, obj, name)) return DD_OK;
  if (H5Adelete_by_name(f->fid, obj, name, H5P_DEFAULT) < 0)
    return IO_H5FAIL("deleting attribute '%s' of '%s'", name, obj);
  return DD_OK;
}

/* Creates (or replaces) attribute name of obj with type ftype, dataspace sp,
 * from memory buf of type mtype. */
static dd_status attr_put(io_file *f, const char *obj, const char *name, hid_t ftype, hid_t sp,
                          hid_t mtype, const void *buf) {
  DD_TRY(io_attr_delete(f, obj, name), "replacing attribute '%s'", name);
  hid_t o = obj_open(f, obj);
  if (o < 0) return IO_H5FAIL("opening '%s' in '%s' for attribute '%s'", obj, f->disk_path, name);
  dd_status st = DD_OK;
  hid_t a = H5Acreate2(o, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0)
    st = IO_H5FAIL("creating attribute '%s' of '%s'", name, obj);
  else {
    if (H5Awrite(a, mtype, buf) < 0) st = IO_H5FAIL("writing attribute '%s' of '%s'", name, obj);
    H5Aclose(a);
  }
  H5Oclose(o);
  return st;
}

dd_status io_attr_write_string(io_file *f, const char *obj, const char *name, const char *value) {
  char *v = NULL; /* rank 0's value, on every rank */
  DD_TRY(io_bcast_string(&f->w, value, &v), "attribute '%s'", name);
  if (!v) return DD_FAIL(DD_ERR_ARG, "attribute '%s' of '%s': NULL string", name, obj);
  dd_status st = DD_OK;
  if (io_attr_exists(f, obj, name)) {
    char *old = NULL;
    /* Unchanged value: no metadata write (keeps a resumed file untouched). */
    if (io_attr_read_string(f, obj, name, &old) == DD_OK && strcmp(old, v) == 0) {
      free(old);
      goto done;
    }
    dd_error_clear();
    free(old);
  }
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t sp = H5Screate(H5S_SCALAR);
  const char *vp = v;
  st = attr_put(f, obj, name, t, sp, t, &vp);
  H5Sclose(sp);
  H5Tclose(t);
done:
  free(v);
  return st;
}

static dd_status attr_write_scalar(io_file *f, const char *obj, const char *name, hid_t ftype,
                                   hid_t mtype, void *value, size_t size, MPI_Datatype mpi) {
  MPI_Bcast(value, 1, mpi, 0, f->w.comm);
  if (io_attr_exists(f, obj, name)) {
    unsigned char old[8];
    hid_t a = H5Aopen_by_name(f->fid, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    int same = 0;
    if (a >= 0) {
      hid_t sp = H5Aget_space(a), t = H5Aget_type(a);
      same = H5Sget_simple_extent_type(sp) == H5S_SCALAR && H5Tequal(t, ftype) > 0 &&
             H5Aread(a, mtype, old) >= 0 && memcmp(old, value, size) == 0;
      H5Tclose(t);
      H5Sclose(sp);
      H5Aclose(a);
    }
    H5Eclear2(H5E_DEFAULT);
    if (same) return DD_OK;
  }
  hid_t sp = H5Screate(H5S_SCALAR);
  dd_status st = attr_put(f, obj, name, ftype, sp, mtype, value);
  H5Sclose(sp);
  return st;
}

dd_status io_attr_write_double(io_file *f, const char *obj, const char *name, double value) {
  return attr_write_scalar(f, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, sizeof value,
                           MPI_DOUBLE);
}

dd_status io_attr_write_int(io_file *f, const char *obj, const char *name, long long value) {
  return attr_write_scalar(f, obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value, sizeof value,
                           MPI_LONG_LONG);
}

dd_status io_attr_write_doubles(io_file *f, const char *obj, const char *name, const double *v,
                                int n) {
  if (n < 1) return DD_FAIL(DD_ERR_ARG, "attribute '%s' of '%s': no values", name, obj);
  double *copy = NULL;
  DD_TRY(dd_calloc((void **)&copy, (size_t)n, sizeof *copy, "attribute values"), "%s", name);
  memcpy(copy, v, (size_t)n * sizeof *copy);
  MPI_Bcast(copy, n, MPI_DOUBLE, 0, f->w.comm);
  hsize_t dim = (hsize_t)n;
  hid_t sp = H5Screate_simple(1, &dim, NULL);
  dd_status st = attr_put(f, obj, name, H5T_IEEE_F64LE, sp, H5T_NATIVE_DOUBLE, copy);
  H5Sclose(sp);
  free(copy);
  return st;
}
