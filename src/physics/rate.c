/* rate.c - the spin-independent elastic WIMP-xenon rate (specs/physics.md §3;
 * Lewin & Smith 1996, Eq. 3.1 with the coherent A^2 (mu_N/mu_n)^2 scaling):
 *   dR/dE = rho sigma_n A^2 F^2(E) eta(v_min(E)) / (2 m_chi mu_n^2)
 * converted to events/(t y keV) with the named constants below, and its
 * integral over an energy window with an optional efficiency curve. */
#include "ddscan/physics.h"

#include <math.h>

/* 1 GeV/c^2 in kg = 1 GeV / c^2 (exact SI values): 1.78266192e-27 kg. */
#define GEV_KG (PHYS_J_PER_GEV / (PHYS_C_M_S * PHYS_C_M_S))
/* The speed of light in cm/s, for (rho/m_chi)[1/cm^3] sigma[cm^2] v[cm/s]. */
#define C_CM_S (PHYS_C_KM_S * PHYS_CM_PER_KM)

/* The dimensionful chain, with masses in GeV/c^2, rho in GeV/cm^3, sigma in
 * cm^2 and eta in s/cm:
 *   dR/dE [1/(kg s GeV)] = rho sigma A^2 F^2 c^2 eta / (2 m_chi mu_n^2 GEV_KG)
 * (per nucleus (rho/m_chi) sigma A^2 F^2 (m_N c^2/(2 mu_n^2)) eta, divided by
 * the nucleus mass m_N GEV_KG); then x 1000 kg/t x year_s x 1e-6 GeV/keV. */
static double rate_prefactor(const phys_params *p, double mass_gev) {
  double mu_n = phys_reduced_mass_gev(mass_gev, p->nucleon_mass_gev);
  double per_kg_s_gev = p->halo.rho_gev_cm3 * p->mass_number * p->mass_number * C_CM_S * C_CM_S /
                        (2.0 * mass_gev * mu_n * mu_n * GEV_KG);
  return per_kg_s_gev * PHYS_KG_PER_TONNE * phys_year_s(p) / PHYS_KEV_PER_GEV;
}

double phys_dRdE(const phys_params *p, double mass_gev, double sigma_cm2, double e_kev) {
  DD_ASSERT(mass_gev > 0 && sigma_cm2 >= 0);
  if (!(e_kev >= 0) || e_kev >= phys_endpoint_kev(p, mass_gev)) return 0.0;
  double eta_s_cm = phys_eta(&p->halo, phys_vmin_km_s(p, mass_gev, e_kev)) / PHYS_CM_PER_KM;
  if (eta_s_cm == 0.0) return 0.0;
  return rate_prefactor(p, mass_gev) * sigma_cm2 * phys_helm_ff2(p->mass_number, e_kev) * eta_s_cm;
}

void phys_dRdE_fill(const phys_params *p, double mass_gev, double sigma_cm2, const double *e_kev,
                    size_t n, double *out) {
  for (size_t i = 0; i < n; i++) out[i] = phys_dRdE(p, mass_gev, sigma_cm2, e_kev[i]);
}

typedef struct wimp_ctx {
  const phys_params *p;
  double mass_gev, sigma_cm2;
} wimp_ctx;

static double wimp_density(const void *ctx, double e_kev) {
  const wimp_ctx *w = ctx;
  return phys_dRdE(w->p, w->mass_gev, w->sigma_cm2, e_kev);
}

/* E where v_min = v, i.e. E = 2 mu_N^2 v^2 / m_N. */
static double energy_at_vmin(const phys_params *p, double mass_gev, double v_km_s) {
  double m_n = phys_nucleus_mass_gev(p);
  double mu = phys_reduced_mass_gev(mass_gev, m_n);
  double beta = v_km_s / PHYS_C_KM_S;
  return 2.0 * mu * mu * beta * beta / m_n * PHYS_KEV_PER_GEV;
}

dd_status phys_rate_integral(const phys_params *p, double mass_gev, double sigma_cm2, double e1_kev,
                             double e2_kev, const phys_curve *eff, phys_quad method,
                             double *out_per_ty) {
  *out_per_ty = 0.0;
  DD_TRY(phys_wimp_check(mass_gev, sigma_cm2), "integrated rate");
  if (!(e1_kev >= 0) || !isfinite(e2_kev))
    return DD_FAIL(DD_ERR_ARG, "energy window must start at >= 0 keV and be finite, got [%g, %g]",
                   e1_kev, e2_kev);
  if (e1_kev > e2_kev)
    return DD_FAIL(DD_ERR_ARG, "energy window is reversed: [%g, %g] keV (need E1 <= E2)", e1_kev,
                   e2_kev);
  /* eta has a kink where v_min = |v_esc - v_E| and vanishes at the endpoint. */
  double end = phys_endpoint_kev(p, mass_gev);
  double breaks[2] = {energy_at_vmin(p, mass_gev, fabs(p->halo.v_esc_km_s - p->halo.v_earth_km_s)),
                      end};
  if (e2_kev > end) e2_kev = end;
  if (!(e2_kev > e1_kev)) return DD_OK;
  wimp_ctx w = {p, mass_gev, sigma_cm2};
  DD_TRY(phys_integrate(wimp_density, &w, e1_kev, e2_kev, breaks, 2, eff, method, out_per_ty),
         "integrated rate of a %g GeV WIMP", mass_gev);
  return DD_OK;
}
