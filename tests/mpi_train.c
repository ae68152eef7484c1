/* mpi_train.c - the data-parallel trainer under mpirun -n 1..4, on small
 * networks and a few dozen simulated events:
 *  1. np invariance: training on all ranks gives the losses and parameters
 *     of a single process (MPI_COMM_SELF) training the same global batches,
 *     bitwise at np 1 and within a stated tolerance otherwise;
 *  2. a run stopped after epoch k and resumed from its checkpoint equals the
 *     uninterrupted run bitwise (same np), and a single process resuming the
 *     parallel run's checkpoint lands within tolerance of it (other np);
 *  3. reuse, restart and every refusal of a checkpoint, naming the file;
 *  4. the parameter checksum stops a run whose ranks diverged;
 *  5. evaluation results are bitwise independent of the rank count. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#include "ddscan/core.h"
#include "ddscan/detector.h"
#include "ddscan/image.h"
#include "ddscan/nn.h"
#include "ddscan/par.h"
#include "ddscan/train.h"

#define N_EV 48    /* events per class */
#define N_TRAIN 32 /* per class; the rest is the test split */
#define BATCH 10   /* global minibatch: 32 = 3 x 10 + 2, a short last batch */
#define EPOCHS 3

/* Tolerance of a parallel run against the single-process one (np > 1):
 * the gradient sums differ in rounding (float, order of the ranks), and Adam
 * divides each gradient by its running RMS.  Seen at np 2-4 after 12-21
 * steps: losses within 7e-8 relative, parameters within 6e-8 (Adam steps
 * are 1e-3); the bounds leave a factor of 100 or more. */
#define LOSS_RTOL 1e-5
#define PARAM_ATOL 1e-5

static const char *k_nn_cfg =
    "nn = {\n"
    "  cvae = {\n"
    "    encoder = ( { type = \"conv2d\"; filters = 4; kernel = 3; stride = 3; padding = "
    "\"same\"; act = \"leaky_relu\"; },\n"
    "                { type = \"maxpool\"; size = 5; }, { type = \"flatten\"; } );\n"
    "    latent = 8;\n"
    "    decoder = ( { type = \"dense\"; units = 100; act = \"leaky_relu\"; },\n"
    "                { type = \"reshape\"; shape = [4, 5, 5]; },\n"
    "                { type = \"conv2d_transpose\"; filters = 4; kernel = 5; stride = 5; padding = "
    "\"same\"; act = \"leaky_relu\"; },\n"
    "                { type = \"conv2d_transpose\"; filters = 3; kernel = 3; stride = 3; padding = "
    "\"same\"; act = \"sigmoid\"; } );\n"
    "  };\n"
    "  cnn = { layers = ( { type = \"conv2d\"; filters = 4; kernel = 3; stride = 3; padding = "
    "\"same\"; act = \"leaky_relu\"; },\n"
    "                     { type = \"maxpool\"; size = 5; }, { type = \"flatten\"; },\n"
    "                     { type = \"dense\"; units = 1; } ); };\n"
    "};\n";

static int g_rank, g_size;
static par_world g_world, g_self;
static nn_params g_nn;
static det_model g_det;
static img_renderer g_rend;
static det_event g_er[N_EV], g_nr[N_EV];
static train_set g_cvae_train, g_cvae_test, g_cvae_test_nr, g_cnn_train, g_cnn_test;
static char g_dir[256]; /* shared scratch directory (rank 0 made it) */

static train_job job_for(int cnn, const char *ckpt, const char *hist) {
  train_job j;
  memset(&j, 0, sizeof j);
  j.name = cnn ? "cnn" : "cvae";
  j.arch = cnn ? &g_nn.cnn : &g_nn.cvae;
  j.renderer = &g_rend;
  j.train = cnn ? &g_cnn_train : &g_cvae_train;
  j.test = cnn ? &g_cnn_test : &g_cvae_test;
  j.test_nr = cnn ? NULL : &g_cvae_test_nr;
  j.seed = 2024;
  j.epochs = EPOCHS;
  j.batch_size = BATCH;
  j.eval_batch_size = 8;
  j.checksum_every = 2;
  j.hash = cnn ? 0xC0FFEE : 0xCAFE;
  j.ckpt_path = ckpt;
  j.hist_path = hist;
  return j;
}

