/* test_stats_limits.c - the expected exclusion sensitivity (src/stats/limit.c)
 * against independent oracles: the asymptotic median and +-1/2 sigma bands
 * of a one-bin counting experiment with known background against the closed
 * forms of Cowan et al. 2011 (arXiv:1007.1727, eqs. 32, 89-90, solved here by
 * bisection on q~mu,A = 2 [mu s - b ln(1 + mu s/b)]), the CLs+b / CLs
 * z-values, the power constraint, toy-calibrated bands against the asymptotic
 * ones at large background, and the coverage of toy-calibrated limits (the
 * fraction of pseudo-experiments whose limit lies above the true mu is the
 * CL within its binomial error), 3-sigma contours. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/core.h"
#include "ddscan/stats.h"
#include "stats_testutil.h"

/* Closed form of one bin, background-only Asimov data (n = b). */
static double qa_one_bin(double mu, double s, double b) {
  return 2.0 * (mu * s - b * log1p(mu * s / b));
}

/* mu with sqrt(qa_one_bin) = z, by bisection (qa increases in mu). */
static double root_one_bin(double z, double s, double b) {
  double lo = 0.0, hi = 1.0;
  while (qa_one_bin(hi, s, b) < z * z) hi *= 2.0;
  for (int it = 0; it < 200; it++) {
    double mid = 0.5 * (lo + hi);
    if (qa_one_bin(mid, s, b) < z * z)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

static void test_limit_z(void **state) {
  (void)state;
  /* CLs+b: Phi^-1(0.9) + N; CLs: Phi^-1(1 - 0.1 Phi(N)) + N (mpmath) */
  assert_near("CLs+b median", stats_limit_z(STATS_LIMIT_CLSB, 0.9, 0), 1.2815515655446004, 0,
              1e-12);
  assert_near("CLs+b -2", stats_limit_z(STATS_LIMIT_CLSB, 0.9, -2), -0.7184484344553996, 0, 1e-12);
  assert_near("CLs median", stats_limit_z(STATS_LIMIT_CLS, 0.9, 0), 1.6448536269514722, 0, 1e-12);
  assert_near("CLs +1", stats_limit_z(STATS_LIMIT_CLS, 0.9, 1), 1.0 + 1.377787361599307, 0, 1e-10);
  assert_near("CLs -2", stats_limit_z(STATS_LIMIT_CLS, 0.9, -2), -2.0 + 2.8372759804564556, 0,
              1e-10);
}

static void test_limit_asimov_one_bin(void **state) {
  (void)state;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 4, 0), DD_OK);
  const double bs[3] = {2.0, 10.0, 1000.0};
  for (int ib = 0; ib < 3; ib++) {
    double s[1] = {1.0}, b[1] = {bs[ib]};
    stats_model m = stats_model_simple(1, s, b);
    double clsb[STATS_N_BAND], cls[STATS_N_BAND];
    unsigned fl = 0;
    assert_int_equal(stats_limit_asimov_model(&m, 0.9, 0.0, &w, clsb, cls, &fl), DD_OK);
    double med = root_one_bin(stats_limit_z(STATS_LIMIT_CLSB, 0.9, 0), 1.0, b[0]);
    double sigma = med / stats_limit_z(STATS_LIMIT_CLSB, 0.9, 0); /* eq. 32 */
    for (int k = 0; k < STATS_N_BAND; k++) {
      int n_sig = k - 2;
      double z = stats_limit_z(STATS_LIMIT_CLSB, 0.9, n_sig);
      double ref = z > 0.0 ? root_one_bin(z, 1.0, b[0]) : z * sigma; /* eqs. 89-90 */
      assert_near("CLs+b band", clsb[k], ref, 1e-12, 1e-8);
      assert_near("CLs band", cls[k],
                  root_one_bin(stats_limit_z(STATS_LIMIT_CLS, 0.9, n_sig), 1.0, b[0]), 1e-12, 1e-8);
    }
    assert_true(fl & STATS_LIMIT_NEGATIVE); /* -2 sigma of CLs+b at 90 % */
    assert_true(clsb[0] < 0.0 && clsb[1] > 0.0);
    if (b[0] >= 1000.0) /* Gaussian regime: mu_up = 1.2816 sqrt(b)/s */
      assert_near("Gaussian median", clsb[2], 1.2815515655446004 * sqrt(b[0]), 0, 2e-2);
    /* the power constraint at the -1 sigma rule raises -2 sigma to -1 sigma */
    double pc[STATS_N_BAND], pcs[STATS_N_BAND];
    assert_int_equal(stats_limit_asimov_model(&m, 0.9, stats_norm_sf(1.0), &w, pc, pcs, &fl),
                     DD_OK);
    assert_true(fl & STATS_LIMIT_PCL);
    assert_near("PCL -2 = -1", pc[0], clsb[1], 0, 1e-8);
    for (int k = 1; k < STATS_N_BAND; k++)
      assert_near("PCL leaves the rest", pc[k], clsb[k], 0, 1e-8);
  }
  stats_work_free(&w);
}

