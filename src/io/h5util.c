/* h5util.c - io's small shared pieces: HDF5 error capture into the ddscan
 * error chain, io_type <-> HDF5 type mapping, object-path helpers, time
 * stamps and string lists. */
#define _POSIX_C_SOURCE 200809L
#include "io_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include <mpi.h> /* uses: MPI_Bcast */

void io_h5_init(void) {
  static int done;
  if (done) return;
  /* Errors are reported once, through the ddscan chain (io_h5_fail). */
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  done = 1;
}

/* The file this process writes (the last created or opened for update and
 * not yet closed): the place a failed write is reported against. */
static char g_writing[IO_FS_PATH_MAX + 8];

void io_h5_writing(const char *disk_path, int on) {
  if (on)
    snprintf(g_writing, sizeof g_writing, "%s", disk_path);
  else if (strcmp(g_writing, disk_path) == 0)
    g_writing[0] = '\0';
}

typedef struct h5_walk {
  char api[64];   /* outermost function: the API call */
  char desc[256]; /* innermost description: the reason */
  int n;
  int write_failed; /* a low-level write failed (H5E_WRITEERROR on the stack) */
} h5_walk;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
  h5_walk *w = data;
  (void)n;
  /* Walking downward: the first entry is the API call, the last the cause. */
  if (w->n == 0) snprintf(w->api, sizeof w->api, "%s", e->func_name ? e->func_name : "?");
  snprintf(w->desc, sizeof w->desc, "%s", e->desc ? e->desc : "");
  if (e->min_num == H5E_WRITEERROR) w->write_failed = 1;
  w->n++;
  return 0;
}

/* "12.3 MB" */
static void human_bytes(double b, char *buf, size_t cap) {
  static const char *const unit[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int k = 0;
  while (b >= 1000.0 && k < 5) {
    b /= 1000.0;
    k++;
  }
  snprintf(buf, cap, k ? "%.1f %s" : "%.0f %s", b, unit[k]);
}

/* Why a failed low-level write cannot be returned like other errors.  The
 * writes are collective (MPI-IO), yet the failure is seen only by the ranks
 * whose own write failed (with two-phase I/O, the aggregators; for metadata,
 * rank 0): the others have already moved on to the next collective call, so
 * returning the status would leave ranks waiting in different collectives
 * for ever (the job spun at 95 % CPU on a full disk), and closing the file
 * after a failed write crashes HDF5 at MPI_Finalize even on one rank.  The
 * rank that sees it therefore ends the job at once (STYLE.md §4 rule 3:
 * dd_panic -> MPI_Abort) with one message that names the file, and says
 * "disk full" when the file system has no room left.  The .tmp is never
 * renamed, so the final name still holds the previous complete file. */
static _Noreturn void write_failed(const char *file, int line, const char *func, const char *msg,
                                   const h5_walk *w) {
  const char *path = g_writing[0] ? g_writing : "(unknown file)";
  char dir[IO_FS_PATH_MAX + 8];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash)
    *(slash == dir ? slash + 1 : slash) = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  struct statvfs sv;
  int full = strstr(w->desc, "No space") != NULL || strstr(w->desc, "NO_SPACE") != NULL;
  char left[32] = "?", total[32] = "?";
  if (statvfs(dir, &sv) == 0) {
    double avail = (double)sv.f_bavail * (double)sv.f_frsize;
    double size = (double)sv.f_blocks * (double)sv.f_frsize;
    /* After a failed write, a file system with (almost) nothing left is full
     * whatever the driver's message says (MPI-IO often says only "failed"). */
    double nearly = size / 10.0 < 1048576.0 ? size / 10.0 : 1048576.0;
    if (avail <= nearly) full = 1;
    human_bytes(avail, left, sizeof left);
    human_bytes(size, total, sizeof total);
  }
  const char *tmp_note =
      strlen(path) > 4 && strcmp(path + strlen(path) - 4, ".tmp") == 0
          ? "; the unfinished file is kept for --resume and nothing was renamed to the final name"
          : "";
  if (full)
    dd_panic(DD_ERR_IO, file, line, func,
             "disk full: cannot write '%s' (%s free of %s on its file system; %s: %s): free "
             "space or choose another run.output_dir%s",
             path, left, total, w->api, w->desc, tmp_note);
  dd_panic(DD_ERR_IO, file, line, func,
           "write error on '%s' (%s: %s; %s; %s free on its file system)%s", path, w->api, w->desc,
           msg, left, tmp_note);
}

dd_status io_h5_fail(const char *file, int line, const char *func, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  h5_walk w;
  memset(&w, 0, sizeof w);
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &w);
  H5Eclear2(H5E_DEFAULT);
  /* A read of a damaged file can fail with a low-level error on the stack
   * too ("addr overflow" past the end of a truncated file): that is bad
   * input for this rank's caller to report (exit 2 / "damaged"), not a
   * failed write that must end the job (found by `make fuzz`, events). */
  if (w.write_failed && !strstr(w.api, "read")) write_failed(file, line, func, msg, &w);
  if (w.n > 0)
    return dd_error_set(DD_ERR_HDF5, file, line, func, "%s (%s: %s)", msg, w.api, w.desc);
  return dd_error_set(DD_ERR_HDF5, file, line, func, "%s", msg);
}

