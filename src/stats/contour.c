/* contour.c - exposure dependence and 5-sigma contours (spec §6): the
 * homogeneity fast path T(sigma, E) = E g(sigma) (§6.1-6.3), a bracketing
 * Brent root finder in ln sigma with a numerical monotonicity check and a
 * dense-grid fallback (§6.4; the bracketing follows DDCalc's ScaleToPValue),
 * p versus exposure for Fig. 8 (§6.2) and the R band with the best R (§6.5). */
#include "ddscan/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MU_MIN 1e-20
#define MU_MAX 1e20
#define MAX_EVALS 256
#define DENSE_POINTS 241

typedef struct eval_log {
  int n;
  double x[MAX_EVALS]; /* ln mu */
  double v[MAX_EVALS]; /* T - target */
} eval_log;

typedef struct root_fn {
  stats_stat_fn fn;
  void *ctx;
  double exposure; /* E passed to fn (1 when homogeneous) */
  double target;   /* T value sought at that E */
  eval_log *log;
} root_fn;

static dd_status root_eval(root_fn *r, double x, double *v) {
  double t = 0.0;
  DD_TRY(r->fn(r->ctx, exp(x), r->exposure, &t), "statistic at sigma/sigma_ref = %g", exp(x));
  if (isnan(t)) return DD_FAIL(DD_ERR_NUMERIC, "statistic is NaN at sigma/sigma_ref = %g", exp(x));
  *v = t - r->target;
  if (r->log->n < MAX_EVALS) {
    r->log->x[r->log->n] = x;
    r->log->v[r->log->n] = *v;
    r->log->n++;
  }
  return DD_OK;
}

/* 1 when the logged evaluations are non-decreasing in ln mu (tolerance 1e-9
 * relative, for rounding in the fits). */
static int log_monotone(const eval_log *lg, double target) {
  for (int i = 0; i < lg->n; i++)
    for (int j = 0; j < lg->n; j++) {
      if (!(lg->x[j] > lg->x[i])) continue;
      double tol = 1e-9 * (fabs(lg->v[i] + target) + fabs(lg->v[j] + target)) + 1e-12;
      if (lg->v[j] < lg->v[i] - tol) return 0;
    }
  return 1;
}

