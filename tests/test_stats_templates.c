/* test_stats_templates.c - stats templates and the whole chain on synthetic
 * data with known answers: Gaussian TS (and Gaussian log10 cS2/cS1) events
 * with known weights -> templates -> paper, sound, toys and classical results
 * against the closed forms on the analytic bin contents; binning rules,
 * guards and bad inputs; the `stats` configuration group. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/stage.h"
#include "ddscan/cfg.h"
#include "ddscan/core.h"
#include "ddscan/stats.h"
#include "stats_testutil.h"

/* A synthetic bank: l_rec ~ N(ml, sl), h_b ~ N(mh, sh), so TS(R) ~
 * N(ml + R mh, sqrt(sl^2 + R^2 sh^2)); weight w each. */
typedef struct bank {
  long n;
  double *l, *h, *w;
  stats_events ev;
} bank;

static void bank_make(bank *b, long n, double ml, double sl, double mh, double sh, double wtot,
                      uint32_t id) {
  b->n = n;
  b->l = malloc((size_t)n * sizeof(double));
  b->h = malloc((size_t)n * sizeof(double));
  b->w = malloc((size_t)n * sizeof(double));
  for (long i = 0; i < n; i++) {
    dd_rng r = dd_rng_for(2024, DD_STREAM_TEST, id, (uint32_t)i, 0);
    b->l[i] = ml + sl * dd_rng_normal(&r);
    b->h[i] = mh + sh * dd_rng_normal(&r);
    b->w[i] = wtot / n;
  }
  b->ev.n = n;
  b->ev.l_rec = b->l;
  b->ev.h_b = b->h;
  b->ev.weight = b->w;
}

static void bank_free(bank *b) {
  free(b->l);
  free(b->h);
  free(b->w);
}

/* Expected content of [lo, hi) for N(m, s) with total tot. */
static double gauss_bin(double tot, double m, double s, double lo, double hi) {
  return tot * (stats_norm_sf((lo - m) / s) - stats_norm_sf((hi - m) / s));
}

/* ----------------------------------------------------------- binning */

static void test_uniform_rule(void **state) {
  (void)state;
  bank bk;
  bank_make(&bk, 20000, 0.0, 1.0, 0.0, 0.01, 147.6, 1);
  bank sg;
  bank_make(&sg, 5000, 2.0, 1.0, 0.02, 0.01, 2.0, 2);
  stats_params p;
  default_params(&p);
  stats_template t;
  assert_int_equal(stats_template_build(&t, &p.binning, &bk.ev, &sg.ev, NULL, 50.0, 1e-45), DD_OK);
  assert_int_equal(t.k, 52);
  assert_true(t.edges[0] == -INFINITY && t.edges[52] == INFINITY);
  /* interior range = weighted 0.1 % and 99.9 % quantiles of TS */
  double *ts = malloc(bk.n * sizeof *ts);
  long below = 0, above = 0;
  for (long i = 0; i < bk.n; i++) {
    ts[i] = stats_ts(bk.l[i], bk.h[i], 50.0);
    below += ts[i] < t.edges[1];
    above += ts[i] >= t.edges[51];
  }
  assert_true(below >= 19 && below <= 20); /* 0.1 % of 20000 = 20 */
  assert_true(above >= 19 && above <= 21);
  for (int i = 1; i < 51; i++)
    assert_near("uniform width", t.edges[i + 1] - t.edges[i], (t.edges[51] - t.edges[1]) / 50,
                1e-12, 0);
  /* nothing dropped; totals and sums of squares conserved; halves add up */
  assert_int_equal(t.n_bkg_out, 0);
  assert_near("beta_tot", t.beta_tot, 147.6, 0, 1e-12);
  assert_near("alpha_tot", t.alpha_tot, 2.0, 0, 1e-12);
  long cnt = 0;
  for (int i = 0; i < t.k; i++) {
    cnt += t.beta_n[i];
    assert_near("sum w^2", t.beta_w2[i], t.beta_n[i] * pow(147.6 / 20000, 2), 1e-15, 1e-12);
    assert_near("halves", t.beta_half[i] + t.beta_half[t.k + i], 2.0 * t.beta[i], 1e-12, 1e-12);
  }
  assert_int_equal(cnt, 20000);
  /* stats_template_bin agrees with the histogram */
  long c7 = 0;
  for (long i = 0; i < bk.n; i++) c7 += stats_template_bin(&t, ts[i]) == 7;
  assert_int_equal(c7, t.beta_n[7]);
  stats_template_free(&t);
  /* without under/overflow the tails are dropped and counted */
  p.binning.underflow = p.binning.overflow = 0;
  assert_int_equal(stats_template_build(&t, &p.binning, &bk.ev, &sg.ev, NULL, 50.0, 1e-45), DD_OK);
  assert_int_equal(t.k, 50);
  assert_int_equal(t.n_bkg_out, below + above);
  assert_true(t.n_sig_out > 0);
  stats_template_free(&t);
  free(ts);
  bank_free(&bk);
  bank_free(&sg);
}

