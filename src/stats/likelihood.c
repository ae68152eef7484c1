/* likelihood.c - the binned Poisson likelihood engine shared by Asimov
 * evaluations, toys and enumeration: q0 (Cowan et al. 2011, arXiv:1007.1727,
 * eqs. 12, 97) and q~mu (eq. 16), the ER-normalisation closed form (spec
 * §2.6), full Barlow-Beeston MC statistics for every template profiled per
 * bin by a monotone 1-D root (§5.3), a bounded
 * Newton/Levenberg-Marquardt fit for the general case, the Pearson chi^2 of
 * the paper (arXiv:2110.12248 Eq. 12) and Cowan's counting Z with sigma_b. */
#include "ddscan/stats.h"

#include <math.h>
#include <string.h>

#include "stats_internal.h" /* uses: stats_ge */

/* Threshold tolerance of every "T >= x" comparison (spec §8). */
#define GE_TOL 1e-12

stats_model stats_model_simple(int k, const double *s, const double *b) {
  stats_model m;
  memset(&m, 0, sizeof m);
  m.k = k;
  m.s = s;
  m.b = b;
  m.g_er = 1.0;
  m.g_nr = 1.0;
  return m;
}

double stats_q0_asimov_simple(int k, const double *s, const double *b) {
  double q = 0.0;
  for (int i = 0; i < k; i++) q += stats_qa_term(s[i], b[i]);
  return 2.0 * q;
}

double stats_pearson(int k, const double *b, const double *n) {
  double chi2 = 0.0;
  for (int i = 0; i < k; i++) {
    double den = b[i] + n[i];
    if (den > 0.0) chi2 += (b[i] - n[i]) * (b[i] - n[i]) / den;
  }
  return chi2;
}

double stats_z_count_syst(double s, double b, double sigma_b) {
  if (s <= 0.0) return 0.0;
  if (sigma_b <= 0.0) return sqrt(2.0 * stats_qa_term(s, b));
  double v = sigma_b * sigma_b;
  /* (s+b) ln[(s+b)(b+v)/(b^2+(s+b)v)] = (s+b) log1p(s b/(b^2 + (s+b) v)) and
   * (b^2/v) ln(1 + v s/(b(b+v))) = b s/(b+v) + (b^2/v) log1pmx(u): no
   * cancellation as sigma_b -> 0. */
  double t1 = (s + b) * log1p(s * b / (b * b + (s + b) * v));
  double u = v * s / (b * (b + v));
  double t2 = b * s / (b + v) + (b * b / v) * stats_log1pmx(u);
  double q = 2.0 * (t1 - t2);
  return q > 0.0 ? sqrt(q) : 0.0;
}

/* ---------------------------------------------------------------------- */
/* §2.6: Asimov q0,A with one normalisation nuisance                        */
/* ---------------------------------------------------------------------- */

/* theta = 1 + delta solves a theta^2 + (B - a g) theta - N = 0 (g = 1 on
 * Asimov data); with theta = 1 + delta:  a delta^2 + (a + B) delta + B - N = 0,
 * whose root delta = 2 (N - B) / ((a + B) + sqrt((a - B)^2 + 4 a N)) has no
 * cancellation for either sign of N - B (the form of spec §2.6). */
static double norm_delta(double a, double nsum, double bsum) {
  return 2.0 * (nsum - bsum) / ((a + bsum) + sqrt((a - bsum) * (a - bsum) + 4.0 * a * nsum));
}

/* Conditional theta for data N with background B scaling with theta and a
 * Gaussian constraint of precision a around g: the positive root of
 * a theta^2 + (B - a g) theta - N = 0 in its cancellation-free form. */
static double norm_theta(double a, double g, double nsum, double bsum) {
  if (!(a > 0.0)) return nsum / bsum;
  double h = bsum - a * g, d = sqrt(h * h + 4.0 * a * fmax(nsum, 0.0));
  return h >= 0.0 ? 2.0 * fmax(nsum, 0.0) / (h + d) : (-h + d) / (2.0 * a);
}