/* With a theta_ER constraint the limit is weaker than with a known background
 * and tends to it as the width -> 0. */
static void test_limit_nuisance(void **state) {
  (void)state;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 4, 0), DD_OK);
  double s[2] = {1.0, 3.0}, b[2] = {200.0, 20.0};
  stats_model m = stats_model_simple(2, s, b);
  double k0[STATS_N_BAND], c0[STATS_N_BAND], k1[STATS_N_BAND], c1[STATS_N_BAND];
  unsigned fl = 0;
  assert_int_equal(stats_limit_asimov_model(&m, 0.9, 0.0, &w, k0, c0, &fl), DD_OK);
  m.sigma_er = 1e-7;
  assert_int_equal(stats_limit_asimov_model(&m, 0.9, 0.0, &w, k1, c1, &fl), DD_OK);
  assert_near("sigma_ER -> 0", k1[2], k0[2], 0, 1e-5);
  m.sigma_er = 0.2;
  assert_int_equal(stats_limit_asimov_model(&m, 0.9, 0.0, &w, k1, c1, &fl), DD_OK);
  assert_true(k1[2] > k0[2] * 1.01 && c1[2] > c0[2] * 1.01);
  stats_work_free(&w);
}

/* Toy-calibrated bands approach the asymptotic ones at large background. */
static void test_limit_toys_vs_asymptotic(void **state) {
  (void)state;
  const long nt = 2000;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 4, nt), DD_OK);
  double s[1] = {1.0}, b[1] = {400.0};
  stats_model m = stats_model_simple(1, s, b);
  double as[STATS_N_BAND], ac[STATS_N_BAND], ts[STATS_N_BAND], te[STATS_N_BAND];
  unsigned fl = 0;
  assert_int_equal(stats_limit_asimov_model(&m, 0.9, 0.0, &w, as, ac, &fl), DD_OK);
  assert_int_equal(stats_limit_toys_model(&m, 0.9, 0.0, as[2], 7, 3, nt, &w, ts, te, &fl), DD_OK);
  /* -2 sigma: Phi(-2) < 1 - CL, so a background-only toy excludes every mu
   * with probability >= 10 %: the quantile is 0 */
  assert_true(ts[0] == 0.0 && (fl & STATS_LIMIT_TOY_ZERO));
  for (int k = 1; k < STATS_N_BAND; k++) {
    assert_true(te[k] > 0.0 && isfinite(te[k]));
    /* the asymptotic value within 4 MC errors plus 3 % (Poisson skew) */
    assert_near("toy band vs asymptotic", ts[k], as[k], 4.0 * te[k], 0.03);
  }
  /* bitwise reproducible */
  double t2[STATS_N_BAND], e2[STATS_N_BAND];
  assert_int_equal(stats_limit_toys_model(&m, 0.9, 0.0, as[2], 7, 3, nt, &w, t2, e2, &fl), DD_OK);
  assert_memory_equal(ts, t2, sizeof ts);
  stats_work_free(&w);
}

