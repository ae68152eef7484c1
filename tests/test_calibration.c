/* test_calibration.c - are the observed-data tests of `ddscan analyse`
 * (stats_observed_eval) calibrated?  Pseudo-data are Poisson draws from a
 * template's expectation (background only, or background plus a signal),
 * evaluated exactly as analyse evaluates an observed histogram, with the
 * default nuisances (ER normalisation, Barlow-Beeston MC statistics with
 * 2000 effective MC events per bin).
 *
 * Criteria (N pseudo-data sets; each bound can fail):
 * - sound and classical, background only: q0 = 0 whenever mu_hat = 0, so p
 *   has an atom of about 1/2 at p = 0.5 and is uniform below it
 *   (asymptotically).  KS on the continuous part: D = sup_{x < 0.5}
 *   |F_N(x) - x| < 1.63/sqrt(N) (the 1 % critical value of the
 *   one-sample KS distance; restricting the sup to x < 0.5 only makes D
 *   smaller under H0), and the atom within 0.5 +- 4 sqrt(0.25/N).
 * - toys: the randomised p = (n_gt + U n_eq)/n_toys (U uniform, ties at q0
 *   = 0 spread) is uniform on [0, 1]: D < 1.63/sqrt(N) + 1/n_toys.
 * - power: with a signal whose Asimov Z_A is 2.5, the fraction of data sets
 *   with q0 >= 9 (Z >= 3) equals the predicted power Phi(Z_A - 3) of
 *   stats_eval within 4 binomial standard errors plus 0.03 for the
 *   asymptotic approximation.
 * - coverage: the 90 % CL upper limit lies above the true signal in 90 % of
 *   those data sets, within 4 binomial standard errors plus 0.02.
 * - goodness of fit (stats_gof_eval): the randomised toy p is uniform (KS
 *   as for the toys) and a Z_A = 8 signal gives p < 0.01 with no template;
 * - a strong signal (Z_A = 8) is detected (Z > 5) in every data set of 50
 *   and its best fit lies within 20 % of the truth on average. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/core.h"
#include "ddscan/stats.h"
#include "stats_testutil.h"

enum { K = 24, N_SETS = 400, N_TOY_SETS = 200, N_TOYS = 400 };

static stats_template g_t1, g_t2; /* 1-D (sound, toys) and 2-D (classical) */
static stats_params g_p;
static stats_work g_w;
static double g_toys[N_TOYS];
static dd_sampler g_smp;

static void build(void) {
  double alpha[K], beta[K], w2[K];
  for (int i = 0; i < K; i++) {
    beta[i] = 40.0 * exp(-0.12 * i) + 2.0;                      /* falling background */
    alpha[i] = 3.0 * exp(-0.5 * (i - 17.0) * (i - 17.0) / 4.0); /* a bump */
    w2[i] = beta[i] * beta[i] / 2000.0;                         /* 2000 effective MC events */
  }
  make_template(&g_t1, K, alpha, beta, w2);
  make_template(&g_t2, K, alpha, beta, w2);
  g_t2.nx = 4;
  g_t2.ny = K / 4;
  g_t2.r = NAN;
  g_t2.y_edges = calloc((size_t)g_t2.nx * (g_t2.ny + 1), sizeof(double));
  default_params(&g_p);
  g_p.toys = N_TOYS;
  dd_sampler_init(&g_smp);
  if (stats_work_init(&g_w, K, N_TOYS) != DD_OK) abort();
}

