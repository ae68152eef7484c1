/* observed.c - the tests of one observed histogram against one template
 * (`ddscan analyse`, the calibration tests): background-only p and Z, the
 * best-fit signal strength and the 90 % CL upper limit.
 *   sound, classical: q0 = -2 ln lambda(0) of the binned profile likelihood
 *     on the observed counts (stats_q0), p = Phibar(sqrt q0), Z = sqrt q0
 *     (asymptotic; Cowan, Cranmer, Gross, Vitells, EPJC 71 (2011) 1554);
 *   toys: the same q0, p = P(q0 >= q0_obs | H0) from p->toys
 *     pseudo-experiments of the background-only model (stats_toys_run);
 *     the same toy-calibrated p is given beside the asymptotic one for sound
 *     and classical (p_toys) when a toy buffer is passed;
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
  out->mu_hat = out->mu_up = out->p_toys = out->z_toys = NAN;
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
  if (t_toys) { /* toy-calibrated p of every likelihood method */
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
    out->p_toys = (double)(out->toys_gt + out->toys_eq) / (double)nt;
    out->z_toys = out->p_toys > 0.0 ? stats_norm_isf(out->p_toys) : INFINITY;
  }
  if (method == STATS_METHOD_TOYS) {
    if (!t_toys) return DD_FAIL(DD_ERR_ARG, "toys: no toy buffer");
    out->p = out->p_toys;
    out->z = out->z_toys;
  }
  DD_TRY(upper_limit(&m, n, fit.mu_hat, out->s_exp, &out->mu_up), "%s", stats_method_name(method));
  return DD_OK;
}

/* Poisson deviance 2 sum [nu - n + n ln(n/nu)] (the saturated-model
 * likelihood ratio, Baker & Cousins, NIM 221 (1984) 437). */
static double deviance(int k, const double *nu, const double *n) {
  double d = 0.0;
  for (int i = 0; i < k; i++) {
    if (!(nu[i] > 0.0)) continue; /* no expectation and (by the floor) no data */
    d += nu[i] - n[i];
    if (n[i] > 0.0) d += n[i] * log(n[i] / nu[i]);
  }
  return 2.0 * d;
}

/* Gamma(shape a, scale 1) by Marsaglia & Tsang, ACM TOMS 26 (2000) 363;
 * a < 1 through the boost u^(1/a). */
static double gamma_draw(dd_rng *r, double a) {
  if (a < 1.0) {
    double u = dd_rng_uniform(r);
    return gamma_draw(r, a + 1.0) * pow(u > 0.0 ? u : 1e-300, 1.0 / a);
  }
  const double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
  for (;;) {
    double x = dd_rng_normal(r), v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    double u = dd_rng_uniform(r);
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0.0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
  }
}

/* Adjacent bins (in index order) merged until each group holds at least
 * STATS_GOF_MIN_MC background MC events (a short last group joins the one
 * before): grp[i] = group of bin i; returns the number of groups. */
static int gof_groups(const stats_template *t, int *grp) {
  int g = 0;
  long acc = 0;
  for (int i = 0; i < t->k; i++) {
    grp[i] = g;
    acc += t->beta_n[i];
    if (acc >= STATS_GOF_MIN_MC) {
      g++;
      acc = 0;
    }
  }
  if (acc > 0 && g > 0) /* the tail is short: into the last full group */
    for (int i = t->k - 1; i >= 0 && grp[i] == g; i--) grp[i] = g - 1;
  else if (acc > 0)
    g = 1; /* everything is one short group */
  return g;
}

dd_status stats_gof_eval(const stats_template *t, const stats_params *p, const double *n,
                         double exposure_ty, uint32_t seed, uint32_t point, long n_toys,
                         stats_work *w, stats_gof *out) {
  memset(out, 0, sizeof *out);
  if (n_toys < 1 || n_toys > w->n_toys)
    return DD_FAIL(DD_ERR_ARG, "goodness of fit: %ld toys, workspace %ld", n_toys, w->n_toys);
  stats_model m;
  DD_TRY(stats_model_at(t, p, STATS_METHOD_SOUND, 0.0, exposure_ty, w, &m, NULL), "gof model");
  /* per group: nu, the nominal background (NR background included when a
   * nuisance), and meff, its effective MC events (sum w)^2 / sum w^2;
   * scratch: w->aux (3k) = nu, meff, observed; w->s (k) = group index */
  const int use_nr = p->nuis.nr_bkg && t->nrb;
  double *nu = w->aux, *meff = w->aux + t->k, *obs = w->aux + 2 * t->k;
  int *grp = (int *)w->ms; /* k ints fit in k doubles */
  const int ng = gof_groups(t, grp);
  double *w2g = w->mb; /* (k) sum of squared weights per group, scratch */
  for (int g = 0; g < ng; g++) nu[g] = meff[g] = obs[g] = w2g[g] = 0.0;
  for (int i = 0; i < t->k; i++) {
    const int g = grp[i];
    nu[g] += m.b[i] + (m.c ? m.c[i] : 0.0);
    meff[g] += t->beta[i] + (use_nr ? t->nrb[i] : 0.0); /* sum w for now */
    w2g[g] += t->beta_w2[i] + (use_nr ? t->nrb_w2[i] : 0.0);
    obs[g] += n[i];
  }
  for (int g = 0; g < ng; g++) {
    meff[g] = w2g[g] > 0.0 ? meff[g] * meff[g] / w2g[g] : 0.0;
    /* a group without background MC but with data: one event's worth */
    if (obs[g] > 0.0 && !(nu[g] > 0.0)) {
      nu[g] = exposure_ty * t->w_bkg_mean;
      meff[g] = 1.0;
    }
  }
  out->n_groups = ng;
  out->stat = deviance(ng, nu, obs);
  double *nt = w->n; /* scratch (k) */
  for (long j = 0; j < n_toys; j++) {
    dd_rng rng = dd_rng_for(seed, DD_STREAM_TOYS, point, (uint32_t)j, 1);
    for (int g = 0; g < ng; g++) {
      if (!(nu[g] > 0.0)) {
        nt[g] = 0.0;
        continue;
      }
      /* the true mean scatters about the MC estimate as the MC sample does */
      const double mean = meff[g] > 0.0 ? nu[g] * gamma_draw(&rng, meff[g]) / meff[g] : nu[g];
      nt[g] = (double)dd_sample_poisson(w->smp, &rng, mean);
    }
    const double d = deviance(ng, nu, nt), tol = 1e-9 * (1.0 + out->stat);
    if (d > out->stat + tol)
      out->toys_gt++;
    else if (d >= out->stat - tol)
      out->toys_eq++;
  }
  out->n_toys = n_toys;
  out->p = (double)(out->toys_gt + out->toys_eq) / (double)n_toys;
  out->z = out->p > 0.0 ? stats_norm_isf(out->p) : INFINITY;
  return DD_OK;
}