static void test_quantile_rule(void **state) {
  (void)state;
  bank bk;
  bank_make(&bk, 3000, 0.0, 1.0, 0.0, 0.01, 30.0, 3);
  bank sg;
  bank_make(&sg, 1000, 3.0, 1.0, 0.0, 0.01, 1.0, 4);
  stats_binning bin = {STATS_BIN_QUANTILE, 20, {0, 1}, 10, 1, 1};
  stats_template t;
  assert_int_equal(stats_template_build(&t, &bin, &bk.ev, &sg.ev, NULL, 0.0, 1e-45), DD_OK);
  assert_int_equal(t.k, 20);
  assert_int_equal(t.merged_bins, 0);
  assert_true(t.edges[0] == -INFINITY && t.edges[20] == INFINITY);
  for (int i = 0; i < t.k; i++) {
    assert_near("equal background", t.beta[i], 1.5, 0.011, 0); /* 150 events of 0.01 */
    assert_true(t.beta[i] > 0.0);
  }
  assert_int_equal(t.n_sig_out, 0);
  assert_near("all signal binned", t.alpha_tot, 1.0, 0, 1e-12);
  stats_template_free(&t);
  /* min_mc forces merging: 3000 events into <= 3000/400 bins */
  bin.bins = 50;
  bin.min_mc = 400;
  assert_int_equal(stats_template_build(&t, &bin, &bk.ev, &sg.ev, NULL, 0.0, 1e-45), DD_OK);
  assert_true(t.k <= 7 && t.k >= 1);
  assert_true(t.merged_bins > 0);
  long cnt = 0;
  for (int i = 0; i < t.k; i++) {
    assert_true(t.beta_n[i] >= 400);
    cnt += t.beta_n[i];
  }
  assert_int_equal(cnt, 3000);
  stats_template_free(&t);
  /* ties are never split: TS on a coarse lattice */
  for (long i = 0; i < bk.n; i++) bk.l[i] = floor(bk.l[i] * 2.0) / 2.0;
  bin.bins = 20;
  bin.min_mc = 1;
  assert_int_equal(stats_template_build(&t, &bin, &bk.ev, &sg.ev, NULL, 0.0, 1e-45), DD_OK);
  for (int i = 1; i < t.k; i++) {
    double e = t.edges[i];
    assert_true(e != floor(e * 2.0) / 2.0); /* edges fall between lattice values */
    assert_true(t.edges[i] > t.edges[i - 1]);
  }
  stats_template_free(&t);
  bank_free(&bk);
  bank_free(&sg);
}

/* Refilling the signal keeps edges and background. */
static void test_set_signal(void **state) {
  (void)state;
  bank bk, s1, s2;
  bank_make(&bk, 4000, 0.0, 1.0, 0.0, 0.01, 10.0, 5);
  bank_make(&s1, 2000, 1.0, 1.0, 0.0, 0.01, 1.0, 6);
  bank_make(&s2, 2000, 2.5, 1.0, 0.0, 0.01, 3.0, 7);
  stats_params p;
  default_params(&p);
  stats_template t, u;
  assert_int_equal(stats_template_build(&t, &p.binning, &bk.ev, &s1.ev, NULL, 10.0, 1e-45), DD_OK);
  assert_int_equal(stats_template_build(&u, &p.binning, &bk.ev, &s2.ev, NULL, 10.0, 1e-46), DD_OK);
  assert_int_equal(stats_template_set_signal(&t, &s2.ev, 1e-46), DD_OK);
  assert_memory_equal(t.alpha, u.alpha, (size_t)t.k * sizeof(double));
  assert_memory_equal(t.beta, u.beta, (size_t)t.k * sizeof(double));
  assert_memory_equal(t.edges, u.edges, ((size_t)t.k + 1) * sizeof(double));
  assert_true(t.sigma_ref_cm2 == 1e-46);
  stats_template_free(&t);
  stats_template_free(&u);
  bank_free(&bk);
  bank_free(&s1);
  bank_free(&s2);
}

/* ------------------------------------------- synthetic end to end (1-D) */

/* Gaussian TS: template bin contents against the analytic ones, then every
 * method against its closed form evaluated on the analytic bins. */