/* Pseudo-data set j of a stream: n_i ~ Poisson(b_i + mu s_i) at E = 1. */
static void draw(const stats_template *t, double mu, uint32_t stream, long j, double *n) {
  dd_rng r = dd_rng_for(0xCA1Bu, DD_STREAM_TEST, stream, (uint32_t)j, 0);
  for (int i = 0; i < t->k; i++)
    n[i] = (double)dd_sample_poisson(&g_smp, &r, t->beta[i] + mu * t->alpha[i]);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* KS distance sup_{x < xmax} |F_N(x) - x| of sorted p-values. */
static double ks_below(double *p, int n, double xmax) {
  qsort(p, (size_t)n, sizeof *p, cmp_double);
  double d = 0.0;
  for (int i = 0; i < n && p[i] < xmax; i++) {
    double lo = fabs(p[i] - (double)i / n), hi = fabs((double)(i + 1) / n - p[i]);
    d = fmax(d, fmax(lo, hi));
  }
  return d;
}

static void null_uniform(const stats_template *t, stats_method m, uint32_t stream) {
  double p[N_SETS], n[K];
  int atom = 0;
  for (int j = 0; j < N_SETS; j++) {
    draw(t, 0.0, stream, j, n);
    stats_observed o;
    assert_int_equal(stats_observed_eval(t, &g_p, m, n, 1.0, 1u, (uint32_t)j, &g_w, NULL, &o),
                     DD_OK);
    p[j] = o.p;
    atom += o.stat == 0.0;
  }
  const double d = ks_below(p, N_SETS, 0.5), crit = 1.63 / sqrt((double)N_SETS);
  const double frac = (double)atom / N_SETS, tol = 4.0 * sqrt(0.25 / N_SETS);
  printf(
      "# %s, background only, %d sets: KS D(p < 0.5) = %.4f (1%% critical %.4f), "
      "P(q0 = 0) = %.3f (0.5 +- %.3f)\n",
      stats_method_name(m), N_SETS, d, crit, frac, tol);
  assert_true(d < crit);
  assert_true(fabs(frac - 0.5) < tol);
}

static void test_sound_uniform(void **state) {
  (void)state;
  null_uniform(&g_t1, STATS_METHOD_SOUND, 1);
}

static void test_classical_uniform(void **state) {
  (void)state;
  null_uniform(&g_t2, STATS_METHOD_CLASSICAL, 2);
}

static void test_toys_uniform(void **state) {
  (void)state;
  double p[N_TOY_SETS], n[K];
  for (int j = 0; j < N_TOY_SETS; j++) {
    draw(&g_t1, 0.0, 3, j, n);
    stats_observed o;
    assert_int_equal(stats_observed_eval(&g_t1, &g_p, STATS_METHOD_TOYS, n, 1.0, 7u, (uint32_t)j,
                                         &g_w, g_toys, &o),
                     DD_OK);
    assert_int_equal(o.n_toys, N_TOYS);
    dd_rng r = dd_rng_for(0xCA1Bu, DD_STREAM_TEST, 4, (uint32_t)j, 0);
    p[j] = ((double)o.toys_gt + dd_rng_uniform(&r) * (double)o.toys_eq) / (double)o.n_toys;
  }
  const double d = ks_below(p, N_TOY_SETS, 2.0);
  const double crit = 1.63 / sqrt((double)N_TOY_SETS) + 1.0 / N_TOYS;
  printf("# toys, background only, %d sets x %d toys: KS D (randomised p) = %.4f (crit %.4f)\n",
         N_TOY_SETS, N_TOYS, d, crit);
  assert_true(d < crit);
}

/* The mu whose Asimov Z (sqrt q0,A with the nuisances) is z. */
static double mu_at_z(const stats_template *t, stats_method m, double z, double *power3) {
  double lo = 1e-3, hi = 100.0;
  stats_result r;
  for (int k = 0; k < 80; k++) {
    double mid = sqrt(lo * hi);
    assert_int_equal(stats_eval(t, &g_p, m, mid, 1.0, &g_w, &r), DD_OK);
    if (r.z < z)
      lo = mid;
    else
      hi = mid;
  }
  assert_int_equal(stats_eval(t, &g_p, m, hi, 1.0, &g_w, &r), DD_OK);
  *power3 = r.power3;
  return hi;
}

static void power_and_coverage(const stats_template *t, stats_method m, uint32_t stream) {
  double power3 = 0.0, n[K];
  const double mu = mu_at_z(t, m, 2.5, &power3);
  int above = 0, covered = 0;
  for (int j = 0; j < N_SETS; j++) {
    draw(t, mu, stream, j, n);
    stats_observed o;
    assert_int_equal(stats_observed_eval(t, &g_p, m, n, 1.0, 1u, (uint32_t)j, &g_w, NULL, &o),
                     DD_OK);
    above += o.stat >= 9.0;
    covered += o.mu_up >= mu;
  }
  const double frac = (double)above / N_SETS, se = sqrt(power3 * (1.0 - power3) / N_SETS);
  const double cov = (double)covered / N_SETS, se_c = sqrt(0.09 / N_SETS);
  printf(
      "# %s, signal mu = %.4g (Z_A = 2.5), %d sets: P(Z >= 3) = %.3f, predicted %.3f +- "
      "%.3f; 90%% CL coverage %.3f +- %.3f\n",
      stats_method_name(m), mu, N_SETS, frac, power3, se, cov, se_c);
  assert_true(fabs(frac - power3) < 4.0 * se + 0.03);
  assert_true(fabs(cov - 0.9) < 4.0 * se_c + 0.02);
}

static void test_sound_power(void **state) {
  (void)state;
  power_and_coverage(&g_t1, STATS_METHOD_SOUND, 5);
}

static void test_classical_power(void **state) {
  (void)state;
  power_and_coverage(&g_t2, STATS_METHOD_CLASSICAL, 6);
}

/* The model-independent goodness of fit: the randomised toy p of the
 * deviance is uniform under H0 (the MC scatter it adds is 1/2000 of the
 * Poisson variance here), and a signal is found without its template. */
static void test_gof(void **state) {
  (void)state;
  double p[N_TOY_SETS], n[K];
  for (int j = 0; j < N_TOY_SETS; j++) {
    draw(&g_t1, 0.0, 8, j, n);
    stats_gof o;
    assert_int_equal(stats_gof_eval(&g_t1, &g_p, n, 1.0, 9u, (uint32_t)j, N_TOYS, &g_w, &o), DD_OK);
    dd_rng r = dd_rng_for(0xCA1Bu, DD_STREAM_TEST, 9, (uint32_t)j, 0);
    p[j] = ((double)o.toys_gt + dd_rng_uniform(&r) * (double)o.toys_eq) / (double)o.n_toys;
  }
  const double d = ks_below(p, N_TOY_SETS, 2.0);
  const double crit = 1.63 / sqrt((double)N_TOY_SETS) + 1.0 / N_TOYS;
  printf("# gof, background only, %d sets x %d toys: KS D = %.4f (crit %.4f)\n", N_TOY_SETS, N_TOYS,
         d, crit);
  assert_true(d < crit);
  /* a large signal in the bump is found */
  double power3;
  const double mu = mu_at_z(&g_t1, STATS_METHOD_SOUND, 8.0, &power3);
  draw(&g_t1, mu, 10, 0, n);
  stats_gof o;
  assert_int_equal(stats_gof_eval(&g_t1, &g_p, n, 1.0, 9u, 999u, N_TOYS, &g_w, &o), DD_OK);
  printf("# gof with a Z_A = 8 signal: D = %.1f, p = %.4g\n", o.stat, o.p);
  assert_true(o.p < 0.01);
}

static void test_strong_signal(void **state) {
  (void)state;
  double power3, n[K];
  const double mu = mu_at_z(&g_t1, STATS_METHOD_SOUND, 8.0, &power3);
  double sum_hat = 0.0;
  for (int j = 0; j < 50; j++) {
    draw(&g_t1, mu, 7, j, n);
    stats_observed o;
    assert_int_equal(stats_observed_eval(&g_t1, &g_p, STATS_METHOD_SOUND, n, 1.0, 1u, (uint32_t)j,
                                         &g_w, NULL, &o),
                     DD_OK);
    assert_true(o.z > 5.0);
    assert_true(o.mu_up > o.mu_hat);
    sum_hat += o.mu_hat;
  }
  printf("# strong signal mu = %.4g: mean best fit %.4g\n", mu, sum_hat / 50);
  assert_true(fabs(sum_hat / 50 / mu - 1.0) < 0.2);
}

int main(void) {
  build();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sound_uniform),   cmocka_unit_test(test_classical_uniform),
      cmocka_unit_test(test_toys_uniform),    cmocka_unit_test(test_sound_power),
      cmocka_unit_test(test_classical_power), cmocka_unit_test(test_gof),
      cmocka_unit_test(test_strong_signal),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  stats_work_free(&g_w);
  free_template(&g_t1);
  free_template(&g_t2);
  return rc;
}
