/* det_internal.h - private helpers shared by the detector sources: quanta
 * generation (yields.c), PMT layouts (layout.c) and small RNG samplers. */
#ifndef DDSCAN_DET_INTERNAL_H
#define DDSCAN_DET_INTERNAL_H

#include "ddscan/detector.h"

#define DET_PI 3.14159265358979323846

/* Produced quanta of one recoil. */
typedef struct det_quanta {
  int n_ph; /* photons */
  int n_e;  /* electrons escaping recombination */
  int n_ex; /* photons from direct excitation (no recombination delay) */
} det_quanta;

/* One biased attempt (docs/detector.md §11): the proposal is the mixture
 * q = (1 - f) p + f q_b of the true model p and the tilted model q_b (f =
 * fraction).  `biased` says which component this attempt draws from (one
 * uniform, the attempt's first word, drawn only when 0 < f < 1); every
 * biased draw adds log q_b(x)/p(x) of its value x to log_ratio whichever
 * component drew it, so at the end p/q = 1/((1 - f) + f exp(log_ratio))
 * (det_bias_finish): the density ratio of the draws' joint value with the
 * component summed over, exact and at most 1/(1 - f). */
typedef struct det_bias_state {
  const det_bias *b; /* borrowed: the model's parameters */
  int biased;        /* this attempt draws from q_b */
  double log_ratio;  /* sum of log q_b/p over the biased draws so far */
} det_bias_state;

/* Draws the quanta of a recoil of class cls at energy_kev with the model's
 * yield model (spec §2.3); the draws come from r in a fixed order.  bs
 * (NULL: unbiased) draws the standard normal of the recombination fluctuation
 * from the attempt's component (yields.c tilted_normal) and adds its log
 * ratio; with NULL the draws are the unbiased ones. */
det_quanta det_quanta_draw(const det_model *m, int cls, double energy_kev, det_bias_state *bs,
                           dd_rng *r);

/* Fills the arrays of a layout kind: top and bottom PMT positions. */
void det_layout_fill(int kind, det_array *top, det_array *bottom);

/* Fills the ziggurat tables (model init). */
void det_zig_init(det_zig *z);
/* Tail and wedge branches of the ziggurat samplers (rare, out of line). */
double det_zig_normal_slow(const det_zig *z, dd_rng *r, int32_t hz, uint32_t iz);
double det_zig_exp_slow(const det_zig *z, dd_rng *r, uint32_t jz, uint32_t iz);

/* Refills r->buf from the next block, as dd_rng_u32 does. */
static inline void det_philox_refill(dd_rng *r) {
  dd_philox4x32_10_inline(r->ctr, r->key, r->buf);
  r->ctr[3]++;
  r->pos = 0;
}

/* Next 32-bit word of r: the same sequence as dd_rng_u32 (it works on the
 * public dd_rng state), inlined because the simulation draws millions. */
static inline uint32_t det_u32(dd_rng *r) {
  if (r->pos >= 4) det_philox_refill(r);
  return r->buf[r->pos++];
}

/* Uniform on (0, 1) from one 32-bit word: enough resolution for decisions,
 * PMT choice and exponentials (the core's 53-bit uniform takes two words). */
static inline double det_u01(dd_rng *r) {
  return ((double)det_u32(r) + 0.5) * (1.0 / 4294967296.0);
}

/* Standard normal by the ziggurat: one 32-bit word in about 98.8 % of draws.
 * The low 7 bits pick the layer, the upper 25 the position (kept apart to
 * avoid the layer/value correlation noted by Doornik, 2005). */
static inline double det_normal(const det_zig *z, dd_rng *r) {
  uint32_t u = det_u32(r), iz = u & 127u;
  int32_t hz = (int32_t)(u & ~127u);
  if ((uint32_t)(hz < 0 ? -(int64_t)hz : hz) < z->kn[iz]) return hz * z->wn[iz];
  return det_zig_normal_slow(z, r, hz, iz);
}

/* Exponential with the given mean by the ziggurat. */
static inline double det_exponential(const det_zig *z, dd_rng *r, double mean) {
  uint32_t u = det_u32(r), iz = u & 255u, jz = u & ~255u;
  if (jz < z->ke[iz]) return mean * jz * z->we[iz];
  return mean * det_zig_exp_slow(z, r, jz, iz);
}

/* Poisson(mu) (unit-rate arrivals below mu = 3, inversion below 10, else
 * PTRS) and Binomial(n, p)
 * (inversion below n min(p, 1-p) = 10, else BTRS), both exact, drawing
 * 32-bit uniforms and using the model's log-factorial table (rngx.c). */
uint64_t det_poisson(const det_model *m, dd_rng *r, double mu);
uint64_t det_binomial(const det_model *m, dd_rng *r, uint64_t n, double p);
/* log(k!) from the table below DET_LOGFACT_N, Stirling's series above. */
double det_logfact(const det_model *m, double k);

#endif /* DDSCAN_DET_INTERNAL_H */