static void test_synthetic_end_to_end(void **state) {
  (void)state;
  const long nb = 200000, ns = 100000;
  const double ml_b = 0.0, sl_b = 1.0, mh_b = 0.0, sh_b = 0.005;
  const double ml_s = 1.5, sl_s = 1.0, mh_s = 0.01, sh_s = 0.005;
  const double btot = 147.6, stot = 2.0; /* per t.y; signal at sigma_ref */
  bank bk, sg;
  bank_make(&bk, nb, ml_b, sl_b, mh_b, sh_b, btot, 10);
  bank_make(&sg, ns, ml_s, sl_s, mh_s, sh_s, stot, 11);
  stats_params p;
  default_params(&p);
  p.toys = 4000;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 64, p.toys), DD_OK);
  const double rs[2] = {0.0, 100.0};
  for (int ir = 0; ir < 2; ir++) {
    for (int rule = 0; rule < 2; rule++) {
      double r = rs[ir];
      p.binning.rule = (stats_bin_rule)rule;
      p.binning.bins = rule ? 20 : 50;
      stats_template t;
      assert_int_equal(stats_template_build(&t, &p.binning, &bk.ev, &sg.ev, NULL, r, 1e-45), DD_OK);
      double mb = ml_b + r * mh_b, sb = sqrt(sl_b * sl_b + r * r * sh_b * sh_b);
      double ms = ml_s + r * mh_s, ss = sqrt(sl_s * sl_s + r * r * sh_s * sh_s);
      double a_an[64], b_an[64], chi = 0.0;
      for (int i = 0; i < t.k; i++) {
        b_an[i] = gauss_bin(btot, mb, sb, t.edges[i], t.edges[i + 1]);
        a_an[i] = gauss_bin(stot, ms, ss, t.edges[i], t.edges[i + 1]);
        if (t.beta_n[i] > 0) {
          double d = (t.beta[i] - b_an[i]) / sqrt(t.beta_w2[i]);
          chi += d * d;
        }
      }
      /* template vs analytic: chi^2 with k dof, generous 6-sigma bound */
      assert_true(chi < t.k + 6.0 * sqrt(2.0 * t.k));
      /* at E = 5 t.y and sigma = 3 sigma_ref: compare every method */
      const double e = 5.0, mu = 3.0;
      double s_an[64], bb_an[64];
      for (int i = 0; i < t.k; i++) {
        s_an[i] = e * mu * a_an[i];
        bb_an[i] = e * b_an[i];
      }
      stats_result res;
      p.nuis.er_norm = p.nuis.mc_stat = 0;
      assert_int_equal(stats_eval(&t, &p, STATS_METHOD_PAPER, mu, e, &w, &res), DD_OK);
      double chi2_an = 0.0;
      for (int i = 0; i < t.k; i++) chi2_an += s_an[i] * s_an[i] / (2 * bb_an[i] + s_an[i]);
      assert_near("paper vs closed form", res.stat, chi2_an, 0, 0.03);
      assert_near("paper p", res.p, erfc(sqrt(res.stat / 2)), 0, 1e-12);
      double q_an = stats_q0_asimov_simple(t.k, s_an, bb_an);
      assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, mu, e, &w, &res), DD_OK);
      assert_near("sound vs closed form", res.stat, q_an, 0, 0.03);
      /* §4.2: chi^2_P < q0,A / 2, approaching 1/2 for background-dominated bins */
      assert_true(chi2_an / q_an > 0.25 && chi2_an / q_an < 0.5);
      assert_true(res.stat > 2.0 * chi2_an);
      p.nuis.er_norm = 1;
      double q_norm = stats_q0_asimov_norm(t.k, s_an, bb_an, 0.049, NULL);
      assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, mu, e, &w, &res), DD_OK);
      assert_near("sound + ER norm vs closed form", res.stat, q_norm, 0, 0.03);
      assert_true(res.stat < q_an);
      p.nuis.mc_stat = 1;
      stats_result rbb;
      assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, mu, e, &w, &rbb), DD_OK);
      assert_true(rbb.stat <= res.stat && rbb.stat > 0.9 * res.stat);
      /* toys: null p of the Asimov q0 and the H1 median against asymptotics */
      if (ir == 1 && rule == 1) {
        p.nuis.er_norm = p.nuis.mc_stat = 0;
        stats_toy_result tr;
        assert_int_equal(stats_toys_eval(&t, &p, STATS_TOY_Q0, 0.5, e, 77, 3, &w, &tr), DD_OK);
        double q_small = tr.t_obs;
        assert_near("toy median q0|H1 ~ q0,A", tr.median_h1, q_small, 0.5, 0.25);
        assert_near("toy p vs asymptotic", tr.p_h0, stats_norm_sf(sqrt(q_small)),
                    4.0 * tr.p_h0_err + 0.1 * tr.p_h0, 0);
        /* the paper statistic's toy p-value vs its 1-dof p (§7.5) */
        assert_int_equal(stats_toys_eval(&t, &p, STATS_TOY_PEARSON, 0.5, e, 77, 4, &w, &tr), DD_OK);
        assert_true(tr.p_h0 > tr.p_asym); /* ~1/2 chi^2_20 null, far wider than chi^2_1 */
      }
      stats_template_free(&t);
    }
  }
  stats_work_free(&w);
  bank_free(&bk);
  bank_free(&sg);
}

/* Paper mode with independent background halves (§3): the statistic uses
 * the even events as b and the odd ones (+ s) as n; MC noise ~ 2 k w E. */
