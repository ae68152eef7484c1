/* stage.c - stages that chain through one results file: a stage starts a
 * fresh "<results>.tmp", carries over everything it does not own from the
 * previous file, writes its own groups and commits by rename; or, with
 * --resume, reopens its unfinished .tmp.  Also the provenance attributes.
 * Top layer of io (io_internal.h): it calls file.c, dataset.c and copy.c,
 * and none of them calls back (the ownership check is in file.c). */
#define _POSIX_C_SOURCE 200809L
#include "io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h> /* uses: MPI_Get_library_version, MPI_Gather, MPI_Bcast */

dd_status io_results_path(const char *dir, int shard_index, int shard_count, char *buf,
                          size_t cap) {
  int n;
  if (shard_count > 0)
    n = snprintf(buf, cap, "%s/results.shard-%d-of-%d.h5", dir, shard_index, shard_count);
  else
    n = snprintf(buf, cap, "%s/results.h5", dir);
  if (n < 0 || (size_t)n >= cap)
    return DD_FAIL(DD_ERR_ARG, "results path in '%s' longer than %zu characters", dir, cap - 1);
  return DD_OK;
}

/* ---------------------------------------------------------------- provenance */

/* Writes attribute `name` from rank 0's environment variable, on every rank,
 * only when rank 0 has it set. */
static dd_status env_attr(io_file *f, const char *grp, const char *name, const char *var) {
  char *v = NULL;
  DD_TRY(io_bcast_string(&f->w, f->w.rank == 0 ? getenv(var) : NULL, &v), "environment '%s'", var);
  if (!v) return DD_OK;
  dd_status st = io_attr_write_string(f, grp, name, v);
  free(v);
  return st;
}

static int cmp_host(const void *a, const void *b) {
  return strcmp(a, b);
}

/* Distinct host names of all ranks, sorted, comma-separated. */
static dd_status hosts_list(const par_world *w, const char *mine, char **out) {
  enum { HOST = 128 };
  char *all = NULL;
  *out = NULL;
  char me[HOST];
  snprintf(me, sizeof me, "%s", mine);
  if (w->rank == 0)
    DD_TRY(dd_calloc((void **)&all, (size_t)w->size, HOST, "host names"), "provenance");
  MPI_Gather(me, HOST, MPI_CHAR, all, HOST, MPI_CHAR, 0, w->comm);
  if (w->rank != 0) return DD_OK;
  qsort(all, (size_t)w->size, HOST, cmp_host);
  char *s = calloc((size_t)w->size, HOST + 1);
  if (!s) {
    free(all);
    return DD_FAIL(DD_ERR_NOMEM, "host list");
  }
  for (int i = 0; i < w->size; i++) {
    const char *h = all + (size_t)i * HOST;
    if (i > 0 && strcmp(h, all + (size_t)(i - 1) * HOST) == 0) continue;
    if (s[0]) strcat(s, ",");
    strcat(s, h);
  }
  free(all);
  *out = s;
  return DD_OK;
}

static dd_status command_line(int argc, char *const *argv, char **out) {
  size_t n = 1;
  for (int i = 0; i < argc; i++) n += 3 * strlen(argv[i]) + 3;
  char *s = calloc(n, 1);
  if (!s) return DD_FAIL(DD_ERR_NOMEM, "command line");
  for (int i = 0; i < argc; i++) {
    if (i > 0) strcat(s, " ");
    /* Quote arguments a shell would split. */
    int plain = argv[i][0] != '\0' && strpbrk(argv[i], " \t\"'$\\") == NULL;
    if (plain) {
      strcat(s, argv[i]);
      continue;
    }
    strcat(s, "'");
    for (const char *c = argv[i]; *c; c++) {
      if (*c == '\'')
        strcat(s, "'\\''");
      else
        strncat(s, c, 1);
    }
    strcat(s, "'");
  }
  *out = s;
  return DD_OK;
}