double stats_q0_asimov_norm(int k, const double *s, const double *b, double sigma_theta,
                            double *theta0) {
  double a = isinf(sigma_theta) ? 0.0 : 1.0 / (sigma_theta * sigma_theta);
  double ssum = 0.0, bsum = 0.0, qa = 0.0;
  for (int i = 0; i < k; i++) {
    ssum += s[i];
    bsum += b[i];
    qa += stats_qa_term(s[i], b[i]);
  }
  if (sigma_theta <= 0.0) {
    if (theta0) *theta0 = 1.0;
    return 2.0 * qa;
  }
  double nsum = ssum + bsum;
  double delta = norm_delta(a, nsum, bsum);
  if (theta0) *theta0 = 1.0 + delta;
  /* ln L(1,1) - ln L(0, 1+delta) = sum qa_term - N log1pmx(delta) - S delta + a delta^2/2 */
  double q = 2.0 * (qa - nsum * stats_log1pmx(delta) - ssum * delta + 0.5 * a * delta * delta);
  return q > 0.0 ? q : 0.0;
}

/* ---------------------------------------------------------------------- */
/* Known background: the monotone 1-D score equation                        */
/* ---------------------------------------------------------------------- */

/* mu_hat >= 0 and q0 for data n with known background bk (k).  The score
 * h(mu) = sum n s/(mu s + bk) - S is convex and decreasing, so Newton from
 * mu = 0 (where h > 0) approaches the root from below without overshoot; the
 * bracket [0, sum_{s>0} n / S] guards against rounding. */
static dd_status q0_known_bkg(int k, const double *s, const double *bk, const double *n, double *q0,
                              double *mu_hat) {
  double ssum = 0.0, ns = 0.0, h0 = 0.0;
  for (int i = 0; i < k; i++) {
    if (n[i] > 0.0 && !(bk[i] > 0.0))
      return DD_FAIL(DD_ERR_NUMERIC,
                     "bin %d has %g observed events but no expected background: q0 is infinite "
                     "(floor or merge empty background bins)",
                     i, n[i]);
    if (s[i] > 0.0) {
      ssum += s[i];
      ns += n[i];
      h0 += n[i] * s[i] / bk[i];
    }
  }
  *q0 = 0.0;
  *mu_hat = 0.0;
  if (!(ssum > 0.0) || h0 <= ssum) return DD_OK; /* one-sided: mu_hat = 0 */
  double mu = 0.0, hi = ns / ssum;
  for (int it = 0; it < 200; it++) {
    double h = -ssum, dh = 0.0;
    for (int i = 0; i < k; i++) {
      if (!(s[i] > 0.0) || n[i] == 0.0) continue;
      double den = mu * s[i] + bk[i];
      h += n[i] * s[i] / den;
      dh -= n[i] * s[i] * s[i] / (den * den);
    }
    if (h <= 0.0) {
      hi = mu;
      break;
    }
    double next = mu - h / dh;
    if (!(next < hi)) next = 0.5 * (mu + hi);
    if (next - mu <= 1e-15 * next) {
      mu = next;
      break;
    }
    mu = next;
  }
  double q = 0.0;
  for (int i = 0; i < k; i++)
    if (n[i] > 0.0 && s[i] > 0.0) q += n[i] * log1p(mu * s[i] / bk[i]);
  q = 2.0 * (q - mu * ssum);
  *q0 = q > 0.0 ? q : 0.0;
  *mu_hat = mu;
  return DD_OK;
}

/* ---------------------------------------------------------------------- */
/* General case: profiled log-likelihood in (mu, theta_ER, theta_NR)       */
/* ---------------------------------------------------------------------- */

/* Full Barlow-Beeston (Barlow & Beeston, CPC 77 (1993) 219; the profiled
 * form of Conway, arXiv:1103.0354).  Bin i has data n and three templates
 * j = signal, ER, NR with strengths p_j = (mu, theta_ER, theta_NR) and
 * nominal expectations x_j.  A template with an effective MC count m_j > 0
 * (weighted MC: m = (sum w)^2 / sum w^2) has an unknown true MC mean A_j,
 * constrained by its auxiliary count a_j ~ Poisson(A_j) (a_j = m_j except in
 * toys), and contributes P_j A_j with P_j = p_j v_j, v_j = x_j / m_j (the
 * expectation per effective MC event).  Other templates contribute p_j x_j
 * exactly (F0).  Maximising
 *   n ln f - f + sum_j (a_j ln A_j - A_j),   f = F0 + sum_j P_j A_j,
 * over A_j >= 0 gives A_j = a_j / (1 + P_j t) with t = 1 - n/f the root of
 *   G(t) = n/(1 - t) - F0 - sum_j P_j a_j / (1 + P_j t) = 0
 * on (-1/max P_j, 1): G increases from -inf to +inf, so the root is unique
 * and every A_j, hence f, stays positive (unlike a Gaussian gamma).  A
 * template with a_j = 0 (toys) has A_j = 0 unless 1 + P_j t < 0 at that
 * root; then t = -1/P_j and A_j takes up the rest (BB's special case). */
