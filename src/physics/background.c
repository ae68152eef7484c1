/* background.c - background recoil spectra (specs/physics.md §6): the flat ER
 * background in keVee (XENONnT projection 12.3 events/(t y keV), arXiv:
 * 2007.08796) and two optional NR components in keVnr from the XENON1T
 * laidbax model: coherent scattering of solar 8B neutrinos and radiogenic
 * neutrons, given there in events/(kg d keV) and converted to t y here. */
#include "ddscan/physics.h"

#include <math.h>

/* laidbax NR shapes [events/(kg d keV)], E in keVnr. */
#define CEVNS_NORM_KG_D_KEV 4e-3 /* 4e-3 10^(-9E/7) */
#define CEVNS_DECADE_KEV (7.0 / 9.0)
#define NEUTRON_EXP_NORM 6e-8 /* 6e-8 10^(-E/100) */
#define NEUTRON_EXP_DECADE_KEV 100.0
#define NEUTRON_LOR_NORM 3e-6 /* 3e-6 / (2 + E^2) */
#define NEUTRON_LOR_OFFSET 2.0

/* events/(kg d keV) -> events/(t y keV) under p's year. */
static double kg_day_to_ty(const phys_params *p) {
  return PHYS_KG_PER_TONNE * p->year_days;
}

static int in_range(double e, double lo, double hi) {
  return e >= lo && e <= hi;
}

double phys_er_dRdE(const phys_params *p, double e_kev) {
  return in_range(e_kev, p->er.e_min_kev, p->er.e_max_kev) ? p->er.rate_per_ty_kev : 0.0;
}

double phys_cevns_dRdE(const phys_params *p, double e_kev) {
  if (!in_range(e_kev, p->nr_bg.e_min_kev, p->nr_bg.e_max_kev)) return 0.0;
  return p->nr_bg.cevns_scale * CEVNS_NORM_KG_D_KEV * pow(10.0, -e_kev / CEVNS_DECADE_KEV) *
         kg_day_to_ty(p);
}

double phys_neutron_dRdE(const phys_params *p, double e_kev) {
  if (!in_range(e_kev, p->nr_bg.e_min_kev, p->nr_bg.e_max_kev)) return 0.0;
  double r = NEUTRON_EXP_NORM * pow(10.0, -e_kev / NEUTRON_EXP_DECADE_KEV) +
             NEUTRON_LOR_NORM / (NEUTRON_LOR_OFFSET + e_kev * e_kev);
  return p->nr_bg.neutrons_scale * r * kg_day_to_ty(p);
}

double phys_nr_bg_dRdE(const phys_params *p, double e_kev) {
  double r = 0.0;
  if (p->nr_bg.cevns_on) r += phys_cevns_dRdE(p, e_kev);
  if (p->nr_bg.neutrons_on) r += phys_neutron_dRdE(p, e_kev);
  return r;
}

static double er_density(const void *ctx, double e_kev) {
  return phys_er_dRdE(ctx, e_kev);
}

static double nr_bg_density(const void *ctx, double e_kev) {
  return phys_nr_bg_dRdE(ctx, e_kev);
}

dd_status phys_er_integral(const phys_params *p, double e1_kev, double e2_kev,
                           const phys_curve *eff, phys_quad method, double *out_per_ty) {
  /* The jumps at the range edges are break points, so each piece is smooth. */
  double breaks[2] = {p->er.e_min_kev, p->er.e_max_kev};
  DD_TRY(phys_integrate(er_density, p, e1_kev, e2_kev, breaks, 2, eff, method, out_per_ty),
         "ER background rate");
  return DD_OK;
}

dd_status phys_nr_bg_integral(const phys_params *p, double e1_kev, double e2_kev,
                              const phys_curve *eff, phys_quad method, double *out_per_ty) {
  double breaks[2] = {p->nr_bg.e_min_kev, p->nr_bg.e_max_kev};
  DD_TRY(phys_integrate(nr_bg_density, p, e1_kev, e2_kev, breaks, 2, eff, method, out_per_ty),
         "NR background rate");
  return DD_OK;
}
