/* mpi_par.c - the MPI layer under mpirun -n 1..4: config-text broadcast,
 * status agreement, and the dispatcher handing out every item exactly once
 * (also from a list, and stopping cleanly on a failure).  With arguments,
 * fault modes for tests/e2e/faults_ranks.sh (each ends in MPI_Abort):
 *   mpi_par stranded DIR  rank 1 fails on its own and leaves while the others
 *                         wait for it in a broadcast (the watchdog's meeting
 *                         must end the job, naming rank 1's error);
 *   mpi_par nomem DIR     rank 1 runs out of memory while the others wait. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "ddscan/core.h"
#include "ddscan/par.h"

static par_world g_w;

static void test_bcast_string(void **state) {
  (void)state;
  char *s = NULL;
  char big[100001];
  if (g_w.rank == 0) {
    for (int i = 0; i < 100000; i++) big[i] = (char)('a' + i % 26);
    big[100000] = '\0';
    s = big;
  }
  assert_int_equal(par_bcast_string(&g_w, &s), DD_OK);
  assert_int_equal(strlen(s), 100000);
  assert_int_equal(s[99999], 'a' + 99999 % 26);
  if (g_w.rank != 0) free(s);
}

static void test_read_file(void **state) {
  (void)state;
  char *text = NULL;
  dd_error_clear();
  dd_status st = par_read_and_bcast_file(&g_w, "/nonexistent/ddscan.cfg", &text);
  assert_int_equal(st, DD_ERR_IO); /* every rank fails the same way */
  assert_null(text);
  assert_error_contains("/nonexistent/ddscan.cfg");
  dd_error_clear();
  const char *root = getenv("DDSCAN_ROOT");
  char path[1024];
  snprintf(path, sizeof path, "%s/configs/tiny.cfg", root ? root : ".");
  assert_int_equal(par_read_and_bcast_file(&g_w, path, &text), DD_OK);
  assert_non_null(strstr(text, "tiny"));
  free(text);
}

static void test_agree(void **state) {
  (void)state;
  dd_error_clear();
  assert_int_equal(par_agree(&g_w, DD_OK), DD_OK);
  /* the last rank fails locally; everyone learns it */
  dd_status local = DD_OK;
  if (g_w.rank == g_w.size - 1) local = DD_FAIL(DD_ERR_IO, "disk full on rank %d", g_w.rank);
  dd_status st = par_agree(&g_w, local);
  assert_int_equal(st, DD_ERR_IO);
  if (g_w.rank == g_w.size - 1) {
    assert_true(par_error_is_local());
  } else {
    assert_false(par_error_is_local());
    assert_error_contains("failed");
  }
  assert_int_equal(par_first_failing_rank(&g_w), g_w.size - 1);
  dd_error_clear();
  assert_int_equal(par_first_failing_rank(&g_w), g_w.size);
}

typedef struct {
  int *seen; /* seen[i] = number of times this rank processed item i */
  long long fail_at;
} work_ctx;

static dd_status work(void *ctx, long long index) {
  work_ctx *c = ctx;
  c->seen[index]++;
  if (index == c->fail_at) return DD_FAIL(DD_ERR_NUMERIC, "item %lld failed", index);
  return DD_OK;
}

static void test_dispatch_all_once(void **state) {
  (void)state;
  enum { N = 57 };
  int seen[N] = {0}, total[N] = {0};
  work_ctx c = {seen, -1};
  assert_int_equal(par_dispatch(&g_w, N, NULL, work, &c), DD_OK);
  MPI_Allreduce(seen, total, N, MPI_INT, MPI_SUM, g_w.comm);
  for (int i = 0; i < N; i++) assert_int_equal(total[i], 1);
  /* a list of items (resume: only the unfinished ones) */
  memset(seen, 0, sizeof seen);
  long long items[] = {3, 5, 8, 13, 21, 34};
  assert_int_equal(par_dispatch(&g_w, 6, items, work, &c), DD_OK);
  MPI_Allreduce(seen, total, N, MPI_INT, MPI_SUM, g_w.comm);
  int count = 0;
  for (int i = 0; i < N; i++) count += total[i];
  assert_int_equal(count, 6);
  for (int k = 0; k < 6; k++) assert_int_equal(total[items[k]], 1);
  /* zero items */
  assert_int_equal(par_dispatch(&g_w, 0, NULL, work, &c), DD_OK);
}

static void test_dispatch_failure(void **state) {
  (void)state;
  enum { N = 40 };
  int seen[N] = {0}, total[N] = {0};
  work_ctx c = {seen, 7};
  dd_error_clear();
  assert_int_equal(par_dispatch(&g_w, N, NULL, work, &c), DD_ERR_NUMERIC);
  MPI_Allreduce(seen, total, N, MPI_INT, MPI_SUM, g_w.comm);
  assert_int_equal(total[7], 1);
  for (int i = 0; i < N; i++) assert_true(total[i] <= 1);
  assert_int_equal(par_first_failing_rank(&g_w) < g_w.size, 1);
  dd_error_clear();
}

static void abort_job(int code) {
  MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
}

/* The fault modes: rank 1 leaves the others waiting in a broadcast. */
static int fault_mode(const char *mode, const char *dir) {
  dd_set_panic_handler(abort_job);
  if (par_watchdog_start(&g_w, dir, "run", 3.0) != DD_OK) {
    dd_error_print(stderr, g_w.rank);
    return 1;
  }
  int x = 0;
  if (g_w.rank == 1) {
    if (strcmp(mode, "nomem") == 0) {
      void *p = NULL;
      dd_calloc(&p, (size_t)1 << 62, 4, "a buffer no machine has");
      free(p);
    }
    (void)DD_FAIL(DD_ERR_IO, "injected read error on rank 1 ('%s/input.h5')", dir);
  } else {
    MPI_Bcast(&x, 1, MPI_INT, 1, g_w.comm); /* rank 1 never sends */
  }
  par_watchdog_stop();
  dd_error_print(stderr, g_w.rank);
  return 0; /* reaching this is the failure the e2e test looks for */
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  par_world_init(&g_w, MPI_COMM_WORLD);
  dd_log_init(g_w.rank, g_w.size, DD_LOG_QUIET);
  if (argc == 3) {
    int rc = fault_mode(argv[1], argv[2]);
    MPI_Finalize();
    return rc;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bcast_string),
      cmocka_unit_test(test_read_file),
      cmocka_unit_test(test_agree),
      cmocka_unit_test(test_dispatch_all_once),
      cmocka_unit_test(test_dispatch_failure),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any ? 1 : 0;
}
