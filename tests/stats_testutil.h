/* stats_testutil.h - fixtures shared by the stats test programs: templates
 * with given bin contents and the default `stats` parameters. */
#ifndef DDSCAN_STATS_TESTUTIL_H
#define DDSCAN_STATS_TESTUTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/cfg.h"   /* uses: cfg_parse */
#include "ddscan/stats.h" /* uses: stats_template, stats_params */

/* A k-bin 1-D template with alpha, beta per t.y (sigma_ref = 1e-45 cm^2);
 * beta_w2 = w2 or 0 (no MC-stat uncertainty); 1000 MC events per bin. */
static inline void make_template(stats_template *t, int k, const double *alpha, const double *beta,
                                 const double *w2) {
  memset(t, 0, sizeof *t);
  t->k = t->nx = k;
  t->ny = 1;
  t->r = 0.0;
  t->sigma_ref_cm2 = 1e-45;
  t->edges = calloc((size_t)k + 1, sizeof(double));
  t->beta = calloc((size_t)k, sizeof(double));
  t->beta_w2 = calloc((size_t)k, sizeof(double));
  t->beta_n = calloc((size_t)k, sizeof(long));
  t->beta_half = calloc(2 * (size_t)k, sizeof(double));
  t->alpha = calloc((size_t)k, sizeof(double));
  t->alpha_w2 = calloc((size_t)k, sizeof(double));
  t->alpha_n = calloc((size_t)k, sizeof(long));
  for (int i = 0; i <= k; i++) t->edges[i] = i;
  for (int i = 0; i < k; i++) {
    t->beta[i] = beta[i];
    t->beta_w2[i] = w2 ? w2[i] : 0.0;
    t->beta_n[i] = 1000;
    t->beta_half[i] = t->beta_half[k + i] = beta[i];
    t->alpha[i] = alpha[i];
    t->alpha_n[i] = 1000;
    t->beta_tot += beta[i];
    t->alpha_tot += alpha[i];
  }
  t->w_bkg_mean = 1e-3;
  t->min_mc = 10;
}

static inline void free_template(stats_template *t) {
  stats_template_free(t);
}

/* The defaults of stats_params_load (an empty configuration). */
/* The spec §10 settings these tests' oracles were written for: the defaults
 * except the uniform TS binning and no NR-background template (their banks
 * carry no NR-background events); test_params checks the real defaults. */
static inline void default_params(stats_params *p) {
  cfg_doc *d = NULL;
  const char *text = "stats = { binning = { rule = \"uniform\"; }; sound = { nr_bkg = false; }; };";
  if (cfg_parse(&d, text, "defaults.cfg") != DD_OK || stats_params_load(d, p) != DD_OK) abort();
  cfg_free(d);
}

#endif
