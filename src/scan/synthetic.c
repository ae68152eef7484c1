/* synthetic.c - synthetic scores for tests, benchmarks and make check-slurm:
 * energies from the real bank samplers (so the scan's reweighting is the one
 * the pipeline uses), a toy detector that maps energy to (cS1, cS2) with a
 * cS1 acceptance (re-drawn, counting attempts), and Gaussian-ish CVAE/CNN
 * score components with ER/NR separation.  Written as a "score" stage. */
#include "ddscan/scan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Allreduce */

/* Toy detector: W = 13.7 eV per quantum (ER), a flat 0.17 NR quenching, photon
 * fractions 0.35 (ER) and 0.65 (NR), g1 = 0.15 PE/photon, g2 = 16 PE/electron.
 * The bands then sit near log10(cS2/cS1) = 2.3 (ER) and 1.8 (NR), roughly
 * like a xenon TPC; only their separation matters here. */
#define SYN_W_KEV 0.0137
#define SYN_NR_QUENCH 0.17
#define SYN_G1 0.15
#define SYN_G2 16.0
#define SYN_CS1_MIN_PE 3.0
#define SYN_CS1_MAX_PE 100.0
#define SYN_MAX_ATTEMPTS 100000
#define SYN_STREAM_TAG 0x5C0E0000u

static void toy_detector(const dd_sampler *smp, dd_rng *r, scan_bank b, double e_kev, double *cs1,
                         double *cs2) {
  double quanta = (b == SCAN_BANK_ER ? e_kev : SYN_NR_QUENCH * e_kev) / SYN_W_KEV;
  uint64_t nq = dd_sample_poisson(smp, r, quanta);
  uint64_t nph = dd_sample_binomial(smp, r, nq, b == SCAN_BANK_ER ? 0.35 : 0.65);
  uint64_t ne = nq - nph;
  double s1 = (double)dd_sample_poisson(smp, r, SYN_G1 * (double)nph);
  *cs1 = s1 + 0.3 * sqrt(s1 + 1.0) * dd_rng_normal(r);
  *cs2 = SYN_G2 * ((double)ne + 1.0) * (1.0 + 0.05 * dd_rng_normal(r));
}

void scan_synthetic_event(const phys_sampler *q, const dd_sampler *smp, scan_bank b, uint32_t seed,
                          long long event, scan_score_record *out) {
  dd_rng r = dd_rng_for(seed, DD_STREAM_TEST, SYN_STREAM_TAG + (uint32_t)b, (uint32_t)event,
                        (uint32_t)((unsigned long long)event >> 32));
  memset(out, 0, sizeof *out);
  out->event = event;
  double e = 0.0, cs1 = 0.0, cs2 = 0.0;
  /* Re-draw until the event passes the cS1 window, as the detector stage
   * does; every draw counts (docs/physics.md §8).  The cap only guards a
   * sampler entirely outside the window. */
  do {
    out->attempts++;
    e = phys_sampler_draw(q, dd_rng_uniform(&r));
    toy_detector(smp, &r, b, e, &cs1, &cs2);
  } while (!(cs1 >= SYN_CS1_MIN_PE && cs1 <= SYN_CS1_MAX_PE) && out->attempts < SYN_MAX_ATTEMPTS);
  out->energy_kev = e;
  out->weight = 1.0; /* synthetic banks are never biased */
  out->cs1 = cs1;
  out->cs2 = cs2;
  double z1 = dd_rng_normal(&r), z2 = dd_rng_normal(&r), z3 = dd_rng_normal(&r);
  if (b == SCAN_BANK_ER) {
    out->l_rec = 0.010 * exp(0.25 * z1);
    out->kl = 20.0 + 3.0 * z2;
    /* 2 % of the ER events look signal-like to the CNN (leakage) */
    int leak = dd_rng_uniform(&r) < 0.02;
    out->logit = leak ? -1.0 + 2.0 * z3 : -6.0 + 1.5 * z3;
  } else {
    out->l_rec = 0.010 * exp(0.25 * z1 + 0.12);
    out->kl = 21.0 + 3.0 * z2;
    /* harder recoils are easier to tell apart: light WIMPs are harder */
    out->logit = -2.5 + 0.06 * e + 1.5 * z3;
  }
  out->h_b = stats_hb_from_logit(out->logit);
}