static void test_paper_independent(void **state) {
  (void)state;
  bank bk, sg;
  bank_make(&bk, 100000, 0.0, 1.0, 0.0, 0.01, 100.0, 20);
  bank_make(&sg, 10000, 2.0, 1.0, 0.0, 0.01, 1.0, 21);
  stats_params p;
  default_params(&p);
  p.paper_bkg = STATS_PAPER_INDEPENDENT;
  stats_template t;
  assert_int_equal(stats_template_build(&t, &p.binning, &bk.ev, &sg.ev, NULL, 0.0, 1e-45), DD_OK);
  stats_work w;
  assert_int_equal(stats_work_init(&w, 64, 0), DD_OK);
  stats_result r;
  const double e = 10.0, mu = 4.0;
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_PAPER, mu, e, &w, &r), DD_OK);
  assert_true(r.flags & STATS_FLAG_INDEPENDENT);
  double chi2 = 0.0;
  for (int i = 0; i < t.k; i++) {
    double b = e * t.beta_half[i], n = e * (t.beta_half[t.k + i] + mu * t.alpha[i]);
    if (b + n > 0) chi2 += (b - n) * (b - n) / (b + n);
  }
  assert_near("independent chi2", r.stat, chi2, 0, 1e-12);
  /* at sigma = 0 the statistic is pure MC noise, E[chi2] ~ 2 k w E */
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_PAPER, 0.0, e, &w, &r), DD_OK);
  double expect = 2.0 * t.k * (100.0 / 100000) * e;
  assert_near("noise level", r.stat, expect, 0, 0.6);
  assert_true(r.stat > 0.0);
  stats_template_free(&t);
  stats_work_free(&w);
  bank_free(&bk);
  bank_free(&sg);
}

/* ---------------------------------------------- classical 2-D baseline */

typedef struct bank2 {
  long n;
  double *x, *y, *w;
  stats_events2d ev;
} bank2;

/* cS1 ~ U(0, 120) PE, log10(cS2/cS1) ~ N(m, s), so part of it is outside the
 * (3, 100) PE ROI. */
static void bank2_make(bank2 *b, long n, double m, double s, double wtot, uint32_t id) {
  b->n = n;
  b->x = malloc((size_t)n * sizeof(double));
  b->y = malloc((size_t)n * sizeof(double));
  b->w = malloc((size_t)n * sizeof(double));
  for (long i = 0; i < n; i++) {
    dd_rng r = dd_rng_for(7, DD_STREAM_TEST, id, (uint32_t)i, 0);
    b->x[i] = 120.0 * dd_rng_uniform(&r);
    b->y[i] = b->x[i] * pow(10.0, m + s * dd_rng_normal(&r)); /* cS2 */
    b->w[i] = wtot / n;
  }
  b->ev.n = n;
  b->ev.cs1 = b->x;
  b->ev.cs2 = b->y;
  b->ev.weight = b->w;
}

static void bank2_free(bank2 *b) {
  free(b->x);
  free(b->y);
  free(b->w);
}

