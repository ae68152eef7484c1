/* mpi_events.c - the events file under mpirun -n 1..4: simulated events
 * written by every rank's block and read back by every rank render to
 * exactly the same images (physics and paxlike modes) as the simulated
 * records, with the same cS1/cS2; a file for another layout, a NaN area, a
 * negative cS1 and a missing version are refused with a message naming the
 * dataset and the row. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "ddscan/core.h"
#include "ddscan/detector.h"
#include "ddscan/events.h"
#include "ddscan/image.h"
#include "ddscan/io.h"
#include "ddscan/par.h"

enum { N_ER = 37, N_NR = 23, N_EV = N_ER + N_NR };

static par_world g_w;
static char g_dir[512];
static det_model *g_det;
static det_event *g_ev; /* (N_EV) every rank all events */

static void simulate_all(void) {
  det_params p;
  det_params_preset(&p, DET_PRESET_XENT_SR0);
  g_det = calloc(1, sizeof *g_det);
  g_ev = calloc(N_EV, sizeof *g_ev);
  if (!g_det || !g_ev || det_model_init(g_det, &p, 11) != DD_OK) abort();
  det_energy_flat_ctx er = {1.0, 10.0}, nr = {5.0, 40.0};
  if (det_events_simulate(g_det, DET_ER, 11, 0, N_ER, det_energy_flat, &er, g_ev, NULL) != DD_OK ||
      det_events_simulate(g_det, DET_NR, 11, 0, N_NR, det_energy_flat, &nr, g_ev + N_ER, NULL) !=
          DD_OK)
    abort();
  for (int i = 0; i < N_EV; i++) g_ev[i].cls = i < N_ER ? DET_ER : DET_NR;
}

/* Writes the events (each rank its block, optionally spoiled by `spoil`)
 * to DIR/name. */
static void write_file(const char *name, void (*spoil)(ev_record *r, long long g), char *path,
                       size_t cap) {
  snprintf(path, cap, "%s/%s", g_dir, name);
  long long first, cnt;
  io_rows_split(N_EV, g_w.rank, g_w.size, &first, &cnt);
  ev_record *rows = calloc((size_t)(cnt > 0 ? cnt : 1), sizeof *rows);
  assert_non_null(rows);
  for (long long i = 0; i < cnt; i++) {
    ev_record_from_event(&g_ev[first + i], g_ev[first + i].cls, &rows[i]);
    if (spoil) spoil(&rows[i], first + i);
  }
  io_file *f = NULL;
  assert_int_equal(ev_file_write(&g_w, path, g_det, rows, cnt, &f), DD_OK);
  assert_int_equal(io_attr_write_double(f, "/", "exposure_ty", 1.5), DD_OK);
  assert_int_equal(io_file_commit(&f), DD_OK);
  free(rows);
}

static void test_roundtrip_render(void **state) {
  (void)state;
  char path[700];
  write_file("ok.h5", NULL, path, sizeof path);
  io_file *f = NULL;
  ev_info info;
  assert_int_equal(ev_file_open(&g_w, path, g_det, &f, &info), DD_OK);
  assert_int_equal(info.n, N_EV);
  assert_int_equal(info.version, EV_FORMAT_VERSION);
  assert_true(info.has_images && info.has_id && info.has_truth[0] && info.has_truth[2]);
  assert_string_equal(info.layout, "xent");
  assert_int_equal(info.n_top, g_det->arr[DET_TOP].n);
  ev_record *rows = calloc(N_EV, sizeof *rows);
  assert_non_null(rows);
  /* every rank reads every row (overlapping reads) */
  assert_int_equal(ev_file_read(f, &info, 0, N_EV, rows), DD_OK);
  assert_int_equal(io_file_close(&f), DD_OK);
  img_renderer *r = calloc(1, sizeof *r);
  float *a = malloc(sizeof(float) * IMG_SIZE), *b = malloc(sizeof(float) * IMG_SIZE);
  assert_true(r && a && b);
  for (int mode = 0; mode < 2; mode++) {
    img_params ip;
    img_params_default(&ip);
    ip.mode = mode;
    assert_int_equal(img_renderer_init(r, &ip, g_det), DD_OK);
    for (int i = 0; i < N_EV; i++) {
      det_event ev;
      ev_record_to_event(&rows[i], info.n_top, info.n_bottom, &ev);
      assert_int_equal(ev.index, g_ev[i].index);
      assert_true(ev.cs1_pe == g_ev[i].cs1_pe && ev.cs2_pe == g_ev[i].cs2_pe);
      assert_int_equal(rows[i].truth_class, i < N_ER ? DET_ER : DET_NR);
      img_render(r, &g_ev[i], a);
      img_render(r, &ev, b);
      if (memcmp(a, b, sizeof(float) * IMG_SIZE) != 0)
        fail_msg("event %d: the image from the file differs from the simulated event's (mode %d)",
                 i, mode);
    }
  }
  free(r);
  free(a);
  free(b);
  free(rows);
}