typedef struct bb_bin {
  double x[3]; /* nominal expectations s, b, c */
  double m[3]; /* effective MC counts, 0: exact template */
  double a[3]; /* auxiliary counts */
} bb_bin;

/* Root t of G for bin q at strengths p (n > 0). */
static double bb_root(const bb_bin *q, double n, const double p[3], double f0) {
  double lo = -INFINITY, hi = 1.0, ftot = f0;
  for (int j = 0; j < 3; j++) {
    if (!(q->m[j] > 0.0) || !(q->a[j] > 0.0)) continue;
    double pj = p[j] * q->x[j] / q->m[j];
    if (pj > 0.0) lo = fmax(lo, -1.0 / pj);
    ftot += pj * q->a[j];
  }
  if (isinf(lo)) return ftot > 0.0 ? 1.0 - n / ftot : -INFINITY; /* no constrained template */
  double t = ftot > 0.0 ? 1.0 - n / ftot : 0.5 * (lo + hi);
  if (!(t > lo && t < hi)) t = 0.5 * (lo + hi);
  for (int it = 0; it < 200; it++) {
    double g = n / (1.0 - t) - f0, dg = n / ((1.0 - t) * (1.0 - t));
    for (int j = 0; j < 3; j++) {
      if (!(q->m[j] > 0.0) || !(q->a[j] > 0.0)) continue;
      double pj = p[j] * q->x[j] / q->m[j], d = 1.0 + pj * t;
      g -= pj * q->a[j] / d;
      dg += pj * pj * q->a[j] / (d * d);
    }
    if (g > 0.0)
      hi = t;
    else if (g < 0.0)
      lo = t;
    else
      return t;
    double next = t - g / dg;
    if (!(next > lo && next < hi)) next = isinf(lo) ? hi - 2.0 * (hi - t) : 0.5 * (lo + hi);
    if (fabs(next - t) <= 4e-16 * (1.0 + fabs(t))) return next;
    t = next;
  }
  return t;
}

/* Profiled log-likelihood of one bin relative to the saturated one (0 at a
 * perfect fit), with its gradient and Hessian in p (added to grad/hess when
 * not NULL) and the profiled expectation f (*nu).  -INFINITY when n > 0 and
 * nothing can be expected. */