static void test_classical(void **state) {
  (void)state;
  const double mb = 2.3, sb = 0.2, ms = 2.0, sg_ = 0.1, btot = 147.6 * 1.2, stot = 3.0 * 1.2;
  bank2 bk, sg;
  bank2_make(&bk, 200000, mb, sb, btot, 30);
  bank2_make(&sg, 100000, ms, sg_, stot, 31);
  stats_params p;
  default_params(&p);
  /* the histogram rules (the kernel density has its oracle in test_stats_classical) */
  p.classical.kde = 0;
  p.classical.cs1_range_pe[0] = 3.0;
  p.classical.y_bins = 10;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 512, 0), DD_OK);
  for (int rule = 0; rule < 2; rule++) {
    p.classical.y_rule = (stats_bin_rule)(1 - rule);
    p.classical.y_range[0] = 1.7; /* 3 sigma below the background */
    p.classical.y_range[1] = 2.9;
    stats_template t;
    assert_int_equal(stats_template_build_2d(&t, &p.classical, &bk.ev, &sg.ev, NULL, 1e-45), DD_OK);
    assert_int_equal(t.nx, 20);
    assert_int_equal(t.ny, rule ? 12 : 10);
    /* fraction in the ROI (3, 100) of U(0, 120) */
    assert_near("ROI background", t.beta_tot, btot * 97.0 / 120.0, 0, 0.01);
    assert_true(t.n_bkg_out > 0);
    /* analytic bins: P(cS1 slice) x P(y bin) */
    double s_an[512], b_an[512];
    const double e = 2.0, mu = 0.4;
    for (int ix = 0; ix < t.nx; ix++) {
      double px = (t.edges[ix + 1] - t.edges[ix]) / 120.0;
      const double *ye = t.y_edges + (size_t)ix * (t.ny + 1);
      for (int iy = 0; iy < t.ny; iy++) {
        b_an[ix * t.ny + iy] = e * px * gauss_bin(btot, mb, sb, ye[iy], ye[iy + 1]);
        s_an[ix * t.ny + iy] = e * mu * px * gauss_bin(stot, ms, sg_, ye[iy], ye[iy + 1]);
      }
    }
    p.nuis.er_norm = p.nuis.mc_stat = 0;
    stats_result r;
    assert_int_equal(stats_eval(&t, &p, STATS_METHOD_CLASSICAL, mu, e, &w, &r), DD_OK);
    /* far-tail bins have few MC events; the floor and MC noise allow ~5 % */
    double q_an = stats_q0_asimov_simple(t.k, s_an, b_an);
    assert_near("classical vs closed form", r.stat, q_an, 0, 0.05);
    p.nuis.er_norm = 1;
    assert_int_equal(stats_eval(&t, &p, STATS_METHOD_CLASSICAL, mu, e, &w, &r), DD_OK);
    assert_near("classical + ER norm", r.stat, stats_q0_asimov_norm(t.k, s_an, b_an, 0.049, NULL),
                0, 0.05);
    /* classical contour: homogeneous without nuisances */
    p.nuis.er_norm = 0;
    double mu5;
    unsigned fl;
    assert_int_equal(stats_contour(&t, &p, STATS_METHOD_CLASSICAL, &e, 1, 0, 0, &w, &mu5, &fl),
                     DD_OK);
    assert_int_equal(stats_eval(&t, &p, STATS_METHOD_CLASSICAL, mu5, e, &w, &r), DD_OK);
    assert_near("classical root", r.stat, 25.0, 0, 1e-9);
    stats_template_free(&t);
  }
  /* cS1/cS2 <= 0 are dropped, non-finite ones are errors */
  bk.x[0] = -1.0;
  bk.y[1] = 0.0;
  stats_template t;
  assert_int_equal(stats_template_build_2d(&t, &p.classical, &bk.ev, &sg.ev, NULL, 1e-45), DD_OK);
  stats_template_free(&t);
  bk.x[2] = NAN;
  dd_error_clear();
  assert_int_equal(stats_template_build_2d(&t, &p.classical, &bk.ev, &sg.ev, NULL, 1e-45),
                   DD_ERR_ARG);
  assert_error_contains("event 2");
  dd_error_clear();
  stats_work_free(&w);
  bank2_free(&bk);
  bank2_free(&sg);
}

/* ------------------------------------------------------- bad inputs */

static void test_bad_inputs(void **state) {
  (void)state;
  bank bk, sg;
  bank_make(&bk, 1000, 0.0, 1.0, 0.0, 0.01, 10.0, 40);
  bank_make(&sg, 500, 2.0, 1.0, 0.0, 0.01, 1.0, 41);
  stats_params p;
  default_params(&p);
  stats_template t;
  /* negative weight */
  bk.w[3] = -0.1;
  dd_error_clear();
  assert_int_equal(stats_template_build(&t, &p.binning, &bk.ev, &sg.ev, NULL, 0.0, 1e-45),
                   DD_ERR_ARG);
  assert_error_contains("background bank: weight[3]");
  bk.w[3] = 0.01;
  /* non-finite TS */
  sg.l[7] = NAN;
  dd_error_clear();
  assert_int_equal(stats_template_build(&t, &p.binning, &bk.ev, &sg.ev, NULL, 0.0, 1e-45),
                   DD_ERR_ARG);
  assert_error_contains("signal bank: TS of event 7");
  sg.l[7] = 1.0;
  /* empty histograms */
  stats_events empty = {0, NULL, NULL, NULL};
  dd_error_clear();
  assert_int_equal(stats_template_build(&t, &p.binning, &empty, &sg.ev, NULL, 0.0, 1e-45),
                   DD_ERR_ARG);
  assert_error_contains("background bank is empty");
  double *zw = calloc(1000, sizeof(double));
  stats_events zero = {1000, bk.l, bk.h, zw};
  dd_error_clear();
  assert_int_equal(stats_template_build(&t, &p.binning, &zero, &sg.ev, NULL, 0.0, 1e-45),
                   DD_ERR_ARG);
  assert_error_contains("total weight is 0");
  free(zw);
  /* all background TS equal: no uniform range */
  double *same = calloc(1000, sizeof(double));
  stats_events flat = {1000, same, same, bk.w};
  dd_error_clear();
  assert_int_equal(stats_template_build(&t, &p.binning, &flat, &sg.ev, NULL, 0.0, 1e-45),
                   DD_ERR_ARG);
  assert_error_contains("coincide");
  free(same);
  dd_error_clear();
  assert_int_equal(stats_template_build(&t, &p.binning, &bk.ev, &sg.ev, NULL, -1.0, 1e-45),
                   DD_ERR_ARG);
  /* NR background requested but not given; workspace too small */
  assert_int_equal(stats_template_build(&t, &p.binning, &bk.ev, &sg.ev, NULL, 0.0, 1e-45), DD_OK);
  stats_work w;
  assert_int_equal(stats_work_init(&w, 8, 0), DD_OK);
  stats_result r;
  dd_error_clear();
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, 1.0, 1.0, &w, &r), DD_ERR_ARG);
  assert_error_contains("workspace");
  stats_work_free(&w);
  assert_int_equal(stats_work_init(&w, 64, 0), DD_OK);
  p.nuis.nr_bkg = 1;
  dd_error_clear();
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, 1.0, 1.0, &w, &r), DD_ERR_ARG);
  assert_error_contains("no NR-background events");
  p.nuis.nr_bkg = 0;
  dd_error_clear();
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, -1.0, 1.0, &w, &r), DD_ERR_ARG);
  dd_error_clear();
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, 1.0, 0.0, &w, &r), DD_ERR_ARG);
  dd_error_clear();
  stats_work_free(&w);
  stats_template_free(&t);
  bank_free(&bk);
  bank_free(&sg);
}