dd_status io_provenance_write(io_file *f, const char *grp, const char *start_iso, int argc,
                              char *const *argv) {
  dd_provenance p;
  dd_provenance_get(&p);
  char mpi_lib[MPI_MAX_LIBRARY_VERSION_STRING] = "";
  int len = 0, ver = 0, sub = 0;
  MPI_Get_library_version(mpi_lib, &len);
  while (len > 0 &&
         (mpi_lib[len - 1] == '\n' || mpi_lib[len - 1] == ' ' || mpi_lib[len - 1] == '\0'))
    mpi_lib[--len] = '\0';
  MPI_Get_version(&ver, &sub);
  char mpi_std[32], h5[64];
  snprintf(mpi_std, sizeof mpi_std, "%d.%d", ver, sub);
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  snprintf(h5, sizeof h5, "%u.%u.%u (parallel, MPI-IO driver)", maj, min, rel);
  char *hosts = NULL, *cmd = NULL;
  dd_status st = hosts_list(&f->w, p.host, &hosts);
  if (st == DD_OK) st = command_line(argc, argv, &cmd);
  struct {
    const char *name, *value;
  } s[] = {
      {"ddscan_version", p.version},
      {"git_rev", p.git_rev},
      {"compiler", p.compiler},
      {"cflags", p.cflags},
      {"build_date", p.build_date},
      {"mpi_library_version", mpi_lib},
      {"mpi_standard", mpi_std},
      {"hdf5_version", h5},
      {"blas_config", p.blas_config ? p.blas_config : "unknown"},
      {"blas_corename", p.blas_corename ? p.blas_corename : "unknown"},
      {"host", p.host},
      {"hosts", f->w.rank == 0 ? hosts : ""},
      {"start_time", start_iso},
      {"command_line", cmd ? cmd : ""},
  };
  for (size_t i = 0; st == DD_OK && i < sizeof s / sizeof s[0]; i++)
    st = io_attr_write_string(f, grp, s[i].name, s[i].value);
  if (st == DD_OK) st = io_attr_write_int(f, grp, "n_ranks", f->w.size);
  if (st == DD_OK) st = env_attr(f, grp, "slurm_job_id", "SLURM_JOB_ID");
  if (st == DD_OK) st = env_attr(f, grp, "slurm_array_job_id", "SLURM_ARRAY_JOB_ID");
  if (st == DD_OK) st = env_attr(f, grp, "slurm_array_task_id", "SLURM_ARRAY_TASK_ID");
  if (st == DD_OK) st = env_attr(f, grp, "openblas_num_threads", "OPENBLAS_NUM_THREADS");
  free(hosts);
  free(cmd);
  if (st != DD_OK) return DD_CONTEXT(st, "provenance '%s'", grp);
  return DD_OK;
}

/* ---------------------------------------------------------------- stages */

/* The bookkeeping of a stage, and why.
 * - A file under its final name is always complete: the stage writes
 *   "<output>.tmp" and only io_stage_commit renames it, after a collective
 *   close and an fsync (io_file_commit).  A killed run leaves the previous
 *   <output> untouched and its .tmp beside it.
 * - The root attribute stage_in_progress = <name> marks the .tmp as
 *   unfinished.  Commit deletes it last, just before the rename, so a
 *   committed file never has it; an input file that has it is unfinished
 *   and refused, and io_stage_is_current never trusts it.
 * - config_hash is written twice: at the root of the .tmp, where it ties an
 *   unfinished file to the configuration that started it (resume refuses
 *   another one), and in /provenance/<name>, where io_stage_is_current reads
 *   it to skip a stage whose output is current.
 * - Resume reopens the .tmp as it is: nothing is carried over again and the
 *   first session's start_time stays; the resumed session's start becomes
 *   resumed_at at commit.  resume_verdict only accepts a .tmp of the same
 *   stage, configuration and shard, and, for a stage with work units, one
 *   whose up-front phase completed (no done-mask entry still holds its
 *   creation value 2; units.c), because before that its datasets may be
 *   half-created.  Any other .tmp is discarded with a warning and the stage
 *   starts afresh.
 * The verdict and every decision are taken from data every rank reads
 * identically (rank 0's broadcasts, the same file), so all ranks take the
 * same branch and the collective calls stay matched. */

