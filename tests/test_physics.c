/* test_physics.c - the physics module against independent oracles: Helm F^2
 * values of specs/physics.md §4, eta against its closed-form limits and a
 * brute-force velocity integral, a rate worked out by hand, the endpoint,
 * heavy-WIMP scaling, two quadratures vs each other and vs analytic
 * integrals, sampler chi^2 tests with fixed seeds, the reweighting identity
 * with rejection, the /spectra table and every kind of bad input. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/cfg.h"
#include "ddscan/core.h"
#include "ddscan/physics.h"

#define SEED 20211022u
#define SQRT_PI 1.7724538509055160273
#define TEST_PI 3.14159265358979323846

static phys_params defaults(void) {
  phys_params p;
  dd_error_clear();
  if (phys_params_default(&p) != DD_OK) fail_msg("defaults: %s", dd_error_chain());
  return p;
}

/* Loads `physics` from text; returns the status (error recorded). */
static dd_status load_text(const char *text, phys_params *p) {
  cfg_doc *d = NULL;
  dd_error_clear();
  if (cfg_parse(&d, text, "t.cfg") != DD_OK) fail_msg("parse: %s", dd_error_chain());
  dd_status st = phys_params_load(d, p);
  cfg_free(d);
  return st;
}

/* ------------------------------------------------------------- form factor */

/* specs/physics.md §4: c = 5.65152 fm, r_n = 5.84095 fm and F^2 at five
 * energies for A = 131.293 (given to 6 significant digits). */
static void test_helm_values(void **state) {
  (void)state;
  const double e[5] = {1, 10, 30, 50, 100};
  const double ref[5] = {0.953055, 0.610466, 0.204717, 0.0549816, 2.06379e-4};
  double got[5];
  for (int i = 0; i < 5; i++) got[i] = phys_helm_ff2(131.293, e[i]);
  assert_array_near("Helm F^2", got, ref, 5, 0, 5e-6);
  assert_near("r_n", phys_helm_rn_fm(131.293), 5.84095, 0, 1e-6);
  assert_true(phys_helm_ff2(131.293, 0.0) == 1.0);
  /* Smooth and decreasing through the small-argument series (q r_n < 0.1,
   * E < 0.047 keV) and across the switch to the closed form. */
  double prev = 1.0;
  for (double ek = 1e-7; ek < 1.0; ek *= 1.05) {
    double f = phys_helm_ff2(131.293, ek);
    assert_true(f <= prev + 1e-15 && f > 0.95);
    prev = f;
  }
  double q_fm = 0.1 / phys_helm_rn_fm(131.293); /* the switch point */
  double e_sw = q_fm * q_fm * PHYS_HBARC_MEV_FM * PHYS_HBARC_MEV_FM / (2 * 131.293 * 931.49410) *
                1e3; /* keV */
  /* dF^2/dlnE = -0.002 there, so a 2e-12 step moves F^2 by 4e-15; the closed
   * form is good to ~7e-14 at the switch. */
  assert_near("F^2 across the series switch", phys_helm_ff2(131.293, e_sw * (1 - 1e-12)),
              phys_helm_ff2(131.293, e_sw * (1 + 1e-12)), 0, 2e-13);
}

/* ---------------------------------------------------------------------- eta */

/* Brute force: eta(v_min) = int_{|v| > v_min} f_E(v)/|v| d^3v with f_E(v) =
 * f_gal(v + v_E), f_gal the truncated Maxwellian normalised numerically.
 * Composite Simpson in speed (split at the kink v_esc - v_E) and in the
 * cosine of the angle to v_E (cut where |v + v_E| = v_esc). */
static double simpson(double (*f)(double, const double *), const double *par, double a, double b,
                      int n /* even */) {
  double h = (b - a) / n, s = f(a, par) + f(b, par);
  for (int i = 1; i < n; i++) s += (i % 2 ? 4.0 : 2.0) * f(a + i * h, par);
  return s * h / 3.0;
}
/* par: v0, v_esc, v_E, v; the truncation |v + v_E| < v_esc is in the limits. */
static double angular_integrand(double c, const double *par) {
  double w2 = par[3] * par[3] + par[2] * par[2] + 2 * par[3] * par[2] * c;
  return exp(-w2 / (par[0] * par[0]));
}
static double speed_integrand(double v, const double *par) {
  double q[4] = {par[0], par[1], par[2], v};
  if (v <= 0) return 0.0;
  double cmax = 1.0;
  if (par[2] > 0) cmax = (par[1] * par[1] - v * v - par[2] * par[2]) / (2 * v * par[2]);
  if (cmax <= -1) return 0.0;
  if (cmax > 1) cmax = 1;
  /* d^3v / |v| = 2 pi v dv dc */
  return 2 * TEST_PI * v * simpson(angular_integrand, q, -1.0, cmax, 400);
}
static double galactic_norm_integrand(double w, const double *par) {
  return 4 * TEST_PI * w * w * exp(-w * w / (par[0] * par[0]));
}
static double eta_brute(double v0, double vesc, double ve, double vmin) {
  double par[3] = {v0, vesc, ve};
  double norm = simpson(galactic_norm_integrand, par, 0, vesc, 4000);
  double kinks[3] = {vmin, fabs(vesc - ve), vesc + ve}, s = 0.0;
  double lo = vmin;
  for (int i = 1; i < 3; i++) {
    double hi = kinks[i];
    if (hi <= lo) continue;
    s += simpson(speed_integrand, par, lo, hi, 2000);
    lo = hi;
  }
  return s / norm;
}