/* Runs a trainer to the end (or stop_after) and keeps params + history. */
typedef struct run_out {
  float *params;
  size_t n;
  train_history hist;
  uint64_t step;
} run_out;

static void run_free(run_out *r) {
  free(r->params);
  train_history_free(&r->hist);
}

static void train_to(const par_world *w, train_job j, int resume, train_start want, run_out *out) {
  train_trainer t;
  assert_int_equal(train_trainer_init(&t, w, &j, 0), DD_OK);
  assert_int_equal(train_history_init(&out->hist, j.hash, j.epochs), DD_OK);
  train_start st;
  assert_int_equal(train_trainer_restore(&t, resume, &out->hist, &st), DD_OK);
  assert_int_equal(st, want);
  dd_status s = train_trainer_fit(&t, &out->hist);
  if (s != DD_OK) fail_msg("fit: %s", dd_error_chain());
  out->n = t.model.n_params;
  out->params = malloc(out->n * sizeof(float));
  memcpy(out->params, t.model.params, out->n * sizeof(float));
  out->step = t.model.step;
  train_trainer_free(&t);
}

/* Compares the non-timing fields of two histories. */
static void hist_compare(const train_history *a, const train_history *b, double rtol,
                         const char *what) {
  assert_int_equal(a->n, b->n);
  for (int i = 0; i < a->n; i++) {
    const train_epoch *x = &a->e[i], *y = &b->e[i];
    const double xa[] = {x->train_loss, x->train_rec,   x->train_kl, x->test_loss, x->test_rec,
                         x->test_kl,    x->test_nr_rec, x->test_auc, x->steps};
    const double ya[] = {y->train_loss, y->train_rec,   y->train_kl, y->test_loss, y->test_rec,
                         y->test_kl,    y->test_nr_rec, y->test_auc, y->steps};
    for (size_t k = 0; k < sizeof xa / sizeof *xa; k++) {
      if (isnan(xa[k]) && isnan(ya[k])) continue;
      if (rtol == 0.0) {
        if (memcmp(&xa[k], &ya[k], sizeof(double)) != 0)
          fail_msg("%s: epoch %d field %zu differs: %.17g vs %.17g", what, i + 1, k, xa[k], ya[k]);
      } else {
        assert_near(what, xa[k], ya[k], 1e-12, rtol);
      }
    }
  }
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double d = fabs((double)a[i] - b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

/* 1. every rank trains with all ranks and alone; the results agree */
static void test_np_invariance(void **state) {
  (void)state;
  for (int cnn = 0; cnn < 2; cnn++) {
    run_out par, ser;
    train_to(&g_world, job_for(cnn, NULL, NULL), 0, TRAIN_START_FRESH, &par);
    train_to(&g_self, job_for(cnn, NULL, NULL), 0, TRAIN_START_FRESH, &ser);
    const double dp = max_abs_diff(par.params, ser.params, par.n);
    if (g_rank == 0)
      print_message("  %s np=%d: %llu steps, loss %.9g vs single process %.9g, max |dparam| %.3g\n",
                    cnn ? "CNN" : "CVAE", g_size, (unsigned long long)par.step,
                    par.hist.e[EPOCHS - 1].train_loss, ser.hist.e[EPOCHS - 1].train_loss, dp);
    /* 3 epochs of ceil(32/10) = 4 (CVAE) or ceil(64/10) = 7 (CNN) steps */
    assert_int_equal(par.step, cnn ? 21 : 12);
    if (g_size == 1) {
      assert_memory_equal(par.params, ser.params, par.n * sizeof(float));
      hist_compare(&par.hist, &ser.hist, 0.0, "np=1 vs single process");
    } else {
      hist_compare(&par.hist, &ser.hist, LOSS_RTOL, "parallel vs single process");
      assert_true(dp < PARAM_ATOL);
    }
    /* training did something: the loss moved */
    assert_true(par.hist.e[EPOCHS - 1].train_loss != par.hist.e[0].train_loss);
    run_free(&par);
    run_free(&ser);
  }
}

static void paths(const char *name, char *ckpt, char *hist) {
  snprintf(ckpt, 300, "%s/%s.ckpt", g_dir, name);
  snprintf(hist, 300, "%s/%s.hist", g_dir, name);
}

/* 2. stopped after epoch 1 and resumed == uninterrupted */
static void test_resume(void **state) {
  (void)state;
  for (int cnn = 0; cnn < 2; cnn++) {
    char ckpt[300], hist[300];
    paths(cnn ? "resume_cnn" : "resume_cvae", ckpt, hist);
    run_out full, part, part2, resumed, other;
    train_to(&g_world, job_for(cnn, NULL, NULL), 0, TRAIN_START_FRESH, &full);
    train_job j = job_for(cnn, ckpt, hist);
    j.stop_after = 1;
    train_to(&g_world, j, 0, TRAIN_START_FRESH, &part);
    assert_int_equal(part.hist.n, 1);
    /* a new trainer (fresh weights) picks up the checkpoint of epoch 1 */
    train_to(&g_world, job_for(cnn, ckpt, hist), 1, TRAIN_START_RESUMED, &resumed);
    assert_int_equal(resumed.step, full.step);
    assert_memory_equal(resumed.params, full.params, full.n * sizeof(float));
    hist_compare(&resumed.hist, &full.hist, 0.0, "resumed vs uninterrupted");
    /* the finished checkpoint is reused as it is */
    run_out again;
    train_to(&g_world, job_for(cnn, ckpt, hist), 0, TRAIN_START_COMPLETE, &again);
    assert_memory_equal(again.params, full.params, full.n * sizeof(float));
    hist_compare(&again.hist, &full.hist, 0.0, "reused");
    /* another rank count: a single process resumes the parallel run's epoch-1
     * checkpoint (written again by a stopped run) */
    if (g_rank == 0) remove(ckpt);
    MPI_Barrier(MPI_COMM_WORLD);
    train_to(&g_world, j, 0, TRAIN_START_FRESH, &part2);
    if (g_rank == 0) {
      train_to(&g_self, job_for(cnn, ckpt, hist), 1, TRAIN_START_RESUMED, &other);
      const double dp = max_abs_diff(other.params, full.params, full.n);
      print_message(
          "  %s: resumed at np=1 from np=%d epoch 1: loss %.9g vs %.9g, max |dparam| "
          "%.3g\n",
          cnn ? "CNN" : "CVAE", g_size, other.hist.e[EPOCHS - 1].train_loss,
          full.hist.e[EPOCHS - 1].train_loss, dp);
      hist_compare(&other.hist, &full.hist, g_size == 1 ? 0.0 : LOSS_RTOL, "resumed at np=1");
      assert_true(dp <= (g_size == 1 ? 0.0 : PARAM_ATOL));
      run_free(&other);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    run_free(&full);
    run_free(&part);
    run_free(&resumed);
    run_free(&again);
    run_free(&part2);
  }
}

/* Restores with the given job and resume flag; returns the status. */
static dd_status try_restore(train_job j, int resume, train_start *start) {
  train_trainer t;
  assert_int_equal(train_trainer_init(&t, &g_world, &j, 0), DD_OK);
  train_history h;
  assert_int_equal(train_history_init(&h, j.hash, j.epochs), DD_OK);
  dd_error_clear();
  dd_status st = train_trainer_restore(&t, resume, &h, start);
  train_history_free(&h);
  train_trainer_free(&t);
  return st;
}

/* Rank 0 checks the message (only the failing rank holds it). */
static void expect_error(dd_status got, dd_status want, const char *n1, const char *n2) {
  assert_int_equal(got, want);
  if (g_rank == 0) {
    print_message("  refused: %s\n", dd_error_message());
    assert_error_contains(n1);
    if (n2) assert_error_contains(n2);
  }
}

static void copy_file(const char *from, const char *to, long truncate_at, long flip_at) {
  if (g_rank == 0) {
    char *raw = NULL;
    size_t n = 0;
    assert_int_equal(dd_read_file(from, &raw, &n), DD_OK);
    if (flip_at >= 0) raw[flip_at] ^= 0x40;
    size_t len = truncate_at >= 0 ? (size_t)truncate_at : n;
    FILE *fp = fopen(to, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(raw, 1, len, fp), len);
    fclose(fp);
    free(raw);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

/* 3. what restore does with every kind of checkpoint */
static void test_checkpoint_cases(void **state) {
  (void)state;
  char ckpt[300], hist[300], bad[300], badh[300];
  paths("cases", ckpt, hist);
  paths("bad", bad, badh);
  train_job j = job_for(0, ckpt, hist);
  j.stop_after = 2;
  run_out part;
  train_to(&g_world, j, 0, TRAIN_START_FRESH, &part);
  train_start s;
  /* a partial checkpoint without --resume: start over, with the seed's weights */
  assert_int_equal(try_restore(job_for(0, ckpt, hist), 0, &s), DD_OK);
  assert_int_equal(s, TRAIN_START_FRESH);
  /* another configuration */
  train_job other = job_for(0, ckpt, hist);
  other.hash = 0xBEEF;
  expect_error(try_restore(other, 1, &s), DD_ERR_CONFIG, ckpt, "another configuration");
  assert_int_equal(try_restore(other, 0, &s), DD_OK);
  assert_int_equal(s, TRAIN_START_FRESH);
  /* another seed */
  other = job_for(0, ckpt, hist);
  other.seed = 1;
  expect_error(try_restore(other, 1, &s), DD_ERR_CONFIG, ckpt, "seed");
  /* more epochs than configured */
  other = job_for(0, ckpt, hist);
  other.epochs = 1;
  expect_error(try_restore(other, 1, &s), DD_ERR_CONFIG, ckpt, "more than the 1 configured");
  /* another architecture: the CNN pointed at the CVAE's file */
  other = job_for(1, ckpt, hist);
  expect_error(try_restore(other, 1, &s), DD_ERR_CONFIG, ckpt, "holds a CVAE");
  /* corrupt, truncated: always an error naming the file */
  copy_file(ckpt, bad, -1, 200);
  copy_file(hist, badh, -1, -1);
  expect_error(try_restore(job_for(0, bad, badh), 0, &s), DD_ERR_IO, bad, "checksum mismatch");
  copy_file(ckpt, bad, 100, -1);
  expect_error(try_restore(job_for(0, bad, badh), 1, &s), DD_ERR_IO, bad, "truncated");
  /* a sound checkpoint whose history is gone */
  copy_file(ckpt, bad, -1, -1);
  if (g_rank == 0) remove(badh);
  MPI_Barrier(MPI_COMM_WORLD);
  expect_error(try_restore(job_for(0, bad, badh), 1, &s), DD_ERR_IO, badh, "missing");
  /* no checkpoint at all: fresh, with or without --resume */
  if (g_rank == 0) remove(bad);
  MPI_Barrier(MPI_COMM_WORLD);
  assert_int_equal(try_restore(job_for(0, bad, badh), 1, &s), DD_OK);
  assert_int_equal(s, TRAIN_START_FRESH);
  run_free(&part);
}

/* 4. a rank whose parameters differ stops the run, naming the tensor */
static void test_divergence(void **state) {
  (void)state;
  train_job j = job_for(1, NULL, NULL);
  train_trainer t;
  assert_int_equal(train_trainer_init(&t, &g_world, &j, 0), DD_OK);
  uint64_t h = 0;
  assert_int_equal(train_check_params(&t, &h), DD_OK);
  /* flip one bit of one weight of the last rank's dense layer */
  const int k = nn_model_find_tensor(&t.model, "dense1.w");
  assert_true(k >= 0);
  if (g_rank == g_size - 1) {
    uint32_t u;
    memcpy(&u, &t.model.params[t.model.tensors[k].offset + 3], 4);
    u ^= 1u;
    memcpy(&t.model.params[t.model.tensors[k].offset + 3], &u, 4);
  }
  dd_error_clear();
  dd_status st = train_check_params(&t, NULL);
  if (g_size == 1) {
    assert_int_equal(st, DD_OK); /* one rank cannot disagree with itself */
  } else {
    assert_int_equal(st, DD_ERR_INTERNAL);
    if (g_rank == 0) print_message("  %s\n", dd_error_message());
    assert_error_contains("parameters diverged across ranks");
    assert_error_contains("'dense1.w'");
  }
  train_trainer_free(&t);
}

/* 5. evaluation is bitwise independent of the rank count */
static void test_evaluate_invariance(void **state) {
  (void)state;
  for (int cnn = 0; cnn < 2; cnn++) {
    train_job j = job_for(cnn, NULL, NULL);
    train_trainer tw, ts;
    assert_int_equal(train_trainer_init(&tw, &g_world, &j, 0), DD_OK);
    assert_int_equal(train_trainer_init(&ts, &g_self, &j, 0), DD_OK);
    const train_set *s = j.test;
    assert_int_equal(train_evaluate(&tw, s, s->n, 5, NULL), DD_OK);
    assert_int_equal(train_evaluate(&ts, s, s->n, 5, NULL), DD_OK);
    assert_memory_equal(tw.out, ts.out, (size_t)s->n * TRAIN_OUT_N * sizeof(double));
    /* the noise key matters for the CVAE only */
    assert_int_equal(train_evaluate(&ts, s, s->n, 6, NULL), DD_OK);
    assert_true((memcmp(tw.out, ts.out, (size_t)s->n * TRAIN_OUT_N * sizeof(double)) != 0) == !cnn);
    train_trainer_free(&tw);
    train_trainer_free(&ts);
  }
}

static int setup(void **state) {
  (void)state;
  dd_log_init(g_rank, g_size, DD_LOG_QUIET);
  if (par_world_init(&g_world, MPI_COMM_WORLD) != DD_OK) return -1;
  if (par_world_init(&g_self, MPI_COMM_SELF) != DD_OK) return -1;
  cfg_doc *d = NULL;
  if (cfg_parse(&d, k_nn_cfg, "mpi_train.cfg") != DD_OK || nn_params_load(d, &g_nn) != DD_OK ||
      cfg_check_unused(d) != DD_OK) {
    fprintf(stderr, "nn config: %s\n", dd_error_chain());
    return -1;
  }
  cfg_free(d);
  det_params p;
  det_params_preset(&p, DET_PRESET_XENT_SR0);
  img_params ip;
  img_params_default(&ip);
  if (det_model_init(&g_det, &p, 3) != DD_OK || img_renderer_init(&g_rend, &ip, &g_det) != DD_OK)
    return -1;
  det_energy_flat_ctx er = {1.0, 15.0};
  det_energy_exp_ctx nr = {2.0, 60.0, 20.0};
  if (det_events_simulate(&g_det, DET_ER, 3, 0, N_EV, det_energy_flat, &er, g_er, NULL) != DD_OK ||
      det_events_simulate(&g_det, DET_NR, 3, 0, N_EV, det_energy_exponential, &nr, g_nr, NULL) !=
          DD_OK)
    return -1;
  const int nt = N_EV - N_TRAIN;
  if (train_set_init(&g_cvae_train, g_er, N_TRAIN, NULL, 0) != DD_OK ||
      train_set_init(&g_cvae_test, g_er + N_TRAIN, nt, NULL, 0) != DD_OK ||
      train_set_init(&g_cvae_test_nr, NULL, 0, g_nr + N_TRAIN, nt) != DD_OK ||
      train_set_init(&g_cnn_train, g_er, N_TRAIN, g_nr, N_TRAIN) != DD_OK ||
      train_set_init(&g_cnn_test, g_er + N_TRAIN, nt, g_nr + N_TRAIN, nt) != DD_OK)
    return -1;
  /* one scratch directory for all ranks */
  if (g_rank == 0) snprintf(g_dir, sizeof g_dir, "%s", test_tmpdir());
  MPI_Bcast(g_dir, sizeof g_dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  train_set_free(&g_cvae_train);
  train_set_free(&g_cvae_test);
  train_set_free(&g_cvae_test_nr);
  train_set_free(&g_cnn_train);
  train_set_free(&g_cnn_test);
  return 0;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_np_invariance),       cmocka_unit_test(test_resume),
      cmocka_unit_test(test_checkpoint_cases),    cmocka_unit_test(test_divergence),
      cmocka_unit_test(test_evaluate_invariance),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  int any = 0;
  MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any ? 1 : 0;
}