/* Coverage: pseudo-experiments at a true mu (with a fluctuating auxiliary
 * measurement of theta_ER, so the statistic is continuous) give limits above
 * the true mu in a fraction CL of the cases, within the binomial error. */
static void test_limit_coverage(void **state) {
  (void)state;
  const long nt = 4000, n_exp = 1000;
  const int ng = 25;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 4, nt), DD_OK);
  double s[1] = {1.0}, b[1] = {30.0};
  stats_model m = stats_model_simple(1, s, b);
  m.sigma_er = 0.1;
  double grid[25], qcrit[25];
  for (int g = 0; g < ng; g++) grid[g] = 1.0 * pow(40.0, g / (ng - 1.0));
  assert_int_equal(stats_limit_toy_grid(&m, 0.9, grid, ng, 11, 0, nt, &w, qcrit, NULL), DD_OK);
  /* asymptotically the 90 % quantile of q~mu is Phi^-1(0.9)^2 = 1.642 once
   * mu/sigma > 1.28 (Cowan eq. 66): sigma ~ sqrt(30 + 0.09^2 ...) ~ 6.2 */
  assert_near("qcrit at mu = 40", qcrit[ng - 1], 1.6424, 0, 0.15);
  const double mu_true[2] = {6.0, 12.0};
  for (int t = 0; t < 2; t++) {
    long covered = 0;
    for (long j = 0; j < n_exp; j++) {
      dd_rng rng = dd_rng_for(99, DD_STREAM_TOYS, 5 + (uint32_t)t, (uint32_t)j, 0);
      stats_model mt = m;
      mt.g_er = 1.0 + m.sigma_er * dd_rng_normal(&rng);
      double n[1] = {(double)dd_sample_poisson(w.smp, &rng, mu_true[t] * s[0] + b[0])};
      double up = 0.0;
      assert_int_equal(stats_limit_toy_data(&mt, n, grid, qcrit, ng, &up), DD_OK);
      covered += up >= mu_true[t];
    }
    double frac = (double)covered / n_exp;
    /* 3 binomial errors of n_exp plus the qcrit quantiles' own error */
    double tol = 3.0 * sqrt(0.09 / n_exp) + 3.0 * sqrt(0.09 / nt);
    assert_near("coverage", frac, 0.9, tol, 0);
  }
  stats_work_free(&w);
}

/* The 3-sigma contour of sound without nuisances: q0,A = 9 (homogeneous). */
static void test_contour3(void **state) {
  (void)state;
  const double alpha[2] = {5.0, 10.0}, beta[2] = {100.0, 10.0};
  stats_template t;
  make_template(&t, 2, alpha, beta, NULL);
  stats_params p;
  default_params(&p);
  p.nuis.er_norm = 0;
  p.nuis.mc_stat = 0;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 4, 0), DD_OK);
  const double e[2] = {1.0, 10.0};
  double mu3[2], mu5[2];
  unsigned f3[2], f5[2];
  assert_int_equal(stats_contour_z(&t, &p, STATS_METHOD_SOUND, 3.0, e, 2, 1, 0, &w, mu3, f3),
                   DD_OK);
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_SOUND, e, 2, 1, 0, &w, mu5, f5), DD_OK);
  for (int j = 0; j < 2; j++) {
    double s[2] = {e[j] * mu3[j] * alpha[0], e[j] * mu3[j] * alpha[1]};
    double b[2] = {e[j] * beta[0], e[j] * beta[1]};
    assert_near("q0,A at the 3-sigma contour", stats_q0_asimov_simple(2, s, b), 9.0, 0, 1e-9);
    assert_true(mu3[j] < mu5[j]);
  }
  /* limits of the same template: paper has none */
  double cb[2 * STATS_N_BAND], cs[2 * STATS_N_BAND], er[2 * STATS_N_BAND];
  unsigned lf[2];
  assert_int_equal(stats_limits(&t, &p, STATS_METHOD_PAPER, e, 2, 1, 0, &w, cb, cs, er, lf), DD_OK);
  assert_true(isnan(cb[2]) && isnan(cs[2]));
  assert_int_equal(stats_limits(&t, &p, STATS_METHOD_SOUND, e, 2, 1, 0, &w, cb, cs, er, lf), DD_OK);
  for (int j = 0; j < 2; j++) {
    /* the median limit sits below the 3-sigma line, CLs above CLs+b */
    assert_true(cb[j * STATS_N_BAND + 2] > 0.0 && cb[j * STATS_N_BAND + 2] < mu3[j]);
    assert_true(cs[j * STATS_N_BAND + 2] > cb[j * STATS_N_BAND + 2]);
    assert_true(isnan(er[j * STATS_N_BAND + 2]));
  }
  stats_work_free(&w);
  stats_template_free(&t);
}