static void test_eta_brute_force(void **state) {
  (void)state;
  /* shm_2021, shm_classic, and v_E > v_esc (a branch the spec omits). */
  const phys_halo halos[3] = {{PHYS_HALO_SHM_2021, 0.3, 238, 544, 252.13},
                              {PHYS_HALO_SHM_CLASSIC, 0.3, 220, 544, 232},
                              {PHYS_HALO_SHM_2021, 0.3, 100, 150, 200}};
  for (int h = 0; h < 3; h++) {
    const phys_halo *H = &halos[h];
    double vmax = H->v_esc_km_s + H->v_earth_km_s;
    const double frac[7] = {0.0, 0.1, 0.25, 0.4, 0.6, 0.85, 0.97};
    for (int i = 0; i < 7; i++) {
      double vmin = frac[i] * vmax;
      char what[96];
      snprintf(what, sizeof what, "eta halo %d v_min %.1f km/s", h, vmin);
      assert_near(what, phys_eta(H, vmin),
                  eta_brute(H->v0_km_s, H->v_esc_km_s, H->v_earth_km_s, vmin), 1e-12, 2e-7);
    }
    assert_true(phys_eta(H, vmax) == 0.0);
    assert_true(phys_eta(H, vmax * 1.5) == 0.0);
    assert_true(phys_eta(H, vmax * (1 - 1e-6)) > 0.0);
  }
}

/* specs/physics.md §1: v_esc -> inf gives [erf(x+y) - erf(x-y)]/(2 v0 y); and
 * then y -> 0 gives 2 e^{-x^2}/(sqrt(pi) v0). */
static void test_eta_limits(void **state) {
  (void)state;
  const double v0 = 238.0, ve = 252.13;
  phys_halo inf = {PHYS_HALO_SHM_2021, 0.3, v0, 1e5, ve};
  phys_halo still = {PHYS_HALO_SHM_2021, 0.3, v0, 1e5, 0.0};
  phys_halo slow = {PHYS_HALO_SHM_2021, 0.3, v0, 1e5, 1e-3};
  for (double vmin = 0; vmin < 1500; vmin += 37.5) {
    double x = vmin / v0, y = ve / v0;
    double ref = (erf(x + y) - erf(x - y)) / (2 * v0 * y);
    double ref0 = 2 * exp(-x * x) / (SQRT_PI * v0);
    char what[64];
    snprintf(what, sizeof what, "v_esc->inf, v_min %g", vmin);
    assert_near(what, phys_eta(&inf, vmin), ref, 1e-14, 1e-10);
    snprintf(what, sizeof what, "v_E=0, v_min %g", vmin);
    assert_near(what, phys_eta(&still, vmin), ref0, 1e-30, 1e-12);
    snprintf(what, sizeof what, "v_E=1e-3, v_min %g", vmin);
    assert_near(what, phys_eta(&slow, vmin), ref0, 1e-30, 1e-8);
  }
  /* The truncated y = 0 branch against the y > 0 formula at tiny y. */
  phys_halo t0 = {PHYS_HALO_SHM_2021, 0.3, v0, 544, 0.0}, t1 = t0;
  t1.v_earth_km_s = 1e-3;
  for (double vmin = 0; vmin < 540; vmin += 45)
    assert_near("truncated v_E -> 0", phys_eta(&t0, vmin), phys_eta(&t1, vmin), 1e-14, 1e-7);
}

/* ---------------------------------------------------------------- the rate */

/* A hand calculation, m = 100 GeV, sigma_n = 1e-45 cm^2, E = 10 keVnr, shm_2021
 * (rho 0.3 GeV/cm^3, v0 238, v_esc 544, v_E 252.13 km/s), A = 131.293, m_n = u:
 *   m_N  = 131.293 x 0.93149410             = 122.298654871 GeV
 *   mu_N = 100 m_N / (100 + m_N)            = 55.0154722898 GeV
 *   mu_n = 100 u / (100 + u)                = 0.922897365491 GeV
 *   v_min = c sqrt(m_N 1e-5 GeV / (2 mu_N^2)) = 134.750907813 km/s
 *   x = 0.566180285, y = 1.05936975, z = 2.28571429, N = 0.984888977717
 *   eta = [erf(x+y) - erf(x-y) - 4y e^{-z^2}/sqrt(pi)] / (2 N v0 y)
 *       = 2.98025241429e-3 s/km = 2.98025241429e-8 s/cm
 *   F^2(10 keV) = 0.610466422465
 *   GeV/c^2 = 1.602176634e-10 J / (299792458 m/s)^2 = 1.78266192163e-27 kg
 *   rho A^2 c^2 / (2 m mu_n^2 GeV_kg) with c = 2.99792458e10 cm/s, A^2 =
 *     17237.851849: 1.53052352162e49 [1/(kg s GeV) per cm^2 per s/cm]
 *   x sigma F^2 eta = 1.53052352162e49 x 1e-45 x 0.610466422465 x 2.98025241429e-8
 *     = 2.78454883091e-4 events/(kg s GeV)
 *   x 1000 kg/t x 31557600 s/y (365.25 d) x 1e-6 GeV/keV = 8.78736781864
 *   events/(t y keV). */
