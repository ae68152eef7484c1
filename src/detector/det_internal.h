/* det_internal.h - private helpers shared by the detector sources: quanta
 * generation (yields.c) and PMT layouts (layout.c).  The samplers are core's
 * (dd_sample_*, src/core/sample.c) with the model's tables m->smp. */
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

#endif /* DDSCAN_DET_INTERNAL_H */