static dd_status stage_check(const io_stage *s) {
  if (!s->name || !s->name[0] || strlen(s->name) >= IO_STAGE_NAME_MAX)
    return DD_FAIL(DD_ERR_ARG, "stage needs a name shorter than %d characters", IO_STAGE_NAME_MAX);
  for (const char *c = s->name; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
      return DD_FAIL(DD_ERR_ARG, "stage name '%s': use a-z, 0-9 and '_'", s->name);
  if (!s->output_path || !s->output_path[0])
    return DD_FAIL(DD_ERR_ARG, "stage '%s' has no output path", s->name);
  for (int i = 0; i < s->n_owned; i++) {
    const char *o = s->owned[i];
    if (!o || o[0] != '/' || strcmp(o, "/") == 0 || io_path_within("/config", o) ||
        io_path_within(o, "/provenance") || strlen(o) >= IO_PATH_MAX)
      return DD_FAIL(DD_ERR_ARG,
                     "stage '%s': owned path '%s' must be absolute, below '/', and not "
                     "/config or /provenance (io writes those)",
                     s->name, o ? o : "(null)");
  }
  if ((s->shard_count > 0) != (s->shard_index >= 0) ||
      (s->shard_count > 0 && s->shard_index >= s->shard_count))
    return DD_FAIL(DD_ERR_ARG, "stage '%s': shard %d of %d", s->name, s->shard_index,
                   s->shard_count);
  return DD_OK;
}

static dd_status stage_set(io_file *f, const io_stage *s, int resumed) {
  snprintf(f->stage, sizeof f->stage, "%s", s->name);
  f->t_start = dd_time_now();
  io_now_iso(&f->w, f->start_iso);
  f->resumed = resumed;
  f->owned = calloc((size_t)(s->n_owned > 0 ? s->n_owned : 1), sizeof *f->owned);
  if (!f->owned) return DD_FAIL(DD_ERR_NOMEM, "owned paths");
  for (int i = 0; i < s->n_owned; i++) {
    f->owned[i] = strdup(s->owned[i]);
    if (!f->owned[i]) return DD_FAIL(DD_ERR_NOMEM, "owned paths");
    f->n_owned = i + 1;
  }
  return DD_OK;
}

/* Why "<output>.tmp" cannot be resumed ("" when it can).  Every rank reads
 * the same file, so every rank reaches the same verdict. */
static void resume_verdict(io_file *f, const io_stage *s, char *why, size_t cap) {
  char hex[17], *v = NULL;
  why[0] = '\0';
  io_hash_hex(s->config_hash, hex);
  if (!io_attr_exists(f, "/", "format_version")) {
    snprintf(why, cap,
             "it is not a ddscan file (no root attribute format_version: empty, written by "
             "another program, or damaged)");
  } else if (io_attr_read_string(f, "/", "stage_in_progress", &v) != DD_OK) {
    snprintf(why, cap, "it records no unfinished stage");
  } else if (strcmp(v, s->name) != 0) {
    snprintf(why, cap, "it holds unfinished stage '%s', not '%s'", v, s->name);
  }
  free(v);
  v = NULL;
  if (!why[0] && (io_attr_read_string(f, "/", "config_hash", &v) != DD_OK || strcmp(v, hex) != 0))
    snprintf(why, cap, "it was started with another configuration (hash %s, now %s)",
             v ? v : "none", hex);
  free(v);
  if (!why[0]) {
    long long si = -1, sc = -1;
    if (io_attr_exists(f, "/", "shard_count")) {
      io_attr_read_int(f, "/", "shard_index", &si);
      io_attr_read_int(f, "/", "shard_count", &sc);
    }
    if (s->shard_count > 0 ? (si != s->shard_index || sc != s->shard_count) : sc > 0)
      snprintf(why, cap, "it belongs to another shard (%lld of %lld)", si, sc);
  }
  if (!why[0] && s->units_done) {
    void *buf = NULL;
    size_t es = 0;
    long long n = 0;
    if (!io_exists(f, s->units_done) ||
        io_read_raw(f, s->units_done, &buf, &es, &n, NULL, NULL) != DD_OK || es != 1) {
      snprintf(why, cap, "it has no work-unit mask '%s' (interrupted before the units began)",
               s->units_done);
    } else {
      const unsigned char *d = buf;
      for (long long i = 0; i < n; i++)
        if (d[i] > 1) {
          snprintf(why, cap, "its up-front phase was interrupted ('%s' never initialised)",
                   s->units_done);
          break;
        }
    }
    free(buf);
  }
  dd_error_clear();
}

/* H5Ovisit state: the first object of the input that the .tmp lacks. */
typedef struct carry_check {
  io_file *tmp;
  const io_stage *s;
  char missing[IO_PATH_MAX];
} carry_check;

static herr_t carry_cb(hid_t obj, const char *name, const H5O_info_t *info, void *data) {
  (void)obj;
  (void)info;
  carry_check *c = data;
  char path[IO_PATH_MAX];
  if (strcmp(name, ".") == 0) return 0;
  snprintf(path, sizeof path, "/%s", name);
  if (io_path_within(path, "/config") || io_path_within(path, "/provenance")) return 0;
  for (int i = 0; i < c->s->n_owned; i++)
    if (io_path_within(path, c->s->owned[i])) return 0;
  if (io_exists(c->tmp, path)) return 0;
  snprintf(c->missing, sizeof c->missing, "%s", path);
  return 1;
}

/* Why a .tmp cannot be resumed because it lacks what was carried over from
 * the input (a stage reads its inputs from its own .tmp, so a damaged copy
 * would fail the resume every time): "" when it holds every object of the
 * input outside the owned paths.  Structure only (no data is read), so it
 * costs a metadata walk; every rank reaches the same verdict. */
static void carried_verdict(const par_world *w, io_file *f, const io_stage *s, char *why,
                            size_t cap) {
  int have_input = 0;
  if (s->input_path && w->rank == 0) have_input = dd_path_exists(s->input_path);
  MPI_Bcast(&have_input, 1, MPI_INT, 0, w->comm);
  if (!have_input) return;
  io_file *in = NULL;
  if (io_file_open(w, s->input_path, IO_READ, &in) != DD_OK) {
    dd_error_clear();
    return; /* the input's own problem; the stage reports it when it reads it */
  }
  carry_check c = {f, s, ""};
  if (H5Ovisit2(in->fid, H5_INDEX_NAME, H5_ITER_INC, carry_cb, &c, H5O_INFO_BASIC) < 0)
    H5Eclear2(H5E_DEFAULT);
  if (c.missing[0])
    snprintf(why, cap, "it is damaged: '%.200s' (carried over from '%.240s') is missing", c.missing,
             s->input_path);
  io_file_close(&in);
  dd_error_clear();
}

dd_status io_stage_begin(const par_world *w, const io_stage *s, io_file **out, int *resumed) {
  *out = NULL;
  if (resumed) *resumed = 0;
  DD_TRY(stage_check(s), "starting a stage");
  par_watchdog_stage(s->name);
  char tmp[IO_FS_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", s->output_path);
  int tmp_exists = w->rank == 0 ? dd_path_exists(tmp) : 0;
  MPI_Bcast(&tmp_exists, 1, MPI_INT, 0, w->comm);
  io_file *f = NULL;
  dd_status st;

  if (s->resume && tmp_exists) {
    char why[512] = "";
    st = io_file_open_tmp(w, s->output_path, &f);
    if (st != DD_OK)
      snprintf(why, sizeof why, "%s", dd_error_message());
    else
      resume_verdict(f, s, why, sizeof why);
    if (st == DD_OK && !why[0]) carried_verdict(w, f, s, why, sizeof why);
    dd_error_clear();
    if (!why[0]) {
      DD_TRY(stage_set(f, s, 1), "resuming stage '%s'", s->name);
      if (resumed) *resumed = 1;
      dd_info("stage %s: resuming '%s'", s->name, tmp);
      *out = f;
      return DD_OK;
    }
    io_file_close(&f);
    dd_error_clear();
    if (w->rank == 0)
      dd_warn(
          "stage %s: cannot resume '%s': %s; discarding it and starting the stage again "
          "(delete it by hand to silence this)",
          s->name, tmp, why);
  } else if (s->resume) {
    dd_info("stage %s: nothing to resume ('%s' does not exist); starting it", s->name, tmp);
  } else if (tmp_exists && w->rank == 0) {
    dd_warn("stage %s: discarding the unfinished '%s' (use --resume to continue it)", s->name, tmp);
  }

  /* Fresh start. */
  char dir[IO_FS_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", s->output_path);
  char *slash = strrchr(dir, '/');
  st = DD_OK;
  if (slash && slash != dir) {
    *slash = '\0';
    if (w->rank == 0) st = dd_mkdir_p(dir);
  }
  DD_TRY(par_agree(w, st), "creating the directory of '%s'", s->output_path);
  DD_TRY(io_file_create(w, s->output_path, &f), "stage '%s'", s->name);
  st = stage_set(f, s, 0);

  int have_input = 0;
  if (s->input_path && w->rank == 0) have_input = dd_path_exists(s->input_path);
  MPI_Bcast(&have_input, 1, MPI_INT, 0, w->comm);
  if (st == DD_OK && have_input) {
    io_file *src = NULL;
    char prov[IO_PATH_MAX];
    snprintf(prov, sizeof prov, "/provenance/%s", s->name);
    const char **skip = calloc((size_t)s->n_owned + 2, sizeof *skip);
    if (!skip) st = DD_FAIL(DD_ERR_NOMEM, "skip list");
    if (st == DD_OK) {
      for (int i = 0; i < s->n_owned; i++) skip[i] = s->owned[i];
      skip[s->n_owned] = "/config";
      skip[s->n_owned + 1] = prov;
      st = io_file_open(w, s->input_path, IO_READ, &src);
    }
    if (st == DD_OK) st = io_copy(f, src, "/", skip, s->n_owned + 2);
    if (st == DD_OK && io_exists(src, "/") && io_attr_exists(src, "/", "stage_in_progress"))
      st = DD_FAIL(DD_ERR_IO, "'%s' is an unfinished file", s->input_path);
    dd_status st2 = io_file_close(&src);
    if (st == DD_OK) st = st2;
    free(skip);
    if (st != DD_OK) st = DD_CONTEXT(st, "carrying over '%s'", s->input_path);
  }
  char hex[17];
  io_hash_hex(s->config_hash, hex);
  if (st == DD_OK) st = io_attr_write_string(f, "/", "config_hash", hex);
  if (st == DD_OK) st = io_attr_write_string(f, "/", "stage_in_progress", s->name);
  if (st == DD_OK && s->shard_count > 0) {
    st = io_attr_write_int(f, "/", "shard_index", s->shard_index);
    if (st == DD_OK) st = io_attr_write_int(f, "/", "shard_count", s->shard_count);
  }
  if (st == DD_OK) st = io_group_create_raw(f, "/config");
  if (st == DD_OK)
    st = io_attr_write_string(f, "/config", "text", s->config_text ? s->config_text : "");
  if (st == DD_OK)
    st = io_attr_write_string(f, "/config", "description",
                              "resolved configuration (file + --set overrides + defaults) of "
                              "the latest stage, as libconfig text");
  if (st == DD_OK) st = io_attr_write_string(f, "/config", "stage", s->name);
  char grp[IO_PATH_MAX];
  snprintf(grp, sizeof grp, "/provenance/%s", s->name);
  if (st == DD_OK) st = io_group_create_raw(f, grp);
  if (st == DD_OK)
    st = io_attr_write_string(f, "/provenance", "description",
                              "how each stage was run: build, libraries, hosts, times, command "
                              "line (differs between runs; excluded from comparisons)");
  if (st == DD_OK) st = io_provenance_write(f, grp, f->start_iso, s->argc, s->argv);
  if (st == DD_OK) st = io_attr_write_string(f, grp, "config_hash", hex);
  if (st == DD_OK && s->shard_count > 0) {
    st = io_attr_write_int(f, grp, "shard_index", s->shard_index);
    if (st == DD_OK) st = io_attr_write_int(f, grp, "shard_count", s->shard_count);
  }
  if (st != DD_OK) {
    io_file_close(&f);
    return DD_CONTEXT(st, "starting stage '%s' in '%s'", s->name, tmp);
  }
  *out = f;
  return DD_OK;
}

void io_stage_started_at(io_file *f, double t) {
  if (f && t > 0.0 && t < f->t_start) f->t_start = t;
}

dd_status io_stage_commit(io_file **fp) {
  io_file *f = *fp;
  if (!f) return DD_FAIL(DD_ERR_ARG, "io_stage_commit: no file");
  if (!f->stage[0]) return io_file_commit(fp);
  char grp[IO_PATH_MAX], end[32];
  snprintf(grp, sizeof grp, "/provenance/%s", f->stage);
  io_now_iso(&f->w, end);
  /* Rank 0's clock is the one recorded (attribute writes broadcast it). */
  dd_status st = io_attr_write_double(f, grp, "wall_time_s", dd_time_now() - f->t_start);
  if (st == DD_OK) st = io_attr_write_string(f, grp, "end_time", end);
  if (st == DD_OK && f->resumed) {
    st = io_attr_write_string(f, grp, "resumed_at", f->start_iso);
    if (st == DD_OK) st = io_attr_write_int(f, grp, "resumed_n_ranks", f->w.size);
  }
  if (st == DD_OK) st = io_attr_write_int(f, "/", "n_ranks", f->w.size);
  if (st == DD_OK) st = io_attr_delete(f, "/", "stage_in_progress");
  if (st != DD_OK) {
    io_file_close(fp);
    return DD_CONTEXT(st, "committing stage '%s'", f->stage);
  }
  return io_file_commit(fp);
}

dd_status io_stage_is_current(const par_world *w, const char *path, const char *stage,
                              uint64_t hash, int *current) {
  *current = 0;
  int exists = w->rank == 0 ? dd_path_exists(path) : 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, w->comm);
  if (!exists) return DD_OK;
  io_file *f = NULL;
  DD_TRY(io_file_open(w, path, IO_READ, &f), "checking stage '%s'", stage);
  char grp[IO_PATH_MAX], hex[17];
  snprintf(grp, sizeof grp, "/provenance/%s", stage);
  io_hash_hex(hash, hex);
  char *v = NULL;
  if (!io_attr_exists(f, "/", "stage_in_progress") && io_attr_exists(f, grp, "config_hash") &&
      io_attr_read_string(f, grp, "config_hash", &v) == DD_OK)
    *current = strcmp(v, hex) == 0;
  free(v);
  return io_file_close(&f);
}