#define HAND_GEV_KG 1.78266192163e-27
#define HAND_C_CM_S 2.99792458e10
#define HAND_YEAR_S 31557600.0
#define HAND_KEV_PER_GEV 1e6
#define HAND_KG_PER_T 1e3
static void test_rate_by_hand(void **state) {
  (void)state;
  phys_params p = defaults();
  double mu_n = 100.0 * 0.93149410 / (100.0 + 0.93149410);
  double eta_s_cm = 2.98025241429e-3 / 1e5;
  double per_kg_s_gev = 0.3 * 1e-45 * 131.293 * 131.293 * 0.610466422465 * HAND_C_CM_S *
                        HAND_C_CM_S * eta_s_cm / (2 * 100.0 * mu_n * mu_n * HAND_GEV_KG);
  double hand = per_kg_s_gev * HAND_KG_PER_T * HAND_YEAR_S / HAND_KEV_PER_GEV;
  assert_near("hand chain", hand, 8.78736781864, 0, 1e-10);
  assert_near("dR/dE(100 GeV, 10 keV)", phys_dRdE(&p, 100, 1e-45, 10), hand, 0, 1e-9);
  assert_near("v_min", phys_vmin_km_s(&p, 100, 10), 134.750907813, 0, 1e-10);
  assert_near("eta", phys_eta(&p.halo, 134.750907813), 2.98025241429e-3, 0, 1e-9);
  /* Linear in sigma and rho; the year convention scales by its length. */
  assert_near("sigma x 7", phys_dRdE(&p, 100, 7e-45, 10), 7 * hand, 0, 1e-9);
  phys_params q = p;
  q.year_days = PHYS_YEAR_SIDEREAL_D;
  assert_near("sidereal year", phys_dRdE(&q, 100, 1e-45, 10),
              phys_dRdE(&p, 100, 1e-45, 10) * 365.256363 / 365.25, 0, 1e-13);
  /* m_n = m_p instead of u: rate x (mu_n(u)/mu_n(p))^2, about -1.4 % at 1 TeV. */
  q = p;
  q.nucleon_mass_gev = PHYS_PROTON_GEV;
  double mu_p = 1000 * PHYS_PROTON_GEV / (1000 + PHYS_PROTON_GEV);
  double mu_u = 1000 * PHYS_AMU_GEV / (1000 + PHYS_AMU_GEV);
  double ratio = phys_dRdE(&q, 1000, 1e-45, 20) / phys_dRdE(&p, 1000, 1e-45, 20);
  assert_near("proton convention", ratio, (mu_u / mu_p) * (mu_u / mu_p), 0, 1e-13);
  assert_true(fabs(ratio - 1 + 0.0145) < 0.001);
  assert_true(phys_dRdE(&p, 100, 1e-45, -1.0) == 0.0);
  assert_true(phys_dRdE(&p, 100, 0.0, 10) == 0.0);
}

static void test_endpoint(void **state) {
  (void)state;
  phys_params p = defaults();
  const double masses[5] = {5, 10, 50, 500, 1e4};
  for (int i = 0; i < 5; i++) {
    double m = masses[i], e_end = phys_endpoint_kev(&p, m);
    double m_n = 131.293 * 0.93149410, mu = m * m_n / (m + m_n);
    double beta = (544 + 252.13) / 299792.458;
    assert_near("E_end formula", e_end, 2 * mu * mu * beta * beta / m_n * 1e6, 0, 1e-13);
    assert_near("v_min(E_end) = v_esc + v_E", phys_vmin_km_s(&p, m, e_end), 544 + 252.13, 0, 1e-12);
    assert_true(phys_dRdE(&p, m, 1e-45, e_end) == 0.0);
    assert_true(phys_dRdE(&p, m, 1e-45, e_end * (1 + 1e-12)) == 0.0);
    assert_true(phys_dRdE(&p, m, 1e-45, e_end * 2) == 0.0);
    assert_true(phys_dRdE(&p, m, 1e-45, e_end * (1 - 1e-4)) > 0.0);
  }
  /* Known numbers: 10 GeV ends at 9.855 keV, 50 GeV at 145.26 keV. */
  assert_near("E_end(10 GeV)", phys_endpoint_kev(&p, 10), 9.855244243, 0, 1e-9);
  assert_near("E_end(50 GeV)", phys_endpoint_kev(&p, 50), 145.2628243, 0, 1e-9);
}

/* m >> m_N: mu_N -> m_N, mu_n -> m_n, so m dR/dE tends to a constant; the
 * corrections are O(m_N/m). */
static void test_heavy_scaling(void **state) {
  (void)state;
  phys_params p = defaults();
  const double e[4] = {2, 10, 30, 60};
  double m_n = phys_nucleus_mass_gev(&p);
  for (int i = 0; i < 4; i++) {
    for (double m = 1e4; m <= 1e6; m *= 10) {
      double r1 = m * phys_dRdE(&p, m, 1e-45, e[i]);
      double r2 = 10 * m * phys_dRdE(&p, 10 * m, 1e-45, e[i]);
      char what[64];
      snprintf(what, sizeof what, "m R(m) at %g GeV, %g keV", m, e[i]);
      assert_near(what, r1, r2, 0, 4 * m_n / m);
    }
  }
  double n1 = 0, n2 = 0;
  assert_int_equal(phys_rate_integral(&p, 1e5, 1e-45, 4, 50, NULL, PHYS_QUAD_ADAPTIVE, &n1), DD_OK);
  assert_int_equal(phys_rate_integral(&p, 1e6, 1e-45, 4, 50, NULL, PHYS_QUAD_ADAPTIVE, &n2), DD_OK);
  assert_near("integrated rate ~ 1/m", n1, 10 * n2, 0, 4 * m_n / 1e5);
}

/* ---------------------------------------------------------- integration */

static double sin_fn(const void *ctx, double e) {
  (void)ctx;
  return sin(e);
}

/* Independent oracle: composite Simpson with n intervals. */
static double simpson_rate(const phys_params *p, double m, double a, double b, int n,
                           const phys_curve *eff) {
  double h = (b - a) / n, s = 0;
  for (int i = 0; i <= n; i++) {
    double e = a + i * h, c = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
    s += c * phys_dRdE(p, m, 1e-45, e) * (eff ? phys_curve_eval(eff, e) : 1.0);
  }
  return s * h / 3;
}

