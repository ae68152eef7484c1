/* mcratio.c - how far a template's expectation can be trusted at one point:
 * the ratio of effective background Monte-Carlo events to expected
 * background events in the bins that carry the significance.
 *
 * Why this number: a template bin holding b expected events of data but
 * built from n_eff effective MC events has a relative MC error 1/sqrt(n_eff)
 * against the data's 1/sqrt(b).  Where n_eff/b is below ~10 the MC error is
 * a third of the statistical one or more, and the significance moves with
 * the MC sample (issue 14: doubling the 4-event tail bin moved sigma5 by
 * +49 %).  Which bins matter is decided by their share of the Asimov q0 with
 * known backgrounds, q_i = 2 [(s_i + b_i) ln(1 + s_i/b_i) - s_i]: the fewest
 * bins, largest first, that hold STATS_MC_RATIO_SHARE of the sum.  The
 * ratio reported is the smallest n_eff_i / b_i among them, with
 * n_eff_i = (sum w)^2 / sum w^2 of the background (ER plus, when it is part
 * of the background, NR) in bin i: conservative, because one poorly
 * simulated bin is enough to make a result move. */
#include "ddscan/stats.h"

#include <float.h>
#include <math.h>

/* 2 [(s+b) ln(1+s/b) - s] without cancellation for s << b. */
static double q_term(double s, double b) {
  if (!(s > 0.0)) return 0.0;
  if (!(b > 0.0)) return INFINITY;
  return 2.0 * b * ((1.0 + s / b) * log1p(s / b) - s / b);
}

double stats_mc_ratio(const stats_template *t, const stats_params *p, double mu, double exposure_ty,
                      stats_work *w, int *n_bins) {
  const int k = t->k;
  const int use_nr = p->nuis.nr_bkg && t->nrb;
  if (n_bins) *n_bins = 0;
  if (k > w->k_max || !(mu > 0.0) || !(exposure_ty > 0.0) || isinf(mu)) return NAN;
  double *q = w->n; /* scratch: each bin's share, -1 once taken */
  double qtot = 0.0;
  for (int i = 0; i < k; i++) {
    const double b = exposure_ty * (t->beta[i] + (use_nr ? t->nrb[i] : 0.0));
    q[i] = q_term(exposure_ty * mu * t->alpha[i], b);
    if (isinf(q[i])) q[i] = DBL_MAX / (double)(k + 1); /* signal without background: it counts */
    qtot += q[i];
  }
  if (!(qtot > 0.0)) return NAN;
  double taken = 0.0, worst = INFINITY;
  int n = 0;
  while (taken < STATS_MC_RATIO_SHARE * qtot && n < k) {
    int best = -1;
    for (int i = 0; i < k; i++)
      if (q[i] >= 0.0 && (best < 0 || q[i] > q[best])) best = i;
    if (best < 0 || !(q[best] > 0.0)) break;
    taken += q[best];
    q[best] = -1.0;
    n++;
    const double bsum = t->beta[best] + (use_nr ? t->nrb[best] : 0.0);
    const double w2 = t->beta_w2[best] + (use_nr ? t->nrb_w2[best] : 0.0);
    /* n_eff / b = (bsum^2 / w2) / (E bsum) = bsum / (E w2) */
    const double r = bsum > 0.0 && w2 > 0.0 ? bsum / (exposure_ty * w2) : 0.0;
    if (r < worst) worst = r;
  }
  if (n_bins) *n_bins = n;
  return n > 0 ? worst : NAN;
}
