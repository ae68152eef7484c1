/* sample.c - the fast exact samplers every module draws from a dd_rng: the
 * ziggurat normal and exponential (G. Marsaglia and W. W. Tsang, "The
 * Ziggurat Method for Generating Random Variables", J. Stat. Softw. 5(8)
 * (2000): 128 layers of equal area for the normal with tail start
 * r = 3.442619855899, 256 for the exponential with r = 7.697117470131487),
 * and Poisson and binomial variates: counting the arrivals of a unit-rate
 * process (ziggurat exponentials) for means below 3, inversion by sequential
 * search below 10, and the transformed-rejection methods of W. Hormann, PTRS
 * ("The transformed rejection method for generating Poisson random
 * variables", Insurance: Math. Econ. 12 (1993) 39-45) and BTRS ("The
 * generation of binomial random variates", J. Stat. Comput. Simul. 46 (1993)
 * 101-110), with log-factorials from a table (Stirling's series beyond).
 * All draw 32-bit uniforms: the detector simulation draws thousands of
 * variates per event, and one Philox word per uniform keeps it fast. */
#include "ddscan/core.h"

#include <math.h>

#define ZN_R 3.442619855899
#define ZN_V 9.91256303526217e-3
#define ZE_R 7.697117470131487
#define ZE_V 3.949659822581572e-3
#define TWO31 2147483648.0
#define TWO32 4294967296.0
#define LOG_SQRT_2PI 0.91893853320467274178 /* ln sqrt(2 pi) */

/* Layer i of the normal spans [0, x_i] under f(x) = exp(-x^2/2); kn holds
 * the fraction of a layer inside the layer above it (fast acceptance), wn
 * the scale from a 31-bit integer to x, fn the density at the layer edge. */
static void zig_normal_init(dd_sampler *s) {
  double dn = ZN_R, tn = dn, q = ZN_V / exp(-0.5 * dn * dn);
  s->kn[0] = (uint32_t)((dn / q) * TWO31);
  s->kn[1] = 0;
  s->wn[0] = q / TWO31;
  s->wn[127] = dn / TWO31;
  s->fn[0] = 1.0;
  s->fn[127] = exp(-0.5 * dn * dn);
  for (int i = 126; i >= 1; i--) {
    dn = sqrt(-2.0 * log(ZN_V / dn + exp(-0.5 * dn * dn)));
    s->kn[i + 1] = (uint32_t)((dn / tn) * TWO31);
    tn = dn;
    s->fn[i] = exp(-0.5 * dn * dn);
    s->wn[i] = dn / TWO31;
  }
}

/* The same for f(x) = exp(-x) with 256 layers and 32-bit integers. */
static void zig_exp_init(dd_sampler *s) {
  double de = ZE_R, te = de, q = ZE_V / exp(-de);
  s->ke[0] = (uint32_t)((de / q) * TWO32);
  s->ke[1] = 0;
  s->we[0] = q / TWO32;
  s->we[255] = de / TWO32;
  s->fe[0] = 1.0;
  s->fe[255] = exp(-de);
  for (int i = 254; i >= 1; i--) {
    de = -log(ZE_V / de + exp(-de));
    s->ke[i + 1] = (uint32_t)((de / te) * TWO32);
    te = de;
    s->fe[i] = exp(-de);
    s->we[i] = de / TWO32;
  }
}

void dd_sampler_init(dd_sampler *s) {
  zig_normal_init(s);
  zig_exp_init(s);
  for (int k = 0; k < DD_LOGFACT_N; k++) {
    s->logfact[k] = lgamma(k + 1.0);
    s->inv_int[k] = k > 0 ? 1.0 / k : 0.0;
  }
}

double dd_sample_normal_slow(const dd_sampler *s, dd_rng *r, int32_t hz, uint32_t iz) {
  for (;;) {
    double x = hz * s->wn[iz];
    if (iz == 0) { /* the tail beyond r: Marsaglia's exponential method */
      double xt, y;
      do {
        xt = -log(dd_rng_uniform32(r)) / ZN_R;
        y = -log(dd_rng_uniform32(r));
      } while (y + y < xt * xt);
      return hz > 0 ? ZN_R + xt : -ZN_R - xt;
    }
    /* the wedge between layers: accept under the density */
    if (s->fn[iz] + dd_rng_uniform32(r) * (s->fn[iz - 1] - s->fn[iz]) < exp(-0.5 * x * x)) return x;
    uint32_t u = dd_rng_next32(r);
    iz = u & 127u;
    hz = (int32_t)(u & ~127u);
    if ((uint32_t)(hz < 0 ? -(int64_t)hz : hz) < s->kn[iz]) return hz * s->wn[iz];
  }
}