static double bb_eval(const bb_bin *q, double n, const double p[3], double grad[3],
                      double hess[3][3], double *nu, double a_hat[3]) {
  double f0 = 0.0, v[3] = {0.0, 0.0, 0.0}, pj[3] = {0.0, 0.0, 0.0};
  int con[3];
  for (int j = 0; j < 3; j++) {
    con[j] = q->m[j] > 0.0 && q->x[j] > 0.0;
    if (con[j]) {
      v[j] = q->x[j] / q->m[j];
      pj[j] = p[j] * v[j];
    } else {
      f0 += p[j] * q->x[j];
    }
  }
  double t = 1.0, az = 0.0;
  int zb = -1; /* a template with a = 0 at its boundary */
  if (n > 0.0) {
    t = bb_root(q, n, p, f0);
    for (int j = 0; j < 3; j++)
      if (con[j] && !(q->a[j] > 0.0) && pj[j] > 0.0 && (isinf(t) || 1.0 + pj[j] * t < 0.0) &&
          (zb < 0 || pj[j] > pj[zb]))
        zb = j;
    if (zb >= 0) {
      t = -1.0 / pj[zb];
      double rest = n / (1.0 - t) - f0;
      for (int j = 0; j < 3; j++)
        if (con[j] && q->a[j] > 0.0) rest -= pj[j] * q->a[j] / (1.0 + pj[j] * t);
      az = fmax(rest, 0.0) / pj[zb];
    }
    if (isinf(t)) return -INFINITY;
  }
  double e[3], ell = 0.0, f = f0;
  for (int j = 0; j < 3; j++) {
    if (a_hat) a_hat[j] = NAN;
    if (!con[j]) {
      e[j] = q->x[j];
      continue;
    }
    double aj = j == zb ? az : q->a[j] > 0.0 ? q->a[j] / (1.0 + pj[j] * t) : 0.0;
    if (a_hat) a_hat[j] = aj;
    e[j] = v[j] * aj;
    f += pj[j] * aj;
    if (q->a[j] > 0.0)
      ell += q->a[j] * stats_log1pmx(-pj[j] * t / (1.0 + pj[j] * t));
    else
      ell -= aj;
  }
  if (nu) *nu = f;
  if (n > 0.0) {
    if (!(f > 0.0)) return -INFINITY;
    ell += n * stats_log1pmx(t / (1.0 - t));
  } else {
    ell -= f;
  }
  if (grad) {
    /* envelope theorem: d ell/d p_k = (n/f - 1) e_k = -t e_k; the Hessian by
     * implicit differentiation of G(t, p) = 0 */
    double gt = n > 0.0 ? n / ((1.0 - t) * (1.0 - t)) : 0.0, dt[3] = {0.0, 0.0, 0.0};
    double dgp[3];
    for (int l = 0; l < 3; l++) {
      dgp[l] = -q->x[l];
      if (con[l]) {
        double d = 1.0 + pj[l] * t;
        dgp[l] = q->a[l] > 0.0 && l != zb ? -v[l] * q->a[l] / (d * d) : 0.0;
        if (q->a[l] > 0.0 && l != zb) gt += pj[l] * pj[l] * q->a[l] / (d * d);
      }
    }
    if (n > 0.0 && zb < 0)
      for (int l = 0; l < 3; l++) dt[l] = -dgp[l] / gt;
    for (int k = 0; k < 3; k++) {
      grad[k] -= t * e[k];
      for (int l = 0; l < 3; l++) {
        double de = 0.0;
        if (con[k] && q->a[k] > 0.0 && k != zb) {
          double d = 1.0 + pj[k] * t;
          de = -v[k] * q->a[k] / (d * d) * v[k] * ((k == l ? t : 0.0) + p[k] * dt[l]);
        }
        hess[k][l] += -dt[l] * e[k] - t * de;
      }
    }
  }
  return ell;
}

/* Bin i of model m: templates, effective and auxiliary counts. */
static void bb_bin_of(const stats_model *m, int i, bb_bin *q) {
  const double *xs[3] = {m->s, m->b, m->c}, *ms[3] = {m->ms, m->mb, m->mc};
  const double *as[3] = {m->as, m->ab, m->ac};
  for (int j = 0; j < 3; j++) {
    q->x[j] = xs[j] ? xs[j][i] : 0.0;
    double mj = ms[j] ? ms[j][i] : 0.0;
    q->m[j] = mj > 0.0 && !isinf(mj) ? mj : 0.0;
    q->a[j] = q->m[j] > 0.0 ? (as[j] ? as[j][i] : mj) : 0.0;
  }
}

int stats_model_has_mc(const stats_model *m) {
  return m->ms || m->mb || m->mc;
}

typedef struct fit_ctx {
  const stats_model *m;
  const double *n; /* (k) data, or NULL: Asimov s + b + c */
  int free_[3];    /* mu, theta_ER, theta_NR */
  double a[3];     /* constraint precisions 1/sigma^2 (0: free) for the thetas */
  double g[3];     /* constraint centres */
} fit_ctx;

static double data_n(const fit_ctx *f, int i) {
  const stats_model *m = f->m;
  if (f->n) return f->n[i];
  return m->s[i] + m->b[i] + (m->c ? m->c[i] : 0.0);
}