/* A bin with signal but no background MC: floored and flagged, or an error
 * naming the bin; the paper's Pearson chi^2 is finite there (the bin adds s). */
static void test_zero_background_guard(void **state) {
  (void)state;
  /* background TS in [0, 0.4) and [0.6, 1), signal at 0.5: a gap */
  const long nb = 2000, ns = 200;
  double *lb = malloc(nb * sizeof(double)), *hb = calloc(nb, sizeof(double));
  double *wb = malloc(nb * sizeof(double));
  for (long i = 0; i < nb; i++) {
    double u = (i + 0.5) / nb;
    lb[i] = u < 0.5 ? 0.8 * u : 0.8 * u + 0.2;
    wb[i] = 0.01;
  }
  double *ls = malloc(ns * sizeof(double)), *hs = calloc(ns, sizeof(double));
  double *ws = malloc(ns * sizeof(double));
  for (long i = 0; i < ns; i++) {
    ls[i] = 0.45 + 0.1 * (i + 0.5) / ns;
    ws[i] = 0.005;
  }
  stats_events bk = {nb, lb, hb, wb}, sg = {ns, ls, hs, ws};
  stats_params p;
  default_params(&p);
  p.binning.bins = 20;
  stats_template t;
  assert_int_equal(stats_template_build(&t, &p.binning, &bk, &sg, NULL, 0.0, 1e-45), DD_OK);
  stats_work w;
  assert_int_equal(stats_work_init(&w, 64, 100), DD_OK);
  stats_result r;
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, 1.0, 1.0, &w, &r), DD_OK);
  assert_true(r.flags & STATS_FLAG_FLOORED);
  assert_true(isfinite(r.stat) && r.stat > 0.0);
  /* floored bins: b = one MC event's weight */
  stats_model m;
  unsigned fl = 0;
  assert_int_equal(stats_model_at(&t, &p, STATS_METHOD_SOUND, 1.0, 1.0, &w, &m, &fl), DD_OK);
  int nfloor = 0;
  for (int i = 0; i < t.k; i++)
    if (t.beta[i] == 0.0 && t.alpha[i] > 0.0) {
      assert_near("floor", m.b[i], 0.01, 0, 1e-12);
      assert_near("one effective MC event", m.mb[i], 1.0, 0, 0);
      nfloor++;
    }
  assert_true(nfloor >= 2);
  /* paper: raw histogram, the gap bins contribute s_i */
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_PAPER, 1.0, 1.0, &w, &r), DD_OK);
  double chi2 = 0.0;
  for (int i = 0; i < t.k; i++)
    if (t.beta[i] + t.alpha[i] > 0) chi2 += t.alpha[i] * t.alpha[i] / (2 * t.beta[i] + t.alpha[i]);
  assert_near("paper with empty bins", r.stat, chi2, 0, 1e-12);
  assert_false(r.flags & STATS_FLAG_FLOORED);
  /* toys and contours run on the floored model */
  stats_toy_result tr;
  p.toys = 100;
  assert_int_equal(stats_toys_eval(&t, &p, STATS_TOY_Q0, 1.0, 1.0, 1, 2, &w, &tr), DD_OK);
  const double e = 1.0;
  double mu5;
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_SOUND, &e, 1, 0, 0, &w, &mu5, &fl), DD_OK);
  assert_true(fl & STATS_FLAG_FLOORED);
  /* error policy */
  p.zero_bkg = STATS_ZERO_BKG_ERROR;
  dd_error_clear();
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, 1.0, 1.0, &w, &r), DD_ERR_NUMERIC);
  assert_error_contains("has signal");
  assert_error_contains("no ER background MC");
  dd_error_clear();
  /* an NR background in the gap does not stand in for the missing ER MC:
   * the bin is still floored (else the small NR background alone would make
   * it look background-free and the contour too strong) */
  p.zero_bkg = STATS_ZERO_BKG_FLOOR;
  {
    double *wn = malloc(ns * sizeof(double));
    for (long i = 0; i < ns; i++) wn[i] = 1e-5;
    stats_events nrb = {ns, ls, hs, wn};
    stats_template tn;
    assert_int_equal(stats_template_build(&tn, &p.binning, &bk, &sg, &nrb, 0.0, 1e-45), DD_OK);
    p.nuis.nr_bkg = 1;
    stats_model mn;
    unsigned fn = 0;
    assert_int_equal(stats_model_at(&tn, &p, STATS_METHOD_SOUND, 1.0, 1.0, &w, &mn, &fn), DD_OK);
    assert_true(fn & STATS_FLAG_FLOORED);
    for (int i = 0; i < tn.k; i++)
      if (tn.beta[i] == 0.0 && tn.alpha[i] > 0.0) assert_near("ER floor", mn.b[i], 0.01, 0, 1e-12);
    p.nuis.nr_bkg = 0;
    stats_template_free(&tn);
    free(wn);
  }
  /* the quantile rule cannot produce such bins */
  p.binning.rule = STATS_BIN_QUANTILE;
  stats_template q;
  assert_int_equal(stats_template_build(&q, &p.binning, &bk, &sg, NULL, 0.0, 1e-45), DD_OK);
  assert_int_equal(stats_eval(&q, &p, STATS_METHOD_SOUND, 1.0, 1.0, &w, &r), DD_OK);
  assert_false(r.flags & STATS_FLAG_FLOORED);
  stats_template_free(&q);
  stats_template_free(&t);
  stats_work_free(&w);
  free(lb);
  free(hb);
  free(wb);
  free(ls);
  free(hs);
  free(ws);
}