double dd_sample_exp_slow(const dd_sampler *s, dd_rng *r, uint32_t jz, uint32_t iz) {
  for (;;) {
    if (iz == 0) return ZE_R - log(dd_rng_uniform32(r)); /* memoryless tail */
    double x = jz * s->we[iz];
    if (s->fe[iz] + dd_rng_uniform32(r) * (s->fe[iz - 1] - s->fe[iz]) < exp(-x)) return x;
    uint32_t u = dd_rng_next32(r);
    iz = u & 255u;
    jz = u & ~255u;
    if (jz < s->ke[iz]) return jz * s->we[iz];
  }
}

double dd_sample_logfact(const dd_sampler *s, double k) {
  if (k < DD_LOGFACT_N) return s->logfact[(int)k];
  /* Stirling: log k! = (k+1/2) log(k+1) - (k+1) + log(2 pi)/2 + 1/(12 (k+1)) - ...
   * with error below 1e-15 here (k >= 1024) */
  double x = k + 1.0, ix = 1.0 / x, ix2 = ix * ix;
  return (x - 0.5) * log(x) - x + LOG_SQRT_2PI +
         ix * (1.0 / 12.0 - ix2 * (1.0 / 360.0 - ix2 / 1260.0));
}

uint64_t dd_sample_poisson(const dd_sampler *s, dd_rng *r, double mu) {
  DD_ASSERT(!(mu > 0.0) || isfinite(mu));
  if (!(mu > 0.0)) return 0;
  if (mu < 3.0) {
    /* arrivals of a unit-rate Poisson process in [0, mu]: mu + 1 ziggurat
     * exponentials on average, no transcendental call */
    uint64_t k = 0;
    double t = dd_sample_exponential(s, r, 1.0);
    while (t <= mu) {
      k++;
      t += dd_sample_exponential(s, r, 1.0);
    }
    return k;
  }
  if (mu < 10.0) {
    double u = dd_rng_uniform32(r), pk = exp(-mu), cdf = pk;
    uint64_t k = 0;
    while (u > cdf) {
      k++;
      pk *= mu * (k < DD_LOGFACT_N ? s->inv_int[k] : 1.0 / (double)k);
      cdf += pk;
      if (pk < 1e-300 && cdf < u) { /* u beyond the rounded total: retry */
        u = dd_rng_uniform32(r);
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
    double u = dd_rng_uniform32(r) - 0.5, v = dd_rng_uniform32(r);
    double us = 0.5 - fabs(u);
    double k = floor((2.0 * a / us + b) * u + mu + 0.43);
    if (us >= 0.07 && v <= v_r) return (uint64_t)k;
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    if (log(v * inv_alpha / (a / (us * us) + b)) <= -mu + k * lmu - dd_sample_logfact(s, k))
      return (uint64_t)k;
  }
}

uint64_t dd_sample_binomial(const dd_sampler *s, dd_rng *r, uint64_t n, double p) {
  if (n == 0 || !(p > 0.0)) return 0;
  if (p >= 1.0) return n;
  int flip = p > 0.5;
  double pp = flip ? 1.0 - p : p, q = 1.0 - pp, nd = (double)n;
  uint64_t k;
  if (nd * pp < 10.0) {
    /* inversion from 0 with f(x+1) = f(x) (n-x)/(x+1) p/q; q^n >= e^-20
     * here, so no underflow */
    double sr = pp / q, a = (nd + 1.0) * sr, f0 = pow(q, nd);
    for (;;) {
      double u = dd_rng_uniform32(r), f = f0;
      k = 0;
      while (u > f && k < n) {
        u -= f;
        k++;
        f *= a / (double)k - sr;
      }
      if (u <= f) break; /* else rounding exhausted the pmf: redraw */
    }
  } else {
    double spq = sqrt(nd * pp * q);
    double b = 1.15 + 2.53 * spq, a = -0.0873 + 0.0248 * b + 0.01 * pp;
    double c = nd * pp + 0.5, v_r = 0.92 - 4.2 / b;
    double alpha = (2.83 + 5.1 / b) * spq;
    /* p = 1/j (the detector's electron split) has log(p/q) = -log(j - 1)
     * in the table */
    double ij = 1.0 / pp, lpq;
    if (ij == floor(ij) && ij >= 2.0 && ij < DD_LOGFACT_N)
      lpq = -(s->logfact[(int)ij - 1] - s->logfact[(int)ij - 2]);
    else
      lpq = log(pp / q);
    double mo = floor((nd + 1.0) * pp);
    double h = dd_sample_logfact(s, mo) + dd_sample_logfact(s, nd - mo);
    for (;;) {
      double u = dd_rng_uniform32(r) - 0.5, v = dd_rng_uniform32(r);
      double us = 0.5 - fabs(u);
      double kd = floor((2.0 * a / us + b) * u + c);
      if (kd < 0.0 || kd > nd) continue;
      if (us >= 0.07 && v <= v_r) {
        k = (uint64_t)kd;
        break;
      }
      v = log(v * alpha / (a / (us * us) + b));
      if (v <= h - dd_sample_logfact(s, kd) - dd_sample_logfact(s, nd - kd) + (kd - mo) * lpq) {
        k = (uint64_t)kd;
        break;
      }
    }
  }
  return flip ? n - k : k;
}