static void test_quadratures_agree(void **state) {
  (void)state;
  phys_params p = defaults();
  double v = 0;
  assert_int_equal(phys_integrate(sin_fn, NULL, 0, TEST_PI, NULL, 0, NULL, PHYS_QUAD_ADAPTIVE, &v),
                   DD_OK);
  assert_near("int sin GK", v, 2.0, 0, 1e-13);
  assert_int_equal(
      phys_integrate(sin_fn, NULL, 0, TEST_PI, NULL, 0, NULL, PHYS_QUAD_GAUSS_LEGENDRE, &v), DD_OK);
  assert_near("int sin GL", v, 2.0, 0, 1e-13);

  const double masses[6] = {6, 10, 50, 500, 1000, 1e4};
  const double win[4][2] = {{0, 200}, {4, 50}, {1, 10}, {0.5, 120}};
  /* An S1-threshold-like acceptance: 0 below 2 keV, rising to 0.9. */
  const double ee[6] = {2, 3, 5, 10, 40, 80}, ev[6] = {0, 0.2, 0.6, 0.85, 0.9, 0.5};
  phys_curve eff = {ee, ev, 6};
  double max_gl = 0, max_simpson = 0;
  for (int m = 0; m < 6; m++)
    for (int w = 0; w < 4; w++)
      for (int k = 0; k < 2; k++) {
        const phys_curve *c = k ? &eff : NULL;
        double a = 0, g = 0;
        assert_int_equal(phys_rate_integral(&p, masses[m], 1e-45, win[w][0], win[w][1], c,
                                            PHYS_QUAD_ADAPTIVE, &a),
                         DD_OK);
        assert_int_equal(phys_rate_integral(&p, masses[m], 1e-45, win[w][0], win[w][1], c,
                                            PHYS_QUAD_GAUSS_LEGENDRE, &g),
                         DD_OK);
        char what[96];
        snprintf(what, sizeof what, "GK vs GL, m %g, [%g, %g], eff %d", masses[m], win[w][0],
                 win[w][1], k);
        if (phys_endpoint_kev(&p, masses[m]) <= win[w][0] || (k && win[w][1] <= ee[0])) {
          assert_true(a == 0.0 && g == 0.0); /* nothing in reach */
          continue;
        }
        assert_true(a > 0);
        assert_near(what, g, a, 0, 1e-6);
        if (fabs(g / a - 1) > max_gl) max_gl = fabs(g / a - 1);
        if (w == 1) { /* the window lies inside every spectrum's reach but 6/10 GeV */
          double end = phys_endpoint_kev(&p, masses[m]), hi = win[w][1] < end ? win[w][1] : end;
          double s = simpson_rate(&p, masses[m], win[w][0], hi, 200000, c);
          snprintf(what, sizeof what, "GK vs Simpson, m %g, eff %d", masses[m], k);
          assert_near(what, a, s, 0, 1e-6);
          if (fabs(s / a - 1) > max_simpson) max_simpson = fabs(s / a - 1);
        }
      }
  print_message("max |GL/GK - 1| = %.2e, max |Simpson/GK - 1| = %.2e\n", max_gl, max_simpson);
}

/* Backgrounds: conversions and analytic integrals. */
static void test_backgrounds(void **state) {
  (void)state;
  phys_params p = defaults();
  double kgd = 1000 * 365.25; /* (kg d) -> (t y) */
  assert_true(phys_er_dRdE(&p, 7.0) == 12.3);
  assert_true(phys_er_dRdE(&p, 15.5) == 0.0);
  /* on by default (issue 14) */
  assert_true(phys_nr_bg_dRdE(&p, 10) == phys_cevns_dRdE(&p, 10) + phys_neutron_dRdE(&p, 10));
  assert_true(phys_nr_bg_dRdE(&p, 10) > 0.0);
  assert_near("CEvNS at 1 keV", phys_cevns_dRdE(&p, 1.0), 4e-3 * pow(10, -9.0 / 7) * kgd, 0, 1e-13);
  assert_near("neutrons at 10 keV", phys_neutron_dRdE(&p, 10.0),
              (6e-8 * pow(10, -0.1) + 3e-6 / 102.0) * kgd, 0, 1e-13);
  assert_true(phys_cevns_dRdE(&p, 0.5) == 0.0 && phys_neutron_dRdE(&p, 101) == 0.0);
  double v = 0;
  assert_int_equal(phys_er_integral(&p, 1, 13, NULL, PHYS_QUAD_ADAPTIVE, &v), DD_OK);
  assert_near("ER in the 1-13 keV ROI = 147.6 /(t y)", v, 147.6, 0, 1e-12);
  assert_int_equal(phys_er_integral(&p, -5, 40, NULL, PHYS_QUAD_GAUSS_LEGENDRE, &v), DD_OK);
  assert_near("ER over its range", v, 12.3 * 15, 0, 1e-12);
  assert_int_equal(load_text("physics = { nr_background = { cevns_b8 = true; neutrons = true; "
                             "neutrons_scale = 2.0; }; };",
                             &p),
                   DD_OK);
  double cev = 4e-3 * (7.0 / 9.0) / log(10.0) * (pow(10, -9.0 / 7) - pow(10, -900.0 / 7)) * kgd;
  double neu = 2 * kgd *
               (6e-8 * 100 / log(10.0) * (pow(10, -0.01) - pow(10, -1.0)) +
                3e-6 / sqrt(2.0) * (atan(100 / sqrt(2.0)) - atan(1 / sqrt(2.0))));
  for (int m = 0; m < 2; m++) {
    assert_int_equal(phys_nr_bg_integral(&p, 0, 200, NULL, (phys_quad)m, &v), DD_OK);
    assert_near("NR bg integral (analytic)", v, cev + neu, 0, 1e-9);
  }
  assert_near("NR bg sum", phys_nr_bg_dRdE(&p, 3),
              phys_cevns_dRdE(&p, 3) + phys_neutron_dRdE(&p, 3), 0, 1e-15);
}