/* The worked example of docs/statistics.md: one realistic synthetic unit.
 * The printed table is what the docs quote; the assertions pin it. */
static void test_worked_example(void **state) {
  (void)state;
  bank bk, sg;
  /* background TS ~ N(0, 1); signal shifted by 2 in TS: 147.6 ER events and
   * 2 signal events per t.y at sigma_ref */
  bank_make(&bk, 400000, 0.0, 1.0, 0.0, 0.0, 147.6, 50);
  bank_make(&sg, 100000, 2.0, 1.0, 0.0, 0.0, 2.0, 51);
  stats_params p;
  default_params(&p);
  stats_work w;
  assert_int_equal(stats_work_init(&w, 64, 0), DD_OK);
  stats_template t;
  p.binning.rule = STATS_BIN_QUANTILE;
  p.binning.bins = 50;
  assert_int_equal(stats_template_build(&t, &p.binning, &bk.ev, &sg.ev, NULL, 0.0, 1e-45), DD_OK);
  const double e[4] = {1, 5, 20, 100};
  double mu_paper[4], mu_sound0[4], mu_sound[4];
  unsigned fl[4];
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_PAPER, e, 4, 0, 0, &w, mu_paper, fl), DD_OK);
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_SOUND, e, 4, 0, 0, &w, mu_sound, fl), DD_OK);
  p.nuis.er_norm = p.nuis.mc_stat = 0;
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_SOUND, e, 4, 0, 0, &w, mu_sound0, fl), DD_OK);
  stats_result rp, rs;
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_PAPER, 1.0, 5.0, &w, &rp), DD_OK);
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, 1.0, 5.0, &w, &rs), DD_OK);
  printf("worked example (50 quantile bins, 147.6 bkg + 2 sig events per t.y at sigma_ref):\n");
  printf("  E = 5 t.y, sigma_ref: chi2_P = %.4f p = %.4g Z_1s = %.4f | q0,A = %.4f Z = %.4f\n",
         rp.stat, rp.p, rp.z, rs.stat, rs.z);
  printf("  E [t.y]  sigma5/ref paper  sound(no nuis)  sound(ER 4.9%% + BB full)\n");
  for (int j = 0; j < 4; j++)
    printf("  %6g   %10.4f   %10.4f   %10.4f\n", e[j], mu_paper[j], mu_sound0[j], mu_sound[j]);
  /* the paper's statistic needs a larger sigma everywhere; the ratio falls
   * towards sqrt(2 x 26.34/25) = 1.45 as background dominates (§4.2) */
  for (int j = 0; j < 4; j++) {
    double ratio = mu_paper[j] / mu_sound0[j];
    assert_true(ratio > 1.45 && ratio < 2.5);
    if (j) assert_true(ratio < mu_paper[j - 1] / mu_sound0[j - 1]);
    assert_true(mu_sound[j] >= mu_sound0[j]);
  }
  assert_true(rp.stat / rs.stat > 0.45 && rp.stat / rs.stat < 0.5);
  /* the numbers quoted in docs/statistics.md (deterministic: fixed seeds) */
  assert_near("doc chi2_P", rp.stat, 0.7679, 0, 2e-4);
  assert_near("doc q0,A", rs.stat, 1.6110, 0, 2e-4);
  const double doc[3][4] = {{25.0387, 7.9330, 3.3266, 1.3374},
                            {11.3038, 4.3994, 2.0493, 0.8764},
                            {11.5594, 4.5800, 2.1531, 0.9346}};
  assert_array_near("doc paper", mu_paper, doc[0], 4, 0, 2e-4);
  assert_array_near("doc sound0", mu_sound0, doc[1], 4, 0, 2e-4);
  assert_array_near("doc sound", mu_sound, doc[2], 4, 0, 2e-4);
  stats_template_free(&t);
  stats_work_free(&w);
  bank_free(&bk);
  bank_free(&sg);
}