size_t io_type_size(io_type t) {
  switch (t) {
    case IO_F64:
    case IO_I64:
    case IO_U64:
      return 8;
    case IO_F32:
    case IO_I32:
      return 4;
    case IO_U8:
      return 1;
  }
  return 0;
}

hid_t io_h5_file_type(io_type t) {
  switch (t) {
    case IO_F64:
      return H5T_IEEE_F64LE;
    case IO_F32:
      return H5T_IEEE_F32LE;
    case IO_I64:
      return H5T_STD_I64LE;
    case IO_I32:
      return H5T_STD_I32LE;
    case IO_U8:
      return H5T_STD_U8LE;
    case IO_U64:
      return H5T_STD_U64LE;
  }
  return -1;
}

hid_t io_h5_mem_type(io_type t) {
  switch (t) {
    case IO_F64:
      return H5T_NATIVE_DOUBLE;
    case IO_F32:
      return H5T_NATIVE_FLOAT;
    case IO_I64:
      return H5T_NATIVE_INT64;
    case IO_I32:
      return H5T_NATIVE_INT32;
    case IO_U8:
      return H5T_NATIVE_UINT8;
    case IO_U64:
      return H5T_NATIVE_UINT64;
  }
  return -1;
}

dd_status io_path_join(char *buf, size_t cap, const char *a, const char *b) {
  size_t la = strlen(a);
  while (la > 0 && a[la - 1] == '/') la--;
  while (*b == '/') b++;
  int n = snprintf(buf, cap, "%.*s/%s", (int)la, a, b);
  if (n < 0 || (size_t)n >= cap)
    return DD_FAIL(DD_ERR_ARG, "object path '%s/%s' longer than %zu characters", a, b, cap - 1);
  return DD_OK;
}

const char *io_path_base(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

int io_path_within(const char *path, const char *prefix) {
  size_t n = strlen(prefix);
  while (n > 1 && prefix[n - 1] == '/') n--;
  if (n == 1 && prefix[0] == '/') return 1;
  if (strncmp(path, prefix, n) != 0) return 0;
  return path[n] == '\0' || path[n] == '/';
}

void io_path_parent(const char *path, char *buf, size_t cap) {
  const char *s = strrchr(path, '/');
  if (!s || s == path) {
    snprintf(buf, cap, "/");
    return;
  }
  snprintf(buf, cap, "%.*s", (int)(s - path), path);
}

void io_now_iso(const par_world *w, char out[32]) {
  memset(out, 0, 32);
  if (w->rank == 0) {
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  /* Every rank writes the same attribute value (collective attribute rule). */
  if (w->comm != MPI_COMM_NULL) MPI_Bcast(out, 32, MPI_CHAR, 0, w->comm);
}

dd_status io_bcast_string(const par_world *w, const char *s, char **out) {
  *out = NULL;
  long long n = 0;
  if (w->rank == 0) n = s ? (long long)strlen(s) : -1;
  MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, w->comm);
  if (n < 0) return DD_OK;
  char *buf = malloc((size_t)n + 1);
  /* Every rank must take part in the broadcast even if its malloc failed. */
  int ok = buf != NULL, all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, w->comm);
  if (!all) {
    free(buf);
    return DD_FAIL(DD_ERR_NOMEM, "broadcast buffer (%lld bytes)", n);
  }
  if (w->rank == 0) memcpy(buf, s, (size_t)n);
  for (long long off = 0; off < n; off += 1 << 30) {
    long long chunk = n - off < (1 << 30) ? n - off : (1 << 30);
    MPI_Bcast(buf + off, (int)chunk, MPI_CHAR, 0, w->comm);
  }
  buf[n] = '\0';
  *out = buf;
  return DD_OK;
}

void io_hash_hex(uint64_t hash, char out[17]) {
  snprintf(out, 17, "%016llx", (unsigned long long)hash);
}

dd_status io_split_lines(const char *text, char ***list, int *n) {
  *list = NULL;
  *n = 0;
  int cap = 1;
  for (const char *p = text; *p; p++) cap += *p == '\n';
  char **l = calloc((size_t)cap, sizeof *l);
  if (!l) return DD_FAIL(DD_ERR_NOMEM, "line list");
  int k = 0;
  const char *p = text;
  while (*p) {
    size_t len = strcspn(p, "\n");
    if (len > 0) {
      l[k] = malloc(len + 1);
      if (!l[k]) {
        io_list_free(l, k);
        return DD_FAIL(DD_ERR_NOMEM, "line list");
      }
      memcpy(l[k], p, len);
      l[k][len] = '\0';
      k++;
    }
    p += len;
    if (*p == '\n') p++;
  }
  *list = l;
  *n = k;
  return DD_OK;
}

void io_list_free(char **list, int n) {
  if (!list) return;
  for (int i = 0; i < n; i++) free(list[i]);
  free(list);
}