/* ell(p) and, when grad != NULL, its gradient and Hessian. */
static double fit_eval(const fit_ctx *f, const double p[3], double grad[3], double hess[3][3]) {
  const stats_model *m = f->m;
  double ell = 0.0;
  if (grad) {
    memset(grad, 0, 3 * sizeof(double));
    memset(hess, 0, 9 * sizeof(double));
  }
  for (int i = 0; i < m->k; i++) {
    bb_bin q;
    bb_bin_of(m, i, &q);
    double n = data_n(f, i);
    if (n == 0.0 && q.x[0] == 0.0 && q.x[1] == 0.0 && q.x[2] == 0.0) continue;
    double fi = bb_eval(&q, n, p, grad, hess, NULL, NULL);
    if (fi == -INFINITY) return -INFINITY;
    ell += fi;
  }
  for (int j = 1; j < 3; j++) {
    if (!f->free_[j]) continue;
    double d = p[j] - f->g[j];
    ell -= 0.5 * f->a[j] * d * d;
    if (grad) {
      grad[j] -= f->a[j] * d;
      hess[j][j] -= f->a[j];
    }
  }
  return ell;
}

dd_status stats_bb_expect(const stats_model *m, const double *n, double mu, double theta_er,
                          double theta_nr, double *nu) {
  const double p[3] = {mu, theta_er, theta_nr};
  for (int i = 0; i < m->k; i++) {
    bb_bin q;
    bb_bin_of(m, i, &q);
    double ni = n ? n[i] : q.x[0] + q.x[1] + q.x[2];
    if (bb_eval(&q, ni, p, NULL, NULL, &nu[i], NULL) == -INFINITY)
      return DD_FAIL(DD_ERR_NUMERIC, "bin %d: %g events observed, nothing expected", i, ni);
  }
  return DD_OK;
}

dd_status stats_bb_means(const stats_model *m, const double *n, double mu, double theta_er,
                         double theta_nr, double *a_hat, double *nu) {
  const double p[3] = {mu, theta_er, theta_nr};
  int k = m->k;
  for (int i = 0; i < k; i++) {
    bb_bin q;
    bb_bin_of(m, i, &q);
    double ni = n ? n[i] : q.x[0] + q.x[1] + q.x[2], ah[3];
    if (bb_eval(&q, ni, p, NULL, NULL, &nu[i], ah) == -INFINITY)
      return DD_FAIL(DD_ERR_NUMERIC, "bin %d: %g events observed, nothing expected", i, ni);
    for (int j = 0; j < 3; j++) a_hat[j * k + i] = ah[j];
  }
  return DD_OK;
}

/* Solves A x = y for the n x n leading block (n <= 3) by Gaussian
 * elimination with partial pivoting; returns 0 when singular. */
static int solve_small(int n, double A[3][3], double y[3], double x[3]) {
  for (int c = 0; c < n; c++) {
    int piv = c;
    for (int r = c + 1; r < n; r++)
      if (fabs(A[r][c]) > fabs(A[piv][c])) piv = r;
    if (!(fabs(A[piv][c]) > 0.0)) return 0;
    if (piv != c) {
      for (int j = 0; j < n; j++) {
        double tmp = A[c][j];
        A[c][j] = A[piv][j];
        A[piv][j] = tmp;
      }
      double tmp = y[c];
      y[c] = y[piv];
      y[piv] = tmp;
    }
    for (int r = c + 1; r < n; r++) {
      double fct = A[r][c] / A[c][c];
      for (int j = c; j < n; j++) A[r][j] -= fct * A[c][j];
      y[r] -= fct * y[c];
    }
  }
  for (int r = n - 1; r >= 0; r--) {
    double acc = y[r];
    for (int j = r + 1; j < n; j++) acc -= A[r][j] * x[j];
    x[r] = acc / A[r][r];
  }
  return 1;
}

/* Maximises ell over the free parameters with p_j >= 0: projected Newton with
 * Levenberg-Marquardt damping (the profiled BB terms are not concave
 * everywhere).  p: start in, estimate out. */