/* ----------------------------------------------------------- config */

static dd_status load_text(const char *text, stats_params *p) {
  cfg_doc *d = NULL;
  dd_error_clear();
  dd_status st = cfg_parse(&d, text, "t.cfg");
  if (st == DD_OK) st = stats_params_load(d, p);
  if (st == DD_OK) st = cfg_check_unused(d);
  cfg_free(d);
  return st;
}

static void test_params(void **state) {
  (void)state;
  stats_params p;
  assert_int_equal(load_text("", &p), DD_OK);
  assert_int_equal(p.binning.rule, STATS_BIN_QUANTILE); /* issue 14 */
  assert_int_equal(p.binning.bins, 50);
  assert_near("q lo", p.binning.range_q[0], 0.001, 0, 0);
  assert_near("q hi", p.binning.range_q[1], 0.999, 0, 0);
  assert_true(p.binning.underflow && p.binning.overflow);
  assert_int_equal(p.paper_bkg, STATS_PAPER_SHARED);
  assert_int_equal(p.five_sigma, STATS_FIVE_P_ONE_SIDED);
  assert_true(p.nuis.er_norm && p.nuis.mc_stat && p.nuis.nr_bkg); /* issue 14: NR bkg on */
  assert_near("er width", p.nuis.er_norm_width, 0.049, 0, 0);
  assert_near("nr width", p.nuis.nr_bkg_width, 0.23, 0, 0);
  assert_int_equal(p.toys, 10000);
  assert_near("cs1 lo", p.classical.cs1_range_pe[0], 0.0, 0, 0);
  assert_near("cs1 hi", p.classical.cs1_range_pe[1], 100.0, 0, 0);
  assert_near("threshold paper", stats_threshold5(&p, STATS_METHOD_PAPER), 26.33761216043874, 0,
              1e-12);
  assert_near("threshold sound", stats_threshold5(&p, STATS_METHOD_SOUND), 25.0, 0, 0);
  assert_int_equal(load_text("stats = { paper_bkg = "
                             "\"independent\"; five_sigma = \"chi2_25\"; binning = { rule = "
                             "\"quantile\"; bins = 30; }; sound = { er_norm = false; nr_bkg = "
                             "true; nr_bkg_width = 0.3; }; toys = { count = 500; }; };",
                             &p),
                   DD_OK);
  assert_int_equal(p.paper_bkg, STATS_PAPER_INDEPENDENT);
  assert_int_equal(p.binning.rule, STATS_BIN_QUANTILE);
  assert_int_equal(p.binning.bins, 30);
  assert_true(!p.nuis.er_norm && p.nuis.nr_bkg);
  assert_int_equal(p.toys, 500);
  assert_near("threshold chi2_25", stats_threshold5(&p, STATS_METHOD_PAPER), 25.0, 0, 0);
  const struct {
    const char *text, *needle;
  } bad[] = {
      {"stats = { methods = [\"paper\"]; };", "stats.methods: unknown key"},
      {"stats = { paper_bkg = \"both\"; };", "stats.paper_bkg"},
      {"stats = { five_sigma = \"z5\"; };", "stats.five_sigma"},
      {"stats = { binning = { bins = 0; }; };", "stats.binning.bins"},
      {"stats = { binning = { range_quantiles = [0.9, 0.1]; }; };", "range_quantiles"},
      {"stats = { sound = { er_norm_width = 0.0; }; };", "er_norm_width"},
      {"stats = { toys = { count = 0; }; };", "stats.toys.count"},
      {"stats = { classical = { cs1_range_pe = [100.0, 3.0]; }; };", "cs1_range_pe"},
      {"stats = { r_band = [250.0, 100.0]; };", "stats.r_band"},
      {"stats = { zero_bkg = \"merge\"; };", "stats.zero_bkg"},
      {"stats = { binning = { bins = 1.5; }; };", "stats.binning.bins"},
      {"stats = { sound = { width = 0.1; }; };", "stats.sound.width"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (load_text(bad[i].text, &p) == DD_OK) fail_msg("accepted: %s", bad[i].text);
    assert_error_contains(bad[i].needle);
  }
  dd_error_clear();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uniform_rule),      cmocka_unit_test(test_quantile_rule),
      cmocka_unit_test(test_set_signal),        cmocka_unit_test(test_synthetic_end_to_end),
      cmocka_unit_test(test_paper_independent), cmocka_unit_test(test_classical),
      cmocka_unit_test(test_bad_inputs),        cmocka_unit_test(test_zero_background_guard),
      cmocka_unit_test(test_worked_example),    cmocka_unit_test(test_params),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
