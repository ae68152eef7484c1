/* rngx.c - exact Poisson and binomial samplers for the per-event simulation,
 * drawing 32-bit uniforms from the event's Philox stream: counting the
 * arrivals of a unit-rate process (ziggurat exponentials) for means below 3,
 * inversion by sequential search below 10, and the transformed-rejection methods of
 * W. Hormann, PTRS ("The transformed rejection method for generating Poisson
 * random variables", Insurance: Math. Econ. 12 (1993) 39-45) and BTRS ("The
 * generation of binomial random variates", J. Stat. Comput. Simul. 46 (1993)
 * 101-110), with log-factorials from a table (Stirling's series beyond). */
#include "det_internal.h"

#include <math.h>

double det_logfact(const det_model *m, double k) {
  if (k < DET_LOGFACT_N) return m->logfact[(int)k];
  /* Stirling: log k! = (k+1/2) log(k+1) - (k+1) + log(2 pi)/2 + 1/(12 (k+1)) - ...
   * with error below 1e-15 here (k >= 1024) */
  double x = k + 1.0, ix = 1.0 / x, ix2 = ix * ix;
  return (x - 0.5) * log(x) - x + 0.91893853320467274178 +
         ix * (1.0 / 12.0 - ix2 * (1.0 / 360.0 - ix2 / 1260.0));
}

uint64_t det_poisson(const det_model *m, dd_rng *r, double mu) {
  if (!(mu > 0.0)) return 0;
  if (mu < 3.0) {
    /* arrivals of a unit-rate Poisson process in [0, mu]: mu + 1 ziggurat
     * exponentials on average, no transcendental call */
    uint64_t k = 0;
    double t = det_exponential(&m->zig, r, 1.0);
    while (t <= mu) {
      k++;
      t += det_exponential(&m->zig, r, 1.0);
    }
    return k;
  }
  if (mu < 10.0) {
    double u = det_u01(r), pk = exp(-mu), cdf = pk;
    uint64_t k = 0;
    while (u > cdf) {
      k++;
      pk *= mu * (k < DET_LOGFACT_N ? m->inv_int[k] : 1.0 / (double)k);
      cdf += pk;
      if (pk < 1e-300 && cdf < u) { /* u beyond the rounded total: retry */
        u = det_u01(r);
        k = 0;
        pk = exp(-mu);
        cdf = pk;
      }
    }
    return k;
  }
  double smu = sqrt(mu), lmu = log(mu);
  double b = 0.931 + 2.53 * smu, a = -0.059 + 0.02483 * b;
  double inv_alpha = 1.1239 + 1.1328 / (b - 3.4), v_r = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    double u = det_u01(r) - 0.5, v = det_u01(r);
    double us = 0.5 - fabs(u);
    double k = floor((2.0 * a / us + b) * u + mu + 0.43);
    if (us >= 0.07 && v <= v_r) return (uint64_t)k;
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    if (log(v * inv_alpha / (a / (us * us) + b)) <= -mu + k * lmu - det_logfact(m, k))
      return (uint64_t)k;
  }
}

uint64_t det_binomial(const det_model *m, dd_rng *r, uint64_t n, double p) {
  if (n == 0 || !(p > 0.0)) return 0;
  if (p >= 1.0) return n;
  int flip = p > 0.5;
  double pp = flip ? 1.0 - p : p, q = 1.0 - pp, nd = (double)n;
  uint64_t k;
  if (nd * pp < 10.0) {
    double s = pp / q, a = (nd + 1.0) * s, f0 = pow(q, nd);
    for (;;) {
      double u = det_u01(r), f = f0;
      k = 0;
      while (u > f && k < n) {
        u -= f;
        k++;
        f *= a / (double)k - s;
      }
      if (u <= f) break; /* else rounding exhausted the pmf: redraw */
    }
  } else {
    double spq = sqrt(nd * pp * q);
    double b = 1.15 + 2.53 * spq, a = -0.0873 + 0.0248 * b + 0.01 * pp;
    double c = nd * pp + 0.5, v_r = 0.92 - 4.2 / b;
    double alpha = (2.83 + 5.1 / b) * spq;
    /* p = 1/j (the electron split) has log(p/q) = -log(j - 1) in the table */
    double ij = 1.0 / pp, lpq;
    if (ij == floor(ij) && ij >= 2.0 && ij < DET_LOGFACT_N)
      lpq = -(m->logfact[(int)ij - 1] - m->logfact[(int)ij - 2]);
    else
      lpq = log(pp / q);
    double mo = floor((nd + 1.0) * pp);
    double h = det_logfact(m, mo) + det_logfact(m, nd - mo);
    for (;;) {
      double u = det_u01(r) - 0.5, v = det_u01(r);
      double us = 0.5 - fabs(u);
      double kd = floor((2.0 * a / us + b) * u + c);
      if (kd < 0.0 || kd > nd) continue;
      if (us >= 0.07 && v <= v_r) {
        k = (uint64_t)kd;
        break;
      }
      v = log(v * alpha / (a / (us * us) + b));
      if (v <= h - det_logfact(m, kd) - det_logfact(m, nd - kd) + (kd - mo) * lpq) {
        k = (uint64_t)kd;
        break;
      }
    }
  }
  return flip ? n - k : k;
}
