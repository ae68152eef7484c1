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

/* Draws the quanta of a recoil of class cls at energy_kev with the model's
 * yield model (spec §2.3); the draws come from r in a fixed order. */
det_quanta det_quanta_draw(const det_model *m, int cls, double energy_kev, dd_rng *r);

/* Fills the arrays of a layout kind: top and bottom PMT positions. */
void det_layout_fill(int kind, det_array *top, det_array *bottom);

#endif /* DDSCAN_DET_INTERNAL_H */
