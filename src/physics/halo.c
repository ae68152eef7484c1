/* halo.c - kinematics (reduced masses, v_min, kinematic endpoint) and the
 * mean inverse speed eta(v_min) of the standard halo model: a Maxwellian
 * exp(-v^2/v0^2) truncated at v_esc in the galactic frame, boosted by v_E.
 * Closed form as in specs/physics.md §1 (cf. Lewin & Smith, Astropart. Phys.
 * 6 (1996) 87, §3); kinematics specs/physics.md §2; docs/physics.md §2-3. */
#include "ddscan/physics.h"

#include <math.h>

#define SQRT_PI 1.7724538509055160273

double phys_nucleus_mass_gev(const phys_params *p) {
  return p->mass_number * PHYS_AMU_GEV;
}

double phys_reduced_mass_gev(double m1_gev, double m2_gev) {
  return m1_gev * m2_gev / (m1_gev + m2_gev);
}

double phys_year_s(const phys_params *p) {
  return p->year_days * PHYS_S_PER_DAY;
}

double phys_vmin_km_s(const phys_params *p, double mass_gev, double e_kev) {
  double m_n = phys_nucleus_mass_gev(p);
  double mu = phys_reduced_mass_gev(mass_gev, m_n);
  double e_gev = (e_kev > 0 ? e_kev : 0.0) / PHYS_KEV_PER_GEV;
  /* v/c = sqrt(m_N E / (2 mu^2)) with every mass and E in GeV. */
  return PHYS_C_KM_S * sqrt(m_n * e_gev / (2.0 * mu * mu));
}

double phys_endpoint_kev(const phys_params *p, double mass_gev) {
  double m_n = phys_nucleus_mass_gev(p);
  double mu = phys_reduced_mass_gev(mass_gev, m_n);
  double beta = (p->halo.v_esc_km_s + p->halo.v_earth_km_s) / PHYS_C_KM_S;
  return 2.0 * mu * mu * beta * beta / m_n * PHYS_KEV_PER_GEV;
}

/* erf(b) - erf(a) for a <= b without cancellation in the tails: where both
 * arguments have the same sign, the difference of erfc is taken instead. */
static double erf_diff(double a, double b) {
  if (a >= 0) return erfc(a) - erfc(b);
  if (b <= 0) return erfc(-b) - erfc(-a);
  return erf(b) - erf(a);
}

/* Normalisation of the truncated Maxwellian, N = erf(z) - 2 z e^{-z^2}/sqrt(pi)
 * (the fraction of the untruncated distribution below v_esc). */
static double trunc_norm(double z) {
  return erf(z) - 2.0 * z * exp(-z * z) / SQRT_PI;
}

double phys_eta(const phys_halo *h, double vmin_km_s) {
  const double v0 = h->v0_km_s;
  const double x = (vmin_km_s > 0 ? vmin_km_s : 0.0) / v0;
  const double y = h->v_earth_km_s / v0;
  const double z = h->v_esc_km_s / v0;
  if (x >= z + y) return 0.0; /* beyond the kinematic reach: exactly 0 */
  const double nrm = trunc_norm(z);
  const double ez = exp(-z * z);
  if (y < 1e-6) {
    /* v_E -> 0 limit of the expression below (relative error O(y^2)):
     * eta = 2 (e^{-x^2} - e^{-z^2}) / (sqrt(pi) N v0) for x < z. */
    return 2.0 * (exp(-x * x) - ez) / (SQRT_PI * nrm * v0);
  }
  /* General form: with u+ = min(x+y, z) and u- = max(x-y, -z),
   *   eta = [erf(u+) - erf(u-) - 2 (u+ - u-) e^{-z^2}/sqrt(pi)] / (2 N y v0).
   * For x < z - y it is the spec's first branch (u+ - u- = 2y), for
   * |z - y| <= x < z + y the second, and for v_E > v_esc, x < y - z it gives
   * the constant 1/v_E (every speed exceeds v_min). */
  const double up = x + y < z ? x + y : z;
  const double um = x - y > -z ? x - y : -z;
  if (!(up > um)) return 0.0;
  double eta = (erf_diff(um, up) - 2.0 * (up - um) * ez / SQRT_PI) / (2.0 * nrm * y * v0);
  return eta > 0 ? eta : 0.0; /* rounding just below the endpoint */
}
