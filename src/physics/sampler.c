/* sampler.c - a tabulated inverse-CDF sampler.  The density is linear between
 * grid points, so the CDF is quadratic in each cell and is inverted in closed
 * form: a draw is an exact sample of the interpolated density, and
 * phys_sampler_pdf returns exactly that density (what importance weights
 * must divide by).  Draws are a pure function of u: no state, no allocation. */
#include "ddscan/physics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void phys_sampler_free(phys_sampler *s) {
  if (!s) return;
  free(s->e_kev);
  free(s->pdf);
  free(s->cdf);
  memset(s, 0, sizeof *s);
}

dd_status phys_sampler_init(phys_sampler *s, const double *e_kev, const double *density, size_t n) {
  memset(s, 0, sizeof *s);
  if (n < 2) return DD_FAIL(DD_ERR_ARG, "a sampler needs at least 2 grid points, got %zu", n);
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(e_kev[i]))
      return DD_FAIL(DD_ERR_ARG, "sampler grid point %zu is not finite (%g)", i, e_kev[i]);
    if (i > 0 && !(e_kev[i] > e_kev[i - 1]))
      return DD_FAIL(DD_ERR_ARG, "sampler grid must increase: point %zu (%g) <= point %zu (%g)", i,
                     e_kev[i], i - 1, e_kev[i - 1]);
    if (!isfinite(density[i]) || density[i] < 0)
      return DD_FAIL(DD_ERR_ARG, "sampler density at point %zu (%g keV) is %g (need finite, >= 0)",
                     i, e_kev[i], density[i]);
  }
  dd_status st = dd_calloc((void **)&s->e_kev, n, sizeof(double), "sampler grid");
  if (st == DD_OK) st = dd_calloc((void **)&s->pdf, n, sizeof(double), "sampler pdf");
  if (st == DD_OK) st = dd_calloc((void **)&s->cdf, n, sizeof(double), "sampler cdf");
  if (st != DD_OK) {
    phys_sampler_free(s);
    return DD_CONTEXT(st, "building a sampler");
  }
  s->n = n;
  memcpy(s->e_kev, e_kev, n * sizeof(double));
  /* Trapezoid sums are the exact integrals of the piecewise-linear density. */
  double total = 0.0;
  s->cdf[0] = 0.0;
  for (size_t i = 1; i < n; i++) {
    total += 0.5 * (density[i] + density[i - 1]) * (e_kev[i] - e_kev[i - 1]);
    s->cdf[i] = total;
  }
  if (!(total > 0) || !isfinite(total)) {
    phys_sampler_free(s);
    return DD_FAIL(DD_ERR_ARG, "sampler density integrates to %g on [%g, %g] keV (need > 0)", total,
                   e_kev[0], e_kev[n - 1]);
  }
  for (size_t i = 0; i < n; i++) {
    s->pdf[i] = density[i] / total;
    s->cdf[i] /= total;
  }
  s->cdf[n - 1] = 1.0;
  s->norm = total;
  return DD_OK;
}

dd_status phys_sampler_init_fn(phys_sampler *s, phys_density_fn f, const void *ctx, double e_lo_kev,
                               double e_hi_kev, size_t n) {
  memset(s, 0, sizeof *s);
  if (n < 2) return DD_FAIL(DD_ERR_ARG, "a sampler needs at least 2 grid points, got %zu", n);
  if (!isfinite(e_lo_kev) || !isfinite(e_hi_kev) || !(e_lo_kev < e_hi_kev))
    return DD_FAIL(DD_ERR_ARG, "sampler range [%g, %g] keV is reversed or empty", e_lo_kev,
                   e_hi_kev);
  double *e = NULL, *d = NULL;
  dd_status st = dd_calloc((void **)&e, n, sizeof *e, "sampler grid");
  if (st == DD_OK) st = dd_calloc((void **)&d, n, sizeof *d, "sampler density");
  if (st == DD_OK) {
    for (size_t i = 0; i < n; i++) {
      e[i] = e_lo_kev + (e_hi_kev - e_lo_kev) * (double)i / (double)(n - 1);
      d[i] = f(ctx, e[i]);
    }
    e[n - 1] = e_hi_kev;
    st = phys_sampler_init(s, e, d, n);
  }
  free(e);
  free(d);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "sampler on [%g, %g] keV", e_lo_kev, e_hi_kev);
}

/* Index lo of the cell [x[lo], x[lo+1]] that holds v (x increasing, v inside). */
static size_t find_cell(const double *x, size_t n, double v) {
  size_t lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (x[mid] < v)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

double phys_sampler_draw(const phys_sampler *s, double u) {
  if (!(u > 0)) return s->e_kev[0];
  if (u >= 1) return s->e_kev[s->n - 1];
  /* Cell with cdf[lo] < u <= cdf[lo+1]; cells of zero mass are never chosen. */
  size_t lo = find_cell(s->cdf, s->n, u);
  double h = s->e_kev[lo + 1] - s->e_kev[lo];
  double p0 = s->pdf[lo], slope = (s->pdf[lo + 1] - p0) / h;
  double r = u - s->cdf[lo];
  /* Solve p0 t + slope t^2/2 = r for t in [0, h] in the cancellation-free
   * form t = 2r / (p0 + sqrt(p0^2 + 2 slope r)). */
  double disc = p0 * p0 + 2.0 * slope * r;
  double den = p0 + sqrt(disc > 0 ? disc : 0.0);
  double t = den > 0 ? 2.0 * r / den : 0.0;
  if (t > h) t = h;
  if (t < 0) t = 0;
  return s->e_kev[lo] + t;
}

double phys_sampler_pdf(const phys_sampler *s, double e_kev) {
  const double *x = s->e_kev;
  if (!(e_kev >= x[0] && e_kev <= x[s->n - 1])) return 0.0;
  size_t lo = find_cell(x, s->n, e_kev);
  double t = (e_kev - x[lo]) / (x[lo + 1] - x[lo]);
  return s->pdf[lo] + t * (s->pdf[lo + 1] - s->pdf[lo]);
}

double phys_sampler_cdf(const phys_sampler *s, double e_kev) {
  const double *x = s->e_kev;
  if (!(e_kev > x[0])) return 0.0;
  if (e_kev >= x[s->n - 1]) return 1.0;
  size_t lo = find_cell(x, s->n, e_kev);
  double d = e_kev - x[lo];
  double slope = (s->pdf[lo + 1] - s->pdf[lo]) / (x[lo + 1] - x[lo]);
  return s->cdf[lo] + s->pdf[lo] * d + 0.5 * slope * d * d;
}
