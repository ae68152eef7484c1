/* rng.c - Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers:
 * as easy as 1, 2, 3", SC11, 2011), written from the paper's description, and
 * the table-free samplers on it (the Poisson, binomial and ziggurat samplers
 * are in sample.c).  Every draw is a pure function of (seed, stream, a, b, c)
 * and the number of earlier draws from that state. */
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
  return dd_rng_next32(r);
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
