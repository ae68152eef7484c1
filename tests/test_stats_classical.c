/* test_stats_classical.c - the classical (cS1, log10 cS2/cS1) baseline against
 * its closed-form optimum: a toy detector whose ER and NR bands are Gaussian
 * in y = log10(cS2/cS1) with means falling linearly in cS1 and a common
 * width.  Because both means shift together, s/b depends only on the
 * distance from the bands and the Asimov q0 of the TRUE densities is
 *   q0,A(mu, E) = 2 E int [(mu s(y) + b(y)) ln(1 + mu s(y)/b(y)) - mu s(y)] dy
 * (Cowan et al. 2011 eq. 97 per infinitesimal bin), solved here for the
 * 5-sigma cross-section by quadrature and bisection.  The classical method
 * built from finite MC with the kernel density (stats.classical.density =
 * "kde") and fine uniform y bins must reach it within 3 %; the plain
 * histogram of the same events is reported beside it. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/core.h"
#include "ddscan/stats.h"
#include "stats_testutil.h"

#define B_RATE 150.0 /* ER events per t.y in the ROI */
#define S_RATE 1.0   /* signal events per t.y at sigma_ref */
#define SEP 0.30     /* NR band below the ER band, in y */
#define WIDTH 0.10   /* band width (both) */
#define CS1_LO 2.0
#define CS1_HI 50.0

static double phi(double x) {
  return 0.3989422804014327 * exp(-0.5 * x * x); /* 1/sqrt(2 pi) */
}

/* q0,A at E = 1 t.y of the true densities, in the band-relative y. */
static double g_true(double mu) {
  const int n = 24000;
  const double lo = -12.0 * WIDTH - SEP, hi = 12.0 * WIDTH, dy = (hi - lo) / n;
  double q = 0.0;
  for (int i = 0; i < n; i++) {
    double y = lo + (i + 0.5) * dy;
    double b = B_RATE * phi(y / WIDTH) / WIDTH, s = mu * S_RATE * phi((y + SEP) / WIDTH) / WIDTH;
    q += stats_qa_term(s, b) * dy;
  }
  return 2.0 * q;
}

static double mu5_true(double e) {
  double lo = 1e-3, hi = 1e3;
  for (int it = 0; it < 200; it++) {
    double mid = sqrt(lo * hi);
    if (e * g_true(mid) < 25.0)
      lo = mid;
    else
      hi = mid;
  }
  return sqrt(lo * hi);
}

/* n events of one band: cS1 uniform, y Gaussian around the band. */
static void draw_band(long n, double offset, uint32_t stream, double rate, double *cs1, double *cs2,
                      double *w) {
  for (long i = 0; i < n; i++) {
    dd_rng r = dd_rng_for(20261203, DD_STREAM_TOYS, stream, (uint32_t)i, 0);
    double x = CS1_LO + (CS1_HI - CS1_LO) * dd_rng_uniform(&r);
    double y = 2.4 - 0.006 * x - offset + WIDTH * dd_rng_normal(&r);
    cs1[i] = x;
    cs2[i] = x * pow(10.0, y);
    w[i] = rate / (double)n;
  }
}

static void test_classical_oracle(void **state) {
  (void)state;
  const long n_er = 200000, n_nr = 100000;
  double *ec1 = malloc(n_er * sizeof(double)), *ec2 = malloc(n_er * sizeof(double));
  double *ew = malloc(n_er * sizeof(double)), *nc1 = malloc(n_nr * sizeof(double));
  double *nc2 = malloc(n_nr * sizeof(double)), *nw = malloc(n_nr * sizeof(double));
  assert_non_null(ec1 && ec2 && ew && nc1 && nc2 && nw);
  draw_band(n_er, 0.0, 1, B_RATE, ec1, ec2, ew);
  draw_band(n_nr, SEP, 2, S_RATE, nc1, nc2, nw);
  stats_events2d bkg = {n_er, ec1, ec2, ew}, sig = {n_nr, nc1, nc2, nw};
  stats_params p;
  default_params(&p);
  p.nuis.er_norm = 0;
  p.nuis.mc_stat = 0;
  p.classical.cs1_range_pe[0] = CS1_LO;
  p.classical.cs1_range_pe[1] = CS1_HI;
  p.classical.cs1_bins = 16;
  p.classical.y_rule = STATS_BIN_UNIFORM;
  p.classical.y_range[0] = 1.3;
  p.classical.y_range[1] = 2.9;
  p.classical.y_bins = 80;
  const double e[3] = {1.0, 20.0, 200.0};
  double ref[3], mu_kde[3], mu_hist[3], mu_kde_mc[3];
  for (int j = 0; j < 3; j++) ref[j] = mu5_true(e[j]);
  stats_work w;
  assert_int_equal(stats_work_init(&w, 16 * 82, 0), DD_OK);
  unsigned fl[3];
  for (int v = 0; v < 3; v++) {
    p.classical.kde = v != 1;
    p.nuis.mc_stat = v == 2;
    stats_template t;
    assert_int_equal(stats_template_build_2d(&t, &p.classical, &bkg, &sig, NULL, 1e-45), DD_OK);
    assert_near("kept background (+ the kde floor)", t.beta_tot, B_RATE, 0, 1e-6);
    double *out = v == 0 ? mu_kde : v == 1 ? mu_hist : mu_kde_mc;
    dd_status st = stats_contour(&t, &p, STATS_METHOD_CLASSICAL, e, 3, 1, 0, &w, out, fl);
    if (st != DD_OK) dd_error_print(stderr, 0);
    assert_int_equal(st, DD_OK);
    stats_template_free(&t);
  }
  for (int j = 0; j < 3; j++) {
    printf(
        "E = %g t.y: closed form %.5g, kde %.5g (%+.2f %%), kde + MC stat %.5g, histogram %.5g "
        "(%+.2f %%)\n",
        e[j], ref[j], mu_kde[j], 100.0 * (mu_kde[j] / ref[j] - 1.0), mu_kde_mc[j], mu_hist[j],
        100.0 * (mu_hist[j] / ref[j] - 1.0));
  }
  for (int j = 0; j < 3; j++) {
    assert_near("classical kde sigma5 vs the closed-form optimum", mu_kde[j], ref[j], 0, 0.03);
    /* the MC-statistics nuisance of a kernel estimate costs little */
    assert_true(mu_kde_mc[j] >= mu_kde[j] * (1.0 - 1e-9) && mu_kde_mc[j] < mu_kde[j] * 1.05);
  }
  stats_work_free(&w);
  free(ec1);
  free(ec2);
  free(ew);
  free(nc1);
  free(nc2);
  free(nw);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classical_oracle),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
