/* spectra.c - the table behind the results file's /spectra: per WIMP mass
 * dR/dE on the configured energy grid, the kinematic endpoint and the
 * expected events per t y in the analysis window, plus the background
 * spectra, as plain arrays (io writes them; physics never sees HDF5). */
#include "ddscan/physics.h"

#include <stdlib.h>
#include <string.h>

void phys_spectra_free(phys_spectra *t) {
  if (!t) return;
  free(t->mass_gev);
  free(t->e_kev);
  free(t->dRdE);
  free(t->endpoint_kev);
  free(t->counts_window);
  free(t->er_dRdE);
  free(t->nr_bg_dRdE);
  memset(t, 0, sizeof *t);
}

static dd_status alloc_all(phys_spectra *t, size_t nm, size_t ne) {
  DD_TRY(dd_calloc((void **)&t->mass_gev, nm, sizeof(double), "/spectra masses"), "spectra");
  DD_TRY(dd_calloc((void **)&t->e_kev, ne, sizeof(double), "/spectra energies"), "spectra");
  if (nm > 0 && ne > (size_t)-1 / nm) return DD_FAIL(DD_ERR_NOMEM, "/spectra table too large");
  DD_TRY(dd_calloc((void **)&t->dRdE, nm * ne, sizeof(double), "/spectra dR/dE"), "spectra");
  DD_TRY(dd_calloc((void **)&t->endpoint_kev, nm, sizeof(double), "/spectra endpoints"), "spectra");
  DD_TRY(dd_calloc((void **)&t->counts_window, nm, sizeof(double), "/spectra counts"), "spectra");
  DD_TRY(dd_calloc((void **)&t->er_dRdE, ne, sizeof(double), "/spectra ER"), "spectra");
  DD_TRY(dd_calloc((void **)&t->nr_bg_dRdE, ne, sizeof(double), "/spectra NR bg"), "spectra");
  return DD_OK;
}

static dd_status fill(phys_spectra *t, const phys_params *p, const double *mass_gev, size_t nm) {
  size_t ne = (size_t)p->n_spectra;
  for (size_t m = 0; m < nm; m++)
    DD_TRY(phys_wimp_check(mass_gev[m], p->sigma_ref_cm2), "/spectra mass %zu", m);
  DD_TRY(alloc_all(t, nm, ne), "building /spectra");
  t->n_mass = nm;
  t->n_energy = ne;
  t->sigma_cm2 = p->sigma_ref_cm2;
  t->window_kev[0] = p->window_kev[0];
  t->window_kev[1] = p->window_kev[1];
  memcpy(t->e_kev, p->spectra_e_kev, ne * sizeof(double));
  if (nm > 0) memcpy(t->mass_gev, mass_gev, nm * sizeof(double));
  for (size_t m = 0; m < nm; m++) {
    phys_dRdE_fill(p, mass_gev[m], t->sigma_cm2, t->e_kev, ne, t->dRdE + m * ne);
    t->endpoint_kev[m] = phys_endpoint_kev(p, mass_gev[m]);
    DD_TRY(phys_rate_integral(p, mass_gev[m], t->sigma_cm2, t->window_kev[0], t->window_kev[1],
                              NULL, PHYS_QUAD_ADAPTIVE, &t->counts_window[m]),
           "/spectra counts for %g GeV", mass_gev[m]);
  }
  for (size_t i = 0; i < ne; i++) {
    t->er_dRdE[i] = phys_er_dRdE(p, t->e_kev[i]);
    t->nr_bg_dRdE[i] = phys_nr_bg_dRdE(p, t->e_kev[i]);
  }
  DD_TRY(phys_er_integral(p, t->window_kev[0], t->window_kev[1], NULL, PHYS_QUAD_ADAPTIVE,
                          &t->er_counts_window),
         "/spectra ER counts");
  DD_TRY(phys_nr_bg_integral(p, t->window_kev[0], t->window_kev[1], NULL, PHYS_QUAD_ADAPTIVE,
                             &t->nr_bg_counts_window),
         "/spectra NR background counts");
  return DD_OK;
}

dd_status phys_spectra_init(phys_spectra *t, const phys_params *p, const double *mass_gev,
                            size_t n_mass) {
  memset(t, 0, sizeof *t);
  dd_status st = fill(t, p, mass_gev, n_mass);
  if (st != DD_OK) phys_spectra_free(t);
  return st;
}
