/* limit.c - the expected exclusion sensitivity: upper limits at confidence
 * level CL from the one-sided test statistic q~mu of Cowan, Cranmer, Gross and
 * Vitells, EPJC 71 (2011) 1554, arXiv:1007.1727 (eq. 16; stats_qmu in
 * likelihood.c), under the same nuisance model as the discovery test.
 *
 * Asymptotic: on the background-only Asimov data (mu' = 0) sigma^2 =
 * mu^2/q~mu,A (eq. 32), and the limit of data with mu_hat is mu_hat + sigma
 * Phi^-1(CL) for CLs+b, so the N-sigma band of the expected limit is
 * sigma (Phi^-1(CL) + N) (eqs. 89-90); sigma is evaluated at the tested mu, so
 * band N is the root of sqrt(q~mu,A(mu)) = Phi^-1(CL) + N.  CLs (Read 2002)
 * divides by 1 - p_b = Phi(N) there: z_N = Phi^-1(1 - (1 - CL) Phi(N)) + N.
 *
 * Toys: mu is excluded by data when q~mu >= qcrit(mu), the CL quantile of
 * q~mu under mu; the background-only distribution of the limit then has
 * P(mu_up <= mu) = M_0(mu) = P(q~mu >= qcrit(mu) | 0), the power, so the
 * Phi(N) quantile of the limit is where the toy power crosses Phi(N). */
#include "ddscan/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats_internal.h" /* uses: stats_ge */

/* Toy grid of the expected toy limits: TOY_GRID log-spaced points over
 * [TOY_LO, TOY_HI] x the asymptotic median. */
#define TOY_GRID 25
#define TOY_LO 0.02
#define TOY_HI 5.0
/* Relative MC error of a toy median above which STATS_LIMIT_TOY_ERR is set. */
#define TOY_REL_ERR_MAX 0.1

double stats_limit_z(stats_limit_rule rule, double cl, int n_sigma) {
  double alpha = 1.0 - cl;
  if (rule == STATS_LIMIT_CLSB) return stats_norm_isf(alpha) + n_sigma;
  /* CLs = p_mu / (1 - p_b); at band N of the background-only distribution
   * 1 - p_b = Phi(N) = Phibar(-N) (Cowan et al. 2011 §3.8 with CLs) */
  return stats_norm_isf(alpha * stats_norm_sf(-(double)n_sigma)) + n_sigma;
}

dd_status stats_qmu_asimov(const stats_model *m, double mu, double *n, double *q) {
  if (n == m->s || n == m->b || (m->c && n == m->c))
    return DD_FAIL(DD_ERR_ARG, "q~mu,A: the Asimov array must not alias the model");
  for (int i = 0; i < m->k; i++) n[i] = m->b[i] + (m->c ? m->c[i] : 0.0);
  stats_fit fit;
  DD_TRY(stats_qmu(m, n, mu, &fit), "q~mu,A at mu = %g", mu);
  *q = fit.qmu;
  return DD_OK;
}

/* ------------------------------------------------------------ asymptotic */

typedef struct qa_ctx {
  const stats_model *m;
  double *n;
} qa_ctx;

static dd_status qa_stat(void *vctx, double mu, double exposure_ty, double *t) {
  qa_ctx *c = vctx;
  (void)exposure_ty; /* the model is already at its exposure */
  return stats_qmu_asimov(c->m, mu, c->n, t);
}

/* Root of sqrt(q~mu,A) = z (z > 0) in units of mu. */
static dd_status asimov_root(qa_ctx *c, double z, double *mu, unsigned *flags) {
  const double one = 1.0;
  unsigned fl = 0;
  DD_TRY(stats_contour_solve(qa_stat, c, 0, z * z, 1e-10, &one, 1, mu, &fl), "limit at z = %g", z);
  if (fl & STATS_FLAG_NO_ROOT) *flags |= STATS_LIMIT_NO_ROOT;
  if (fl & STATS_FLAG_NONMONOTONE) *flags |= STATS_LIMIT_NONMONOTONE;
  return DD_OK;
}

static double pcl_z(double cl, double power_min) {
  return stats_norm_isf(1.0 - cl) - stats_norm_isf(power_min);
}

