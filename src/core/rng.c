/* rng.c - Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers:
 * as easy as 1, 2, 3", SC11, 2011), written from the paper's description, and
 * the samplers ddscan draws from it.  Every draw is a pure function of
 * (seed, stream, a, b, c) and the number of earlier draws from that state. */
#include "ddscan/core.h"

#include <math.h>

/* The block function itself is dd_philox4x32_10_inline in core.h. */
void dd_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  dd_philox4x32_10_inline(ctr, key, out);
}

dd_rng dd_rng_for(uint32_t seed, dd_stream stream, uint32_t a, uint32_t b, uint32_t c) {
  dd_rng r;
  r.key[0] = seed;
  r.key[1] = (uint32_t)stream;
  r.ctr[0] = a;
  r.ctr[1] = b;
  r.ctr[2] = c;
  r.ctr[3] = 0; /* k: block counter within the entity */
  r.buf[0] = r.buf[1] = r.buf[2] = r.buf[3] = 0;
  r.pos = 4;
  r.has_spare = 0;
  r.spare = 0.0;
  return r;
}

uint32_t dd_rng_u32(dd_rng *r) {
  if (r->pos >= 4) {
    dd_philox4x32_10_inline(r->ctr, r->key, r->buf);
    r->ctr[3]++;
    r->pos = 0;
  }
  return r->buf[r->pos++];
}

double dd_rng_uniform(dd_rng *r) {
  /* 27 + 26 = 53 bits; adding one half keeps the result strictly inside
   * (0, 1): the smallest value is 2^-54, the largest 1 - 2^-54. */
  uint64_t hi = dd_rng_u32(r) >> 5;
  uint64_t lo = dd_rng_u32(r) >> 6;
  uint64_t x = (hi << 26) | lo;
  return ((double)x + 0.5) * (1.0 / 9007199254740992.0);
}

double dd_rng_normal(dd_rng *r) {
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  /* Box-Muller: both values are used, so the draw count per pair is fixed. */
  double u1 = dd_rng_uniform(r), u2 = dd_rng_uniform(r);
  double rad = sqrt(-2.0 * log(u1));
  double th = 6.283185307179586476925 * u2;
  r->spare = rad * sin(th);
  r->has_spare = 1;
  return rad * cos(th);
}

double dd_rng_exponential(dd_rng *r, double mean) {
  return -mean * log(dd_rng_uniform(r));
}

uint32_t dd_rng_below(dd_rng *r, uint32_t n) {
  DD_ASSERT(n > 0);
  /* Reject the top partial copy of [0, n) so every value is equally likely. */
  uint32_t limit = UINT32_MAX - (UINT32_MAX % n);
  uint32_t x;
  do {
    x = dd_rng_u32(r);
  } while (x >= limit);
  return x % n;
}

uint64_t dd_rng_poisson(dd_rng *r, double lambda) {
  DD_ASSERT(lambda >= 0.0 && isfinite(lambda));
  if (lambda == 0.0) return 0;
  if (lambda < 10.0) {
    /* Multiplication of uniforms (Knuth); expected lambda + 1 draws. */
    double limit = exp(-lambda), prod = 1.0;
    uint64_t k = 0;
    for (;;) {
      prod *= dd_rng_uniform(r);
      if (prod <= limit) return k;
      k++;
    }
  }
  /* PTRS: W. Hörmann, "The transformed rejection method for generating
   * Poisson random variables", Insurance: Math. & Econ. 12 (1993) 39-45,
   * constants from Table/algorithm PTRS of that paper. */
  double slam = sqrt(lambda), loglam = log(lambda);
  double b = 0.931 + 2.53 * slam;
  double a = -0.059 + 0.02483 * b;
  double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
  double v_r = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    double u = dd_rng_uniform(r) - 0.5;
    double v = dd_rng_uniform(r);
    double us = 0.5 - fabs(u);
    double kd = floor((2.0 * a / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= v_r) return (uint64_t)kd;
    if (kd < 0.0 || (us < 0.013 && v > us)) continue;
    if (log(v) + log(inv_alpha) - log(a / (us * us) + b) <=
        -lambda + kd * loglam - lgamma(kd + 1.0))
      return (uint64_t)kd;
  }
}

uint64_t dd_rng_binomial(dd_rng *r, uint64_t n, double p) {
  DD_ASSERT(p >= 0.0 && p <= 1.0);
  if (n == 0 || p == 0.0) return 0;
  if (p == 1.0) return n;
  int flip = p > 0.5;
  double pp = flip ? 1.0 - p : p;
  double q = 1.0 - pp, nd = (double)n;
  uint64_t k;
  if (nd * pp < 10.0) {
    /* Inversion by sequential search from 0 using the pmf recursion
     * f(x+1) = f(x) (n-x)/(x+1) p/q; q^n >= e^-20 here, so no underflow. */
    double s = pp / q, aa = (nd + 1.0) * s;
    double f = pow(q, nd), u = dd_rng_uniform(r);
    k = 0;
    while (u > f) {
      u -= f;
      k++;
      if (k > n) { /* rounding left u > 0 after the whole pmf: restart */
        u = dd_rng_uniform(r);
        f = pow(q, nd);
        k = 0;
        continue;
      }
      f *= aa / (double)k - s;
    }
  } else {
    /* BTRS: W. Hörmann, "The generation of binomial random variates",
     * J. Stat. Comput. Simul. 46 (1993) 101-110, transformed rejection with
     * squeeze; exact, O(1) expected draws. */
    double spq = sqrt(nd * pp * q);
    double b = 1.15 + 2.53 * spq;
    double a = -0.0873 + 0.0248 * b + 0.01 * pp;
    double c = nd * pp + 0.5;
    double v_r = 0.92 - 4.2 / b;
    double alpha = (2.83 + 5.1 / b) * spq;
    double lpq = log(pp / q);
    double m = floor((nd + 1.0) * pp);
    double h = lgamma(m + 1.0) + lgamma(nd - m + 1.0);
    for (;;) {
      double u = dd_rng_uniform(r) - 0.5;
      double v = dd_rng_uniform(r);
      double us = 0.5 - fabs(u);
      double kd = floor((2.0 * a / us + b) * u + c);
      if (kd < 0.0 || kd > nd) continue;
      if (us >= 0.07 && v <= v_r) {
        k = (uint64_t)kd;
        break;
      }
      v = log(v * alpha / (a / (us * us) + b));
      if (v <= h - lgamma(kd + 1.0) - lgamma(nd - kd + 1.0) + (kd - m) * lpq) {
        k = (uint64_t)kd;
        break;
      }
    }
  }
  return flip ? n - k : k;
}
