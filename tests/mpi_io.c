/* mpi_io.c - the results file under mpirun -n 1..4: attributes, rows with
 * zero-row ranks, axes and scale checks, io_field tables, .tmp until commit,
 * stage chaining and ownership, copy/compare, in-process resume, shard
 * merge and its failure messages.  With arguments it is also the writer
 * used by tests/e2e/io_*.sh and tests/py/test_results_file.py:
 *   mpi_io demo DIR [--shard I/N] [--resume] [--slow MS]   two stages -> DIR
 *   mpi_io crash DIR K         scan stage: units 0..K-1 done, then SIGKILL
 *   mpi_io check-resume DIR K  resume: done mask is exactly 0..K-1, finish
 *   mpi_io merge OUT SHARD...  io_shards_merge
 *   mpi_io compare A B         same content outside /provenance (exit 0/1) */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "ddscan/core.h"
#include "ddscan/io.h"
#include "ddscan/par.h"

static par_world g_w;
static char g_dir[512]; /* shared scratch directory (rank 0's, broadcast) */

/* ------------------------------------------------------------------------ */
/* The demo pipeline: a "simulate" stage writing an event table and a       */
/* "scan" stage writing per-unit results.  Content depends only on indices. */
/* ------------------------------------------------------------------------ */

enum { N_EVENTS = 103, N_MASS = 3, N_SIGMA = 4, N_EXPO = 5, N_R = 6, N_METHOD = 2 };
static const double k_mass[N_MASS] = {10.0, 50.0, 500.0};
static const double k_sigma[N_SIGMA] = {1e-47, 1e-46, 1e-45, 1e-44};
static const double k_expo[N_EXPO] = {0.5, 1.0, 5.0, 10.0, 50.0};
static const double k_r[N_R] = {0.0, 50.0, 100.0, 170.0, 250.0, 300.0};
static const char *const k_methods[N_METHOD] = {"paper", "sound"};

typedef struct demo_event {
  double energy_kev;
  float pos_cm[3];
  int32_t pmt_hits[5];
  uint8_t cls;
  int64_t id;
} demo_event;

static const io_field k_event_fields[] = {
    {"energy_kev", IO_F64, 1, "keV", "recoil energy", offsetof(demo_event, energy_kev), NULL},
    {"pos_cm", IO_F32, 3, "cm", "interaction position (x, y, z)", offsetof(demo_event, pos_cm),
     "xyz"},
    {"pmt_hits", IO_I32, 5, "1", "photons detected per PMT", offsetof(demo_event, pmt_hits), "pmt"},
    {"cls", IO_U8, 1, "1", "class: 0 = ER, 1 = NR", offsetof(demo_event, cls), NULL},
    {"id", IO_I64, 1, "1", "event id", offsetof(demo_event, id), NULL},
};
enum { N_FIELDS = sizeof k_event_fields / sizeof k_event_fields[0] };

static void demo_event_make(long long i, demo_event *e) {
  dd_rng r = dd_rng_for(7, DD_STREAM_TEST, (uint32_t)i, 0, 0);
  memset(e, 0, sizeof *e);
  e->energy_kev = 1.0 + 49.0 * dd_rng_uniform(&r);
  for (int k = 0; k < 3; k++) e->pos_cm[k] = (float)(100.0 * dd_rng_uniform(&r) - 50.0);
  for (int k = 0; k < 5; k++) e->pmt_hits[k] = (int32_t)dd_rng_below(&r, 1000);
  e->cls = (uint8_t)(i % 2);
  e->id = 1000000 + i;
}

static char g_argv0[] = "mpi_io";
static char *g_argv[] = {g_argv0, NULL};

typedef struct demo_opts {
  int shard_i, shard_n; /* -1, -1: not a shard */
  int resume;
  long long crash_after; /* >= 0: units < crash_after done, then SIGKILL */
  long long expect_done; /* >= 0: on resume, the mask must be exactly 0..expect_done-1 */
  long long limit;       /* >= 0: do only this many of the todo units, then commit */
  int slow_ms;           /* sleep per unit (external-kill tests) */
  int print_units;       /* print "unit U done" per unit */
  int abandon;           /* close without commit after the units (interrupted run) */
  long long n_todo;      /* out: units left at the start */
  int resumed;           /* out */
} demo_opts;

static void demo_opts_init(demo_opts *o) {
  memset(o, 0, sizeof *o);
  o->shard_i = o->shard_n = -1;
  o->crash_after = o->expect_done = o->limit = -1;
}

static void results_path(const char *dir, char *buf, size_t cap) {
  io_results_path(dir, -1, -1, buf, cap);
}

static dd_status demo_simulate(const char *dir) {
  char path[1024];
  results_path(dir, path, sizeof path);
  const char *owned[] = {"/events"};
  io_stage s = {"simulate", owned, 1,  path, path, "demo = { events = 103; };\n", 0x1111, 1,
                g_argv,     -1,    -1, 0,    NULL};
  io_file *f = NULL;
  DD_TRY(io_stage_begin(&g_w, &s, &f, NULL), "demo simulate");
  long long first, count;
  io_rows_split(N_EVENTS, g_w.rank, g_w.size, &first, &count);
  demo_event *ev = calloc((size_t)(count > 0 ? count : 1), sizeof *ev);
  for (long long i = 0; i < count; i++) demo_event_make(first + i, &ev[i]);
  dd_status st = io_table_write(f, "/events", k_event_fields, N_FIELDS,
                                "event index in the demo bank", ev, sizeof *ev, count);
  free(ev);
  if (st != DD_OK) {
    io_file_close(&f);
    return st;
  }
  return io_stage_commit(&f);
}

/* The demo's "physics": a deterministic function of the indices. */
static double demo_p(int m, int im, int is, int ie, int ir, double sum_e) {
  double t = k_expo[ie] * (k_sigma[is] / 1e-46) * (1.0 + k_r[ir] / 100.0) * (1.0 + m) /
             (k_mass[im] / 50.0) * sum_e / 2600.0;
  return exp(-t);
}

typedef struct unit_ctx {
  io_units *u;
  double sum_e;
  demo_opts *o;
} unit_ctx;