/* ------------------------------------------------------------------ sampler */

/* chi^2 of n draws from s in the bins `edges` against the exact WIMP spectrum
 * (integrated by quadrature, independent of the sampler's table). */
static double chi2_vs_wimp(const phys_params *p, double m_truth, const double *draws, int n,
                           const double *edges, int nb, double lo, double hi) {
  double total = 0;
  assert_int_equal(phys_rate_integral(p, m_truth, 1e-45, lo, hi, NULL, PHYS_QUAD_ADAPTIVE, &total),
                   DD_OK);
  double chi2 = 0;
  for (int b = 0; b < nb; b++) {
    double pb = 0;
    assert_int_equal(phys_rate_integral(p, m_truth, 1e-45, edges[b], edges[b + 1], NULL,
                                        PHYS_QUAD_ADAPTIVE, &pb),
                     DD_OK);
    int cnt = 0;
    for (int i = 0; i < n; i++) cnt += draws[i] >= edges[b] && draws[i] < edges[b + 1];
    double expct = n * pb / total;
    chi2 += (cnt - expct) * (cnt - expct) / expct;
  }
  return chi2;
}

static void test_sampler_chi2(void **state) {
  (void)state;
  phys_params p = defaults();
  phys_sampler s;
  assert_int_equal(phys_sampler_init_wimp(&s, &p, 50, 0.5, 120, 4000), DD_OK);
  enum { N = 200000, NB = 31 };
  double *draws = malloc(N * sizeof *draws);
  assert_non_null(draws);
  dd_rng r = dd_rng_for(SEED, DD_STREAM_TEST, 3, 0, 0);
  for (int i = 0; i < N; i++) draws[i] = phys_sampler_draw(&s, dd_rng_uniform(&r));
  /* 30 bins of 1.983 keV on [0.5, 60] and one on [60, 120]: >= 70 expected
   * per bin.  chi^2 0.999 quantile for 30 dof = 59.70 (scipy chi2.ppf). */
  double edges[NB + 1];
  for (int b = 0; b <= 30; b++) edges[b] = 0.5 + b * (59.5 / 30);
  edges[NB] = 120.0 + 1e-9;
  double chi2 = chi2_vs_wimp(&p, 50, draws, N, edges, NB, 0.5, 120);
  print_message("sampler chi2 (50 GeV, 30 dof) = %.2f\n", chi2);
  assert_true(chi2 < 59.70);
  /* The same test has power: these draws are not a 40 GeV spectrum. */
  double chi2_wrong = chi2_vs_wimp(&p, 40, draws, N, edges, NB, 0.5, 120);
  print_message("same draws vs 40 GeV: chi2 = %.1f\n", chi2_wrong);
  assert_true(chi2_wrong > 59.70 * 3);
  free(draws);

  /* Exactness: draw(cdf(E)) = E, the pdf integrates to 1, draws monotone in u. */
  /* (the round trip resolves E to ~ulp(cdf)/pdf(E) in the far tail) */
  for (double e = 0.51; e < 119.9; e += 0.37)
    assert_near("draw(cdf(E))", phys_sampler_draw(&s, phys_sampler_cdf(&s, e)), e,
                4e-16 / phys_sampler_pdf(&s, e), 1e-10);
  double integral = 0;
  for (size_t i = 1; i < s.n; i++)
    integral += 0.5 * (s.pdf[i] + s.pdf[i - 1]) * (s.e_kev[i] - s.e_kev[i - 1]);
  assert_near("pdf normalised", integral, 1.0, 0, 1e-12);
  double prev = 0;
  for (double u = 1e-6; u < 1; u += 0.0013) {
    double e = phys_sampler_draw(&s, u);
    assert_true(e >= prev && e >= 0.5 && e <= 120);
    prev = e;
  }
  assert_true(phys_sampler_draw(&s, 0.0) == 0.5 && phys_sampler_draw(&s, 1.0) == 120.0);
  assert_true(phys_sampler_pdf(&s, 0.4) == 0.0 && phys_sampler_pdf(&s, 121) == 0.0);
  phys_sampler_free(&s);
  assert_null(s.pdf);
  phys_sampler_free(&s); /* twice is fine */

  /* ER bank: flat on [0, 15] keVee, mean 7.5, variance 225/12. */
  assert_int_equal(phys_sampler_init_er(&s, &p), DD_OK);
  assert_true(s.n == 4000);
  r = dd_rng_for(SEED, DD_STREAM_TEST, 4, 0, 0);
  double sum = 0, sum2 = 0;
  int cnt[15] = {0};
  for (int i = 0; i < N; i++) {
    double e = phys_sampler_draw(&s, dd_rng_uniform(&r));
    assert_true(e >= 0 && e <= 15);
    sum += e;
    sum2 += e * e;
    cnt[(int)e < 15 ? (int)e : 14]++;
  }
  double chi2_er = 0, ex = N / 15.0;
  for (int b = 0; b < 15; b++) chi2_er += (cnt[b] - ex) * (cnt[b] - ex) / ex;
  assert_true(chi2_er < 36.12); /* 0.999 quantile, 14 dof */
  assert_near("ER mean", sum / N, 7.5, 5 * sqrt(225.0 / 12 / N), 0);
  assert_near("ER pdf", phys_sampler_pdf(&s, 3.3), 1.0 / 15, 0, 1e-12);
  phys_sampler_free(&s);
}

/* Sum of weights over draws from q estimates the rate integral; with the
 * rejection convention (rejected events re-drawn, N_draws counting every
 * attempt) the accepted weights estimate the accepted rate. */
