/* quadrature.c - the two quadrature rules behind every integrated rate:
 * adaptive Gauss-Kronrod 7/15 (nodes and weights from QUADPACK, Piessens et
 * al. 1983, verified here to integrate x^k exactly for k <= 23) and composite
 * 20-point Gauss-Legendre (nodes computed by Newton iteration on P_20).
 * Both split the interval at the caller's break points and at the nodes of
 * an optional efficiency curve, so that each piece is smooth. */
#include "ddscan/physics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

/* Kronrod 15-point abscissae (x >= 0; the odd-indexed ones are the Gauss
 * 7-point nodes) and weights; Gauss 7-point weights (QUADPACK qk15). */
static const double k_xgk[8] = {
    0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
    0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
    0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
    0.207784955007898467600689403773245, 0.000000000000000000000000000000000};
static const double k_wgk[8] = {
    0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
    0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
    0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
    0.204432940075298892414161999234649, 0.209482141084727828012999174891714};
static const double k_wg[4] = {
    0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
    0.381830050505118944950369775488975, 0.417959183673469387755102040816327};

#define GL_ORDER 20
#define GL_PANELS 32     /* panels per smooth piece */
#define GK_MAX_DEPTH 40  /* bisections before giving up */
#define GK_REL_TOL 1e-11 /* relative tolerance of the adaptive rule */

/* The integrand seen by the rules: f(E) times the efficiency (if any). */
typedef struct integrand {
  phys_density_fn f;
  const void *ctx;
  const phys_curve *eff;
  int bad; /* set when a non-finite value was seen */
} integrand;

static double eval(integrand *g, double e) {
  double v = g->f(g->ctx, e);
  if (g->eff) v *= phys_curve_eval(g->eff, e);
  if (!isfinite(v)) g->bad = 1;
  return v;
}

dd_status phys_curve_check(const phys_curve *c) {
  if (!c || !c->e_kev || !c->value || c->n < 2)
    return DD_FAIL(DD_ERR_ARG, "an efficiency curve needs at least 2 points");
  for (size_t i = 0; i < c->n; i++) {
    if (!isfinite(c->e_kev[i]) || !isfinite(c->value[i]) || c->value[i] < 0)
      return DD_FAIL(DD_ERR_ARG, "efficiency curve point %zu (%g keV, %g) is not finite or < 0", i,
                     c->e_kev[i], c->value[i]);
    if (i > 0 && !(c->e_kev[i] > c->e_kev[i - 1]))
      return DD_FAIL(DD_ERR_ARG, "efficiency curve energies must increase (point %zu: %g <= %g)", i,
                     c->e_kev[i], c->e_kev[i - 1]);
  }
  return DD_OK;
}

double phys_curve_eval(const phys_curve *c, double e_kev) {
  const double *x = c->e_kev;
  size_t n = c->n;
  if (!(e_kev >= x[0] && e_kev <= x[n - 1])) return 0.0;
  size_t lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (x[mid] <= e_kev)
      lo = mid;
    else
      hi = mid;
  }
  double t = (e_kev - x[lo]) / (x[hi] - x[lo]);
  return c->value[lo] + t * (c->value[hi] - c->value[lo]);
}

/* GK15 on [a, b]: returns the Kronrod estimate, *err = |K15 - G7|. */
static double gk15(integrand *g, double a, double b, double *err) {
  double c = 0.5 * (a + b), h = 0.5 * (b - a);
  double fc = eval(g, c);
  double k = fc * k_wgk[7], gs = fc * k_wg[3];
  for (int j = 0; j < 7; j++) {
    double dx = h * k_xgk[j];
    double f2 = eval(g, c - dx) + eval(g, c + dx);
    k += k_wgk[j] * f2;
    if (j % 2 == 1) gs += k_wg[j / 2] * f2;
  }
  *err = fabs((k - gs) * h);
  return k * h;
}

/* Recursive bisection until |K - G| <= tol on every piece (tol halves with
 * each split, so the total error stays below the first tolerance). */
static double gk_adapt(integrand *g, double a, double b, double whole, double err, double tol,
                       int depth, int *fail) {
  if (err <= tol || g->bad) return whole;
  if (depth >= GK_MAX_DEPTH) {
    *fail = 1;
    return whole;
  }
  double m = 0.5 * (a + b), el, er;
  double left = gk15(g, a, m, &el), right = gk15(g, m, b, &er);
  return gk_adapt(g, a, m, left, el, 0.5 * tol, depth + 1, fail) +
         gk_adapt(g, m, b, right, er, 0.5 * tol, depth + 1, fail);
}

/* Gauss-Legendre nodes and weights on [-1, 1] (x[i] > 0 for i < GL_ORDER/2,
 * symmetric), by Newton iteration from the Chebyshev-like first guess. */