/* The toy contour's MC error: positive, finite, and of the size of the spread
 * of the contour over independent toy seeds (ratio within [1/3, 3]). */
static void test_toy_contour_err(void **state) {
  (void)state;
  const double alpha[2] = {2.0, 6.0}, beta[2] = {200.0, 20.0};
  stats_template t;
  make_template(&t, 2, alpha, beta, NULL);
  stats_params p;
  default_params(&p);
  p.nuis.er_norm = 0;
  p.nuis.mc_stat = 0;
  p.nuis.nr_bkg = 0;
  p.toys = 400;
  p.toys_importance = 0;
  p.toys_max_rel_err = 1e-6; /* every point above: the flag is set */
  stats_work w;
  assert_int_equal(stats_work_init(&w, 4, p.toys), DD_OK);
  const double e = 10.0;
  const int n_seed = 8;
  double mu[8], err[8], m1 = 0.0, m2 = 0.0, me = 0.0;
  for (int k = 0; k < n_seed; k++) {
    unsigned fl = 0;
    assert_int_equal(stats_contour_z_err(&t, &p, STATS_METHOD_TOYS, 5.0, &e, 1, 100 + (uint32_t)k,
                                         0, &w, &mu[k], &err[k], &fl),
                     DD_OK);
    assert_true(mu[k] > 0.0 && isfinite(mu[k]) && err[k] > 0.0 && isfinite(err[k]));
    assert_true(fl & STATS_FLAG_TOY_ERR);
    m1 += mu[k];
    m2 += mu[k] * mu[k];
    me += err[k];
  }
  m1 /= n_seed;
  me /= n_seed;
  double sd = sqrt(fmax(m2 / n_seed - m1 * m1, 0.0) * n_seed / (n_seed - 1));
  printf("toy sigma5: mean %.4g, spread over seeds %.3g, mean stored error %.3g\n", m1, sd, me);
  assert_true(sd < 3.0 * me && sd > me / 3.0);
  /* Asimov methods: NaN */
  unsigned fl = 0;
  double mu_s, err_s;
  assert_int_equal(
      stats_contour_z_err(&t, &p, STATS_METHOD_SOUND, 5.0, &e, 1, 1, 0, &w, &mu_s, &err_s, &fl),
      DD_OK);
  assert_true(isnan(err_s) && !(fl & STATS_FLAG_TOY_ERR));
  stats_work_free(&w);
  stats_template_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_limit_z),         cmocka_unit_test(test_limit_asimov_one_bin),
      cmocka_unit_test(test_limit_nuisance),  cmocka_unit_test(test_limit_toys_vs_asymptotic),
      cmocka_unit_test(test_limit_coverage),  cmocka_unit_test(test_contour3),
      cmocka_unit_test(test_toy_contour_err),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