static void test_reweighting_identity(void **state) {
  (void)state;
  phys_params p = defaults();
  phys_sampler q;
  assert_int_equal(phys_sampler_init_nr_ref(&q, &p), DD_OK);
  const double ee[5] = {2, 4, 10, 40, 90}, ev[5] = {0, 0.5, 0.9, 0.9, 0.2};
  phys_curve acc = {ee, ev, 5};
  enum { NACC = 60000 };
  double *w = malloc(NACC * sizeof *w);
  assert_non_null(w);
  const double masses[4] = {10, 50, 1000, 30};
  for (int k = 0; k < 4; k++) {
    double m = masses[k], s = 0, s2 = 0;
    long draws = 0;
    /* Accepted events only; rejected ones are re-drawn (index-based retries
     * like a detector bank). */
    for (int i = 0; i < NACC; i++) {
      for (uint32_t retry = 0;; retry++) {
        dd_rng r = dd_rng_for(SEED, DD_STREAM_TEST, 10 + (uint32_t)k, (uint32_t)i, retry);
        double e = phys_sampler_draw(&q, dd_rng_uniform(&r));
        draws++;
        if (dd_rng_uniform(&r) < phys_curve_eval(&acc, e)) {
          w[i] = phys_weight_nr(&p, &q, m, 1e-45, e);
          break;
        }
      }
    }
    for (int i = 0; i < NACC; i++) {
      s += w[i] / draws;
      s2 += (w[i] / draws) * (w[i] / draws);
    }
    double truth = 0;
    assert_int_equal(phys_rate_integral(&p, m, 1e-45, p.nr_ref.e_min_kev, p.nr_ref.e_max_kev, &acc,
                                        PHYS_QUAD_ADAPTIVE, &truth),
                     DD_OK);
    /* Standard error of the estimator: sqrt(sum (w/N)^2) is conservative. */
    double se = sqrt(s2);
    double ess = phys_effective_sample_size(w, NACC);
    print_message("m = %g GeV: sum w = %.5g, truth %.5g, pull %.2f, ESS %.0f of %d (%ld draws)\n",
                  m, s, truth, (s - truth) / se, ess, NACC, draws);
    char what[64];
    snprintf(what, sizeof what, "reweighting identity, m %g GeV", m);
    assert_near(what, s, truth, 5 * se, 0);
    assert_true(se < 0.05 * truth);
    assert_true(ess > 0.01 * NACC && ess <= NACC);
  }
  /* ER: flat pdf, flat rate: every weight is the ER rate over the range. */
  phys_sampler qer;
  assert_int_equal(phys_sampler_init_er(&qer, &p), DD_OK);
  assert_near("ER weight", phys_weight_er(&p, &qer, 4.2), 12.3 * 15, 0, 1e-12);
  assert_true(phys_weight_er(&p, &qer, 16.0) == 0.0);
  assert_true(phys_weight_nr(&p, &q, 50, 1e-45, 200.0) == 0.0); /* outside q */
  assert_true(phys_weight_nr_bg(&p, &q, 10.0) > 0.0);           /* NR bg on by default */
  phys_params off = p;
  off.nr_bg.cevns_on = off.nr_bg.neutrons_on = 0;
  assert_true(phys_weight_nr_bg(&off, &q, 10.0) == 0.0); /* NR bg off */
  double e3[3] = {3, 20, 60}, w3[3];
  phys_weights_nr(&p, &q, 50, 1e-45, e3, 3, w3);
  for (int i = 0; i < 3; i++) assert_true(w3[i] == phys_weight_nr(&p, &q, 50, 1e-45, e3[i]));
  phys_sampler_free(&qer);
  phys_sampler_free(&q);
  free(w);
  /* ESS of equal weights is n; of one non-zero weight is 1; of none is 0. */
  double eq[4] = {2, 2, 2, 2}, one[4] = {0, 5, 0, 0}, none[2] = {0, 0};
  assert_near("ESS equal", phys_effective_sample_size(eq, 4), 4, 0, 1e-15);
  assert_near("ESS one", phys_effective_sample_size(one, 4), 1, 0, 1e-15);
  assert_true(phys_effective_sample_size(none, 2) == 0.0);
  double two[2] = {1, 3}; /* 16 / 10 */
  assert_near("ESS 1,3", phys_effective_sample_size(two, 2), 1.6, 0, 1e-15);
}

/* q(E) as documented: mixture of unit-normalised spectra + exponential floor. */
static void test_nr_reference(void **state) {
  (void)state;
  phys_params p = defaults();
  phys_sampler q;
  assert_int_equal(phys_sampler_init_nr_ref(&q, &p), DD_OK);
  assert_true(q.n == 4000 && q.e_kev[0] == 0.5 && q.e_kev[q.n - 1] == 120.0);
  for (size_t i = 0; i < q.n; i++) assert_true(q.pdf[i] > 0); /* covers the whole range */
  phys_sampler_free(&q);
  assert_int_equal(load_text("physics = { nr_reference = { shape = \"exponential\"; "
                             "exp_scale_kev = 10.0; e_range_kev = [0.0, 100.0]; }; };",
                             &p),
                   DD_OK);
  assert_int_equal(phys_sampler_init_nr_ref(&q, &p), DD_OK);
  double norm = 10 * (1 - exp(-10.0));
  assert_near("exponential q", phys_sampler_pdf(&q, 5), exp(-0.5) / norm, 0, 1e-6);
  phys_sampler_free(&q);
}

/* --------------------------------------------------------- /spectra table */