dd_status stats_limit_asimov_model(const stats_model *m, double cl, double power_min, stats_work *w,
                                   double clsb[STATS_N_BAND], double cls[STATS_N_BAND],
                                   unsigned *flags) {
  if (!(cl > 0.0 && cl < 1.0)) return DD_FAIL(DD_ERR_ARG, "limit CL %g must be in (0, 1)", cl);
  if (m->k > w->k_max) return DD_FAIL(DD_ERR_ARG, "limit: %d bins, workspace %d", m->k, w->k_max);
  qa_ctx c = {m, w->n};
  *flags = 0;
  const int med = STATS_N_BAND / 2;
  double z_med = stats_limit_z(STATS_LIMIT_CLSB, cl, 0);
  DD_TRY(asimov_root(&c, z_med, &clsb[med], flags), "CLs+b median");
  double sigma_med = clsb[med] / z_med; /* eq. 32 at the median */
  double z_pcl = power_min > 0.0 ? pcl_z(cl, power_min) : -INFINITY, mu_pcl = 0.0;
  if (power_min > 0.0) {
    if (z_pcl > 0.0)
      DD_TRY(asimov_root(&c, z_pcl, &mu_pcl, flags), "power constraint");
    else
      mu_pcl = z_pcl * sigma_med;
  }
  for (int b = 0; b < STATS_N_BAND; b++) {
    int n_sig = b - med;
    double z = stats_limit_z(STATS_LIMIT_CLSB, cl, n_sig);
    if (n_sig != 0) {
      if (z > 0.0) {
        DD_TRY(asimov_root(&c, z, &clsb[b], flags), "CLs+b band %+d", n_sig);
      } else {
        clsb[b] = z * sigma_med; /* eq. 89 below the physical boundary */
        *flags |= STATS_LIMIT_NEGATIVE;
      }
    }
    if (power_min > 0.0 && z < z_pcl) {
      clsb[b] = mu_pcl;
      *flags |= STATS_LIMIT_PCL;
    }
    DD_TRY(asimov_root(&c, stats_limit_z(STATS_LIMIT_CLS, cl, n_sig), &cls[b], flags),
           "CLs band %+d", n_sig);
  }
  return DD_OK;
}

/* ------------------------------------------------------------------ toys */