static dd_status demo_unit(void *ctx, long long unit) {
  unit_ctx *c = ctx;
  long long idx[2];
  io_units_index(c->u, unit, idx);
  int im = (int)idx[0], ir = (int)idx[1];
  double p[N_METHOD * N_SIGMA * N_EXPO], z[N_METHOD * N_SIGMA * N_EXPO];
  for (int m = 0; m < N_METHOD; m++)
    for (int is = 0; is < N_SIGMA; is++)
      for (int ie = 0; ie < N_EXPO; ie++) {
        int k = (m * N_SIGMA + is) * N_EXPO + ie;
        p[k] = demo_p(m, im, is, ie, ir, c->sum_e);
        z[k] = sqrt(-2.0 * log(p[k] > 1e-300 ? p[k] : 1e-300));
      }
  int64_t n_ev = (int64_t)(im + 1) * (ir + 1) * N_EVENTS;
  if (c->o->slow_ms > 0) {
    struct timespec ts = {0, (long)c->o->slow_ms * 1000000L};
    nanosleep(&ts, NULL);
  }
  DD_TRY(io_unit_write(c->u, 0, unit, IO_F64, p), "unit %lld", unit);
  DD_TRY(io_unit_write(c->u, 1, unit, IO_F64, z), "unit %lld", unit);
  DD_TRY(io_unit_write(c->u, 2, unit, IO_I64, &n_ev), "unit %lld", unit);
  DD_TRY(io_unit_done(c->u, unit), "unit %lld", unit);
  if (c->o->print_units) {
    printf("unit %lld done on rank %d\n", unit, g_w.rank);
    fflush(stdout);
  }
  return DD_OK;
}

static const char *const k_unit_axes[] = {"/axes/mass_gev", "/axes/r"};
static const char *const k_unit_ds[] = {"/scan/p_value", "/scan/z", "/scan/n_events"};

/* Checks a resumed file before continuing: done == [u < K] and the done
 * units' data are the expected values, the others still NaN. */
static dd_status check_partial(io_file *f, long long k, double sum_e) {
  unsigned char done[N_MASS * N_R];
  static double p[N_METHOD][N_MASS][N_SIGMA][N_EXPO][N_R];
  DD_TRY(io_read_all(f, "/scan/done", IO_U8, done), "check");
  DD_TRY(io_read_all(f, "/scan/p_value", IO_F64, p), "check");
  for (long long u = 0; u < N_MASS * N_R; u++) {
    if (done[u] != (u < k))
      return DD_FAIL(DD_ERR_INTERNAL, "unit %lld: done = %d after the crash, expected %d", u,
                     done[u], u < k);
    int im = (int)(u / N_R), ir = (int)(u % N_R);
    for (int m = 0; m < N_METHOD; m++)
      for (int is = 0; is < N_SIGMA; is++)
        for (int ie = 0; ie < N_EXPO; ie++) {
          double v = p[m][im][is][ie][ir];
          if (u < k ? v != demo_p(m, im, is, ie, ir, sum_e) : !isnan(v))
            return DD_FAIL(DD_ERR_INTERNAL, "unit %lld: p_value %g after the crash", u, v);
        }
  }
  return DD_OK;
}

static dd_status demo_scan(const char *dir, demo_opts *o) {
  char in[1024], out[1024];
  results_path(dir, in, sizeof in);
  io_results_path(dir, o->shard_i, o->shard_n, out, sizeof out);
  const char *owned[] = {"/axes", "/scan"};
  io_stage s = {"scan",      owned, 2,      in,         out,        "demo = { scan = true; };\n",
                0x2222,      1,     g_argv, o->shard_i, o->shard_n, o->resume,
                "/scan/done"};
  io_file *f = NULL;
  DD_TRY(io_stage_begin(&g_w, &s, &f, &o->resumed), "demo scan");
  dd_status st = DD_OK;
  /* Up front: axes, every dataset, non-unit data (all no-ops on resume). */
  long long d5[5] = {N_METHOD, N_MASS, N_SIGMA, N_EXPO, N_R}, d2[2] = {N_MASS, N_R};
  const char *ax5[5] = {"/axes/analysis", "/axes/mass_gev", "/axes/sigma_cm2", "/axes/exposure_ty",
                        "/axes/r"};
  st = io_axis_write(f, "/axes/mass_gev", IO_F64, N_MASS, k_mass, "GeV/c^2", "WIMP mass");
  if (st == DD_OK)
    st = io_axis_write(f, "/axes/sigma_cm2", IO_F64, N_SIGMA, k_sigma, "cm^2",
                       "SI WIMP-nucleon cross-section");
  if (st == DD_OK)
    st = io_axis_write(f, "/axes/exposure_ty", IO_F64, N_EXPO, k_expo, "t*y", "exposure");
  if (st == DD_OK) st = io_axis_write(f, "/axes/r", IO_F64, N_R, k_r, "1", "supervision weight R");
  if (st == DD_OK)
    st = io_axis_write_labels(f, "/axes/analysis", N_METHOD, k_methods, "statistical method");
  if (st == DD_OK)
    st = io_dataset_create(f, "/scan/p_value", IO_F64, 5, d5, ax5, "1", "discovery p-value");
  if (st == DD_OK) st = io_dataset_create(f, "/scan/z", IO_F64, 5, d5, ax5, "1", "significance Z");
  const char *ax2[2] = {"/axes/mass_gev", "/axes/r"};
  if (st == DD_OK)
    st = io_dataset_create(f, "/scan/n_events", IO_I64, 2, d2, ax2, "1", "events used");
  const char *ax1[1] = {"/axes/mass_gev"};
  long long d1 = N_MASS;
  if (st == DD_OK)
    st = io_dataset_create(f, "/scan/mass_weight", IO_F64, 1, &d1, ax1, "1", "per-mass weight");
  double mw[N_MASS];
  for (int i = 0; i < N_MASS; i++) mw[i] = 1.0 / k_mass[i];
  if (st == DD_OK) st = io_write_root(f, "/scan/mass_weight", IO_F64, g_w.rank == 0 ? mw : NULL);
  /* The scan reads what the previous stage wrote. */
  double e[N_EVENTS], sum_e = 0;
  if (st == DD_OK) st = io_read_all(f, "/events/energy_kev", IO_F64, e);
  for (int i = 0; i < N_EVENTS; i++) sum_e += e[i];
  if (st == DD_OK && o->resumed && o->expect_done >= 0)
    st = check_partial(f, o->expect_done, sum_e);
  st = par_agree(&g_w, st);
  io_units *u = NULL;
  long long *todo = NULL, n_todo = 0;
  if (st == DD_OK)
    st = io_units_begin(f, "/scan/done", 2, k_unit_axes, 3, k_unit_ds,
                        o->shard_n > 0 ? o->shard_i : 0, o->shard_n > 0 ? o->shard_n : 1, &u, &todo,
                        &n_todo);
  o->n_todo = n_todo;
  unit_ctx c = {u, sum_e, o};
  if (st == DD_OK && o->crash_after >= 0) {
    /* Deterministic crash: a static set of units, then every rank dies. */
    for (long long i = 0; i < n_todo && st == DD_OK; i++)
      if (todo[i] < o->crash_after && todo[i] % g_w.size == g_w.rank) st = demo_unit(&c, todo[i]);
    MPI_Barrier(g_w.comm);
    if (g_w.rank == 0) {
      printf("crash: %lld units done, SIGKILL now\n", o->crash_after);
      fflush(stdout);
    }
    MPI_Barrier(g_w.comm);
    raise(SIGKILL);
  }
  if (st == DD_OK && o->limit >= 0 && o->limit < n_todo) n_todo = o->limit;
  if (st == DD_OK) st = par_dispatch(&g_w, n_todo, todo, demo_unit, &c);
  free(todo);
  long long n_done = 0;
  if (u) {
    dd_status st2 = io_units_end(&u, &n_done);
    if (st == DD_OK) st = st2;
  }
  if (st != DD_OK || o->abandon) {
    io_file_close(&f);
    return st;
  }
  return io_stage_commit(&f);
}

