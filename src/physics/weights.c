/* weights.c - importance weights of bank events (docs/physics.md §7): an
 * event drawn from the sampling pdf q gets rate_density(E)/q(E) per draw, so
 * that sum(w)/N_draws over the accepted events estimates the expected
 * accepted events per t y; and the effective sample size of a weight set. */
#include "ddscan/physics.h"

static double ratio(double rate, double q) {
  /* q(E) = 0: E cannot have been drawn, so it carries no weight. */
  return q > 0 ? rate / q : 0.0;
}

double phys_weight_nr(const phys_params *p, const phys_sampler *q, double mass_gev,
                      double sigma_cm2, double e_kev) {
  return ratio(phys_dRdE(p, mass_gev, sigma_cm2, e_kev), phys_sampler_pdf(q, e_kev));
}

void phys_weights_nr(const phys_params *p, const phys_sampler *q, double mass_gev, double sigma_cm2,
                     const double *e_kev, size_t n, double *w) {
  for (size_t i = 0; i < n; i++) w[i] = phys_weight_nr(p, q, mass_gev, sigma_cm2, e_kev[i]);
}

double phys_weight_er(const phys_params *p, const phys_sampler *q_er, double e_kev) {
  return ratio(phys_er_dRdE(p, e_kev), phys_sampler_pdf(q_er, e_kev));
}

double phys_weight_nr_bg(const phys_params *p, const phys_sampler *q, double e_kev) {
  return ratio(phys_nr_bg_dRdE(p, e_kev), phys_sampler_pdf(q, e_kev));
}

double phys_effective_sample_size(const double *w, size_t n) {
  double s = 0.0, s2 = 0.0;
  for (size_t i = 0; i < n; i++) {
    s += w[i];
    s2 += w[i] * w[i];
  }
  return s2 > 0 ? s * s / s2 : 0.0;
}
