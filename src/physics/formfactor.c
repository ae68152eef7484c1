/* formfactor.c - the Helm nuclear form factor with the Lewin & Smith (1996,
 * Astropart. Phys. 6, 87, Eq. 4.7 and §4.3) parameters: c = 1.23 A^(1/3) -
 * 0.60 fm, a = 0.52 fm, s = 0.9 fm, r_n^2 = c^2 + (7/3) pi^2 a^2 - 5 s^2,
 * F(q) = 3 j1(q r_n)/(q r_n) exp(-q^2 s^2/2); specs/physics.md §4. */
#include "ddscan/physics.h"

#include <math.h>

#define HELM_A_FM 0.52 /* surface diffuseness parameter a [fm] */
#define HELM_S_FM 0.9  /* skin thickness s [fm] */
#define PI 3.14159265358979323846

double phys_helm_rn_fm(double mass_number) {
  double c = 1.23 * cbrt(mass_number) - 0.60;
  return sqrt(c * c + (7.0 / 3.0) * PI * PI * HELM_A_FM * HELM_A_FM - 5.0 * HELM_S_FM * HELM_S_FM);
}

/* 3 j1(x)/x = 3 (sin x - x cos x)/x^3.  The difference cancels for small x
 * (relative error ~ 3 eps/x^2), so below x = 0.1 the Taylor series
 * 3 sum_k (-1)^k (2k+2) x^(2k)/(2k+3)! is used instead (next term < 1e-18). */
static double three_j1_over_x(double x) {
  if (fabs(x) < 0.1) {
    double x2 = x * x;
    return 1.0 +
           x2 * (-1.0 / 10.0 + x2 * (1.0 / 280.0 + x2 * (-1.0 / 15120.0 + x2 * (1.0 / 1330560.0))));
  }
  return 3.0 * (sin(x) - x * cos(x)) / (x * x * x);
}

double phys_helm_ff2(double mass_number, double e_kev) {
  DD_ASSERT(mass_number > 0);
  if (e_kev <= 0) return 1.0;
  /* q = sqrt(2 m_N E) / (hbar c) in 1/fm, with m_N and E in MeV. */
  double m_n_mev = mass_number * PHYS_AMU_GEV * 1e3;
  double e_mev = e_kev * 1e-3;
  double q_fm = sqrt(2.0 * m_n_mev * e_mev) / PHYS_HBARC_MEV_FM;
  double f = three_j1_over_x(q_fm * phys_helm_rn_fm(mass_number)) *
             exp(-0.5 * q_fm * q_fm * HELM_S_FM * HELM_S_FM);
  return f * f;
}