static dd_status fit_max(const fit_ctx *f, double p[3], double *ell_out, int *iters) {
  double grad[3], hess[3][3];
  double ell = fit_eval(f, p, grad, hess);
  if (ell == -INFINITY || isnan(ell))
    return DD_FAIL(DD_ERR_NUMERIC, "likelihood is zero at the fit start (mu %g, theta %g, %g)",
                   p[0], p[1], p[2]);
  double lambda = 0.0;
  int it;
  for (it = 0; it < 500; it++) {
    int act[3], na = 0;
    for (int j = 0; j < 3; j++)
      if (f->free_[j] && !(p[j] <= 0.0 && grad[j] <= 0.0)) act[na++] = j;
    if (na == 0) break;
    double A[3][3], y[3], x[3] = {0.0, 0.0, 0.0};
    for (int r = 0; r < na; r++) {
      y[r] = grad[act[r]];
      for (int c = 0; c < na; c++) A[r][c] = -hess[act[r]][act[c]];
      A[r][r] += lambda * fmax(fabs(hess[act[r]][act[r]]), 1e-300);
    }
    int ok = solve_small(na, A, y, x);
    double pn[3] = {p[0], p[1], p[2]}, step = 0.0;
    if (ok) {
      for (int r = 0; r < na; r++) {
        int j = act[r];
        pn[j] = fmax(p[j] + x[r], 0.0);
        step = fmax(step, fabs(pn[j] - p[j]) / (1.0 + fabs(p[j])));
      }
    }
    double gn[3], hn[3][3];
    double elln = ok ? fit_eval(f, pn, gn, hn) : -INFINITY;
    if (ok && elln >= ell) {
      memcpy(p, pn, sizeof pn);
      memcpy(grad, gn, sizeof gn);
      memcpy(hess, hn, sizeof hn);
      ell = elln;
      lambda *= 0.1;
      if (lambda < 1e-12) lambda = 0.0;
      if (step < 1e-12) break;
    } else {
      lambda = lambda == 0.0 ? 1e-4 : lambda * 10.0;
      if (lambda > 1e16) break; /* no ascent direction left within rounding */
    }
  }
  if (it == 500)
    return DD_FAIL(DD_ERR_NUMERIC, "likelihood fit did not converge in 500 iterations");
  *ell_out = ell;
  *iters += it + 1;
  return DD_OK;
}

/* Fit context of model m on data n (NULL: Asimov), every nuisance that m
 * constrains free; mu fixed (free_[0] = 0).  sums: data, ER background, NR
 * background and signal totals. */
static void fit_setup(const stats_model *m, const double *n, fit_ctx *f, double sums[4]) {
  int er_free = m->sigma_er > 0.0;
  int nr_free = m->c && m->sigma_nr > 0.0;
  memset(f, 0, sizeof *f);
  f->m = m;
  f->n = n;
  f->free_[1] = er_free;
  f->free_[2] = nr_free;
  f->a[1] = er_free && !isinf(m->sigma_er) ? 1.0 / (m->sigma_er * m->sigma_er) : 0.0;
  f->a[2] = nr_free && !isinf(m->sigma_nr) ? 1.0 / (m->sigma_nr * m->sigma_nr) : 0.0;
  f->g[1] = m->g_er;
  f->g[2] = m->g_nr;
  double nsum = 0.0, bsum = 0.0, csum = 0.0, ssum = 0.0;
  for (int i = 0; i < m->k; i++) {
    double ni = data_n(f, i), ci = m->c ? m->c[i] : 0.0;
    nsum += ni;
    bsum += m->b[i];
    csum += ci;
    ssum += m->s[i];
  }
  sums[0] = nsum;
  sums[1] = bsum;
  sums[2] = csum;
  sums[3] = ssum;
}

/* The profile at fixed mu: maximises ell over the free nuisances with mu held
 * at mu_fixed (stats_q0 at mu = 0, stats_qmu at mu_test).  p gets (mu_fixed,
 * theta_ER hat-hat, theta_NR hat-hat) and *ell the maximum. */
static dd_status fit_at_mu(fit_ctx *f, const double sums[4], double mu_fixed, double p[3],
                           double *ell, int *iters) {
  const stats_model *m = f->m;
  int free_mu = f->free_[0];
  f->free_[0] = 0;
  p[0] = mu_fixed;
  /* start inside the bounds: a toy's drawn constraint centre can be <= 0
   * (g = 1 + 0.23 z with z < -4.3), where the likelihood may vanish */
  p[1] = f->free_[1] ? fmax(m->g_er, 1e-3) : m->g_er;
  p[2] = f->free_[2] ? fmax(m->g_nr, 1e-3) : m->g_nr;
  if (f->free_[1]) /* start at the closed form, exact without gammas and c */
    p[1] = fmax(1e-3, norm_theta(f->a[1], m->g_er, sums[0] - mu_fixed * sums[3] - m->g_nr * sums[2],
                                 sums[1]));
  dd_status st = fit_max(f, p, ell, iters);
  f->free_[0] = free_mu;
  return st;
}