/* ------------------------------------------------------------------------ */
/* Test helpers                                                             */
/* ------------------------------------------------------------------------ */

static int rank0_exists(const char *path) {
  int e = g_w.rank == 0 ? dd_path_exists(path) : 0;
  MPI_Bcast(&e, 1, MPI_INT, 0, g_w.comm);
  return e;
}

static void sub_dir(const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s", g_dir, name);
  if (g_w.rank == 0) dd_mkdir_p(buf);
  MPI_Barrier(g_w.comm);
}

#define ASSERT_OK(expr)                                                                        \
  do {                                                                                         \
    dd_status st_ = (expr);                                                                    \
    if (st_ != DD_OK) fail_msg("%s failed on rank %d: %s", #expr, g_w.rank, dd_error_chain()); \
  } while (0)

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

static void test_create_commit_attrs(void **state) {
  (void)state;
  char path[1024], tmp[1100];
  snprintf(path, sizeof path, "%s/attrs.h5", g_dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  io_file *f = NULL;
  ASSERT_OK(io_file_create(&g_w, path, &f));
  /* nothing under the final name until commit */
  assert_false(rank0_exists(path));
  assert_true(rank0_exists(tmp));
  assert_string_equal(io_file_disk_path(f), tmp);
  const char *utf8 = "\xcf\x83 = 1e-45 cm\xc2\xb2"; /* "σ = 1e-45 cm²" */
  ASSERT_OK(io_group_create(f, "/a/b"));
  ASSERT_OK(io_attr_write_string(f, "/a/b", "label", utf8));
  ASSERT_OK(io_attr_write_double(f, "/a", "confidence_level", 0.9));
  ASSERT_OK(io_attr_write_int(f, "/", "answer", 42));
  double arr[3] = {1.5, -2.0, 1e-300};
  ASSERT_OK(io_attr_write_doubles(f, "/a", "band", arr, 3));
  /* replace with a different value, then write the same value again */
  ASSERT_OK(io_attr_write_string(f, "/a/b", "label", "second"));
  ASSERT_OK(io_attr_write_string(f, "/a/b", "label", "second"));
  ASSERT_OK(io_file_commit(&f));
  assert_null(f);
  assert_true(rank0_exists(path));
  assert_false(rank0_exists(tmp));

  ASSERT_OK(io_file_open(&g_w, path, IO_READ, &f));
  long long v;
  double x;
  char *s = NULL;
  ASSERT_OK(io_attr_read_int(f, "/", "format_version", &v));
  assert_int_equal(v, IO_FORMAT_VERSION);
  ASSERT_OK(io_attr_read_int(f, "/", "n_ranks", &v));
  assert_int_equal(v, g_w.size);
  ASSERT_OK(io_attr_read_int(f, "/", "answer", &v));
  assert_int_equal(v, 42);
  ASSERT_OK(io_attr_read_double(f, "/a", "confidence_level", &x));
  assert_true(x == 0.9);
  ASSERT_OK(io_attr_read_string(f, "/a/b", "label", &s));
  assert_string_equal(s, "second");
  free(s);
  ASSERT_OK(io_attr_read_string(f, "/", "created", &s));
  assert_int_equal(strlen(s), 20); /* 2024-01-02T03:04:05Z */
  assert_int_equal(s[19], 'Z');
  free(s);
  assert_true(io_exists(f, "/a/b"));
  assert_false(io_exists(f, "/a/c/d"));
  assert_true(io_attr_exists(f, "/a", "band"));
  assert_false(io_attr_exists(f, "/nowhere", "band"));
  dd_error_clear();
  assert_int_equal(io_attr_read_string(f, "/a", "missing", &s), DD_ERR_HDF5);
  assert_error_contains("has no attribute 'missing'");
  dd_error_clear();
  ASSERT_OK(io_file_close(&f));
  /* a missing file and a file that is not HDF5 */
  dd_error_clear();
  assert_int_equal(io_file_open(&g_w, "/nonexistent/x.h5", IO_READ, &f), DD_ERR_IO);
  assert_error_contains("/nonexistent/x.h5");
  char junk[1024];
  snprintf(junk, sizeof junk, "%s/junk.h5", g_dir);
  if (g_w.rank == 0) dd_write_file_atomic(junk, "not hdf5\n", 9);
  MPI_Barrier(g_w.comm);
  dd_error_clear();
  assert_int_equal(io_file_open(&g_w, junk, IO_READ, &f), DD_ERR_HDF5);
  assert_error_contains("not an HDF5 file, truncated, or damaged");
  dd_error_clear();
}

/* rank r holds rows_of(r) rows: 2, 0, 4, 0, ... (zero-row ranks take part) */
static long long rows_of(int r) {
  return r % 2 ? 0 : r + 2;
}

static void test_rows_slabs_zero_ranks(void **state) {
  (void)state;
  char path[1024];
  snprintf(path, sizeof path, "%s/rows.h5", g_dir);
  io_file *f = NULL;
  ASSERT_OK(io_file_create(&g_w, path, &f));
  long long total = 0, first = 0;
  for (int r = 0; r < g_w.size; r++) {
    if (r < g_w.rank) first += rows_of(r);
    total += rows_of(r);
  }
  long long n = rows_of(g_w.rank);
  double rowax[64], colax[3] = {0, 1, 2};
  for (long long i = 0; i < total; i++) rowax[i] = (double)i;
  ASSERT_OK(io_axis_write(f, "/ax/row", IO_F64, total, rowax, "1", "row"));
  ASSERT_OK(io_axis_write(f, "/ax/col", IO_F64, 3, colax, "1", "column"));
  const char *axes[2] = {"/ax/row", "/ax/col"};
  long long dims[2] = {total, 3};
  ASSERT_OK(io_dataset_create(f, "/d/x", IO_F64, 2, dims, axes, "keV", "test rows"));
  double buf[64 * 3];
  for (long long i = 0; i < n; i++)
    for (int c = 0; c < 3; c++) buf[i * 3 + c] = 10.0 * (double)(first + i) + c;
  ASSERT_OK(io_write_rows(f, "/d/x", IO_F64, n, n ? buf : NULL));
  /* the ranks must hold exactly dims[0] rows */
  dd_error_clear();
  assert_int_equal(io_write_rows(f, "/d/x", IO_F64, n + 1, buf), DD_ERR_ARG);
  assert_error_contains("rows but the ranks hold");
  dd_error_clear();
  /* read back everything on every rank, and a per-rank slab */
  double all[64 * 3];
  ASSERT_OK(io_read_all(f, "/d/x", IO_F64, all));
  for (long long i = 0; i < total; i++)
    for (int c = 0; c < 3; c++) assert_true(all[i * 3 + c] == 10.0 * (double)i + c);
  long long st0[2] = {total - 1 - (g_w.rank % total), 1}, ct0[2] = {1, 2};
  double two[2];
  ASSERT_OK(io_read_slab(f, "/d/x", IO_F64, st0, ct0, two));
  assert_true(two[0] == 10.0 * (double)st0[0] + 1 && two[1] == 10.0 * (double)st0[0] + 2);
  /* an out-of-range box on one rank is an error on every rank, not a hang */
  long long bad[2] = {g_w.rank == g_w.size - 1 ? total : 0, 0}, one[2] = {1, 1};
  dd_error_clear();
  assert_int_not_equal(io_read_slab(f, "/d/x", IO_F64, bad, one, two), DD_OK);
  dd_error_clear();
  /* whole-dataset write from rank 0, float32 memory into a float64 dataset */
  long long d1 = 3;
  const char *ax1[1] = {"/ax/col"};
  ASSERT_OK(io_dataset_create(f, "/d/y", IO_F64, 1, &d1, ax1, "1", "from rank 0"));
  float y[3] = {0.5f, 1.5f, 2.5f};
  ASSERT_OK(io_write_root(f, "/d/y", IO_F32, g_w.rank == 0 ? y : NULL));
  double yy[3];
  ASSERT_OK(io_read_all(f, "/d/y", IO_F64, yy));
  assert_true(yy[0] == 0.5 && yy[2] == 2.5);
  /* one box per rank: rank r writes column r % 3 of row 0 when r < 3 */
  long long d2[2] = {total, 3};
  ASSERT_OK(io_dataset_create(f, "/d/z", IO_I32, 2, d2, axes, "1", "boxes"));
  long long bs[2] = {0, g_w.rank % 3}, bc[2] = {g_w.rank < 3 ? 1 : 0, 1};
  int32_t val = 100 + g_w.rank;
  ASSERT_OK(io_write_slab(f, "/d/z", IO_I32, bs, bc, &val));
  int32_t z[64 * 3];
  ASSERT_OK(io_read_all(f, "/d/z", IO_I32, z));
  for (int c = 0; c < 3; c++) assert_int_equal(z[c], c < g_w.size ? 100 + c : 0);
  /* unwritten float elements read as NaN (the fill value) */
  ASSERT_OK(io_dataset_create(f, "/d/unwritten", IO_F32, 1, &d1, ax1, "1", "never written"));
  float un[3];
  ASSERT_OK(io_read_all(f, "/d/unwritten", IO_F32, un));
  assert_true(isnan(un[0]) && isnan(un[2]));
  ASSERT_OK(io_file_commit(&f));
}

static void test_dataset_axis_checks(void **state) {
  (void)state;
  char path[1024];
  snprintf(path, sizeof path, "%s/axes.h5", g_dir);
  io_file *f = NULL;
  ASSERT_OK(io_file_create(&g_w, path, &f));
  double a[4] = {1, 2, 3, 4};
  ASSERT_OK(io_axis_write(f, "/axes/a", IO_F64, 4, a, "GeV", "axis a"));
  ASSERT_OK(io_axis_write(f, "/axes/a", IO_F64, 4, a, "GeV", "axis a")); /* same: no-op */
  double a2[4] = {1, 2, 3, 5};
  dd_error_clear();
  assert_int_equal(io_axis_write(f, "/axes/a", IO_F64, 4, a2, "GeV", "axis a"), DD_ERR_HDF5);
  assert_error_contains("exists in");
  dd_error_clear();
  const char *ax[2] = {"/axes/a", "/axes/a"};
  long long dims[2] = {4, 4};
  ASSERT_OK(io_dataset_create(f, "/g/sq", IO_F64, 2, dims, ax, "1", "square"));
  ASSERT_OK(io_dataset_create(f, "/g/sq", IO_F64, 2, dims, ax, "1", "square")); /* no-op */
  char *sc = NULL;
  /* The axis lives in /axes: the dataset attaches a copy in its own group. */
  ASSERT_OK(io_dataset_scale(f, "/g/sq", 1, &sc));
  assert_string_equal(sc, "/g/a");
  free(sc);
  ASSERT_OK(io_attr_read_string(f, "/g/a", "NAME", &sc));
  assert_string_equal(sc, "a");
  free(sc);
  ASSERT_OK(io_attr_read_string(f, "/g/a", "units", &sc));
  assert_string_equal(sc, "GeV");
  free(sc);
  double got[4];
  ASSERT_OK(io_read_all(f, "/g/a", IO_F64, got));
  assert_memory_equal(got, a, sizeof got);
  /* A dataset of the axis's name in the group that is not a copy of it is refused. */
  const char *ax1[1] = {"/axes/a"};
  long long d4[1] = {4};
  ASSERT_OK(io_dataset_create(f, "/h/x", IO_F64, 1, d4, ax1, "1", "x"));
  ASSERT_OK(io_axis_write(f, "/k/a", IO_F64, 4, a2, "GeV", "another a"));
  dd_error_clear();
  assert_int_equal(io_dataset_create(f, "/k/y", IO_F64, 1, d4, ax1, "1", "y"), DD_ERR_HDF5);
  assert_error_contains("is not a copy of the axis '/axes/a'");
  dd_error_clear();
  /* Label axes are variable-length strings, copied likewise. */
  const char *labels[2] = {"paper", "sound"};
  ASSERT_OK(io_axis_write_labels(f, "/axes/analysis", 2, labels, "method"));
  ASSERT_OK(io_axis_write_labels(f, "/axes/analysis", 2, labels, "method")); /* no-op */
  const char *other_labels[2] = {"paper", "toys"};
  assert_int_equal(io_axis_write_labels(f, "/axes/analysis", 2, other_labels, "method"),
                   DD_ERR_HDF5);
  assert_error_contains("other labels");
  dd_error_clear();
  const char *axl[1] = {"/axes/analysis"};
  long long d2l[1] = {2};
  ASSERT_OK(io_dataset_create(f, "/g/by_analysis", IO_F64, 1, d2l, axl, "1", "x"));
  char **s = NULL;
  long long ns = 0;
  ASSERT_OK(io_read_strings(f, "/g/analysis", &s, &ns));
  assert_int_equal(ns, 2);
  assert_string_equal(s[1], "sound");
  io_strings_free(s, ns);
  long long bad[2] = {4, 3};
  dd_error_clear();
  assert_int_equal(io_dataset_create(f, "/g/bad", IO_F64, 2, bad, ax, "1", "x"), DD_ERR_ARG);
  assert_error_contains("axis '/axes/a' has 4 points but dimension 1 has 3");
  dd_error_clear();
  const char *missing[2] = {"/axes/a", "/axes/zz"};
  assert_int_equal(io_dataset_create(f, "/g/bad", IO_F64, 2, dims, missing, "1", "x"), DD_ERR_ARG);
  assert_error_contains("axis '/axes/zz' (dimension 1) does not exist");
  dd_error_clear();
  long long other[2] = {4, 4};
  assert_int_equal(io_dataset_create(f, "/g/sq", IO_F32, 2, other, ax, "1", "x"), DD_ERR_HDF5);
  assert_error_contains("another element type");
  dd_error_clear();
  ASSERT_OK(io_file_commit(&f));
}

static void test_table_roundtrip(void **state) {
  (void)state;
  char path[1024];
  snprintf(path, sizeof path, "%s/table.h5", g_dir);
  io_file *f = NULL;
  ASSERT_OK(io_file_create(&g_w, path, &f));
  /* uneven split with zero-row ranks */
  long long first = 0, n = rows_of(g_w.rank), total = 0;
  for (int r = 0; r < g_w.size; r++) {
    if (r < g_w.rank) first += rows_of(r);
    total += rows_of(r);
  }
  demo_event ev[8];
  for (long long i = 0; i < n; i++) demo_event_make(first + i, &ev[i]);
  ASSERT_OK(
      io_table_write(f, "/bank/er", k_event_fields, N_FIELDS, "event index", ev, sizeof ev[0], n));
  long long len;
  ASSERT_OK(io_table_length(f, "/bank/er", k_event_fields, N_FIELDS, &len));
  assert_int_equal(len, total);
  demo_event back[16], ref;
  memset(back, 0, sizeof back);
  ASSERT_OK(io_table_read(f, "/bank/er", k_event_fields, N_FIELDS, 0, total, back, sizeof back[0]));
  for (long long i = 0; i < total; i++) {
    demo_event_make(i, &ref);
    assert_memory_equal(&back[i], &ref, sizeof ref);
  }
  /* the row axis and column axes are dimension scales; fields are described */
  int64_t idx[16];
  ASSERT_OK(io_read_all(f, "/bank/er/index", IO_I64, idx));
  for (long long i = 0; i < total; i++) assert_int_equal(idx[i], i);
  char *s = NULL;
  ASSERT_OK(io_dataset_scale(f, "/bank/er/pmt_hits", 1, &s));
  assert_string_equal(s, "/bank/er/pmt");
  free(s);
  ASSERT_OK(io_attr_read_string(f, "/bank/er/pos_cm", "units", &s));
  assert_string_equal(s, "cm");
  free(s);
  /* a table with no rows at all */
  ASSERT_OK(io_table_write(f, "/bank/empty", k_event_fields, N_FIELDS, "event index", NULL,
                           sizeof ev[0], 0));
  ASSERT_OK(io_table_length(f, "/bank/empty", k_event_fields, N_FIELDS, &len));
  assert_int_equal(len, 0);
  ASSERT_OK(io_table_read(f, "/bank/empty", k_event_fields, N_FIELDS, 0, 0, NULL, sizeof ev[0]));
  /* bad tables */
  io_field dup[2] = {k_event_fields[0], k_event_fields[0]};
  dd_error_clear();
  assert_int_equal(io_table_write(f, "/bank/x", dup, 2, "i", ev, sizeof ev[0], n), DD_ERR_ARG);
  assert_error_contains("appears twice");
  dd_error_clear();
  assert_int_equal(
      io_table_read(f, "/bank/er", k_event_fields, N_FIELDS, total, 1, back, sizeof back[0]),
      DD_ERR_ARG);
  dd_error_clear();
  /* the Markdown description names every field with its units */
  char *md = NULL;
  size_t mdlen = 0;
  FILE *mf = open_memstream(&md, &mdlen);
  io_table_describe(mf, "/bank/er", k_event_fields, N_FIELDS);
  fclose(mf);
  assert_non_null(strstr(md, "| `/bank/er/pos_cm` | [n][3] (index, xyz) | float32 | cm |"));
  free(md);
  ASSERT_OK(io_file_commit(&f));
}

static void test_stage_chain(void **state) {
  (void)state;
  char dir[600], path[1024], tmp[1100];
  sub_dir("chain", dir, sizeof dir);
  results_path(dir, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  ASSERT_OK(demo_simulate(dir));
  demo_opts o;
  demo_opts_init(&o);
  ASSERT_OK(demo_scan(dir, &o));
  assert_int_equal(o.n_todo, N_MASS * N_R);
  assert_false(o.resumed);
  assert_false(rank0_exists(tmp));
  io_file *f = NULL;
  ASSERT_OK(io_file_open(&g_w, path, IO_READ, &f));
  assert_true(io_exists(f, "/events/energy_kev"));
  assert_true(io_exists(f, "/provenance/simulate"));
  assert_true(io_exists(f, "/provenance/scan"));
  assert_false(io_attr_exists(f, "/", "stage_in_progress"));
  char *s = NULL;
  ASSERT_OK(io_attr_read_string(f, "/config", "stage", &s));
  assert_string_equal(s, "scan");
  free(s);
  ASSERT_OK(io_attr_read_string(f, "/provenance/scan", "mpi_library_version", &s));
  assert_true(strlen(s) > 3);
  free(s);
  long long v;
  ASSERT_OK(io_attr_read_int(f, "/provenance/simulate", "n_ranks", &v));
  assert_int_equal(v, g_w.size);
  unsigned char done[N_MASS * N_R];
  ASSERT_OK(io_read_all(f, "/scan/done", IO_U8, done));
  for (int i = 0; i < N_MASS * N_R; i++) assert_int_equal(done[i], 1);
  int cur = 0;
  ASSERT_OK(io_stage_is_current(&g_w, path, "scan", 0x2222, &cur));
  assert_true(cur);
  ASSERT_OK(io_stage_is_current(&g_w, path, "scan", 0x2223, &cur));
  assert_false(cur);

  /* Re-running an earlier stage replaces its own group only. */
  char copy[1024];
  snprintf(copy, sizeof copy, "%s/before.h5", dir);
  io_file *c = NULL;
  ASSERT_OK(io_file_create(&g_w, copy, &c));
  ASSERT_OK(io_copy(c, f, "/", NULL, 0));
  ASSERT_OK(io_file_commit(&c));
  ASSERT_OK(io_file_close(&f));
  ASSERT_OK(demo_simulate(dir));
  ASSERT_OK(io_file_open(&g_w, path, IO_READ, &f));
  ASSERT_OK(io_file_open(&g_w, copy, IO_READ, &c));
  int equal = 0;
  char diff[512];
  const char *skip[] = {"/provenance/simulate", "/config"}; /* /config: the latest stage's */
  ASSERT_OK(io_compare(f, c, "/", skip, 2, &equal, diff, sizeof diff));
  if (!equal) fail_msg("re-running a stage changed other content: %s", diff);
  ASSERT_OK(io_file_close(&c));
  ASSERT_OK(io_file_close(&f));

  /* While a stage runs, the final name keeps the previous complete file. */
  const char *owned[] = {"/events"};
  io_stage s2 = {"simulate", owned, 1, path, path, "x", 0x1111, 1, g_argv, -1, -1, 0, NULL};
  ASSERT_OK(io_stage_begin(&g_w, &s2, &f, NULL));
  assert_true(rank0_exists(tmp));
  assert_false(io_exists(f, "/events")); /* owned: starts empty */
  assert_true(io_exists(f, "/scan/p_value"));
  /* a stage writes only inside what it owns */
  double a[2] = {1, 2};
  dd_error_clear();
  assert_int_equal(io_axis_write(f, "/scan/intruder", IO_F64, 2, a, "1", "x"), DD_ERR_ARG);
  assert_error_contains("outside the paths it owns");
  dd_error_clear();
  const char *foreign[1] = {"/axes/mass_gev"};
  long long d1 = N_MASS;
  assert_int_equal(io_dataset_create(f, "/events/m", IO_F64, 1, &d1, foreign, "1", "x"),
                   DD_ERR_ARG);
  assert_error_contains("dimension scale '/axes/mass_gev'");
  dd_error_clear();
  ASSERT_OK(io_file_close(&f)); /* abandoned: the .tmp stays, the final file is intact */
  assert_true(rank0_exists(tmp));
  ASSERT_OK(io_file_open(&g_w, path, IO_READ, &f));
  assert_true(io_exists(f, "/events/energy_kev"));
  ASSERT_OK(io_file_close(&f));
}

static void test_copy_compare(void **state) {
  (void)state;
  char dir[600], a[1024], b[1024];
  sub_dir("cmp", dir, sizeof dir);
  ASSERT_OK(demo_simulate(dir));
  demo_opts o;
  demo_opts_init(&o);
  ASSERT_OK(demo_scan(dir, &o));
  results_path(dir, a, sizeof a);
  snprintf(b, sizeof b, "%s/copy.h5", dir);
  io_file *fa = NULL, *fb = NULL;
  ASSERT_OK(io_file_open(&g_w, a, IO_READ, &fa));
  ASSERT_OK(io_file_create(&g_w, b, &fb));
  ASSERT_OK(io_copy(fb, fa, "/", NULL, 0));
  int equal = 0;
  char diff[512];
  ASSERT_OK(io_compare(fa, fb, "/", NULL, 0, &equal, diff, sizeof diff));
  if (!equal) fail_msg("copy differs: %s", diff);
  char **list = NULL;
  int n = 0;
  ASSERT_OK(io_list_datasets(fb, "/scan", &list, &n));
  assert_int_equal(n, 10); /* 5 datasets and their 5 group-local axes */
  assert_string_equal(list[0], "/scan/analysis");
  assert_string_equal(list[1], "/scan/done");
  io_list_free(list, n);
  ASSERT_OK(io_list_attrs(fb, "/scan/done", &list, &n));
  int has_units = 0;
  for (int i = 0; i < n; i++) has_units |= strcmp(list[i], "units") == 0;
  assert_true(has_units);
  io_list_free(list, n);
  /* change one element and one attribute: both are found */
  /* every rank writes the same element: boxes may coincide only with equal values */
  long long st[5] = {1, 2, 3, 4, 5}, ct[5] = {1, 1, 1, 1, 1};
  double x = 0.25;
  ASSERT_OK(io_write_slab(fb, "/scan/p_value", IO_F64, st, ct, &x));
  ASSERT_OK(io_compare(fa, fb, "/", NULL, 0, &equal, diff, sizeof diff));
  assert_false(equal);
  long long elem = (((1LL * N_MASS + 2) * N_SIGMA + 3) * N_EXPO + 4) * N_R + 5;
  char want[128];
  snprintf(want, sizeof want, "/scan/p_value: data differ at element %lld", elem);
  assert_string_equal(diff, want);
  const char *skip[] = {"/scan/p_value"};
  ASSERT_OK(io_attr_write_string(fb, "/scan/z", "units", "sigma"));
  ASSERT_OK(io_compare(fa, fb, "/", skip, 1, &equal, diff, sizeof diff));
  assert_false(equal);
  assert_string_equal(diff, "/scan/z: attribute 'units' differs");
  ASSERT_OK(io_file_commit(&fb));
  ASSERT_OK(io_file_close(&fa));
}

static void test_resume_in_process(void **state) {
  (void)state;
  char dir[600], ref_dir[600], path[1024], tmp[1100], ref[1024];
  sub_dir("resume", dir, sizeof dir);
  sub_dir("resume_ref", ref_dir, sizeof ref_dir);
  results_path(dir, path, sizeof path);
  results_path(ref_dir, ref, sizeof ref);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  ASSERT_OK(demo_simulate(ref_dir));
  demo_opts o;
  demo_opts_init(&o);
  ASSERT_OK(demo_scan(ref_dir, &o));

  /* interrupted during the up-front phase: resume starts the stage again */
  ASSERT_OK(demo_simulate(dir));
  const char *owned[] = {"/axes", "/scan"};
  io_stage s = {"scan", owned, 2,  path, path,        "demo = { scan = true; };\n", 0x2222, 1,
                g_argv, -1,    -1, 0,    "/scan/done"};
  io_file *f = NULL;
  ASSERT_OK(io_stage_begin(&g_w, &s, &f, NULL));
  ASSERT_OK(io_file_close(&f));
  demo_opts_init(&o);
  o.resume = 1;
  o.limit = 7;
  o.abandon = 1; /* 7 units, then stop without commit */
  ASSERT_OK(demo_scan(dir, &o));
  assert_false(o.resumed);
  assert_int_equal(o.n_todo, N_MASS * N_R);
  assert_true(rank0_exists(tmp));

  /* a resumed scan finds exactly units 0..6 done, redoes the other 11 */
  demo_opts_init(&o);
  o.resume = 1;
  o.expect_done = 7;
  ASSERT_OK(demo_scan(dir, &o));
  assert_true(o.resumed);
  assert_int_equal(o.n_todo, N_MASS * N_R - 7);
  assert_false(rank0_exists(tmp));
  io_file *r = NULL;
  ASSERT_OK(io_file_open(&g_w, path, IO_READ, &f));
  ASSERT_OK(io_file_open(&g_w, ref, IO_READ, &r));
  int equal = 0;
  char diff[512];
  const char *skip[] = {"/provenance"};
  ASSERT_OK(io_compare(f, r, "/", skip, 1, &equal, diff, sizeof diff));
  if (!equal) fail_msg("resumed run differs from an uninterrupted one: %s", diff);
  char *v = NULL;
  ASSERT_OK(io_attr_read_string(f, "/provenance/scan", "resumed_at", &v));
  free(v);
  ASSERT_OK(io_file_close(&r));
  ASSERT_OK(io_file_close(&f));

  /* --resume with nothing to resume, and a .tmp without --resume: fresh runs */
  demo_opts_init(&o);
  o.resume = 1;
  ASSERT_OK(demo_scan(dir, &o));
  assert_false(o.resumed);
  assert_int_equal(o.n_todo, N_MASS * N_R);
}

static void test_merge(void **state) {
  (void)state;
  char dir[600], ref_dir[600];
  sub_dir("merge", dir, sizeof dir);
  sub_dir("merge_ref", ref_dir, sizeof ref_dir);
  ASSERT_OK(demo_simulate(dir));
  ASSERT_OK(demo_simulate(ref_dir));
  demo_opts o;
  demo_opts_init(&o);
  ASSERT_OK(demo_scan(ref_dir, &o));
  enum { N = 3 };
  char shard[N][1024];
  const char *shards[N];
  for (int i = 0; i < N; i++) {
    demo_opts_init(&o);
    o.shard_i = i;
    o.shard_n = N;
    ASSERT_OK(demo_scan(dir, &o));
    assert_int_equal(o.n_todo, (N_MASS * N_R - i + N - 1) / N);
    io_results_path(dir, i, N, shard[i], sizeof shard[i]);
    shards[i] = shard[i];
  }
  char out[1024], ref[1024];
  snprintf(out, sizeof out, "%s/merged.h5", dir);
  results_path(ref_dir, ref, sizeof ref);
  const char *rev[N] = {shards[2], shards[0], shards[1]}; /* any order */
  for (int pass = 0; pass < 2; pass++)                    /* idempotent */
    ASSERT_OK(io_shards_merge(&g_w, out, rev, N, "/scan/done", 1, g_argv, NULL, NULL));
  io_file *a = NULL, *b = NULL;
  ASSERT_OK(io_file_open(&g_w, out, IO_READ, &a));
  ASSERT_OK(io_file_open(&g_w, ref, IO_READ, &b));
  int equal = 0;
  char diff[512];
  const char *skip[] = {"/provenance"};
  ASSERT_OK(io_compare(a, b, "/", skip, 1, &equal, diff, sizeof diff));
  if (!equal) fail_msg("merged file differs from a single run: %s", diff);
  assert_false(io_attr_exists(a, "/", "shard_index"));
  assert_true(io_exists(a, "/provenance/merge"));
  ASSERT_OK(io_file_close(&a));
  ASSERT_OK(io_file_close(&b));

  /* failures name the culprit */
  dd_error_clear();
  const char *two[2] = {shards[0], shards[2]};
  assert_int_equal(io_shards_merge(&g_w, out, two, 2, "/scan/done", 1, g_argv, NULL, NULL),
                   DD_ERR_IO);
  assert_error_contains("missing shard 1 of 3");
  dd_error_clear();
  const char *dup[3] = {shards[0], shards[1], shards[1]};
  assert_int_equal(io_shards_merge(&g_w, out, dup, 3, "/scan/done", 1, g_argv, NULL, NULL),
                   DD_ERR_IO);
  assert_error_contains("are both shard 1 of 3");
  dd_error_clear();
  const char *notshard[3] = {shards[0], shards[1], ref};
  assert_int_not_equal(io_shards_merge(&g_w, out, notshard, 3, "/scan/done", 1, g_argv, NULL, NULL),
                       DD_OK);
  assert_error_contains("is not a shard file");
  dd_error_clear();
  /* a truncated shard */
  char trunc[1024];
  snprintf(trunc, sizeof trunc, "%s/truncated.h5", dir);
  if (g_w.rank == 0) {
    char *bytes = NULL;
    size_t nb = 0;
    ASSERT_OK(dd_read_file(shards[1], &bytes, &nb));
    ASSERT_OK(dd_write_file_atomic(trunc, bytes, nb / 2));
    free(bytes);
  }
  MPI_Barrier(g_w.comm);
  const char *tr[3] = {shards[0], trunc, shards[2]};
  assert_int_not_equal(io_shards_merge(&g_w, out, tr, 3, "/scan/done", 1, g_argv, NULL, NULL),
                       DD_OK);
  assert_error_contains("truncated.h5");
  dd_error_clear();
  /* an unfinished shard (a limited run) and one from another configuration */
  char dir2[600], inc[1024];
  sub_dir("merge_inc", dir2, sizeof dir2);
  ASSERT_OK(demo_simulate(dir2));
  demo_opts_init(&o);
  o.shard_i = 1;
  o.shard_n = N;
  o.limit = 2;
  ASSERT_OK(demo_scan(dir2, &o));
  io_results_path(dir2, 1, N, inc, sizeof inc);
  const char *in3[3] = {shards[0], inc, shards[2]};
  assert_int_equal(io_shards_merge(&g_w, out, in3, 3, "/scan/done", 1, g_argv, NULL, NULL),
                   DD_ERR_IO);
  assert_error_contains("did not finish 4 of its units");
  dd_error_clear();
  /* the output still holds the good merge */
  assert_true(rank0_exists(out));
}

/* ------------------------------------------------------------------------ */
/* Command-line modes for the e2e and Python tests                          */
/* ------------------------------------------------------------------------ */

static int report(dd_status st, const char *what) {
  if (st == DD_OK) return 0;
  int first = par_first_failing_rank(&g_w);
  if (first == g_w.rank || (first == g_w.size && g_w.rank == 0)) {
    fprintf(stderr, "mpi_io %s: ", what);
    dd_error_print(stderr, g_w.rank);
  }
  return 1;
}

static int run_mode(int argc, char **argv) {
  const char *mode = argv[1];
  if (strcmp(mode, "demo") == 0 && argc >= 3) {
    demo_opts o;
    demo_opts_init(&o);
    for (int i = 3; i < argc; i++) {
      if (strcmp(argv[i], "--resume") == 0)
        o.resume = 1;
      else if (strcmp(argv[i], "--shard") == 0 && i + 1 < argc)
        sscanf(argv[++i], "%d/%d", &o.shard_i, &o.shard_n);
      else if (strcmp(argv[i], "--slow") == 0 && i + 1 < argc) {
        o.slow_ms = atoi(argv[++i]);
        o.print_units = 1;
      }
    }
    char path[1024];
    results_path(argv[2], path, sizeof path);
    dd_status st = DD_OK;
    /* the first stage runs only when its output is missing (stage skipping) */
    int cur = 0;
    st = io_stage_is_current(&g_w, path, "simulate", 0x1111, &cur);
    if (st == DD_OK && !cur) st = demo_simulate(argv[2]);
    if (st == DD_OK) st = demo_scan(argv[2], &o);
    if (st == DD_OK && g_w.rank == 0)
      printf("demo: %s, %lld units to do at start\n", o.resumed ? "resumed" : "fresh", o.n_todo);
    return report(st, "demo");
  }
  if (strcmp(mode, "crash") == 0 && argc == 4) {
    demo_opts o;
    demo_opts_init(&o);
    o.crash_after = atoll(argv[3]);
    dd_status st = demo_simulate(argv[2]);
    if (st == DD_OK) st = demo_scan(argv[2], &o);
    return report(st == DD_OK ? DD_FAIL(DD_ERR_INTERNAL, "did not crash") : st, "crash");
  }
  if (strcmp(mode, "check-resume") == 0 && argc == 4) {
    demo_opts o;
    demo_opts_init(&o);
    o.resume = 1;
    o.expect_done = atoll(argv[3]);
    dd_status st = demo_scan(argv[2], &o);
    if (st == DD_OK && !o.resumed) st = DD_FAIL(DD_ERR_INTERNAL, "the .tmp was not resumed");
    if (st == DD_OK && o.n_todo != N_MASS * N_R - o.expect_done)
      st = DD_FAIL(DD_ERR_INTERNAL, "%lld units to redo, expected %lld", o.n_todo,
                   N_MASS * N_R - o.expect_done);
    if (st == DD_OK && g_w.rank == 0)
      printf("check-resume: exactly %lld units were done; redid %lld\n", o.expect_done, o.n_todo);
    return report(st, "check-resume");
  }
  if (strcmp(mode, "merge") == 0 && argc >= 4) {
    dd_status st = io_shards_merge(&g_w, argv[2], (const char *const *)argv + 3, argc - 3,
                                   "/scan/done", argc, argv, NULL, NULL);
    return report(st, "merge");
  }
  if (strcmp(mode, "compare") == 0 && argc == 4) {
    io_file *a = NULL, *b = NULL;
    int equal = 0;
    char diff[600] = "";
    const char *skip[] = {"/provenance"};
    dd_status st = io_file_open(&g_w, argv[2], IO_READ, &a);
    if (st == DD_OK) st = io_file_open(&g_w, argv[3], IO_READ, &b);
    if (st == DD_OK) st = io_compare(a, b, "/", skip, 1, &equal, diff, sizeof diff);
    io_file_close(&a);
    io_file_close(&b);
    if (st != DD_OK) return report(st, "compare");
    if (!equal && g_w.rank == 0) fprintf(stderr, "mpi_io compare: %s\n", diff);
    return equal ? 0 : 1;
  }
  if (g_w.rank == 0) fprintf(stderr, "mpi_io: unknown mode or arguments\n");
  return 2;
}

static int rm_tree(const char *path) {
  char cmd[1200];
  /* g_dir is our own scratch directory under $TMPDIR or /tmp. */
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  return system(cmd);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  par_world_init(&g_w, MPI_COMM_WORLD);
  dd_log_init(g_w.rank, g_w.size, DD_LOG_QUIET);
  int rc;
  if (argc > 1) {
    rc = run_mode(argc, argv);
  } else {
    if (g_w.rank == 0) snprintf(g_dir, sizeof g_dir, "%s", test_tmpdir());
    MPI_Bcast(g_dir, sizeof g_dir, MPI_CHAR, 0, g_w.comm);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_commit_attrs), cmocka_unit_test(test_rows_slabs_zero_ranks),
        cmocka_unit_test(test_dataset_axis_checks), cmocka_unit_test(test_table_roundtrip),
        cmocka_unit_test(test_stage_chain),         cmocka_unit_test(test_copy_compare),
        cmocka_unit_test(test_resume_in_process),   cmocka_unit_test(test_merge),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Allreduce(&failed, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Barrier(g_w.comm);
    if (g_w.rank == 0 && rc == 0) rm_tree(g_dir);
  }
  int any = 0;
  MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any ? 1 : 0;
}
