/* observed.c - the tests of one observed histogram against one template
 * (`ddscan analyse`, the calibration tests): background-only p and Z, the
 * best-fit signal strength and the 90 % CL upper limit.
 *   sound, classical: q0 = -2 ln lambda(0) of the binned profile likelihood
 *     on the observed counts (stats_q0), p = Phibar(sqrt q0), Z = sqrt q0
 *     (asymptotic; Cowan, Cranmer, Gross, Vitells, EPJC 71 (2011) 1554);
 *   toys: the same q0, p = P(q0 >= q0_obs | H0) from p->toys
 *     pseudo-experiments of the background-only model (stats_toys_run);
 *   paper: Pearson chi^2_P between the observed histogram and the expected
 *     background with the paper's 1-dof convention (not a calibrated test of
 *     an observed histogram: chi^2_P of k bins has k degrees of freedom).
 * The upper limit is where q~mu (stats_qmu) reaches Phi^-1(0.9)^2 =
 * 1.6424, i.e. p_mu = 0.10 one-sided (asymptotic, no CLs). */
#include <math.h>
#include <string.h>

#include "ddscan/stats.h"

#define QMU_90 (1.2815515655446004 * 1.2815515655446004)

static dd_status qmu_at(const stats_model *m, const double *n, double mu, double *q) {
  stats_fit fit;
  DD_TRY(stats_qmu(m, n, mu, &fit), "q~mu at mu = %g", mu);
  *q = fit.qmu;
  return DD_OK;
}

/* q~mu rises from 0 at mu_hat: bracket by doubling, then bisection (in log
 * mu) to a relative 1e-4. */
static dd_status upper_limit(const stats_model *m, const double *n, double mu_hat, double s_tot,
                             double *mu_up) {
  double lo = mu_hat > 0.0 ? mu_hat : 0.0;
  double hi = fmax(2.0 * lo, s_tot > 0.0 ? 2.3 / s_tot : 1.0);
  double q = 0.0;
  int it = 0;
  DD_TRY(qmu_at(m, n, hi, &q), "upper limit");
  while (q < QMU_90 && it++ < 80) {
    lo = hi;
    hi *= 2.0;
    DD_TRY(qmu_at(m, n, hi, &q), "upper limit");
  }
  if (q < QMU_90) {
    *mu_up = INFINITY;
    return DD_OK;
  }
  for (int k = 0; k < 200 && hi - lo > 1e-4 * hi; k++) {
    double mid = lo > 0.0 ? sqrt(lo * hi) : 0.5 * hi;
    DD_TRY(qmu_at(m, n, mid, &q), "upper limit");
    if (q < QMU_90)
      lo = mid;
    else
      hi = mid;
  }
  *mu_up = hi;
  return DD_OK;
}

dd_status stats_observed_eval(const stats_template *t, const stats_params *p, stats_method method,
                              const double *n, double exposure_ty, uint32_t seed, uint32_t point,
                              stats_work *w, double *t_toys, stats_observed *out) {
  memset(out, 0, sizeof *out);
  out->mu_hat = out->mu_up = NAN;
  stats_model m;
  unsigned flags = 0;
  DD_TRY(stats_model_at(t, p, method, 1.0, exposure_ty, w, &m, &flags), "%s model",
         stats_method_name(method));
  /* a bin the background MC never reached but the data did still expects
   * something: one mean MC event's weight (the scan's zero_bkg floor; bins
   * with signal got it from stats_model_at already).  Without it a single
   * event there makes q0 infinite. */
  for (int i = 0; i < t->k; i++)
    if (n[i] > 0.0 && !(m.b[i] + (m.c ? m.c[i] : 0.0) > 0.0)) {
      w->b[i] = exposure_ty * t->w_bkg_mean;
      out->floored++;
    }
  for (int i = 0; i < t->k; i++) {
    out->n_obs += n[i];
    out->b_exp += m.b[i] + (m.c ? m.c[i] : 0.0);
    out->s_exp += m.s[i];
  }
  out->flags = flags;
  if (method == STATS_METHOD_PAPER) {
    double chi2 = 0.0;
    for (int i = 0; i < t->k; i++) {
      double b = m.b[i] + (m.c ? m.c[i] : 0.0), den = b + n[i];
      if (den > 0.0) chi2 += (b - n[i]) * (b - n[i]) / den;
    }
    stats_signif sg = stats_signif_of(STATS_CONV_CHI2_1DOF, chi2);
    out->stat = chi2;
    out->p = sg.p;
    out->z = sg.z;
    return DD_OK;
  }
  stats_fit fit;
  DD_TRY(stats_q0(&m, n, &fit), "%s q0", stats_method_name(method));
  out->stat = fit.q0;
  out->mu_hat = fit.mu_hat;
  stats_signif sg = stats_signif_of(STATS_CONV_Q0, fit.q0);
  out->p = sg.p;
  out->z = sg.z;
  if (method == STATS_METHOD_TOYS) {
    const long nt = p->toys;
    DD_TRY(stats_toys_run(&m, STATS_TOY_Q0, 0.0, seed, point, 0, nt, w, t_toys, NULL), "toys");
    /* ties within rounding count as equal (q0 = 0 is common) */
    const double tol = 1e-9 * (1.0 + fit.q0);
    for (long j = 0; j < nt; j++) {
      if (t_toys[j] > fit.q0 + tol)
        out->toys_gt++;
      else if (t_toys[j] >= fit.q0 - tol)
        out->toys_eq++;
    }
    out->n_toys = nt;
    out->p = (double)(out->toys_gt + out->toys_eq) / (double)nt;
    out->z = out->p > 0.0 ? stats_norm_isf(out->p) : INFINITY;
  }
  DD_TRY(upper_limit(&m, n, fit.mu_hat, out->s_exp, &out->mu_up), "%s", stats_method_name(method));
  return DD_OK;
}