/* The unconditional fit (mu >= 0) started from the conditional estimate p0 at
 * mu = 0; skipped (mu_hat = 0, ell = ell0) when the score in mu at p0 is <= 0.
 * p gets the estimate, *ell the maximum. */
static dd_status fit_free(fit_ctx *f, const double sums[4], const double p0[3], double ell0,
                          double p[3], double *ell, int *iters) {
  double grad[3], hess[3][3];
  f->free_[0] = 1;
  memcpy(p, p0, 3 * sizeof(double));
  *ell = ell0;
  fit_eval(f, p0, grad, hess);
  if (!(sums[3] > 0.0) || grad[0] <= 0.0) return DD_OK; /* one-sided: mu_hat = 0 */
  p[0] = fmax(0.0, (sums[0] - p0[1] * sums[1] - p0[2] * sums[2]) / sums[3]);
  return fit_max(f, p, ell, iters);
}

dd_status stats_q0(const stats_model *m, const double *n, stats_fit *fit) {
  memset(fit, 0, sizeof *fit);
  fit->qmu = NAN;
  fit->theta_er_hat = fit->theta_er_0 = fit->theta_er_mu = m->g_er;
  fit->theta_nr_hat = fit->theta_nr_0 = fit->theta_nr_mu = m->g_nr;
  int k = m->k;
  int er_free = m->sigma_er > 0.0;
  int nr_free = m->c && m->sigma_nr > 0.0;
  int centred = m->g_er == 1.0 && m->g_nr == 1.0 && !m->as && !m->ab && !m->ac;
  if (!er_free && !nr_free && !stats_model_has_mc(m)) {
    /* known background: b_eff = g_er b + g_nr c */
    int plain = !m->c && m->g_er == 1.0;
    if (n == NULL && centred) {
      for (int i = 0; i < k; i++)
        if (m->s[i] > 0.0 && !(m->b[i] + (m->c ? m->c[i] : 0.0) > 0.0))
          return DD_FAIL(DD_ERR_NUMERIC, "bin %d has signal %g but no background: q0,A is infinite",
                         i, m->s[i]);
      if (plain) {
        fit->q0 = stats_q0_asimov_simple(k, m->s, m->b);
      } else {
        double q = 0.0;
        for (int i = 0; i < k; i++) q += stats_qa_term(m->s[i], m->b[i] + (m->c ? m->c[i] : 0.0));
        fit->q0 = 2.0 * q;
      }
      fit->mu_hat = 1.0;
      return DD_OK;
    }
    if (n != NULL && plain) return q0_known_bkg(k, m->s, m->b, n, &fit->q0, &fit->mu_hat);
  }
  if (n == NULL && centred && er_free && !m->c && !stats_model_has_mc(m)) {
    for (int i = 0; i < k; i++)
      if (m->s[i] > 0.0 && !(m->b[i] > 0.0))
        return DD_FAIL(DD_ERR_NUMERIC, "bin %d has signal %g but no background", i, m->s[i]);
    fit->q0 = stats_q0_asimov_norm(k, m->s, m->b, m->sigma_er, &fit->theta_er_0);
    fit->mu_hat = 1.0;
    fit->theta_er_hat = 1.0;
    return DD_OK;
  }

  /* general: conditional fit at mu = 0, then the unconditional one */
  fit_ctx f;
  double sums[4];
  fit_setup(m, n, &f, sums);
  for (int i = 0; i < k; i++)
    if (data_n(&f, i) > 0.0 && !(m->b[i] > 0.0) && !(m->c && m->c[i] > 0.0))
      return DD_FAIL(DD_ERR_NUMERIC,
                     "bin %d has %g observed events but no expected background: q0 is infinite", i,
                     data_n(&f, i));
  double p0[3], ell0 = 0.0;
  DD_TRY(fit_at_mu(&f, sums, 0.0, p0, &ell0, &fit->iterations), "conditional fit (mu = 0)");
  fit->theta_er_0 = p0[1];
  fit->theta_nr_0 = p0[2];
  double p1[3], ell1 = ell0;
  if (n == NULL && centred) {
    /* Asimov: the nominal point is the exact maximum (ell = 0) unless the
     * score at mu = 0 already says mu_hat = 0 (no signal) */
    double grad[3], hess[3][3];
    f.free_[0] = 1;
    fit_eval(&f, p0, grad, hess);
    memcpy(p1, p0, sizeof p1);
    if (sums[3] > 0.0 && grad[0] > 0.0) {
      p1[0] = p1[1] = p1[2] = 1.0;
      ell1 = fit_eval(&f, p1, NULL, NULL);
    }
  } else {
    DD_TRY(fit_free(&f, sums, p0, ell0, p1, &ell1, &fit->iterations), "unconditional fit");
  }
  fit->mu_hat = p1[0];
  fit->theta_er_hat = p1[1];
  fit->theta_nr_hat = p1[2];
  double q = 2.0 * (ell1 - ell0);
  fit->q0 = q > 0.0 ? q : 0.0;
  return DD_OK;
}