static void spoil_nan(ev_record *r, long long g) {
  if (g == 41) r->s2_area_top[3] = NAN;
}
static void spoil_cs1(ev_record *r, long long g) {
  if (g == 7) r->cs1_pe = -2.0;
}

/* Opens and reads every row; expects DD_ERR_ARG whose message has needle. */
static void expect_refused(const char *path, const det_model *det, const char *needle) {
  io_file *f = NULL;
  ev_info info;
  dd_status st = ev_file_open(&g_w, path, det, &f, &info);
  if (st == DD_OK) {
    long long first, cnt;
    io_rows_split(info.n, g_w.rank, g_w.size, &first, &cnt);
    ev_record *rows = calloc(N_EV, sizeof *rows);
    st = ev_file_read(f, &info, first, cnt, rows);
    free(rows);
    io_file_close(&f);
  }
  assert_int_equal(st, DD_ERR_ARG);
  /* par_agree: the failing rank has the message, the others a pointer to it */
  int mine = strstr(dd_error_message(), needle) != NULL, any = 0;
  MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, g_w.comm);
  if (!any) fail_msg("no rank reported '%s' (rank %d: %s)", needle, g_w.rank, dd_error_message());
  dd_error_clear();
}

static void test_bad_values(void **state) {
  (void)state;
  char path[700];
  write_file("nan.h5", spoil_nan, path, sizeof path);
  expect_refused(path, g_det, "dataset /events/s2_area_top row 41 column 3 is NaN");
  write_file("neg.h5", spoil_cs1, path, sizeof path);
  expect_refused(path, g_det, "dataset /events/cs1 row 7");
}

static void test_wrong_layout(void **state) {
  (void)state;
  char path[700];
  write_file("layout.h5", NULL, path, sizeof path);
  det_params p;
  det_params_preset(&p, DET_PRESET_X1T_PAX);
  det_model *x1t = calloc(1, sizeof *x1t);
  assert_non_null(x1t);
  assert_int_equal(det_model_init(x1t, &p, 11), DD_OK);
  expect_refused(path, x1t, "layout 'xent' (253 top, 241 bottom PMTs), but the configuration");
  free(x1t);
  /* not an events file at all: a results-like file without the version */
  snprintf(path, sizeof path, "%s/plain.h5", g_dir);
  io_file *f = NULL;
  assert_int_equal(io_file_create(&g_w, path, &f), DD_OK);
  assert_int_equal(io_file_commit(&f), DD_OK);
  expect_refused(path, g_det, "ddscan_events_version is missing");
  snprintf(path, sizeof path, "%s/absent.h5", g_dir);
  expect_refused(path, g_det, "does not exist");
}

static void rm_tree(const char *path) {
  char cmd[1200];
  /* g_dir is our own scratch directory under $TMPDIR or /tmp */
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", path);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  par_world_init(&g_w, MPI_COMM_WORLD);
  dd_log_init(g_w.rank, g_w.size, DD_LOG_QUIET);
  if (g_w.rank == 0) snprintf(g_dir, sizeof g_dir, "%s", test_tmpdir());
  MPI_Bcast(g_dir, sizeof g_dir, MPI_CHAR, 0, g_w.comm);
  simulate_all();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_render),
      cmocka_unit_test(test_bad_values),
      cmocka_unit_test(test_wrong_layout),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL), rc = 0;
  MPI_Allreduce(&failed, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Barrier(g_w.comm);
  if (g_w.rank == 0 && rc == 0) rm_tree(g_dir);
  free(g_det);
  free(g_ev);
  MPI_Finalize();
  return rc ? 1 : 0;
}