static void test_spectra_table(void **state) {
  (void)state;
  phys_params p = defaults();
  const double masses[3] = {10, 50, 1000};
  phys_spectra t;
  assert_int_equal(phys_spectra_init(&t, &p, masses, 3), DD_OK);
  assert_true(t.n_mass == 3 && t.n_energy == 240);
  assert_true(t.e_kev[0] == 0.5 && t.e_kev[239] == 120.0 && t.sigma_cm2 == 1e-45);
  for (size_t m = 0; m < 3; m++) {
    for (size_t i = 0; i < t.n_energy; i += 17)
      assert_true(t.dRdE[m * t.n_energy + i] == phys_dRdE(&p, masses[m], 1e-45, t.e_kev[i]));
    double c = 0;
    assert_int_equal(
        phys_rate_integral(&p, masses[m], 1e-45, 4, 50, NULL, PHYS_QUAD_GAUSS_LEGENDRE, &c), DD_OK);
    assert_near("window counts", t.counts_window[m], c, 0, 1e-6);
    assert_true(t.endpoint_kev[m] == phys_endpoint_kev(&p, masses[m]));
  }
  assert_near("ER in window", t.er_counts_window, 12.3 * (15 - 4), 0, 1e-12);
  assert_true(t.er_dRdE[0] == 12.3 && t.er_dRdE[239] == 0.0 && t.nr_bg_counts_window > 0.0);
  phys_spectra_free(&t);
  assert_null(t.dRdE);
  double bad[2] = {50, -1};
  dd_error_clear();
  assert_int_equal(phys_spectra_init(&t, &p, bad, 2), DD_ERR_ARG);
  assert_error_contains("WIMP mass must be > 0 GeV, got -1");
}

/* ---------------------------------------------------------------- config */