dd_status stats_qmu(const stats_model *m, const double *n, double mu_test, stats_fit *fit) {
  memset(fit, 0, sizeof *fit);
  fit->q0 = NAN;
  fit->theta_er_hat = fit->theta_er_0 = fit->theta_er_mu = m->g_er;
  fit->theta_nr_hat = fit->theta_nr_0 = fit->theta_nr_mu = m->g_nr;
  fit->mu_test = mu_test;
  if (n == NULL)
    return DD_FAIL(DD_ERR_ARG, "stats_qmu needs the data n (build the Asimov array yourself)");
  if (!(mu_test >= 0.0) || isinf(mu_test))
    return DD_FAIL(DD_ERR_ARG, "tested signal strength mu = %g must be finite and >= 0", mu_test);
  fit_ctx f;
  double sums[4];
  fit_setup(m, n, &f, sums);
  /* a bin with data but no background is allowed when mu_test s > 0 there:
   * L(0) = 0 then, so the tested mu can only be compared with mu_hat > 0 */
  double p0[3] = {0.0, m->g_er, m->g_nr}, ell0 = -INFINITY;
  int zero_ok = 1;
  for (int i = 0; i < m->k; i++)
    if (n[i] > 0.0 && !(m->b[i] > 0.0) && !(m->c && m->c[i] > 0.0)) zero_ok = 0;
  if (zero_ok) {
    DD_TRY(fit_at_mu(&f, sums, 0.0, p0, &ell0, &fit->iterations), "conditional fit (mu = 0)");
    fit->theta_er_0 = p0[1];
    fit->theta_nr_0 = p0[2];
  } else if (!(mu_test > 0.0)) {
    return DD_FAIL(DD_ERR_NUMERIC, "q_mu at mu = 0: a bin has data but no expected background");
  }
  double pm[3], ellm = 0.0;
  DD_TRY(fit_at_mu(&f, sums, mu_test, pm, &ellm, &fit->iterations), "conditional fit (mu = %g)",
         mu_test);
  fit->theta_er_mu = pm[1];
  fit->theta_nr_mu = pm[2];
  /* the unconditional fit: from mu = 0 when it is allowed, else from mu_test */
  double p1[3], ell1 = 0.0;
  if (zero_ok) {
    DD_TRY(fit_free(&f, sums, p0, ell0, p1, &ell1, &fit->iterations), "unconditional fit");
  } else {
    memcpy(p1, pm, sizeof p1);
    f.free_[0] = 1;
    DD_TRY(fit_max(&f, p1, &ell1, &fit->iterations), "unconditional fit");
  }
  fit->mu_hat = p1[0];
  fit->theta_er_hat = p1[1];
  fit->theta_nr_hat = p1[2];
  /* q~mu (Cowan et al. 2011, eq. 16): 0 for mu_hat > mu_test; mu_hat < 0 is
   * already L(0, theta hat-hat(0)) because the fit bounds mu >= 0 */
  if (p1[0] > mu_test) {
    fit->qmu = 0.0;
    return DD_OK;
  }
  double q = 2.0 * (fmax(ell1, ellm) - ellm);
  fit->qmu = q > 0.0 ? q : 0.0;
  return DD_OK;
}

int stats_ge(double t, double x) {
  return t >= x - GE_TOL;
}
