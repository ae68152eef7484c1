/* bench_stats.c - cost of the scan's statistics, measured side by side in one
 * run: building the TS templates of one work unit (against a bare pass over
 * the same events), Asimov evaluations per method, one 5-sigma contour with
 * the homogeneity fast path against the per-exposure root finder, toys per
 * second, and the implied time of the Fig. 9 grid (41 sigma x 41 E x 16 R). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ddscan/cfg.h"
#include "ddscan/core.h"
#include "ddscan/stats.h"

static double *gauss(long n, double m, double s, uint32_t id) {
  double *x = malloc((size_t)n * sizeof *x);
  for (long i = 0; i < n; i++) {
    dd_rng r = dd_rng_for(1, DD_STREAM_TEST, id, (uint32_t)i, 0);
    x[i] = m + s * dd_rng_normal(&r);
  }
  return x;
}

static int cmp_double(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

static void fill(double *x, long n, double v) {
  for (long i = 0; i < n; i++) x[i] = v;
}

int main(void) {
  const long nb = 1000000, ns = 200000;
  double *lb = gauss(nb, 0.0, 1.0, 1), *hb = gauss(nb, 0.0, 0.005, 2), *wb = malloc(nb * 8);
  double *ls = gauss(ns, 1.5, 1.0, 3), *hs = gauss(ns, 0.01, 0.005, 4), *ws = malloc(ns * 8);
  fill(wb, nb, 147.6 / nb);
  fill(ws, ns, 2.0 / ns);
  stats_events bk = {nb, lb, hb, wb}, sg = {ns, ls, hs, ws};
  cfg_doc *d = NULL;
  stats_params p;
  if (cfg_parse(&d, "", "bench") != DD_OK || stats_params_load(d, &p) != DD_OK) return 1;
  cfg_free(d);
  printf("events: %ld background + %ld signal\n", nb, ns);

  /* the reference: a plain qsort of the background TS values (the edges
   * need sorted TS, so this is the floor of any template build) */
  double *ts = malloc(nb * sizeof *ts), t0 = dd_time_now();
  for (int rep = 0; rep < 3; rep++) {
    for (long i = 0; i < nb; i++) ts[i] = stats_ts(lb[i], hb[i], 170.0 + rep);
    qsort(ts, (size_t)nb, sizeof *ts, cmp_double);
  }
  double t_pass = (dd_time_now() - t0) / 3;
  free(ts);
  stats_template t;
  for (int rule = 0; rule < 2; rule++) {
    p.binning.rule = (stats_bin_rule)rule;
    t0 = dd_time_now();
    for (int rep = 0; rep < 3; rep++) {
      if (stats_template_build(&t, &p.binning, &bk, &sg, NULL, 170.0 + rep, 1e-45) != DD_OK)
        return 1;
      if (rep < 2) stats_template_free(&t);
    }
    double t_b = (dd_time_now() - t0) / 3;
    printf("template build (%s, %d bins): %.3f s per R = %.2f x a qsort of the TS (%.3f s)\n",
           rule ? "quantile" : "uniform", t.k, t_b, t_b / t_pass, t_pass);
    if (rule == 0) stats_template_free(&t);
  }

  stats_work w;
  if (stats_work_init(&w, t.k, 2000) != DD_OK) return 1;
  const int nev = 20000;
  struct {
    const char *name;
    stats_method m;
    int nuis;
  } cases[3] = {{"paper", STATS_METHOD_PAPER, 0},
                {"sound, no nuisances", STATS_METHOD_SOUND, 0},
                {"sound, ER 4.9 % + BB-lite", STATS_METHOD_SOUND, 1}};
  double rate[3];
  for (int c = 0; c < 3; c++) {
    p.nuis.er_norm = p.nuis.mc_stat = cases[c].nuis;
    stats_result r;
    t0 = dd_time_now();
    for (int i = 0; i < nev; i++)
      if (stats_eval(&t, &p, cases[c].m, 0.5 + 1e-4 * i, 5.0, &w, &r) != DD_OK) return 1;
    rate[c] = nev / (dd_time_now() - t0);
    printf("Asimov evaluation, %-26s %10.0f points/s\n", cases[c].name, rate[c]);
  }
  printf("  ratio general fit / closed form: %.1f x slower\n", rate[1] / rate[2]);

  double e[41], mu5[41];
  unsigned fl[41];
  for (int j = 0; j < 41; j++) e[j] = pow(10.0, -1.0 + 3.0 * j / 40.0);
  p.nuis.er_norm = p.nuis.mc_stat = 0;
  t0 = dd_time_now();
  if (stats_contour(&t, &p, STATS_METHOD_SOUND, e, 41, 0, 0, &w, mu5, fl) != DD_OK) return 1;
  double t_h = dd_time_now() - t0;
  p.nuis.er_norm = p.nuis.mc_stat = 1;
  t0 = dd_time_now();
  if (stats_contour(&t, &p, STATS_METHOD_SOUND, e, 41, 0, 0, &w, mu5, fl) != DD_OK) return 1;
  double t_n = dd_time_now() - t0;
  printf(
      "contour over 41 exposures: fast path %.4f s, root finder with nuisances %.4f s"
      " (%.1f x)\n",
      t_h, t_n, t_n / t_h);
  /* Fig. 9 grid: 16 R x (template + 41 x 41 points x 3 methods + 3 contours) */
  double grid =
      16.0 * ((41.0 * 41.0) * (1.0 / rate[0] + 1.0 / rate[1] + 1.0 / rate[2]) + t_h + 2.0 * t_n);
  printf(
      "Fig. 9 grid (16 R, 41 sigma x 41 E, 3 methods + contours) without templates: "
      "%.2f s on one core\n",
      grid);

  stats_model m;
  if (stats_model_at(&t, &p, STATS_METHOD_TOYS, 1.0, 5.0, &w, &m, NULL) != DD_OK) return 1;
  t0 = dd_time_now();
  if (stats_toys_run(&m, STATS_TOY_Q0, 1.0, 1, 0, 0, 2000, &w, w.t, NULL) != DD_OK) return 1;
  double r_n = 2000 / (dd_time_now() - t0);
  stats_model m0 = m;
  m0.sigma_er = 0.0;
  m0.tau = NULL;
  t0 = dd_time_now();
  if (stats_toys_run(&m0, STATS_TOY_Q0, 1.0, 1, 0, 0, 2000, &w, w.t, NULL) != DD_OK) return 1;
  double r_0 = 2000 / (dd_time_now() - t0);
  printf("toys (%d bins): known background %.0f /s, ER + BB-lite nuisances %.0f /s (%.1f x)\n", t.k,
         r_0, r_n, r_0 / r_n);
  stats_work_free(&w);
  stats_template_free(&t);
  free(lb);
  free(hb);
  free(wb);
  free(ls);
  free(hs);
  free(ws);
  return 0;
}