/* Brent's method (zeroin) for F(x) = 0 on [a, b] with F(a) < 0 <= F(b). */
static dd_status brent(root_fn *r, double a, double fa, double b, double fb, double tol,
                       double *root) {
  double c = a, fc = fa, d = b - a, e = d;
  for (int it = 0; it < 200; it++) {
    if ((fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0)) {
      c = a;
      fc = fa;
      d = e = b - a;
    }
    if (fabs(fc) < fabs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    double tol1 = 2.0 * 1e-16 * fabs(b) + 0.5 * tol, xm = 0.5 * (c - b);
    if (fabs(xm) <= tol1 || fb == 0.0) {
      *root = b;
      return DD_OK;
    }
    if (fabs(e) >= tol1 && fabs(fa) > fabs(fb)) {
      double s = fb / fa, p, q;
      if (a == c) {
        p = 2.0 * xm * s;
        q = 1.0 - s;
      } else {
        double qq = fa / fc, rr = fb / fc;
        p = s * (2.0 * xm * qq * (qq - rr) - (b - a) * (rr - 1.0));
        q = (qq - 1.0) * (rr - 1.0) * (s - 1.0);
      }
      if (p > 0.0) q = -q;
      p = fabs(p);
      if (2.0 * p < fmin(3.0 * xm * q - fabs(tol1 * q), fabs(e * q))) {
        e = d;
        d = p / q;
      } else {
        d = xm;
        e = d;
      }
    } else {
      d = xm;
      e = d;
    }
    a = b;
    fa = fb;
    b += fabs(d) > tol1 ? d : (xm > 0.0 ? tol1 : -tol1);
    DD_TRY(root_eval(r, b, &fb), "Brent step");
  }
  *root = b;
  return DD_OK;
}

/* Dense-grid fallback: the first crossing on a log grid over the search
 * range, refined by bisection inside its cell. */
static dd_status dense_root(root_fn *r, double tol, double *mu, unsigned *fl) {
  double x0 = log(MU_MIN), x1 = log(MU_MAX), prev_x = x0;
  for (int i = 0; i < DENSE_POINTS; i++) {
    double x = x0 + (x1 - x0) * i / (DENSE_POINTS - 1), v = 0.0;
    DD_TRY(root_eval(r, x, &v), "dense scan");
    if (v >= 0.0) {
      if (i == 0) {
        *mu = 0.0;
        *fl |= STATS_FLAG_AT_ZERO;
        return DD_OK;
      }
      double lo = prev_x, hi = x;
      while (hi - lo > tol) {
        double mid = 0.5 * (lo + hi), vm = 0.0;
        DD_TRY(root_eval(r, mid, &vm), "dense-scan bisection");
        if (vm >= 0.0)
          hi = mid;
        else
          lo = mid;
      }
      *mu = exp(0.5 * (lo + hi));
      return DD_OK;
    }
    prev_x = x;
  }
  *mu = INFINITY;
  *fl |= STATS_FLAG_NO_ROOT;
  return DD_OK;
}

/* One root: bracket from mu = 1 by x2 / /2, Brent, then (check != 0) the
 * monotonicity check with the dense-grid fallback. */
static dd_status solve_one(root_fn *r, double tol, int check, double *mu, unsigned *fl) {
  eval_log *lg = r->log;
  lg->n = 0;
  double x = 0.0, v;
  DD_TRY(root_eval(r, x, &v), "bracket start");
  double a, fa, b, fb;
  const double step = log(2.0);
  if (v < 0.0) {
    a = x;
    fa = v;
    for (;;) {
      x += step;
      if (x > log(MU_MAX)) {
        *mu = INFINITY;
        *fl |= STATS_FLAG_NO_ROOT;
        return DD_OK;
      }
      DD_TRY(root_eval(r, x, &v), "bracketing up");
      if (v >= 0.0) break;
      a = x;
      fa = v;
    }
    b = x;
    fb = v;
  } else {
    b = x;
    fb = v;
    for (;;) {
      x -= step;
      if (x < log(MU_MIN)) {
        *mu = 0.0;
        *fl |= STATS_FLAG_AT_ZERO;
        return !check || log_monotone(lg, r->target) ? DD_OK : dense_root(r, tol, mu, fl);
      }
      DD_TRY(root_eval(r, x, &v), "bracketing down");
      if (v < 0.0) break;
      b = x;
      fb = v;
    }
    a = x;
    fa = v;
  }
  double root = b;
  DD_TRY(brent(r, a, fa, b, fb, tol, &root), "root finding");
  if (check && !log_monotone(lg, r->target)) {
    *fl |= STATS_FLAG_NONMONOTONE;
    return dense_root(r, tol, mu, fl);
  }
  *mu = exp(root);
  return DD_OK;
}

static dd_status contour_solve(stats_stat_fn fn, void *ctx, int homogeneous, double t_thr,
                               double tol_ln, int check, const double *exposure_ty, int n_e,
                               double *mu5, unsigned *flags) {
  if (!(t_thr > 0.0)) return DD_FAIL(DD_ERR_ARG, "contour threshold %g must be > 0", t_thr);
  if (!(tol_ln > 0.0)) tol_ln = 1e-12;
  eval_log *lg = malloc(sizeof *lg);
  if (!lg) return DD_FAIL(DD_ERR_NOMEM, "contour evaluation log");
  dd_status st = DD_OK;
  for (int j = 0; j < n_e && st == DD_OK; j++) {
    double e = exposure_ty[j];
    flags[j] = 0;
    if (!(e > 0.0) || isinf(e)) {
      st = DD_FAIL(DD_ERR_ARG, "exposure[%d] = %g t.y must be finite and > 0", j, e);
      break;
    }
    root_fn r = {fn, ctx, homogeneous ? 1.0 : e, homogeneous ? t_thr / e : t_thr, lg};
    st = solve_one(&r, tol_ln, check, &mu5[j], &flags[j]);
    if (st != DD_OK) st = DD_CONTEXT(st, "5-sigma contour at E = %g t.y", e);
  }
  free(lg);
  return st;
}

dd_status stats_contour_solve(stats_stat_fn fn, void *ctx, int homogeneous, double t_thr,
                              double tol_ln, const double *exposure_ty, int n_e, double *mu5,
                              unsigned *flags) {
  return contour_solve(fn, ctx, homogeneous, t_thr, tol_ln, 1, exposure_ty, n_e, mu5, flags);
}

/* ----------------------------------------------------- template callbacks */

typedef struct tmpl_ctx {
  const stats_template *t;
  const stats_params *p;
  stats_method method;
  stats_work *w;
  uint32_t seed, point;
} tmpl_ctx;

static dd_status asimov_stat(void *vctx, double mu, double exposure_ty, double *t) {
  tmpl_ctx *c = vctx;
  stats_result res;
  DD_TRY(stats_eval(c->t, c->p, c->method, mu, exposure_ty, c->w, &res), "contour");
  *t = res.stat;
  return DD_OK;
}

static int cmp_dbl(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

/* Toys: lower median of q0 under H1 with common random numbers (the same
 * toy keys at every sigma), so the function of sigma is deterministic. */
static dd_status toy_median_stat(void *vctx, double mu, double exposure_ty, double *t) {
  tmpl_ctx *c = vctx;
  stats_model m;
  DD_TRY(stats_model_at(c->t, c->p, STATS_METHOD_TOYS, mu, exposure_ty, c->w, &m, NULL),
         "toy contour");
  long n = c->p->toys;
  DD_TRY(stats_toys_run(&m, STATS_TOY_Q0, 1.0, c->seed, c->point, 0, n, c->w, c->w->t, NULL),
         "toy contour");
  qsort(c->w->t, (size_t)n, sizeof(double), cmp_dbl);
  *t = c->w->t[(n - 1) / 2];
  return DD_OK;
}

/* The method's threshold at significance z: its 3- and 5-sigma rules
 * (stats.five_sigma applies to chi^2_P at 5), else the statistic at z. */
static double threshold_at(const stats_params *p, stats_method method, double z) {
  if (z == STATS_Z_DISCOVERY) return stats_threshold5(p, method);
  if (z == STATS_Z_EVIDENCE) return stats_threshold3(p, method);
  return stats_stat_at_z(stats_method_convention(method), z);
}

dd_status stats_contour(const stats_template *t, const stats_params *p, stats_method method,
                        const double *exposure_ty, int n_e, uint32_t seed, uint32_t point,
                        stats_work *w, double *mu5, unsigned *flags) {
  return stats_contour_z(t, p, method, STATS_Z_DISCOVERY, exposure_ty, n_e, seed, point, w, mu5,
                         flags);
}

dd_status stats_contour_z(const stats_template *t, const stats_params *p, stats_method method,
                          double z, const double *exposure_ty, int n_e, uint32_t seed,
                          uint32_t point, stats_work *w, double *mu5, unsigned *flags) {
  return stats_contour_z_err(t, p, method, z, exposure_ty, n_e, seed, point, w, mu5, NULL, flags);
}

/* MC error of a toy contour point mu (see stats_contour_z_err). */
static dd_status toy_contour_err(tmpl_ctx *c, double mu, double e, double *err) {
  long n = c->p->toys;
  double q_lo, q_hi, q_m, q_p;
  DD_TRY(toy_median_stat(c, mu, e, &q_m), "toy contour error");
  long half = (long)ceil(0.5 * sqrt((double)n));
  long i_lo = (n - 1) / 2 - half, i_hi = (n - 1) / 2 + half;
  if (i_lo < 0) i_lo = 0;
  if (i_hi > n - 1) i_hi = n - 1;
  q_lo = c->w->t[i_lo]; /* toy_median_stat left the toys sorted */
  q_hi = c->w->t[i_hi];
  DD_TRY(toy_median_stat(c, mu * 1.1, e, &q_p), "toy contour error");
  DD_TRY(toy_median_stat(c, mu / 1.1, e, &q_m), "toy contour error");
  double slope = (q_p - q_m) / (2.0 * log(1.1));
  *err = slope > 0.0 ? mu * 0.5 * (q_hi - q_lo) / slope : INFINITY;
  return DD_OK;
}

dd_status stats_contour_z_err(const stats_template *t, const stats_params *p, stats_method method,
                              double z, const double *exposure_ty, int n_e, uint32_t seed,
                              uint32_t point, stats_work *w, double *mu5, double *err,
                              unsigned *flags) {
  if (!(z > 0.0) || isinf(z)) return DD_FAIL(DD_ERR_ARG, "contour significance %g must be > 0", z);
  if (err)
    for (int j = 0; j < n_e; j++) err[j] = NAN;
  tmpl_ctx c = {t, p, method, w, seed, point};
  if (method == STATS_METHOD_TOYS) {
    if (w->n_toys < p->toys)
      return DD_FAIL(DD_ERR_ARG, "toy contour: workspace holds %ld toys, %ld needed", w->n_toys,
                     p->toys);
    for (int j = 0; j < n_e; j++) {
      double thr = threshold_at(p, STATS_METHOD_TOYS, z);
      if (p->toys_importance) {
        /* toy-calibrated threshold at this exposure, first from the
         * null fit of the Asimov data at mu = 1 */
        stats_model m;
        DD_TRY(stats_model_at(t, p, STATS_METHOD_TOYS, 1.0, exposure_ty[j], w, &m, NULL),
               "toy contour threshold at E = %g t.y", exposure_ty[j]);
        DD_TRY(stats_toys_is_threshold(&m, z, seed, point, p->toys, w, &thr),
               "toy contour threshold at E = %g t.y", exposure_ty[j]);
      }
      /* the toy median is a noisy step function of sigma (Poisson draws for
       * lambda >= 30 are not monotone in lambda even with common random
       * numbers): any crossing inside the bracket is within toy precision,
       * so no monotonicity check (it would always fall back to the grid) */
      DD_TRY(contour_solve(toy_median_stat, &c, 0, thr, 1e-6, 0, exposure_ty + j, 1, mu5 + j,
                           flags + j),
             "toy contour");
      if (p->toys_importance && mu5[j] > 0.0 && isfinite(mu5[j])) {
        /* the null fit (hence the null toys) depends on the signal in the
         * Asimov data: recalibrate the threshold at the contour and solve
         * again (one step of the fixed point) */
        stats_model m;
        DD_TRY(stats_model_at(t, p, STATS_METHOD_TOYS, mu5[j], exposure_ty[j], w, &m, NULL),
               "toy contour threshold at E = %g t.y", exposure_ty[j]);
        DD_TRY(stats_toys_is_threshold(&m, z, seed, point, p->toys, w, &thr),
               "toy contour threshold at E = %g t.y, mu = %g", exposure_ty[j], mu5[j]);
        DD_TRY(contour_solve(toy_median_stat, &c, 0, thr, 1e-6, 0, exposure_ty + j, 1, mu5 + j,
                             flags + j),
               "toy contour");
      }
      if (err && mu5[j] > 0.0 && isfinite(mu5[j])) {
        DD_TRY(toy_contour_err(&c, mu5[j], exposure_ty[j], &err[j]), "toy contour at E = %g t.y",
               exposure_ty[j]);
        if (!(err[j] <= p->toys_max_rel_err * mu5[j])) flags[j] |= STATS_FLAG_TOY_ERR;
      }
    }
  } else {
    DD_TRY(stats_contour_solve(asimov_stat, &c, stats_is_homogeneous(p, method),
                               threshold_at(p, method, z), 1e-12, exposure_ty, n_e, mu5, flags),
           "%s %g-sigma contour", stats_method_name(method), z);
  }
  /* low-count and template flags at the solution */
  for (int j = 0; j < n_e; j++) {
    if (!(mu5[j] > 0.0) || isinf(mu5[j])) continue;
    stats_result res;
    DD_TRY(stats_eval(t, p, method == STATS_METHOD_TOYS ? STATS_METHOD_SOUND : method, mu5[j],
                      exposure_ty[j], w, &res),
           "contour point");
    flags[j] |= res.flags & (STATS_FLAG_LOW_COUNT | STATS_FLAG_FLOORED | STATS_FLAG_LOW_MC |
                             STATS_FLAG_INDEPENDENT | STATS_FLAG_CHI2_25);
  }
  return DD_OK;
}

dd_status stats_p_vs_exposure(const stats_template *t, const stats_params *p, stats_method method,
                              double mu, const double *exposure_ty, int n_e, stats_work *w,
                              double *p_out, double *z_out, double *log_p_out) {
  if (method == STATS_METHOD_TOYS)
    return DD_FAIL(DD_ERR_ARG, "p versus exposure from toys: use stats_toys_eval per point");
  int homog = stats_is_homogeneous(p, method);
  stats_result ref;
  if (homog) DD_TRY(stats_eval(t, p, method, mu, 1.0, w, &ref), "p versus exposure");
  for (int j = 0; j < n_e; j++) {
    double e = exposure_ty[j];
    stats_signif sg;
    if (!(e > 0.0) || isinf(e))
      return DD_FAIL(DD_ERR_ARG, "exposure[%d] = %g t.y must be finite and > 0", j, e);
    if (homog) {
      /* §6.2: T = E g is exact for every E */
      sg = stats_signif_of(stats_method_convention(method), e * ref.stat);
    } else {
      stats_result res;
      DD_TRY(stats_eval(t, p, method, mu, e, w, &res), "p versus exposure");
      sg.p = res.p;
      sg.z = res.z;
      sg.log_p = res.log_p;
    }
    if (p_out) p_out[j] = sg.p;
    if (z_out) z_out[j] = sg.z;
    if (log_p_out) log_p_out[j] = sg.log_p;
  }
  return DD_OK;
}

void stats_rband(const double *r, int n_r, const double *mu5, int n_e, const double r_band[2],
                 double *lo, double *hi, int *best, int *best_overall) {
  for (int j = 0; j < n_e; j++) {
    lo[j] = NAN;
    hi[j] = NAN;
    best[j] = -1;
    double best_v = INFINITY;
    for (int i = 0; i < n_r; i++) {
      double v = mu5[(size_t)i * n_e + j];
      if (!isfinite(v)) continue;
      if (v < best_v) {
        best_v = v;
        best[j] = i;
      }
      if (r[i] < r_band[0] || r[i] > r_band[1]) continue;
      if (isnan(lo[j]) || v < lo[j]) lo[j] = v;
      if (isnan(hi[j]) || v > hi[j]) hi[j] = v;
    }
  }
  *best_overall = -1;
  double best_sum = INFINITY;
  for (int i = 0; i < n_r; i++) {
    double sum = 0.0;
    int ok = 1;
    for (int j = 0; j < n_e && ok; j++) {
      double v = mu5[(size_t)i * n_e + j];
      if (!isfinite(v) || !(v > 0.0))
        ok = 0;
      else
        sum += log(v);
    }
    if (ok && sum < best_sum) {
      best_sum = sum;
      *best_overall = i;
    }
  }
}