static int cmp_dbl(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

dd_status stats_limit_toy_grid(const stats_model *m, double cl, const double *mu_grid, int n_grid,
                               uint32_t seed, uint32_t point, long n_toys, stats_work *w,
                               double *qcrit, double *power) {
  if (n_toys < 1 || w->n_toys < n_toys)
    return DD_FAIL(DD_ERR_ARG, "limit toys: %ld toys requested, workspace holds %ld", n_toys,
                   w->n_toys);
  if (!(cl > 0.0 && cl < 1.0)) return DD_FAIL(DD_ERR_ARG, "limit CL %g must be in (0, 1)", cl);
  /* the CL quantile: the smallest toy value with empirical CDF >= CL */
  long iq = (long)ceil(cl * (double)n_toys) - 1;
  if (iq < 0) iq = 0;
  for (int g = 0; g < n_grid; g++) {
    double mu = mu_grid[g];
    w->mu_test = mu;
    DD_TRY(stats_toys_run(m, STATS_TOY_QMU, mu, seed, point, n_toys, n_toys, w, w->t, NULL),
           "toys at mu = %g", mu);
    qsort(w->t, (size_t)n_toys, sizeof(double), cmp_dbl);
    qcrit[g] = w->t[iq];
    if (!power) continue;
    DD_TRY(stats_toys_run(m, STATS_TOY_QMU, 0.0, seed, point, 0, n_toys, w, w->t, NULL),
           "background-only toys at mu = %g", mu);
    long c = 0;
    for (long j = 0; j < n_toys; j++) c += stats_ge(w->t[j], qcrit[g]);
    power[g] = (double)c / (double)n_toys;
  }
  return DD_OK;
}

/* q~mu(n) - qcrit(mu) with qcrit linear in ln mu inside cell g. */
static dd_status excl_margin(const stats_model *m, const double *n, const double *mu_grid,
                             const double *qcrit, int g, double x, double *v) {
  double x0 = log(mu_grid[g]), x1 = log(mu_grid[g + 1]);
  double f = (x - x0) / (x1 - x0), qc = qcrit[g] + f * (qcrit[g + 1] - qcrit[g]);
  stats_fit fit;
  DD_TRY(stats_qmu(m, n, exp(x), &fit), "toy limit");
  *v = fit.qmu - qc;
  return DD_OK;
}

dd_status stats_limit_toy_data(const stats_model *m, const double *n, const double *mu_grid,
                               const double *qcrit, int n_grid, double *mu_up) {
  if (n_grid < 2) return DD_FAIL(DD_ERR_ARG, "toy limit: %d grid points, need >= 2", n_grid);
  stats_fit fit;
  DD_TRY(stats_qmu(m, n, mu_grid[0], &fit), "toy limit");
  if (stats_ge(fit.qmu, qcrit[0])) {
    *mu_up = 0.0;
    return DD_OK;
  }
  for (int g = 0; g + 1 < n_grid; g++) {
    DD_TRY(stats_qmu(m, n, mu_grid[g + 1], &fit), "toy limit");
    if (!stats_ge(fit.qmu, qcrit[g + 1])) continue;
    /* bisection in ln mu inside the cell */
    double lo = log(mu_grid[g]), hi = log(mu_grid[g + 1]);
    while (hi - lo > 1e-6) {
      double mid = 0.5 * (lo + hi), v = 0.0;
      DD_TRY(excl_margin(m, n, mu_grid, qcrit, g, mid, &v), "toy limit");
      if (v >= -1e-12)
        hi = mid;
      else
        lo = mid;
    }
    *mu_up = exp(0.5 * (lo + hi));
    return DD_OK;
  }
  *mu_up = INFINITY;
  return DD_OK;
}

dd_status stats_limit_toys_model(const stats_model *m, double cl, double power_min, double mu_ref,
                                 uint32_t seed, uint32_t point, long n_toys, stats_work *w,
                                 double clsb[STATS_N_BAND], double err[STATS_N_BAND],
                                 unsigned *flags) {
  if (!(mu_ref > 0.0) || isinf(mu_ref))
    return DD_FAIL(DD_ERR_ARG, "toy limits need a finite asymptotic median > 0, got %g", mu_ref);
  double mu[TOY_GRID], qcrit[TOY_GRID], power[TOY_GRID];
  for (int g = 0; g < TOY_GRID; g++)
    mu[g] = mu_ref * exp(log(TOY_LO) + (log(TOY_HI) - log(TOY_LO)) * g / (TOY_GRID - 1));
  DD_TRY(stats_limit_toy_grid(m, cl, mu, TOY_GRID, seed, point, n_toys, w, qcrit, power),
         "toy limit grid");
  /* the power is a noisy, nearly monotone function of mu: the first
   * crossing of each level, interpolated linearly in ln mu */
  double level_pcl = power_min > 0.0 ? power_min : -1.0, mu_pcl = 0.0;
  *flags = 0;
  const int med = STATS_N_BAND / 2;
  for (int b = -1; b < STATS_N_BAND; b++) {
    double level = b < 0 ? level_pcl : stats_norm_sf(-(double)(b - med)), val = INFINITY, e = NAN;
    if (b < 0 && level < 0.0) continue;
    if (power[0] >= level) {
      val = 0.0;
      if (b >= 0) *flags |= STATS_LIMIT_TOY_ZERO;
    } else {
      for (int g = 1; g < TOY_GRID; g++) {
        if (power[g] < level) continue;
        double x0 = log(mu[g - 1]), x1 = log(mu[g]);
        double slope = (power[g] - power[g - 1]) / (x1 - x0);
        double x = x0 + (level - power[g - 1]) / slope;
        val = exp(x);
        /* binomial error of the power at the crossing over its slope */
        e = val * sqrt(level * (1.0 - level) / (double)n_toys) / slope;
        break;
      }
      if (isinf(val) && b >= 0) *flags |= STATS_LIMIT_NO_ROOT;
    }
    if (b < 0) {
      mu_pcl = val;
      continue;
    }
    clsb[b] = val;
    err[b] = e;
    if (power_min > 0.0 && val < mu_pcl) {
      clsb[b] = mu_pcl;
      *flags |= STATS_LIMIT_PCL;
    }
  }
  if (!(err[med] <= TOY_REL_ERR_MAX * clsb[med])) *flags |= STATS_LIMIT_TOY_ERR;
  return DD_OK;
}

/* -------------------------------------------------------------- templates */

dd_status stats_limits(const stats_template *t, const stats_params *p, stats_method method,
                       const double *exposure_ty, int n_e, uint32_t seed, uint32_t point,
                       stats_work *w, double *clsb, double *cls, double *err, unsigned *flags) {
  for (int j = 0; j < n_e * STATS_N_BAND; j++) clsb[j] = cls[j] = err[j] = NAN;
  for (int j = 0; j < n_e; j++) flags[j] = 0;
  if (method == STATS_METHOD_PAPER) return DD_OK; /* chi^2_P has no likelihood to invert */
  for (int j = 0; j < n_e; j++) {
    double e = exposure_ty[j];
    if (!(e > 0.0) || isinf(e))
      return DD_FAIL(DD_ERR_ARG, "exposure[%d] = %g t.y must be finite and > 0", j, e);
    stats_model m;
    DD_TRY(stats_model_at(t, p, method, 1.0, e, w, &m, NULL), "limits at E = %g t.y", e);
    double *lb = clsb + (size_t)j * STATS_N_BAND, *ls = cls + (size_t)j * STATS_N_BAND;
    DD_TRY(stats_limit_asimov_model(&m, p->limit_cl, p->limit_power_min, w, lb, ls, &flags[j]),
           "%s limits at E = %g t.y", stats_method_name(method), e);
    if (method != STATS_METHOD_TOYS) continue;
    double ref = lb[STATS_N_BAND / 2];
    unsigned tf = 0;
    if (ref > 0.0 && isfinite(ref)) {
      DD_TRY(stats_limit_toys_model(&m, p->limit_cl, p->limit_power_min, ref, seed, point, p->toys,
                                    w, lb, err + (size_t)j * STATS_N_BAND, &tf),
             "toy limits at E = %g t.y", e);
      flags[j] = tf | (flags[j] & STATS_LIMIT_NONMONOTONE);
    }
  }
  return DD_OK;
}
