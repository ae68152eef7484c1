/* mpi_detector.c - determinism across rank counts (run under mpirun -n 1..4):
 * each rank simulates and renders a strided subset of the ER and NR events,
 * and a contiguous block through det_events_simulate; the per-event hashes of
 * the record and image bytes, combined in index order, must equal those of
 * the whole set computed by one process, whatever the number of ranks. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "ddscan/core.h"
#include "ddscan/detector.h"
#include "ddscan/image.h"

#define N_EV 48 /* events per class */

static int g_rank, g_size;
static det_model g_m;
static img_renderer g_r;
static float g_img[IMG_SIZE];

static uint64_t event_hash(const det_event *ev) {
  img_render(&g_r, ev, g_img);
  uint64_t h = dd_hash_bytes(DD_HASH_INIT, ev, sizeof *ev);
  return dd_hash_bytes(h, g_img, sizeof g_img);
}

static dd_status energy_setup(int cls, det_energy_fn *fn, void **ctx) {
  static det_energy_flat_ctx er = {0.0, 15.0};
  static det_energy_exp_ctx nr = {1.0, 100.0, 20.0};
  *fn = cls == DET_ER ? det_energy_flat : det_energy_exponential;
  *ctx = cls == DET_ER ? (void *)&er : (void *)&nr;
  return DD_OK;
}

/* hashes of all events by this rank alone (the reference) */
static void serial_hashes(int cls, uint64_t *h) {
  det_energy_fn fn;
  void *ctx;
  energy_setup(cls, &fn, &ctx);
  det_event ev;
  for (int i = 0; i < N_EV; i++) {
    assert_int_equal(det_event_sample(&g_m, cls, 2021, (uint64_t)i, fn, ctx, &ev), DD_OK);
    h[i] = event_hash(&ev);
  }
}

static void test_strided_equals_serial(void **state) {
  (void)state;
  for (int cls = 0; cls < 2; cls++) {
    uint64_t mine[N_EV], all[N_EV], ref[N_EV];
    memset(mine, 0, sizeof mine);
    det_energy_fn fn;
    void *ctx;
    energy_setup(cls, &fn, &ctx);
    det_event ev;
    for (int i = g_rank; i < N_EV; i += g_size) {
      assert_int_equal(det_event_sample(&g_m, cls, 2021, (uint64_t)i, fn, ctx, &ev), DD_OK);
      mine[i] = event_hash(&ev);
    }
    /* each index is filled by exactly one rank: an integer sum gathers them */
    MPI_Allreduce(mine, all, N_EV, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    serial_hashes(cls, ref);
    assert_memory_equal(all, ref, sizeof ref);
    uint64_t combined = dd_hash_bytes(DD_HASH_INIT, all, sizeof all);
    if (g_rank == 0)
      print_message("  %s: combined hash of %d records and images %016llx (np=%d)\n",
                    cls ? "NR" : "ER", N_EV, (unsigned long long)combined, g_size);
    /* every rank agrees on it */
    uint64_t lo = combined, hi = combined;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    assert_true(lo == hi);
  }
}

/* a static block split through the bank helper gives the same records */
static void test_blocks_equal_serial(void **state) {
  (void)state;
  uint64_t per = (N_EV + (uint64_t)g_size - 1) / (uint64_t)g_size;
  uint64_t first = per * (uint64_t)g_rank;
  uint64_t count = first >= N_EV ? 0 : (first + per > N_EV ? N_EV - first : per);
  det_event *ev = calloc(per ? per : 1, sizeof *ev);
  assert_non_null(ev);
  uint64_t mine[N_EV], all[N_EV], ref[N_EV], draws = 0, draws_all = 0;
  memset(mine, 0, sizeof mine);
  det_energy_fn fn;
  void *ctx;
  energy_setup(DET_NR, &fn, &ctx);
  assert_int_equal(det_events_simulate(&g_m, DET_NR, 2021, first, count, fn, ctx, ev, &draws),
                   DD_OK);
  for (uint64_t i = 0; i < count; i++) mine[first + i] = event_hash(&ev[i]);
  MPI_Allreduce(mine, all, N_EV, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&draws, &draws_all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  serial_hashes(DET_NR, ref);
  assert_memory_equal(all, ref, sizeof ref);
  /* the total number of draws of the bank (reweighting) is rank-independent */
  det_event one;
  uint64_t serial_draws = 0;
  for (int i = 0; i < N_EV; i++) {
    det_event_sample(&g_m, DET_NR, 2021, (uint64_t)i, fn, ctx, &one);
    serial_draws += one.attempts;
  }
  assert_int_equal(draws_all, serial_draws);
  free(ev);
}

static int setup(void **state) {
  (void)state;
  det_params p;
  det_params_preset(&p, DET_PRESET_XENT_SR0);
  img_params ip;
  img_params_default(&ip);
  if (det_model_init(&g_m, &p, 1) != DD_OK) return -1;
  return img_renderer_init(&g_r, &ip, &g_m) == DD_OK ? 0 : -1;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strided_equals_serial),
      cmocka_unit_test(test_blocks_equal_serial),
  };
  int rc = cmocka_run_group_tests(tests, setup, NULL);
  /* every rank fails if any does */
  int any = 0;
  MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any ? 1 : 0;
}