static void test_config(void **state) {
  (void)state;
  phys_params p;
  assert_int_equal(load_text("", &p), DD_OK);
  assert_true(p.halo.preset == PHYS_HALO_SHM_2021 && p.halo.v0_km_s == 238 &&
              p.halo.v_esc_km_s == 544 && p.halo.v_earth_km_s == 252.13 &&
              p.halo.rho_gev_cm3 == 0.3);
  assert_true(p.mass_number == 131.293 && p.year_days == 365.25 &&
              p.nucleon_mass_gev == PHYS_AMU_GEV && p.sigma_ref_cm2 == 1e-45);
  assert_true(p.er.rate_per_ty_kev == 12.3 && p.er.e_min_kev == 0 && p.er.e_max_kev == 15);
  assert_true(p.nr_bg.cevns_on && p.nr_bg.neutrons_on && p.nr_ref.n_mass == 6); /* issue 14 */
  /* A preset supplies defaults; single values stay overridable. */
  assert_int_equal(load_text("physics = { halo = { preset = \"shm_classic\"; rho_gev_cm3 = 0.4; "
                             "}; year = \"sidereal\"; nucleon_mass = \"proton\"; };",
                             &p),
                   DD_OK);
  assert_true(p.halo.preset == PHYS_HALO_SHM_CLASSIC && p.halo.v0_km_s == 220 &&
              p.halo.v_earth_km_s == 232 && p.halo.rho_gev_cm3 == 0.4);
  assert_true(p.year_days == 365.256363 && p.nucleon_mass_gev == PHYS_PROTON_GEV);
  assert_int_equal(load_text("physics = { spectra_e_kev = { from = 1.0; to = 10.0; points = 10; "
                             "}; };",
                             &p),
                   DD_OK);
  assert_true(p.n_spectra == 10 && p.spectra_e_kev[9] == 10.0);

  static const struct {
    const char *text, *want;
  } bad[] = {
      {"physics = {\n halo = { v0_km_s = -1.0; };\n};",
       "t.cfg:2: physics.halo.v0_km_s: must be > 0"},
      {"physics = {\n halo = { preset = \"shm_2024\"; };\n};",
       "physics.halo.preset: \"shm_2024\" is not one of"},
      {"physics = {\n halo = { rho_gev_cm3 = 0; };\n};", "physics.halo.rho_gev_cm3: must be > 0"},
      {"physics = {\n halo = { v_earth_km_s = -3.0; };\n};",
       "physics.halo.v_earth_km_s: must be >= 0"},
      {"physics = {\n sigma_ref_cm2 = -1e-45;\n};", "t.cfg:2: physics.sigma_ref_cm2: must be > 0"},
      {"physics = {\n mass_number = 0;\n};", "physics.mass_number: must be > 0"},
      {"physics = {\n analysis_window_kev = [50.0, 4.0];\n};",
       "t.cfg:2: physics.analysis_window_kev: range is reversed"},
      {"physics = {\n analysis_window_kev = [4.0];\n};", "must be an energy range [E1, E2]"},
      {"physics = {\n er_background = { e_range_kev = [-1.0, 15.0]; };\n};",
       "physics.er_background.e_range_kev: lower edge must be >= 0"},
      {"physics = {\n er_background = { rate_per_ty_kev = -12.3; };\n};",
       "physics.er_background.rate_per_ty_kev: must be >= 0"},
      {"physics = {\n nr_background = { neutrons_scale = -1.0; };\n};",
       "physics.nr_background.neutrons_scale: must be >= 0"},
      {"physics = {\n nr_background = { e_range_kev = [100.0, 1.0]; };\n};",
       "physics.nr_background.e_range_kev: range is reversed"},
      {"physics = {\n nr_reference = { mass_gev = [10.0, 0.0]; };\n};",
       "t.cfg:2: physics.nr_reference.mass_gev: WIMP masses must be > 0 GeV, element 1 is 0"},
      {"physics = {\n nr_reference = { floor_fraction = 1.5; };\n};",
       "physics.nr_reference.floor_fraction: must be in [0, 1]"},
      {"physics = {\n nr_reference = { shape = \"flat\"; };\n};",
       "physics.nr_reference.shape: \"flat\" is not one of"},
      {"physics = {\n sampler_points = 100;\n};", "physics.sampler_points: must be in [2000"},
      {"physics = {\n spectra_e_kev = [1.0, 3.0, 2.0];\n};",
       "physics.spectra_e_kev: energies must increase"},
      {"physics = {\n year = \"tropical\";\n};", "physics.year: \"tropical\" is not one of"},
      {"physics = {\n halo = { v0_km_s = \"fast\"; };\n};", "expected a number"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dd_status st = load_text(bad[i].text, &p);
    if (st != DD_ERR_CONFIG) fail_msg("case %zu accepted: %s", i, bad[i].text);
    assert_error_contains(bad[i].want);
  }
}

/* Run-time inputs: clear DD_ERR_ARG errors. */
static void test_wrong_inputs(void **state) {
  (void)state;
  phys_params p = defaults();
  double v = 1;
  dd_error_clear();
  assert_int_equal(phys_wimp_check(0.0, 1e-45), DD_ERR_ARG);
  assert_error_contains("WIMP mass must be > 0 GeV, got 0");
  dd_error_clear();
  assert_int_equal(phys_wimp_check(50, -1e-45), DD_ERR_ARG);
  assert_error_contains("cross-section must be >= 0 cm2, got -1e-45");
  dd_error_clear();
  assert_int_equal(phys_wimp_check(NAN, 1e-45), DD_ERR_ARG);
  dd_error_clear();
  assert_int_equal(phys_rate_integral(&p, -5, 1e-45, 4, 50, NULL, PHYS_QUAD_ADAPTIVE, &v),
                   DD_ERR_ARG);
  assert_error_contains("WIMP mass must be > 0 GeV, got -5");
  assert_true(v == 0.0);
  dd_error_clear();
  assert_int_equal(phys_rate_integral(&p, 50, 1e-45, 50, 4, NULL, PHYS_QUAD_ADAPTIVE, &v),
                   DD_ERR_ARG);
  assert_error_contains("energy window is reversed: [50, 4] keV");
  dd_error_clear();
  assert_int_equal(phys_rate_integral(&p, 50, 1e-45, -1, 4, NULL, PHYS_QUAD_ADAPTIVE, &v),
                   DD_ERR_ARG);
  dd_error_clear();
  assert_int_equal(phys_er_integral(&p, 10, 2, NULL, PHYS_QUAD_ADAPTIVE, &v), DD_ERR_ARG);
  assert_error_contains("energy range is reversed");
  /* Window beyond the endpoint: zero, not an error. */
  assert_int_equal(phys_rate_integral(&p, 10, 1e-45, 20, 50, NULL, PHYS_QUAD_ADAPTIVE, &v), DD_OK);
  assert_true(v == 0.0);
  /* Bad efficiency curves. */
  const double e[3] = {1, 5, 3}, val[3] = {0, 1, 1}, neg[3] = {0, -1, 1}, ok_e[3] = {1, 3, 5};
  phys_curve c1 = {e, val, 3}, c2 = {ok_e, neg, 3}, c3 = {ok_e, val, 1};
  dd_error_clear();
  assert_int_equal(phys_rate_integral(&p, 50, 1e-45, 4, 50, &c1, PHYS_QUAD_ADAPTIVE, &v),
                   DD_ERR_ARG);
  assert_error_contains("energies must increase");
  dd_error_clear();
  assert_int_equal(phys_curve_check(&c2), DD_ERR_ARG);
  dd_error_clear();
  assert_int_equal(phys_curve_check(&c3), DD_ERR_ARG);
  /* Bad sampler tables. */
  phys_sampler s;
  const double d_ok[3] = {1, 2, 1}, d_neg[3] = {1, -2, 1}, d_zero[3] = {0, 0, 0};
  dd_error_clear();
  assert_int_equal(phys_sampler_init(&s, e, d_ok, 3), DD_ERR_ARG);
  assert_error_contains("sampler grid must increase");
  assert_null(s.pdf);
  dd_error_clear();
  assert_int_equal(phys_sampler_init(&s, ok_e, d_neg, 3), DD_ERR_ARG);
  assert_error_contains("density at point 1");
  dd_error_clear();
  assert_int_equal(phys_sampler_init(&s, ok_e, d_zero, 3), DD_ERR_ARG);
  assert_error_contains("integrates to 0");
  assert_null(s.pdf);
  dd_error_clear();
  assert_int_equal(phys_sampler_init(&s, ok_e, d_ok, 1), DD_ERR_ARG);
  dd_error_clear();
  assert_int_equal(phys_sampler_init_wimp(&s, &p, 0.0, 0.5, 120, 2000), DD_ERR_ARG);
  dd_error_clear();
  assert_int_equal(phys_sampler_init_wimp(&s, &p, 50, 120, 0.5, 2000), DD_ERR_ARG);
  assert_error_contains("reversed or empty");
  /* A light WIMP whose spectrum ends below the range has no support. */
  dd_error_clear();
  assert_int_equal(phys_sampler_init_wimp(&s, &p, 5, 20, 120, 2000), DD_ERR_ARG);
  assert_error_contains("integrates to 0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_helm_values),
      cmocka_unit_test(test_eta_brute_force),
      cmocka_unit_test(test_eta_limits),
      cmocka_unit_test(test_rate_by_hand),
      cmocka_unit_test(test_endpoint),
      cmocka_unit_test(test_heavy_scaling),
      cmocka_unit_test(test_quadratures_agree),
      cmocka_unit_test(test_backgrounds),
      cmocka_unit_test(test_sampler_chi2),
      cmocka_unit_test(test_reweighting_identity),
      cmocka_unit_test(test_nr_reference),
      cmocka_unit_test(test_spectra_table),
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_wrong_inputs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