static void gl_nodes(double *x /* (GL_ORDER/2) */, double *w /* (GL_ORDER/2) */) {
  const int n = GL_ORDER;
  for (int i = 0; i < n / 2; i++) {
    double t = cos(PI * (i + 0.75) / (n + 0.5)), dp = 1.0;
    for (int it = 0; it < 100; it++) {
      double p0 = 1.0, p1 = t; /* P_0, P_1; recurrence up to P_n */
      for (int k = 2; k <= n; k++) {
        double p2 = ((2.0 * k - 1.0) * t * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      dp = n * (t * p1 - p0) / (t * t - 1.0); /* P_n'(t) */
      double dt = p1 / dp;
      t -= dt;
      if (fabs(dt) < 1e-16) break;
    }
    x[i] = t;
    w[i] = 2.0 / ((1.0 - t * t) * dp * dp);
  }
}

static double gl_composite(integrand *g, double a, double b, const double *x, const double *w) {
  double h = (b - a) / GL_PANELS, sum = 0.0;
  for (int p = 0; p < GL_PANELS; p++) {
    double c = a + (p + 0.5) * h, r = 0.5 * h, s = 0.0;
    for (int i = 0; i < GL_ORDER / 2; i++)
      s += w[i] * (eval(g, c - r * x[i]) + eval(g, c + r * x[i]));
    sum += s * r;
  }
  return sum;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

dd_status phys_integrate(phys_density_fn f, const void *ctx, double e1_kev, double e2_kev,
                         const double *breaks, size_t n_breaks, const phys_curve *eff,
                         phys_quad method, double *out) {
  *out = 0.0;
  if (!isfinite(e1_kev) || !isfinite(e2_kev))
    return DD_FAIL(DD_ERR_ARG, "integration limits must be finite, got [%g, %g] keV", e1_kev,
                   e2_kev);
  if (e1_kev > e2_kev)
    return DD_FAIL(DD_ERR_ARG, "energy range is reversed: [%g, %g] keV (need E1 <= E2)", e1_kev,
                   e2_kev);
  if (eff) DD_TRY(phys_curve_check(eff), "integrating");
  if (eff) { /* nothing outside the curve's support */
    if (e1_kev < eff->e_kev[0]) e1_kev = eff->e_kev[0];
    if (e2_kev > eff->e_kev[eff->n - 1]) e2_kev = eff->e_kev[eff->n - 1];
  }
  if (!(e2_kev > e1_kev)) return DD_OK;

  /* Piece edges: the limits, the caller's breaks and the curve nodes inside. */
  size_t n_eff = eff ? eff->n : 0, n_cut = 0;
  double *cut = NULL;
  DD_TRY(dd_calloc((void **)&cut, n_breaks + n_eff + 2, sizeof *cut, "quadrature break points"),
         "integrating");
  cut[n_cut++] = e1_kev;
  cut[n_cut++] = e2_kev;
  for (size_t i = 0; i < n_breaks; i++)
    if (breaks[i] > e1_kev && breaks[i] < e2_kev) cut[n_cut++] = breaks[i];
  for (size_t i = 0; i < n_eff; i++)
    if (eff->e_kev[i] > e1_kev && eff->e_kev[i] < e2_kev) cut[n_cut++] = eff->e_kev[i];
  qsort(cut, n_cut, sizeof *cut, cmp_double);

  integrand g = {f, ctx, eff, 0};
  double sum = 0.0;
  int fail = 0;
  if (method == PHYS_QUAD_GAUSS_LEGENDRE) {
    double x[GL_ORDER / 2], w[GL_ORDER / 2];
    gl_nodes(x, w);
    for (size_t i = 0; i + 1 < n_cut; i++)
      if (cut[i + 1] > cut[i]) sum += gl_composite(&g, cut[i], cut[i + 1], x, w);
  } else {
    /* A first pass sets the absolute tolerance from the size of the result. */
    double piece[64], perr[64], total = 0.0;
    size_t n_piece = n_cut - 1;
    double *pv = piece, *pe = perr;
    double *heap = NULL;
    if (n_piece > 64) {
      dd_status st = dd_calloc((void **)&heap, 2 * n_piece, sizeof *heap, "quadrature pieces");
      if (st != DD_OK) {
        free(cut);
        return DD_CONTEXT(st, "integrating");
      }
      pv = heap;
      pe = heap + n_piece;
    }
    for (size_t i = 0; i < n_piece; i++) {
      pv[i] = cut[i + 1] > cut[i] ? gk15(&g, cut[i], cut[i + 1], &pe[i]) : 0.0;
      pe[i] = cut[i + 1] > cut[i] ? pe[i] : 0.0;
      total += fabs(pv[i]);
    }
    double tol = GK_REL_TOL * total;
    if (!(tol > 0)) tol = 1e-300;
    for (size_t i = 0; i < n_piece; i++)
      if (cut[i + 1] > cut[i])
        sum += gk_adapt(&g, cut[i], cut[i + 1], pv[i], pe[i], tol / (double)n_piece, 0, &fail);
    free(heap);
  }
  free(cut);
  if (g.bad) return DD_FAIL(DD_ERR_NUMERIC, "non-finite integrand on [%g, %g] keV", e1_kev, e2_kev);
  if (fail)
    return DD_FAIL(DD_ERR_NUMERIC,
                   "adaptive quadrature did not converge on [%g, %g] keV (integrand not smooth "
                   "between break points?)",
                   e1_kev, e2_kev);
  *out = sum;
  return DD_OK;
}
