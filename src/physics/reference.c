/* reference.c - the sampling spectra of the event banks: ER flat in keVee
 * (detector spec §2.1), the NR reference spectrum q(E) that covers every
 * grid mass (docs/physics.md §7: a mixture of unit-normalised WIMP spectra
 * plus an exponential floor, or a plain exponential), and single-mass WIMP
 * spectra. */
#include "ddscan/physics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double flat_density(const void *ctx, double e_kev) {
  (void)ctx;
  (void)e_kev;
  return 1.0;
}

dd_status phys_sampler_init_er(phys_sampler *s, const phys_params *p) {
  DD_TRY(phys_sampler_init_fn(s, flat_density, NULL, p->er.e_min_kev, p->er.e_max_kev,
                              (size_t)p->sampler_points),
         "ER bank spectrum");
  return DD_OK;
}

typedef struct wimp_shape {
  const phys_params *p;
  double mass_gev;
} wimp_shape;

static double wimp_density(const void *ctx, double e_kev) {
  const wimp_shape *w = ctx;
  return phys_dRdE(w->p, w->mass_gev, w->p->sigma_ref_cm2, e_kev);
}

dd_status phys_sampler_init_wimp(phys_sampler *s, const phys_params *p, double mass_gev,
                                 double e_lo_kev, double e_hi_kev, size_t n) {
  DD_TRY(phys_wimp_check(mass_gev, 0.0), "WIMP spectrum sampler");
  wimp_shape w = {p, mass_gev};
  DD_TRY(phys_sampler_init_fn(s, wimp_density, &w, e_lo_kev, e_hi_kev, n),
         "spectrum of a %g GeV WIMP", mass_gev);
  return DD_OK;
}

/* Adds weight * f/integral(f) to acc on the grid (trapezoid normalisation, the
 * exact integral of the piecewise-linear interpolant the sampler uses). */
static dd_status add_component(double *acc /* (n) */, double *tmp /* (n) */, const double *e,
                               size_t n, double weight, const char *what) {
  double total = 0.0;
  for (size_t i = 1; i < n; i++) total += 0.5 * (tmp[i] + tmp[i - 1]) * (e[i] - e[i - 1]);
  if (!(total > 0) || !isfinite(total))
    return DD_FAIL(DD_ERR_ARG, "NR reference component %s has no support on [%g, %g] keV", what,
                   e[0], e[n - 1]);
  for (size_t i = 0; i < n; i++) acc[i] += weight * tmp[i] / total;
  return DD_OK;
}

dd_status phys_sampler_init_nr_ref(phys_sampler *s, const phys_params *p) {
  const phys_nr_ref *r = &p->nr_ref;
  size_t n = (size_t)p->sampler_points;
  double *e = NULL, *acc = NULL, *tmp = NULL;
  dd_status st = dd_calloc((void **)&e, 3 * n, sizeof *e, "NR reference spectrum");
  if (st != DD_OK) return DD_CONTEXT(st, "NR reference spectrum");
  acc = e + n;
  tmp = e + 2 * n;
  for (size_t i = 0; i < n; i++)
    e[i] = r->e_min_kev + (r->e_max_kev - r->e_min_kev) * (double)i / (double)(n - 1);
  e[n - 1] = r->e_max_kev;

  /* Exponential part: all of q for "exponential", the floor of a mixture. */
  double f_exp = r->shape == PHYS_NR_REF_EXPONENTIAL ? 1.0 : r->floor_fraction;
  if (f_exp > 0) {
    for (size_t i = 0; i < n; i++) tmp[i] = exp(-(e[i] - r->e_min_kev) / r->exp_scale_kev);
    st = add_component(acc, tmp, e, n, f_exp, "exponential");
  }
  if (r->shape == PHYS_NR_REF_WIMP_MIXTURE && f_exp < 1) {
    for (int k = 0; k < r->n_mass && st == DD_OK; k++) {
      for (size_t i = 0; i < n; i++) tmp[i] = phys_dRdE(p, r->mass_gev[k], 1.0, e[i]);
      char what[64];
      snprintf(what, sizeof what, "m = %g GeV", r->mass_gev[k]);
      st = add_component(acc, tmp, e, n, (1.0 - f_exp) / r->n_mass, what);
    }
  }
  if (st == DD_OK) st = phys_sampler_init(s, e, acc, n);
  free(e);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "NR reference spectrum q(E)");
}
