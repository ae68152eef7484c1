/* test_stats.c - stats numerics against independent oracles: every reference
 * value of spec §8 (nos. 1-19, mpmath at 30 digits or exact enumeration),
 * deeper tails from mpmath (tests/tools/gen_stats_refs.py), the engine's
 * closed forms against its general fitter and brute-force profiles, toy
 * calibration against enumeration and asymptotics (§7), importance sampling
 * (§7.4), the contour example of §6.3, homogeneity and monotonicity. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/core.h"
#include "ddscan/stats.h"
#include "stats_testutil.h"

/* ------------------------------------------------- tails and quantiles */

/* spec §8 nos. 1-5, 14 */
static void test_normal_spec(void **state) {
  (void)state;
  const double sf_ref[6] = {0.1586552539314571,   0.02275013194817921,  1.349898031630095e-3,
                            3.167124183311992e-5, 2.866515718791939e-7, 9.865876450376981e-10};
  for (int z = 1; z <= 6; z++) assert_near("Phibar(z)", stats_norm_sf(z), sf_ref[z - 1], 0, 1e-9);
  /* no. 2: chi^2_1 sf(25) = 2 Phibar(5) */
  assert_near("chi2_1 sf(25)", stats_chi2_sf(25.0, 1), 5.733031437583878e-7, 0, 1e-9);
  assert_near("2 Phibar(5)", 2.0 * stats_norm_sf(5.0), 5.733031437583878e-7, 0, 1e-9);
  /* no. 4, 5: one-sided Z from p without 1 - p cancellation */
  assert_near("isf(Phibar(5))", stats_norm_isf(2.866515718791939e-7), 5.0, 0, 1e-9);
  assert_near("isf(2.87e-7)", stats_norm_isf(2.87e-7), 4.999765776842554, 0, 1e-9);
  /* spec no. 5 quotes p rounded to 5.733031e-7; its Z belongs to the full
   * 2 Phibar(5) (mpmath: isf(5.733031e-7) = 4.864648108226907) */
  assert_near("isf(2 Phibar(5))", stats_norm_isf(5.733031437583878e-7), 4.864648093129668, 0, 1e-9);
  assert_near("isf(5.733031e-7)", stats_norm_isf(5.733031e-7), 4.864648108226907, 0, 1e-9);
  assert_near("z_from_p(3 sigma)", stats_z_from_p(1.349898031630095e-3), 3.0, 0, 1e-9);
  assert_near("p_from_z", stats_p_from_z(5.0), 2.866515718791939e-7, 0, 1e-9);
  /* no. 14: power Phi(Z_A - 5) */
  const double pw[3] = {0.158655253931, 0.5, 0.841344746069};
  for (int i = 0; i < 3; i++)
    assert_near("power", stats_norm_sf(5.0 - (4 + i)), pw[i], 1e-12, 1e-9);
}

/* spec §8 nos. 3, 6, 7, 8 and the §4.1 survival values at 25 */
static void test_chi2_spec(void **state) {
  (void)state;
  const double sf1[4] = {0.3173105078629141, 0.04550026389635841, 0.002699796063260189,
                         6.334248366623984e-5};
  for (int i = 0; i < 4; i++)
    assert_near("chi2_1 sf", stats_chi2_sf((i + 1.0) * (i + 1.0), 1), sf1[i], 0, 1e-9);
  double x5 = stats_chi2_isf(stats_norm_sf(5.0), 1);
  assert_near("chi2_1 isf(Phibar(5))", x5, 26.33761216043874, 0, 1e-9);
  assert_near("sqrt", sqrt(x5), 5.132018332044298, 0, 1e-9);
  assert_near("chi2_1 isf(Phibar(3))", stats_chi2_isf(stats_norm_sf(3.0), 1), 10.27301806503955, 0,
              1e-9);
  assert_near("isf(0.1)", stats_chi2_isf(0.1, 1), 2.7055434541, 0, 1e-10);
  assert_near("isf(0.05)", stats_chi2_isf(0.05, 1), 3.84145882069, 0, 1e-10);
  assert_near("isf(0.2)", stats_chi2_isf(0.2, 1), 1.64237441515, 0, 1e-10);
  const int ks[5] = {2, 5, 10, 20, 50};
  const double x8[5] = {30.129996788, 38.5938298173, 49.8314225374, 68.7903222318, 116.822335339};
  for (int i = 0; i < 5; i++)
    assert_near("chi2_k isf(Phibar(5))", stats_chi2_isf(stats_norm_sf(5.0), ks[i]), x8[i], 0, 1e-9);
  const int k41[6] = {1, 2, 5, 10, 20, 50};
  const double s41[6] = {5.733e-7, 3.727e-6, 1.393e-4, 5.35e-3, 0.2014, 0.9988};
  for (int i = 0; i < 6; i++)
    assert_near("chi2_k sf(25)", stats_chi2_sf(25.0, k41[i]), s41[i], 0, 1.5e-3);
  /* conventions: 1 dof sf = 2 x one-sided normal tail; chi2_2 sf = exp(-x/2) */
  for (double x = 0.5; x < 200.0; x *= 1.7) {
    assert_near("k=1 identity", stats_chi2_sf(x, 1), 2.0 * stats_norm_sf(sqrt(x)), 0, 1e-13);
    assert_near("k=2", stats_chi2_sf(x, 2), exp(-0.5 * x), 0, 1e-13);
    /* k = 4: Q(2, x/2) = e^{-x/2} (1 + x/2), exact */
    assert_near("k=4", stats_chi2_sf(x, 4), exp(-0.5 * x) * (1.0 + 0.5 * x), 0, 1e-12);
  }
}

/* mpmath, 50 digits (tests/tools/gen_stats_refs.py): p down to 1e-300 and
 * log-space beyond. */
static void test_deep_tails(void **state) {
  (void)state;
  const double sf[][2] = {{-3, 0.99865010196836991},    {0.5, 0.3085375387259869},
                          {8, 6.2209605742717841e-16},  {10, 7.6198530241605261e-24},
                          {20, 2.7536241186062337e-89}, {30, 4.9067139271481871e-198},
                          {37, 5.7255712225245768e-300}};
  for (size_t i = 0; i < sizeof sf / sizeof sf[0]; i++)
    assert_near("Phibar deep", stats_norm_sf(sf[i][0]), sf[i][1], 0, 1e-12);
  const double lsf[][2] = {{30, -454.3212439563432},
                           {40, -804.60844201375379},
                           {50, -1254.8313611394199},
                           {100, -5005.5242086942051},
                           {1000, -500007.82669481218}};
  for (size_t i = 0; i < sizeof lsf / sizeof lsf[0]; i++)
    assert_near("log Phibar", stats_norm_logsf(lsf[i][0]), lsf[i][1], 0, 1e-13);
  assert_near("log Phibar(29.99) continuity", stats_norm_logsf(29.999999), stats_norm_logsf(30.0),
              1e-4, 0);
  const double isf[][2] = {{1e-10, 6.3613409024040562},  {1e-100, 21.273453560965324},
                           {1e-200, 30.205594179579643}, {1e-300, 37.047096299361199},
                           {0.3, 0.52440051270804078},   {0.9, -1.2815515655446005}};
  for (size_t i = 0; i < sizeof isf / sizeof isf[0]; i++)
    assert_near("isf deep", stats_norm_isf(isf[i][0]), isf[i][1], 0, 1e-12);
  const double isfl[][2] = {
      {-800, 39.884694838256678}, {-5000, 99.944748174841092}, {-1e6, 1414.2077829910173}};
  for (size_t i = 0; i < sizeof isfl / sizeof isfl[0]; i++)
    assert_near("isf from log p", stats_norm_isf_log(isfl[i][0]), isfl[i][1], 0, 1e-13);
  /* round trips across the whole range */
  /* (below z = -3, p = 1 - eps cannot resolve z in double precision) */
  for (double z = -3.0; z < 37.0; z += 0.37)
    assert_near("isf(sf(z))", stats_norm_isf(stats_norm_sf(z)), z, 1e-12, 1e-13);
  for (double z = 30.0; z < 3000.0; z *= 1.3)
    assert_near("isf_log(logsf(z))", stats_norm_isf_log(stats_norm_logsf(z)), z, 0, 1e-13);
  const double c2[][3] = {{3, 3, 0.39162517627108896},         {0.5, 5, 0.99212329323262959},
                          {30, 5, 1.4748581038443052e-5},      {100, 10, 5.4497019829205293e-17},
                          {1400, 10, 9.9203914798001453e-295}, {200, 50, 7.8576107246547436e-20},
                          {1500, 50, 3.1769336718753438e-281}, {0.1, 50, 1.0}};
  for (size_t i = 0; i < sizeof c2 / sizeof c2[0]; i++)
    assert_near("chi2 sf deep", stats_chi2_sf(c2[i][0], (int)c2[i][1]), c2[i][2], 0, 1e-11);
  assert_near("chi2 logsf", stats_chi2_logsf(3000, 3), -1496.2222744019927, 0, 1e-13);
  assert_near("chi2 logsf", stats_chi2_logsf(5000, 20), -2442.3818083360366, 0, 1e-13);
  const double ci[][3] = {{1e-300, 1, 1373.8726312223941},
                          {1e-300, 5, 1400.6405856530269},
                          {1e-300, 50, 1592.6841019943861},
                          {0.5, 3, 2.3659738843753383},
                          {1e-20, 7, 109.82144367398819}};
  for (size_t i = 0; i < sizeof ci / sizeof ci[0]; i++)
    assert_near("chi2 isf deep", stats_chi2_isf(ci[i][0], (int)ci[i][1]), ci[i][2], 0, 1e-12);
  /* edges */
  assert_true(stats_norm_isf(0.0) == INFINITY && stats_norm_isf(1.0) == -INFINITY);
  assert_true(stats_chi2_sf(0.0, 3) == 1.0 && stats_chi2_isf(1.0, 3) == 0.0);
  assert_true(isnan(stats_norm_sf(NAN)) && isnan(stats_chi2_sf(1.0, 0)));
  assert_true(isfinite(stats_chi2_logsf(1e6, 7)));
}

/* spec §8 no. 19: term(1e-6, 1) with <= 1e-12 relative error; log1pmx */
static void test_series(void **state) {
  (void)state;
  double t = stats_qa_term(1e-6, 1.0);
  assert_near("2 term(1e-6, 1)", 2.0 * t, 9.99999666667e-13, 0, 1e-12);
  /* exact series value 2 (x^2/2 - x^3/6 + x^4/12) at x = 1e-6 */
  double x = 1e-6, ex = 2.0 * (x * x / 2 - x * x * x / 6 + x * x * x * x / 12);
  assert_near("term vs series", 2.0 * t, ex, 0, 1e-14);
  /* continuity at the series switch and agreement with the direct form */
  for (double xx = 1e-3; xx < 1.0; xx *= 1.5) {
    double direct = (1.0 + xx) * log1p(xx) - xx;
    assert_near("qa term", stats_qa_term(xx * 7.0, 7.0) / 7.0, direct, 0, 1e-10);
  }
  assert_near("switch", stats_qa_term(0.0099999999, 1.0), stats_qa_term(0.0100000001, 1.0), 0,
              1e-7);
  for (double xx = -0.5; xx < 2.0; xx += 0.0137)
    if (fabs(xx) > 1e-3) assert_near("log1pmx", stats_log1pmx(xx), log1p(xx) - xx, 1e-16, 1e-9);
  assert_near("log1pmx small", stats_log1pmx(1e-5), -5e-11 + 1e-15 / 3 - 2.5e-21, 0, 1e-14);
  assert_true(stats_qa_term(0.0, 5.0) == 0.0 && stats_qa_term(1.0, 0.0) == INFINITY);
}

/* ------------------------------------------------------- spec §2 engine */

/* no. 9: Z_A(s, b) of eq. 97 */
static void test_za(void **state) {
  (void)state;
  const double c[][3] = {{1, 1, 0.878970262432},       {5, 1, 3.39132918348},
                         {10, 100, 0.983991644757},    {6, 9, 1.82339483189},
                         {10, 10, 2.77954802484},      {20, 5, 6.36175255898},
                         {1, 0.01, 2.70601985285},     {3, 0.1, 3.9103351094},
                         {100, 10000, 0.998340239595}, {13, 2952, 0.239093013227}};
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    double q = stats_q0_asimov_simple(1, &c[i][0], &c[i][1]);
    assert_near("Z_A", sqrt(q), c[i][2], 0, 1e-9);
    /* the same through the engine and through the counting formula */
    stats_model m = stats_model_simple(1, &c[i][0], &c[i][1]);
    stats_fit f;
    assert_int_equal(stats_q0(&m, NULL, &f), DD_OK);
    assert_near("engine Z_A", sqrt(f.q0), c[i][2], 0, 1e-9);
    assert_near("count Z", stats_z_count_syst(c[i][0], c[i][1], 0.0), c[i][2], 0, 1e-9);
  }
}

/* nos. 10, 11: the 2-bin example, homogeneity, E_5sigma and sigma multipliers */
static void test_two_bin(void **state) {
  (void)state;
  const double s[2] = {5, 10}, b[2] = {100, 10};
  double q = stats_q0_asimov_simple(2, s, b);
  assert_near("q0,A", q, 7.97182169797853, 0, 1e-12);
  assert_near("Z", sqrt(q), 2.82344146352966, 0, 1e-12);
  double n[2] = {b[0] + s[0], b[1] + s[1]};
  double chi2 = stats_pearson(2, b, n);
  assert_near("chi2_P", chi2, 3.45528455284553, 0, 1e-12);
  assert_near("p 1 dof", stats_chi2_sf(chi2, 1), 0.0630498815602, 0, 1e-9);
  double s2b = 0.0;
  for (int i = 0; i < 2; i++) s2b += s[i] * s[i] / b[i];
  assert_near("sum s^2/b", s2b, 10.25, 0, 1e-14);
  /* no. 11: homogeneity */
  double s2[2], b2[2], s10[2], b10[2];
  for (int i = 0; i < 2; i++) {
    s2[i] = 2 * s[i];
    b2[i] = 2 * b[i];
    s10[i] = 10 * s[i];
    b10[i] = 10 * b[i];
  }
  assert_near("x2", stats_q0_asimov_simple(2, s2, b2), 15.9436433959571, 0, 1e-12);
  assert_near("x10", stats_q0_asimov_simple(2, s10, b10), 79.7182169797853, 0, 1e-12);
  assert_near("E_5sigma sound", 25.0 / q, 3.13604605662, 0, 1e-10);
  assert_near("E_5sigma paper p", 26.33761216043874 / chi2, 7.62241481349, 0, 1e-10);
  assert_near("E_5sigma paper 25", 25.0 / chi2, 7.23529411765, 0, 1e-10);

  /* the same through a template and the contour machinery */
  stats_template t;
  make_template(&t, 2, s, b, NULL);
  stats_params p;
  default_params(&p);
  p.nuis.er_norm = p.nuis.mc_stat = 0;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 8, 0), DD_OK);
  const double e1 = 1.0;
  double mu5;
  unsigned fl;
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_SOUND, &e1, 1, 0, 0, &w, &mu5, &fl), DD_OK);
  assert_near("sigma multiplier sound", mu5, 1.9166900927, 0, 1e-9);
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_PAPER, &e1, 1, 0, 0, &w, &mu5, &fl), DD_OK);
  assert_near("sigma multiplier paper", mu5, 3.77847906893, 0, 1e-9);
  const double ep = 7.62241481349;
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_PAPER, &ep, 1, 0, 0, &w, &mu5, &fl), DD_OK);
  assert_near("paper E_5sigma at sigma_ref", mu5, 1.0, 0, 1e-9);
  p.five_sigma = STATS_FIVE_CHI2_25;
  const double ep25 = 7.23529411765;
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_PAPER, &ep25, 1, 0, 0, &w, &mu5, &fl), DD_OK);
  assert_near("paper chi2_25 E_5sigma", mu5, 1.0, 0, 1e-9);
  assert_true(fl & STATS_FLAG_CHI2_25);
  /* evaluation record at E = 1 */
  stats_result r;
  p.five_sigma = STATS_FIVE_P_ONE_SIDED;
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_PAPER, 1.0, 1.0, &w, &r), DD_OK);
  assert_near("eval chi2_P", r.stat, 3.45528455284553, 0, 1e-12);
  assert_near("eval p", r.p, 0.0630498815602, 0, 1e-9);
  assert_near("eval one-sided Z label", r.z, stats_norm_isf(0.0630498815602), 0, 1e-9);
  assert_near("sqrt chi2", r.sqrt_stat, sqrt(3.45528455284553), 0, 1e-12);
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, 1.0, 1.0, &w, &r), DD_OK);
  assert_near("eval q0,A", r.stat, 7.97182169797853, 0, 1e-12);
  assert_near("eval Z", r.z, 2.82344146352966, 0, 1e-12);
  assert_near("eval p one-sided", r.p, stats_norm_sf(2.82344146352966), 0, 1e-12);
  assert_near("band -1", r.z_band[1], 1.82344146352966, 0, 1e-12);
  assert_near("band -2", r.z_band[0], 0.82344146352966, 0, 1e-12);
  assert_near("power5", r.power5, stats_norm_sf(5.0 - 2.82344146352966), 0, 1e-12);
  stats_work_free(&w);
  free_template(&t);
}

/* §6.3: the contour example; log-slopes towards -1/2 */
static void test_contour_example(void **state) {
  (void)state;
  const double a[2] = {5, 10}, b[2] = {100, 10};
  stats_template t;
  make_template(&t, 2, a, b, NULL);
  stats_params p;
  default_params(&p);
  p.nuis.er_norm = p.nuis.mc_stat = 0;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 8, 0), DD_OK);
  const double e[4] = {1, 10, 100, 1000}, ref[4] = {1.9167, 0.53196, 0.16009, 0.049782};
  double mu5[4];
  unsigned fl[4];
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_SOUND, e, 4, 0, 0, &w, mu5, fl), DD_OK);
  assert_array_near("sigma_5/sigma_ref", mu5, ref, 4, 0, 5e-5);
  const double slope_ref[3] = {-0.557, -0.522, -0.507};
  for (int j = 0; j < 3; j++) {
    double sl = log10(mu5[j + 1] / mu5[j]);
    assert_near("log-slope", sl, slope_ref[j], 1.5e-3, 0);
  }
  /* at each root T(mu5, E) = 25 exactly */
  for (int j = 0; j < 4; j++) {
    stats_result r;
    assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, mu5[j], e[j], &w, &r), DD_OK);
    assert_near("T at root", r.stat, 25.0, 0, 1e-10);
    assert_int_equal(fl[j] & (STATS_FLAG_NO_ROOT | STATS_FLAG_NONMONOTONE), 0);
  }
  stats_work_free(&w);
  free_template(&t);
}

/* no. 12: ER normalisation nuisance (§2.6 closed form) and its limits; the
 * general fitter must agree with the closed form */
static void test_norm_nuisance(void **state) {
  (void)state;
  const double s[2] = {5, 10}, b[2] = {100, 10};
  const double es[3] = {1, 10, 100};
  const double q05[3] = {7.54132835949, 65.4335504703, 608.491636076};
  const double th05[3] = {1.028762899, 1.09746673, 1.130977018};
  const double q20[3] = {6.38416867753, 60.5879833404, 601.811560813};
  for (int j = 0; j < 3; j++) {
    double se[2] = {es[j] * s[0], es[j] * s[1]}, be[2] = {es[j] * b[0], es[j] * b[1]}, th;
    assert_near("q0,A sigma 0.05", stats_q0_asimov_norm(2, se, be, 0.05, &th), q05[j], 0, 1e-9);
    assert_near("theta_hat_hat", th, th05[j], 0, 1e-9);
    assert_near("q0,A sigma 0.2", stats_q0_asimov_norm(2, se, be, 0.2, NULL), q20[j], 0, 1e-9);
    /* §6.4 figures: q0,A/E falls 7.54 -> 6.54 -> 6.08 */
    /* general fitter: force it with a zero NR template that is free */
    const double zero[2] = {0, 0};
    stats_model m = stats_model_simple(2, se, be);
    m.sigma_er = 0.05;
    m.c = zero;
    m.sigma_nr = 0.3;
    stats_fit f;
    assert_int_equal(stats_q0(&m, NULL, &f), DD_OK);
    assert_near("general fit = closed form", f.q0, q05[j], 0, 1e-9);
    assert_near("general theta", f.theta_er_0, th05[j], 0, 1e-8);
  }
  double inf_q = stats_q0_asimov_norm(2, s, b, INFINITY, NULL);
  assert_near("shape-only", inf_q, 6.01347882051, 0, 1e-9);
  /* shape-only closed form of spec §2.6: 2 sum n ln(n B / (N b)) */
  double nn[2] = {s[0] + b[0], s[1] + b[1]}, shape = 0.0;
  for (int i = 0; i < 2; i++) shape += 2.0 * nn[i] * log(nn[i] * 110.0 / (125.0 * b[i]));
  assert_near("shape-only formula", shape, 6.01347882051, 0, 1e-9);
  /* sigma -> 0 recovers §2.2; homogeneity of shape-only (§6.4) */
  assert_near("sigma->0", stats_q0_asimov_norm(2, s, b, 1e-9, NULL), 7.97182169797853, 0, 1e-6);
  double s7[2] = {7 * s[0], 7 * s[1]}, b7[2] = {7 * b[0], 7 * b[1]};
  assert_near("shape-only homogeneous", stats_q0_asimov_norm(2, s7, b7, INFINITY, NULL),
              7.0 * inf_q, 0, 1e-9);
  /* the engine's closed-form dispatch */
  stats_model m = stats_model_simple(2, s, b);
  m.sigma_er = 0.05;
  stats_fit f;
  assert_int_equal(stats_q0(&m, NULL, &f), DD_OK);
  assert_near("engine closed form", f.q0, q05[0], 0, 1e-12);
}

/* no. 13: counting Z with background uncertainty (§2.5) */
static void test_count_syst(void **state) {
  (void)state;
  assert_near("(10,100,10)", stats_z_count_syst(10, 100, 10), 0.690196063297, 0, 1e-9);
  assert_near("(5,1,0.5)", stats_z_count_syst(5, 1, 0.5), 2.76372394054, 0, 1e-9);
  assert_near("(50,2952,147.6)", stats_z_count_syst(50, 2952, 147.6), 0.316227280092, 0, 1e-9);
  assert_near("no syst", stats_z_count_syst(50, 2952, 0), 0.917683030331, 0, 1e-9);
  /* sigma_b -> 0 continuity (12 digits, spec §2.5) */
  assert_near("limit", stats_z_count_syst(50, 2952, 1e-6), 0.917683030331, 0, 1e-9);
}

/* NR template: with c = kappa b the two constrained normalisations act as
 * one with width sqrt(s_er^2 + kappa^2 s_nr^2)/(1 + kappa) on (1+kappa) b. */
static void test_nr_template(void **state) {
  (void)state;
  const double s[3] = {3, 8, 12}, b[3] = {200, 30, 6};
  const double kap = 0.25;
  double c[3], bb[3];
  for (int i = 0; i < 3; i++) {
    c[i] = kap * b[i];
    bb[i] = (1 + kap) * b[i];
  }
  stats_model m = stats_model_simple(3, s, b);
  m.c = c;
  m.sigma_er = 0.05;
  m.sigma_nr = 0.23;
  stats_fit f;
  assert_int_equal(stats_q0(&m, NULL, &f), DD_OK);
  double seff = sqrt(0.05 * 0.05 + kap * kap * 0.23 * 0.23) / (1 + kap);
  assert_near("two normalisations", f.q0, stats_q0_asimov_norm(3, s, bb, seff, NULL), 0, 1e-8);
  /* a fixed NR template is known background */
  m.sigma_nr = 0.0;
  m.sigma_er = 0.0;
  assert_int_equal(stats_q0(&m, NULL, &f), DD_OK);
  assert_near("fixed NR", f.q0, stats_q0_asimov_simple(3, s, bb), 0, 1e-12);
}

static double golden_max(double (*fn)(void *, double), void *ctx, double lo, double hi,
                         double *xmax);

/* Full Barlow-Beeston: an independent oracle.  The per-bin likelihood
 * n ln f - f + sum_j (a_j ln A_j - A_j), f = sum_j P_j A_j, is concave in the
 * A_j; coordinate ascent solves each 1-D stationarity condition exactly (a
 * quadratic in A_j) until nothing moves.  Returned relative to the saturated
 * value, like the engine. */
static double brute_bb_bin(double n, int nt, const double *pj, const double *a) {
  double A[3];
  for (int j = 0; j < nt; j++) A[j] = a[j];
  for (int it = 0; it < 20000; it++) {
    double moved = 0.0;
    for (int j = 0; j < nt; j++) {
      double r = 0.0;
      for (int l = 0; l < nt; l++)
        if (l != j) r += pj[l] * A[l];
      if (!(pj[j] > 0.0)) {
        A[j] = a[j];
        continue;
      }
      /* (P+1) P A^2 + ((P+1) r - n P - a P) A - a r = 0, positive root */
      double qa = (pj[j] + 1.0) * pj[j], qb = (pj[j] + 1.0) * r - n * pj[j] - a[j] * pj[j];
      double qc = -a[j] * r, d = sqrt(qb * qb - 4.0 * qa * qc);
      double x = qb < 0.0 ? (-qb + d) / (2.0 * qa) : 2.0 * (-qc) / (qb + d);
      if (!(x >= 0.0)) x = 0.0;
      moved = fmax(moved, fabs(x - A[j]) / (1.0 + A[j]));
      A[j] = x;
    }
    if (moved < 1e-15) break;
  }
  double f = 0.0, ell = 0.0;
  for (int j = 0; j < nt; j++) {
    f += pj[j] * A[j];
    ell += a[j] > 0.0 ? a[j] * log(A[j] / a[j]) - A[j] + a[j] : -A[j];
  }
  ell += n > 0.0 ? n * log(f / n) - f + n : -f;
  return ell;
}

typedef struct bb_case {
  int k;
  const double *s, *b, *ms, *mb, *n;
} bb_case;
/* Profiled ell(mu) of the oracle (thetas fixed at 1). */
static double brute_bb_ell(void *ctx, double mu) {
  const bb_case *c = ctx;
  double ell = 0.0;
  for (int i = 0; i < c->k; i++) {
    double pj[2] = {mu * c->s[i] / c->ms[i], c->b[i] / c->mb[i]}, a[2] = {c->ms[i], c->mb[i]};
    ell += brute_bb_bin(c->n[i], 2, pj, a);
  }
  return ell;
}

static void test_barlow_beeston(void **state) {
  (void)state;
  const double s[3] = {2, 6, 9}, b[3] = {150, 25, 4};
  const double ms[3] = {40, 300, 900}, mb[3] = {2e4, 60, 5};
  const double n[3] = {165, 37, 14};
  stats_model m = stats_model_simple(3, s, b);
  m.ms = ms;
  m.mb = mb;
  stats_fit f;
  /* q0 and q~mu on data against the oracle (golden section over mu) */
  bb_case c = {3, s, b, ms, mb, n};
  assert_int_equal(stats_q0(&m, n, &f), DD_OK);
  double mu_bf = 0.0;
  double l_hat = golden_max(brute_bb_ell, &c, 0.0, 20.0, &mu_bf);
  double l_0 = brute_bb_ell(&c, 0.0);
  assert_near("BB q0 vs brute force", f.q0, 2.0 * (l_hat - l_0), 1e-8, 1e-6);
  assert_near("BB mu_hat vs brute force", f.mu_hat, mu_bf, 1e-5, 1e-5);
  assert_int_equal(stats_qmu(&m, n, 4.0, &f), DD_OK);
  assert_near("BB q~mu vs brute force", f.qmu, 2.0 * (l_hat - brute_bb_ell(&c, 4.0)), 1e-8, 1e-6);
  /* Asimov q0,A against the oracle; the MC error lowers it */
  double na[3];
  for (int i = 0; i < 3; i++) na[i] = s[i] + b[i];
  c.n = na;
  assert_int_equal(stats_q0(&m, NULL, &f), DD_OK);
  assert_near("BB q0,A vs brute force", f.q0, 2.0 * (brute_bb_ell(&c, 1.0) - brute_bb_ell(&c, 0.0)),
              1e-8, 1e-7);
  double qa = stats_q0_asimov_simple(3, s, b);
  assert_true(f.q0 < qa);
  /* MC counts -> infinity: the known-background values */
  const double big[3] = {1e13, 1e13, 1e13};
  m.ms = big;
  m.mb = big;
  assert_int_equal(stats_q0(&m, NULL, &f), DD_OK);
  assert_near("m -> inf, Asimov", f.q0, qa, 0, 1e-6);
  stats_model kb = stats_model_simple(3, s, b);
  stats_fit g;
  assert_int_equal(stats_q0(&kb, n, &g), DD_OK);
  assert_int_equal(stats_q0(&m, n, &f), DD_OK);
  assert_near("m -> inf, data", f.q0, g.q0, 0, 1e-6);
  /* q0,A falls monotonically as the background MC shrinks */
  double prev = INFINITY;
  for (double sc = 1e4; sc > 1e-2; sc /= 3.0) {
    double mm[3] = {sc * mb[0], sc * mb[1], sc * mb[2]};
    m.mb = mm;
    m.ms = ms;
    m.sigma_er = 0.049;
    assert_int_equal(stats_q0(&m, NULL, &f), DD_OK);
    assert_true(f.q0 < prev && f.q0 > 0.0);
    prev = f.q0;
  }
  /* bin expectations are never negative: extreme data, tiny MC, auxiliary
   * counts of zero (toys), at strengths from 0 up */
  const double mtiny[3] = {0.5, 1.0, 2.0}, azero[3] = {0, 3, 0}, aone[3] = {1, 0, 0};
  const double datas[3][3] = {{0, 0, 0}, {500, 0, 90}, {0, 200, 1}};
  m.sigma_er = 0.0;
  m.mb = mtiny;
  m.ms = mtiny;
  for (int v = 0; v < 4; v++) {
    m.ab = v & 1 ? azero : NULL;
    m.as = v & 2 ? aone : NULL;
    for (int d = 0; d < 3; d++)
      for (double mu = 0.0; mu < 50.0; mu = 2.0 * mu + 0.25)
        for (double th = 0.25; th < 4.0; th *= 2.0) {
          double nu[3];
          assert_int_equal(stats_bb_expect(&m, datas[d], mu, th, 1.0, nu), DD_OK);
          for (int i = 0; i < 3; i++) assert_true(nu[i] >= 0.0 && isfinite(nu[i]));
          /* a bin with data has a positive expectation */
          for (int i = 0; i < 3; i++)
            if (datas[d][i] > 0.0) assert_true(nu[i] > 0.0);
        }
    /* and the fits run on such data */
    for (int d = 1; d < 3; d++) {
      assert_int_equal(stats_q0(&m, datas[d], &f), DD_OK);
      assert_true(f.q0 >= 0.0 && isfinite(f.q0));
    }
  }
  /* one bin, zero auxiliary background count, data present: BB's special
   * case, A > 0 at the boundary t = -1/P: max_A n ln(P A) - P A - A gives
   * A = n/(1 + P), f = n P/(1 + P) */
  const double s1[1] = {1}, b1[1] = {2}, m1[1] = {4}, a0[1] = {0}, n1[1] = {7};
  stats_model z = stats_model_simple(1, s1, b1);
  z.mb = m1;
  z.ab = a0;
  double nu1;
  assert_int_equal(stats_bb_expect(&z, n1, 0.0, 1.0, 1.0, &nu1), DD_OK);
  assert_near("BB boundary: f = n P/(1 + P)", nu1, 7.0 * 0.5 / 1.5, 0, 1e-12);
  assert_int_equal(stats_q0(&z, n1, &f), DD_OK);
  assert_true(f.q0 > 0.0 && isfinite(f.q0) && f.mu_hat > 0.0);
}

/* The general fitter on data: mu_hat and q0 against the 1-D known-
 * background solution, one-sided clipping, and the zero-background error. */
static void test_fit_on_data(void **state) {
  (void)state;
  const double s[3] = {4, 7, 11}, b[3] = {80, 20, 5};
  const double n[3] = {90, 31, 17};
  stats_model m = stats_model_simple(3, s, b);
  stats_fit f1, f2;
  assert_int_equal(stats_q0(&m, n, &f1), DD_OK);
  /* the generic path (free NR template of zeros, theta fixed) must agree */
  const double zero[3] = {0, 0, 0};
  stats_model g = m;
  g.c = zero;
  g.sigma_nr = 0.5;
  assert_int_equal(stats_q0(&g, n, &f2), DD_OK);
  assert_near("q0 1-D vs general", f2.q0, f1.q0, 0, 1e-9);
  assert_near("mu_hat", f2.mu_hat, f1.mu_hat, 0, 1e-8);
  /* mu_hat solves sum n s/(mu s + b) = sum s */
  double h = -22.0;
  for (int i = 0; i < 3; i++) h += n[i] * s[i] / (f1.mu_hat * s[i] + b[i]);
  assert_near("score at mu_hat", h, 0.0, 1e-10, 0);
  /* deficit: one-sided q0 = 0 */
  const double low[3] = {70, 15, 3};
  assert_int_equal(stats_q0(&m, low, &f1), DD_OK);
  assert_true(f1.q0 == 0.0 && f1.mu_hat == 0.0);
  /* with theta free as well */
  m.sigma_er = 0.1;
  assert_int_equal(stats_q0(&m, n, &f1), DD_OK);
  assert_true(f1.q0 > 0.0 && f1.theta_er_0 > 1.0);
  /* observed events in a bin without background: q0 is infinite -> error */
  const double sb[2] = {1, 1}, bb[2] = {5, 0}, nb[2] = {5, 2};
  stats_model z = stats_model_simple(2, sb, bb);
  dd_error_clear();
  assert_int_equal(stats_q0(&z, nb, &f1), DD_ERR_NUMERIC);
  assert_error_contains("no expected background");
  dd_error_clear();
  assert_int_equal(stats_q0(&z, NULL, &f1), DD_ERR_NUMERIC);
  assert_error_contains("no background");
  dd_error_clear();
}

/* q~mu of one known-background counting bin in closed form (Cowan et al.
 * 2011, eq. 16 with mu_hat = (n - b)/s): 0 above mu_hat, the likelihood ratio
 * to the unconstrained maximum for 0 <= mu_hat <= mu, to mu = 0 below. */
static double qmu_one_bin(double n, double s, double b, double mu) {
  double mh = (n - b) / s, nu = mu * s + b;
  if (mh > mu) return 0.0;
  if (mh >= 0.0) return 2.0 * ((n > 0.0 ? n * log(n / nu) : 0.0) - n + nu);
  return 2.0 * ((n > 0.0 ? n * log(b / nu) : 0.0) + mu * s);
}

/* ln L of the ER-normalisation model (Poisson + Gaussian theta), maximised
 * over theta by golden section (concave in theta): an independent profile. */
static double ell_theta(int k, const double *s, const double *b, const double *n, double sig,
                        double mu, double th) {
  double l = -0.5 * (th - 1.0) * (th - 1.0) / (sig * sig);
  for (int i = 0; i < k; i++) {
    double nu = mu * s[i] + th * b[i];
    l += (n[i] > 0.0 ? n[i] * log(nu) : 0.0) - nu;
  }
  return l;
}
static double golden_max(double (*fn)(void *, double), void *ctx, double lo, double hi,
                         double *xmax) {
  const double r = 0.6180339887498949;
  double a = lo, d = hi;
  for (int it = 0; it < 200; it++) {
    double x1 = d - r * (d - a), x2 = a + r * (d - a);
    if (fn(ctx, x1) < fn(ctx, x2))
      a = x1;
    else
      d = x2;
  }
  *xmax = 0.5 * (a + d);
  return fn(ctx, *xmax);
}
typedef struct qmu_bf {
  int k;
  const double *s, *b, *n;
  double sig, mu;
} qmu_bf;
static double bf_theta(void *ctx, double th) {
  qmu_bf *q = ctx;
  return ell_theta(q->k, q->s, q->b, q->n, q->sig, q->mu, th);
}
static double bf_profile(void *ctx, double mu) {
  qmu_bf *q = ctx;
  q->mu = mu;
  double th;
  return golden_max(bf_theta, q, 1e-3, 5.0, &th);
}

/* stats_qmu against the one-bin closed form, the Asimov background-only
 * value, the sigma_ER -> 0 limit, a brute-force profile with theta_ER, and
 * its argument checks. */
static void test_qmu(void **state) {
  (void)state;
  const double s1[1] = {5}, b1[1] = {3};
  stats_model m1 = stats_model_simple(1, s1, b1);
  stats_fit f;
  const double ns[] = {0, 1, 3, 4.5, 5, 8, 12.9, 13, 14, 30};
  const double mus[] = {0.3, 1.0, 2.0};
  for (size_t j = 0; j < sizeof mus / sizeof mus[0]; j++)
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
      double n1[1] = {ns[i]};
      assert_int_equal(stats_qmu(&m1, n1, mus[j], &f), DD_OK);
      double ref = qmu_one_bin(ns[i], s1[0], b1[0], mus[j]);
      assert_near("q~mu one bin", f.qmu, ref, 1e-10, 1e-9);
      assert_true(isnan(f.q0) && f.mu_test == mus[j]);
      assert_near("mu_hat clipped at 0", f.mu_hat, fmax(0.0, (ns[i] - 3.0) / 5.0), 1e-9, 1e-8);
    }
  /* Asimov background-only (n = b): q~mu,A = 2 [mu s - b ln(1 + mu s/b)] */
  const double s3[3] = {2, 6, 9}, b3[3] = {150, 25, 4};
  stats_model m3 = stats_model_simple(3, s3, b3);
  double ref = 0.0;
  for (int i = 0; i < 3; i++) ref += 2.0 * (1.7 * s3[i] - b3[i] * log1p(1.7 * s3[i] / b3[i]));
  assert_int_equal(stats_qmu(&m3, b3, 1.7, &f), DD_OK);
  assert_near("q~mu,A background only", f.qmu, ref, 0, 1e-9);
  assert_true(f.mu_hat == 0.0);
  /* theta_ER with a vanishing width: the known-background value */
  const double n3[3] = {160, 31, 9};
  double known = 0.0;
  assert_int_equal(stats_qmu(&m3, n3, 2.5, &f), DD_OK);
  known = f.qmu;
  assert_true(known > 1.0);
  m3.sigma_er = 1e-7;
  assert_int_equal(stats_qmu(&m3, n3, 2.5, &f), DD_OK);
  assert_near("sigma_ER -> 0", f.qmu, known, 0, 1e-5);
  m3.sigma_er = 0.1;
  assert_int_equal(stats_qmu(&m3, n3, 2.5, &f), DD_OK);
  assert_true(f.qmu > 0.0 && fabs(f.qmu - known) > 1e-3);
  /* brute force: nested golden sections over (mu in [0, mu_test], theta) */
  qmu_bf bf = {3, s3, b3, n3, 0.1, 0.0};
  double th_mu = 0.0, mu_best = 0.0;
  bf.mu = 2.5;
  double l_mu = golden_max(bf_theta, &bf, 1e-3, 5.0, &th_mu);
  double l_hat = golden_max(bf_profile, &bf, 0.0, 2.5, &mu_best);
  assert_near("q~mu vs brute force", f.qmu, 2.0 * (l_hat - l_mu), 1e-7, 1e-6);
  assert_near("theta hat-hat(mu_test)", f.theta_er_mu, th_mu, 1e-6, 0);
  assert_near("mu_hat", f.mu_hat, mu_best, 1e-5, 0);
  /* q~mu is 0 at and below mu_hat and grows beyond it */
  assert_int_equal(stats_qmu(&m3, n3, 0.5 * f.mu_hat, &f), DD_OK);
  assert_true(f.qmu == 0.0);
  double prev = 0.0;
  for (double mu = 2.0; mu < 20.0; mu += 2.0) {
    assert_int_equal(stats_qmu(&m3, n3, mu, &f), DD_OK);
    assert_true(f.qmu > prev);
    prev = f.qmu;
  }
  /* the general engine agrees with stats_q0 on the mu = 0 conditional fit */
  stats_fit g;
  assert_int_equal(stats_q0(&m3, n3, &g), DD_OK);
  assert_int_equal(stats_qmu(&m3, n3, 3.0, &f), DD_OK);
  assert_near("theta hat-hat(0) shared", f.theta_er_0, g.theta_er_0, 0, 1e-10);
  assert_near("mu_hat shared", f.mu_hat, g.mu_hat, 0, 1e-8);
  /* arguments */
  dd_error_clear();
  assert_int_equal(stats_qmu(&m3, NULL, 1.0, &f), DD_ERR_ARG);
  assert_error_contains("needs the data");
  dd_error_clear();
  assert_int_equal(stats_qmu(&m3, n3, -1.0, &f), DD_ERR_ARG);
  assert_error_contains("mu = -1");
  dd_error_clear();
}

/* -------------------------------------------- enumeration and toys (§7) */

static void test_enumeration(void **state) {
  (void)state;
  const double x[4] = {1, 4, 9, 25};
  double pr[4], med;
  /* no. 15 */
  const double s15[2] = {5, 5}, b15[2] = {50, 5};
  assert_near("q0,A 15", stats_q0_asimov_simple(2, s15, b15), 4.347063, 1e-6, 0);
  assert_int_equal(stats_enumerate_q0(2, s15, b15, 0.0, x, 3, pr, NULL), DD_OK);
  const double h0_15[3] = {0.144935, 0.0201046, 0.00118913};
  assert_array_near("P(q0>=x|H0) 15", pr, h0_15, 3, 1e-6, 0);
  assert_int_equal(stats_enumerate_q0(2, s15, b15, 1.0, x, 3, pr, &med), DD_OK);
  assert_near("median Z 15", sqrt(med), 2.039417, 1e-6, 0);
  assert_near("P(q0>=9|H1) 15", pr[2], 0.192652, 1e-6, 0);
  /* no. 16 */
  const double s16[2] = {1, 2}, b16[2] = {2, 0.5};
  assert_near("q0,A 16", stats_q0_asimov_simple(2, s16, b16), 4.479980, 1e-6, 0);
  assert_int_equal(stats_enumerate_q0(2, s16, b16, 0.0, x, 3, pr, NULL), DD_OK);
  const double h0_16[3] = {0.106316, 0.0167424, 0.000910525};
  assert_array_near("P(q0>=x|H0) 16", pr, h0_16, 3, 1e-6, 0);
  assert_int_equal(stats_enumerate_q0(2, s16, b16, 1.0, x, 3, pr, &med), DD_OK);
  assert_near("median Z 16", sqrt(med), 1.953910, 1e-6, 0);
  assert_near("P(q0>=9|H1) 16", pr[2], 0.204814, 1e-6, 0);
  /* no. 17 */
  const double s17[2] = {10, 10}, b17[2] = {100, 10};
  assert_near("q0,A 17", stats_q0_asimov_simple(2, s17, b17), 8.694127, 1e-6, 0);
  assert_int_equal(stats_enumerate_q0(2, s17, b17, 0.0, x, 4, pr, NULL), DD_OK);
  const double h0_17[3] = {0.148955, 0.0207983, 0.00121631};
  assert_array_near("P(q0>=x|H0) 17", pr, h0_17, 3, 1e-6, 0);
  assert_near("P(q0>=25|H0) 17", pr[3], 2.46228e-7, 0, 5e-6);
  assert_int_equal(stats_enumerate_q0(2, s17, b17, 1.0, x, 3, pr, &med), DD_OK);
  assert_near("median Z 17", sqrt(med), 2.916316, 1e-6, 0);
  assert_near("P(q0>=9|H1) 17", pr[2], 0.46923, 1e-5, 0);
  /* bad input */
  dd_error_clear();
  assert_int_equal(stats_enumerate_q0(4, s17, b17, 0.0, x, 1, pr, NULL), DD_ERR_ARG);
  dd_error_clear();
}

/* binomial check: |p_toy - p_ref| <= 4 sigma_binomial + extra */
static void assert_binomial(const char *what, long count, long n, double p_ref, double extra) {
  double p = (double)count / n, sd = sqrt(p_ref * (1.0 - p_ref) / n);
  assert_near(what, p, p_ref, 4.0 * sd + extra, 0);
}

/* §7.1-7.3: toys against exact enumeration (no. 17) within binomial errors,
 * and a large-count template against the asymptotic half chi^2_1. */
static void test_toy_calibration(void **state) {
  (void)state;
  const long nt = 100000;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 8, nt), DD_OK);
  const double s[2] = {10, 10}, b[2] = {100, 10};
  stats_model m = stats_model_simple(2, s, b);
  assert_int_equal(stats_toys_run(&m, STATS_TOY_Q0, 0.0, 11, 0, 0, nt, &w, w.t, NULL), DD_OK);
  const double x[3] = {1, 4, 9}, exact[3] = {0.148955, 0.0207983, 0.00121631};
  for (int j = 0; j < 3; j++) {
    long c = 0;
    for (long i = 0; i < nt; i++) c += w.t[i] >= x[j] - 1e-12;
    assert_binomial("toys vs enumeration H0", c, nt, exact[j], 0.0);
  }
  /* H1: P(q0 >= 9) and the median Z */
  assert_int_equal(stats_toys_run(&m, STATS_TOY_Q0, 1.0, 11, 1, 0, nt, &w, w.t, NULL), DD_OK);
  long c9 = 0;
  for (long i = 0; i < nt; i++) c9 += w.t[i] >= 9.0 - 1e-12;
  assert_binomial("toys vs enumeration H1", c9, nt, 0.46923, 0.0);
  /* large counts: close to the asymptotic 1/2 chi^2_1 (spec: within ~10-15 %) */
  const double sl[4] = {30, 40, 50, 60}, bl[4] = {2000, 900, 400, 150};
  stats_model ml = stats_model_simple(4, sl, bl);
  assert_int_equal(stats_toys_run(&ml, STATS_TOY_Q0, 0.0, 12, 0, 0, nt, &w, w.t, NULL), DD_OK);
  const double asym[3] = {0.158655, 0.0227501, 0.0013499};
  for (int j = 0; j < 3; j++) {
    long c = 0;
    for (long i = 0; i < nt; i++) c += w.t[i] >= x[j] - 1e-12;
    assert_binomial("toys vs asymptotics", c, nt, asym[j], 0.10 * asym[j]);
  }
  /* alternative: median sqrt(q0) ~ sqrt(q0,A) and P(q0 >= 9) ~ Phi(Z_A - 3) (§7.3) */
  assert_int_equal(stats_toys_run(&ml, STATS_TOY_Q0, 1.0, 12, 1, 0, nt, &w, w.t, NULL), DD_OK);
  double za = sqrt(stats_q0_asimov_simple(4, sl, bl));
  c9 = 0;
  for (long i = 0; i < nt; i++) c9 += w.t[i] >= 9.0 - 1e-12;
  assert_binomial("power at 3 sigma", c9, nt, stats_norm_sf(3.0 - za), 0.02);
  /* toys with the ER-normalisation constraint (globals drawn) stay calibrated */
  ml.sigma_er = 0.049;
  const long nt2 = 20000;
  assert_int_equal(stats_toys_run(&ml, STATS_TOY_Q0, 0.0, 13, 0, 0, nt2, &w, w.t, NULL), DD_OK);
  long c4 = 0;
  for (long i = 0; i < nt2; i++) c4 += w.t[i] >= 4.0 - 1e-12;
  assert_binomial("toys with theta_ER", c4, nt2, 0.0227501, 0.15 * 0.0227501);
  stats_work_free(&w);
}

/* §7.4, no. 17: importance-sampled P(q0 >= 25 | H0) */
static void test_importance_sampling(void **state) {
  (void)state;
  const long nt = 200000;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 8, nt), DD_OK);
  const double s[2] = {10, 10}, b[2] = {100, 10};
  stats_model m = stats_model_simple(2, s, b);
  double p, err;
  assert_int_equal(stats_toys_is_tail(&m, 25.0, 5, 0, nt, &w, &p, &err), DD_OK);
  assert_true(err < 3e-9);
  assert_near("IS tail vs exact", p, 2.46228e-7, 4.0 * err, 0);
  /* the calibrated threshold: P0(q0 >= t) = Phibar(5) -> t close to 25 (the
   * exact tail at 25 is 2.46e-7 < 2.87e-7, so t is slightly below 25) */
  double thr;
  assert_int_equal(stats_toys_is_threshold(&m, 5.0, 5, 0, nt, &w, &thr), DD_OK);
  assert_true(thr > 23.0 && thr < 25.0);
  stats_work_free(&w);
}

/* Mean of w_j 1[t_j >= x] over n toys and its standard error. */
static void weighted_tail(const double *t, const double *wt, long n, double x, double *p,
                          double *err) {
  double sw = 0.0, sw2 = 0.0;
  for (long j = 0; j < n; j++)
    if (t[j] >= x - 1e-12) {
      double wj = wt ? wt[j] : 1.0;
      sw += wj;
      sw2 += wj * wj;
    }
  *p = sw / n;
  *err = sqrt(fmax(sw2 / n - (*p) * (*p), 0.0) / n);
}

/* Issue 15: with the full nuisance model (Barlow-Beeston MC counts of every
 * template, ER and NR normalisation constraints) and fewer MC than data
 * events (the regime of a large exposure), the null tail of q0 lives in the
 * auxiliary measurements too.  Brute-force null toys (every measurement
 * drawn) against the importance sampling of stats_toys_run_null, whose
 * proposal tilts all of them.  The old counts-only tilt (auxiliary
 * measurements drawn around nominal, weights from the main bins only,
 * proposal at the known-background mu_p) is unbiased too but its error is
 * 7x larger with the same toys here (50x the toys for the same error), and
 * it under-covers the 5-sigma tail of a real template (docs/statistics.md,
 * toys). */
static void test_importance_sampling_nuisances(void **state) {
  (void)state;
  const long n_bf = 100000, n_is = 10000;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 8, n_bf), DD_OK);
  /* signal small in the Asimov data: the null fit is the nominal model up
   * to 1e-3, so the old ensemble (drawn around nominal) is the same null */
  const double eps = 1e-3;
  const double s[3] = {3.0 * eps, 1.0 * eps, 0.3 * eps}, b[3] = {10.0, 20.0, 40.0};
  const double c[3] = {0.3, 0.3, 0.3};
  const double ms[3] = {20, 20, 20}, mb[3] = {3, 5, 10}, mc[3] = {2, 4, 8};
  stats_model m = stats_model_simple(3, s, b);
  m.c = c;
  m.ms = ms;
  m.mb = mb;
  m.mc = mc;
  m.sigma_er = 0.1;
  m.sigma_nr = 0.3;
  const double x = 9.0; /* asymptotic P = 1.35e-3 */
  double *t_bf = malloc((size_t)n_bf * sizeof *t_bf);
  assert_non_null(t_bf);
  assert_int_equal(stats_toys_run_null(&m, 0.0, 21, 0, 0, n_bf, &w, t_bf, NULL, NULL), DD_OK);
  double p_bf, e_bf;
  weighted_tail(t_bf, NULL, n_bf, x, &p_bf, &e_bf);
  double p_is, e_is, mu_p;
  assert_int_equal(stats_toys_run_null(&m, x, 22, 0, 0, n_is, &w, w.t, w.w, &mu_p), DD_OK);
  weighted_tail(w.t, w.w, n_is, x, &p_is, &e_is);
  for (long j = 0; j < n_is; j++) assert_true(w.w[j] >= 0.0 && w.w[j] <= 10.0 + 1e-12);
  /* the old estimator: counts-only weights, proposal at the mu whose
   * known-background q0,A is x */
  double lo = 0.0, hi = 1.0, bc[3], sm[3];
  for (int i = 0; i < 3; i++) bc[i] = b[i] + c[i];
  for (;;) {
    for (int i = 0; i < 3; i++) sm[i] = hi * s[i];
    if (stats_q0_asimov_simple(3, sm, bc) >= x) break;
    hi *= 2.0;
  }
  for (int it = 0; it < 100; it++) {
    double mid = 0.5 * (lo + hi);
    for (int i = 0; i < 3; i++) sm[i] = mid * s[i];
    if (stats_q0_asimov_simple(3, sm, bc) < x)
      lo = mid;
    else
      hi = mid;
  }
  double p_old, e_old;
  assert_int_equal(stats_toys_run(&m, STATS_TOY_Q0, hi, 23, 0, 0, n_is, &w, w.t, w.w), DD_OK);
  weighted_tail(w.t, w.w, n_is, x, &p_old, &e_old);
  print_message(
      "brute force %.4g +- %.2g (%ld toys); tilt-all IS %.4g +- %.2g (%ld toys, mu_p "
      "%.3g); counts-only IS %.4g +- %.2g (mu_p %.3g); asymptotic %.4g\n",
      p_bf, e_bf, n_bf, p_is, e_is, n_is, mu_p * eps, p_old, e_old, hi * eps,
      stats_norm_sf(sqrt(x)));
  assert_true(e_bf < 0.1 * p_bf); /* brute force resolves the tail */
  /* the full tilt agrees within combined errors, with a small error */
  assert_near("tilt-all IS vs brute force", p_is, p_bf, 4.0 * sqrt(e_is * e_is + e_bf * e_bf), 0);
  assert_true(e_is < 0.05 * p_is);
  /* ... and is more efficient than the counts-only tilt: relative error
   * at least 3x smaller with the same toys */
  assert_true(e_old / p_old > 3.0 * e_is / p_is);
  /* a wrong target is detected: the IS tail at x + 2 is not the brute-force
   * tail at x (the comparison above can fail) */
  double p_w, e_w;
  assert_int_equal(stats_toys_run_null(&m, x + 2.0, 22, 0, 0, n_is, &w, w.t, w.w, NULL), DD_OK);
  weighted_tail(w.t, w.w, n_is, x + 2.0, &p_w, &e_w);
  assert_true(fabs(p_w - p_bf) > 4.0 * sqrt(e_w * e_w + e_bf * e_bf));
  free(t_bf);
  stats_work_free(&w);
}

/* no. 18 / §4.1: the Pearson statistic under H0 is ~ 1/2 chi^2_k */
static void test_pearson_null(void **state) {
  (void)state;
  const long nt = 200000;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 64, nt), DD_OK);
  double b[50], s[50];
  for (int i = 0; i < 50; i++) {
    b[i] = 100.0;
    s[i] = 1.0;
  }
  stats_model m = stats_model_simple(50, s, b);
  assert_int_equal(stats_toys_run(&m, STATS_TOY_PEARSON, 0.0, 3, 0, 0, nt, &w, w.t, NULL), DD_OK);
  double mean = 0.0;
  long c = 0;
  for (long i = 0; i < nt; i++) {
    mean += w.t[i];
    c += w.t[i] > 26.34;
  }
  mean /= nt;
  assert_near("mean chi2_P k=50", mean, 25.0, 0, 0.02);
  double frac = (double)c / nt;
  assert_true(frac >= 0.365 && frac <= 0.383);
  /* k = 2, 10: mean k/2 */
  m.k = 10;
  assert_int_equal(stats_toys_run(&m, STATS_TOY_PEARSON, 0.0, 3, 1, 0, 50000, &w, w.t, NULL),
                   DD_OK);
  mean = 0.0;
  for (long i = 0; i < 50000; i++) mean += w.t[i];
  assert_near("mean chi2_P k=10", mean / 50000, 5.0, 0, 0.02);
  stats_work_free(&w);
}

/* Toys are a function of (seed, point, toy) only: any split gives the same
 * values bitwise; another point or seed gives other values. */
static void test_toy_determinism(void **state) {
  (void)state;
  const long nt = 2000;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 8, nt), DD_OK);
  const double s[3] = {3, 5, 9}, b[3] = {40, 12, 2}, mb[3] = {1e4, 400, 25}, ms[3] = {50, 80, 90};
  stats_model m = stats_model_simple(3, s, b);
  m.sigma_er = 0.049;
  m.mb = mb;
  m.ms = ms;
  double *all = malloc(nt * sizeof *all), *wa = malloc(nt * sizeof *wa);
  double *part = malloc(nt * sizeof *part), *wp = malloc(nt * sizeof *wp);
  assert_int_equal(stats_toys_run(&m, STATS_TOY_Q0, 1.0, 99, 7, 0, nt, &w, all, wa), DD_OK);
  /* three uneven pieces, in reverse order */
  assert_int_equal(
      stats_toys_run(&m, STATS_TOY_Q0, 1.0, 99, 7, 1500, 500, &w, part + 1500, wp + 1500), DD_OK);
  assert_int_equal(
      stats_toys_run(&m, STATS_TOY_Q0, 1.0, 99, 7, 333, 1167, &w, part + 333, wp + 333), DD_OK);
  assert_int_equal(stats_toys_run(&m, STATS_TOY_Q0, 1.0, 99, 7, 0, 333, &w, part, wp), DD_OK);
  assert_memory_equal(all, part, nt * sizeof *all);
  assert_memory_equal(wa, wp, nt * sizeof *wa);
  assert_int_equal(stats_toys_run(&m, STATS_TOY_Q0, 1.0, 99, 8, 0, nt, &w, part, NULL), DD_OK);
  assert_true(memcmp(all, part, nt * sizeof *all) != 0);
  free(all);
  free(wa);
  free(part);
  free(wp);
  stats_work_free(&w);
}

/* ------------------------------------------------------------- contours */

typedef struct fake_ctx {
  int kind;
} fake_ctx;

/* kind 0: T = E (1 - e^{-mu}) ... never reaches big thresholds at small E;
 * kind 1: non-monotone bump; kind 2: constant 0; kind 3: constant huge;
 * kind 4: E-dependent non-homogeneous T = E mu^2 / (1 + 0.01 E). */
static dd_status fake_stat(void *vctx, double mu, double e, double *t) {
  fake_ctx *c = vctx;
  switch (c->kind) {
    case 0:
      *t = e * (1.0 - exp(-mu));
      break;
    case 1:
      *t = e * mu * (1.0 + 3.0 * exp(-pow(log(mu / 1e-3), 2)));
      break;
    case 2:
      *t = 0.0;
      break;
    case 3:
      *t = 1e9;
      break;
    default:
      *t = e * mu * mu / (1.0 + 0.01 * e);
      break;
  }
  return DD_OK;
}

static void test_contour_solver(void **state) {
  (void)state;
  fake_ctx c = {0};
  const double e[3] = {2.0, 50.0, 1000.0};
  double mu[3];
  unsigned fl[3];
  /* kind 0: mu = -ln(1 - 25/E) when E > 25, no root at E = 2 */
  assert_int_equal(stats_contour_solve(fake_stat, &c, 1, 25.0, 1e-12, e, 3, mu, fl), DD_OK);
  assert_true(isinf(mu[0]) && (fl[0] & STATS_FLAG_NO_ROOT));
  assert_near("kind 0 E=50", mu[1], -log(1.0 - 0.5), 0, 1e-10);
  assert_near("kind 0 E=1000", mu[2], -log(1.0 - 0.025), 0, 1e-10);
  /* same answers without the homogeneity assumption */
  double mu2[3];
  assert_int_equal(stats_contour_solve(fake_stat, &c, 0, 25.0, 1e-12, e, 3, mu2, fl), DD_OK);
  assert_near("non-homogeneous path", mu2[2], mu[2], 0, 1e-10);
  /* non-monotone: detected, and the first crossing found on the dense grid */
  c.kind = 1;
  const double e1 = 1000.0;
  assert_int_equal(stats_contour_solve(fake_stat, &c, 1, 3.0, 1e-10, &e1, 1, mu, fl), DD_OK);
  double t;
  fake_stat(&c, mu[0], e1, &t);
  assert_near("first crossing", t, 3.0, 0, 1e-6);
  assert_true(mu[0] < 1e-3);
  c.kind = 2;
  assert_int_equal(stats_contour_solve(fake_stat, &c, 1, 25.0, 1e-12, &e1, 1, mu, fl), DD_OK);
  assert_true(isinf(mu[0]) && (fl[0] & STATS_FLAG_NO_ROOT));
  c.kind = 3;
  assert_int_equal(stats_contour_solve(fake_stat, &c, 1, 25.0, 1e-12, &e1, 1, mu, fl), DD_OK);
  assert_true(mu[0] == 0.0 && (fl[0] & STATS_FLAG_AT_ZERO));
  c.kind = 4;
  assert_int_equal(stats_contour_solve(fake_stat, &c, 0, 25.0, 1e-12, e, 3, mu, fl), DD_OK);
  for (int j = 0; j < 3; j++)
    assert_near("kind 4", mu[j], sqrt(25.0 * (1.0 + 0.01 * e[j]) / e[j]), 0, 1e-10);
  dd_error_clear();
  const double bad = -1.0;
  assert_int_equal(stats_contour_solve(fake_stat, &c, 0, 25.0, 1e-12, &bad, 1, mu, fl), DD_ERR_ARG);
  dd_error_clear();
}

/* Nuisances break homogeneity (§6.4): the solver works per E; monotone in
 * E; sigma_5 above the known-background one. */
static void test_contour_nuisances(void **state) {
  (void)state;
  const double a[4] = {0.5, 2, 6, 9}, b[4] = {120, 30, 8, 1.5}, w2[4] = {1.2, 0.2, 0.05, 0.02};
  stats_template t;
  make_template(&t, 4, a, b, w2);
  stats_params p;
  default_params(&p);
  stats_work w;
  assert_int_equal(stats_work_init(&w, 8, 0), DD_OK);
  const double e[5] = {0.3, 1, 3, 30, 300};
  double mu_s[5], mu_0[5];
  unsigned fl[5];
  assert_false(stats_is_homogeneous(&p, STATS_METHOD_SOUND));
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_SOUND, e, 5, 0, 0, &w, mu_s, fl), DD_OK);
  p.nuis.er_norm = p.nuis.mc_stat = 0;
  assert_true(stats_is_homogeneous(&p, STATS_METHOD_SOUND));
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_SOUND, e, 5, 0, 0, &w, mu_0, fl), DD_OK);
  p.nuis.er_norm = p.nuis.mc_stat = 1;
  for (int j = 0; j < 5; j++) {
    stats_result r;
    assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, mu_s[j], e[j], &w, &r), DD_OK);
    assert_near("q0,A at root", r.stat, 25.0, 0, 1e-9);
    assert_true(mu_s[j] > mu_0[j]);
    if (j) assert_true(mu_s[j] < mu_s[j - 1]);
  }
  /* monotone in sigma at fixed E on a grid (§6.4 assertion) */
  double prev = -1.0;
  for (double mu = 1e-3; mu < 1e3; mu *= 1.5) {
    stats_result r;
    assert_int_equal(stats_eval(&t, &p, STATS_METHOD_SOUND, mu, 3.0, &w, &r), DD_OK);
    assert_true(r.stat > prev);
    prev = r.stat;
  }
  stats_work_free(&w);
  free_template(&t);
}

/* The toys contour: the lower median of q0 under H1 reaches the IS-
 * calibrated 5-sigma threshold; close to the Asimov contour at these counts,
 * deterministic, and the threshold close to 25. */
static void test_contour_toys(void **state) {
  (void)state;
  const double a[2] = {5, 10}, b[2] = {100, 10};
  stats_template t;
  make_template(&t, 2, a, b, NULL);
  stats_params p;
  default_params(&p);
  p.nuis.er_norm = p.nuis.mc_stat = 0;
  p.toys = 2000;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 8, p.toys), DD_OK);
  const double e[2] = {1, 10}, asimov[2] = {1.9167, 0.53196};
  double mu5[2], again[2];
  unsigned fl[2];
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_TOYS, e, 2, 42, 9, &w, mu5, fl), DD_OK);
  for (int j = 0; j < 2; j++) {
    assert_near("toy contour ~ Asimov", mu5[j], asimov[j], 0, 0.15);
    assert_int_equal(fl[j] & (STATS_FLAG_NO_ROOT | STATS_FLAG_AT_ZERO | STATS_FLAG_NONMONOTONE), 0);
  }
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_TOYS, e, 2, 42, 9, &w, again, fl), DD_OK);
  assert_memory_equal(mu5, again, sizeof mu5);
  stats_model m;
  assert_int_equal(stats_model_at(&t, &p, STATS_METHOD_TOYS, 1.0, 1.0, &w, &m, NULL), DD_OK);
  double thr;
  assert_int_equal(stats_toys_is_threshold(&m, 5.0, 42, 9, p.toys, &w, &thr), DD_OK);
  assert_true(thr > 20.0 && thr < 28.0);
  /* without IS the asymptotic 25 is the threshold */
  p.toys_importance = 0;
  assert_int_equal(stats_contour(&t, &p, STATS_METHOD_TOYS, e, 1, 42, 9, &w, mu5, fl), DD_OK);
  assert_near("toy contour, threshold 25", mu5[0], asimov[0], 0, 0.15);
  stats_work_free(&w);
  free_template(&t);
}

/* LOW_MC counts the signal-rich region's effective ER MC as a whole: four
 * signal bins of 4 unit-weight MC events each (16 >= min_mc = 10) are not
 * flagged, although every bin alone holds fewer than 10; two of them (8 < 10)
 * are; a background-only bin with 1 MC event does not count. */
static void test_low_mc_region(void **state) {
  (void)state;
  stats_params p;
  default_params(&p);
  stats_work w;
  assert_int_equal(stats_work_init(&w, 8, 0), DD_OK);
  /* beta = n events of weight 1e-3 per t.y: beta_w2 = n 1e-6 */
  const double a4[5] = {1, 1, 1, 1, 0}, b4[5] = {4e-3, 4e-3, 4e-3, 4e-3, 1e-3};
  const double w4[5] = {4e-6, 4e-6, 4e-6, 4e-6, 1e-6};
  stats_template t;
  make_template(&t, 5, a4, b4, w4);
  stats_model m;
  unsigned fl = 0;
  assert_int_equal(stats_model_at(&t, &p, STATS_METHOD_SOUND, 1.0, 1.0, &w, &m, &fl), DD_OK);
  assert_int_equal(fl & STATS_FLAG_LOW_MC, 0);
  free_template(&t);
  const double a2[5] = {1, 1, 0, 0, 0};
  make_template(&t, 5, a2, b4, w4);
  fl = 0;
  assert_int_equal(stats_model_at(&t, &p, STATS_METHOD_SOUND, 1.0, 1.0, &w, &m, &fl), DD_OK);
  assert_int_equal(fl & STATS_FLAG_LOW_MC, STATS_FLAG_LOW_MC);
  /* the paper method has no MC-statistics model: never flagged */
  fl = 0;
  assert_int_equal(stats_model_at(&t, &p, STATS_METHOD_PAPER, 1.0, 1.0, &w, &m, &fl), DD_OK);
  assert_int_equal(fl & STATS_FLAG_LOW_MC, 0);
  free_template(&t);
  stats_work_free(&w);
}

static void test_flags_describe(void **state) {
  (void)state;
  char buf[128];
  assert_string_equal(stats_flags_describe(0, buf, sizeof buf), "");
  assert_string_equal(
      stats_flags_describe(STATS_FLAG_FLOORED | STATS_FLAG_LOW_COUNT, buf, sizeof buf),
      "floored-background, low-count");
  assert_string_equal(stats_flags_describe(STATS_FLAG_LOW_MC, buf, sizeof buf), "low-mc");
  char small[8];
  stats_flags_describe(STATS_FLAG_FLOORED | STATS_FLAG_LOW_COUNT, small, sizeof small);
  assert_true(strlen(small) < sizeof small);
}

/* Fig. 8: p(E) from the fast path equals a full evaluation at every E */
static void test_p_vs_exposure(void **state) {
  (void)state;
  const double a[3] = {1, 3, 5}, b[3] = {50, 10, 1};
  stats_template t;
  make_template(&t, 3, a, b, NULL);
  stats_params p;
  default_params(&p);
  p.nuis.er_norm = p.nuis.mc_stat = 0;
  stats_work w;
  assert_int_equal(stats_work_init(&w, 8, 0), DD_OK);
  const double e[4] = {0.1, 1.0, 37.0, 5000.0};
  double pv[4], z[4], lp[4];
  for (int meth = 0; meth < 2; meth++) {
    stats_method mm = meth ? STATS_METHOD_SOUND : STATS_METHOD_PAPER;
    assert_int_equal(stats_p_vs_exposure(&t, &p, mm, 0.3, e, 4, &w, pv, z, lp), DD_OK);
    for (int j = 0; j < 4; j++) {
      stats_result r;
      assert_int_equal(stats_eval(&t, &p, mm, 0.3, e[j], &w, &r), DD_OK);
      assert_near("log p fast = full", lp[j], r.log_p, 0, 1e-11);
      assert_near("Z fast = full", z[j], r.z, 0, 1e-11);
      if (r.p > 1e-300) assert_near("p fast = full", pv[j], r.p, 0, 1e-11);
    }
    /* at 5000 t.y the p underflows double but log p and Z stay finite */
    assert_true(isfinite(lp[3]) && isfinite(z[3]) && z[3] > 30.0);
  }
  /* spec §6.2 formulas */
  stats_result r1;
  assert_int_equal(stats_eval(&t, &p, STATS_METHOD_PAPER, 0.3, 1.0, &w, &r1), DD_OK);
  assert_int_equal(stats_p_vs_exposure(&t, &p, STATS_METHOD_PAPER, 0.3, e, 4, &w, pv, z, NULL),
                   DD_OK);
  assert_near("paper p(E)", pv[2], erfc(sqrt(37.0 * r1.stat / 2.0)), 0, 1e-12);
  dd_error_clear();
  assert_int_equal(stats_p_vs_exposure(&t, &p, STATS_METHOD_TOYS, 0.3, e, 4, &w, pv, z, NULL),
                   DD_ERR_ARG);
  dd_error_clear();
  stats_work_free(&w);
  free_template(&t);
}

static void test_rband(void **state) {
  (void)state;
  const double r[4] = {50, 100, 170, 250};
  /* (n_r = 4, n_e = 3) */
  const double mu5[12] = {0.9, 0.5, 0.2, 1.0, 0.4, 0.3, 0.7, 0.35, 0.1, 0.8, INFINITY, 0.15};
  const double band[2] = {100, 250};
  double lo[3], hi[3];
  int best[3], bo;
  stats_rband(r, 4, mu5, 3, band, lo, hi, best, &bo);
  const double lo_ref[3] = {0.7, 0.35, 0.1}, hi_ref[3] = {1.0, 0.4, 0.3};
  assert_array_near("band lo", lo, lo_ref, 3, 0, 0);
  assert_array_near("band hi", hi, hi_ref, 3, 0, 0);
  assert_int_equal(best[0], 2);
  assert_int_equal(best[1], 2);
  assert_int_equal(best[2], 2);
  assert_int_equal(bo, 2);
}

/* ------------------------------------------------- scores, params, flags */

static void test_scores(void **state) {
  (void)state;
  /* softplus against -log(1 - sigmoid(z)) where the latter is accurate */
  for (double z = -30.0; z <= 15.0; z += 0.5) {
    double pz = 1.0 / (1.0 + exp(-z));
    assert_near("H_B", stats_hb_from_logit(z), -log1p(-pz), 0, 1e-9);
  }
  assert_near("large z", stats_hb_from_logit(50.0), 50.0 + log1p(exp(-50.0)), 0, 1e-15);
  assert_near("huge z", stats_hb_from_logit(1e4), 1e4, 0, 1e-15);
  assert_near("negative z", stats_hb_from_logit(-50.0), exp(-50.0), 0, 1e-12);
  assert_true(isfinite(stats_hb_from_logit(800.0)));
  /* from p: clamps counted */
  double p[5] = {0.0, 0.5, 1.0 - 1e-9, 1.0, 1.0}, hb[5];
  long nc = -1;
  assert_int_equal(stats_hb_from_prob(p, 5, 1, hb, &nc), DD_OK);
  assert_int_equal(nc, 3); /* 1 - 1e-9 > 1 - 2^-24 as well */
  assert_near("hb(0.5)", hb[1], log(2.0), 0, 1e-15);
  assert_near("hb clamp f32", hb[3], 24.0 * log(2.0), 0, 1e-12);
  assert_int_equal(stats_hb_from_prob(p, 5, 0, hb, &nc), DD_OK);
  assert_int_equal(nc, 2);
  assert_near("hb clamp f64", hb[4], 53.0 * log(2.0), 0, 1e-12);
  assert_near("hb 1-1e-9", hb[2], -log1p(-(1.0 - 1e-9)), 0, 1e-9);
  double badp[2] = {0.2, 1.5};
  dd_error_clear();
  assert_int_equal(stats_hb_from_prob(badp, 2, 0, hb, &nc), DD_ERR_ARG);
  assert_error_contains("p[1]");
  dd_error_clear();
  assert_near("L_rec", stats_lrec(0.3, 2.0, 0.5), 1.3, 0, 1e-15);
  assert_near("TS", stats_ts(1.3, 0.02, 170.0), 1.3 + 3.4, 0, 1e-14);
}

static void test_lowcount(void **state) {
  (void)state;
  stats_params p;
  default_params(&p);
  const double s1[2] = {1, 1}, b1[2] = {100, 50};
  assert_int_equal(stats_lowcount(&p, 2, s1, b1), 0);
  const double s2[2] = {1, 1}, b2[2] = {100, 2}; /* s/b = 0.5 with b = 2 < 5 */
  assert_int_equal(stats_lowcount(&p, 2, s2, b2), STATS_FLAG_LOW_COUNT);
  const double s3[2] = {0.01, 0.01}, b3[2] = {4, 4}; /* total 8 < 10 */
  assert_int_equal(stats_lowcount(&p, 2, s3, b3), STATS_FLAG_LOW_COUNT);
  /* the signal-rich region counts as a whole: the bin b = 6 of s = 3 cut into three
   * bins of b = 2 is not flagged (6 >= 5), and its half (b = 4 < 5) is */
  const double s4[4] = {1, 1, 1, 0.1}, b4[4] = {2, 2, 2, 100};
  assert_int_equal(stats_lowcount(&p, 4, s4, b4), 0);
  const double s5[4] = {1, 1, 0.01, 0.1}, b5[4] = {2, 2, 2, 100};
  assert_int_equal(stats_lowcount(&p, 4, s5, b5), STATS_FLAG_LOW_COUNT);
}

/* significance.c: the conversions against independent oracles (erfc, the
 * spec §8 reference values) and the thresholds/power of §2.4, §4.1 */
static void test_significance(void **state) {
  (void)state;
  stats_params p;
  default_params(&p);
  assert_int_equal(stats_method_convention(STATS_METHOD_PAPER), STATS_CONV_CHI2_1DOF);
  assert_int_equal(stats_method_convention(STATS_METHOD_SOUND), STATS_CONV_Q0);
  assert_int_equal(stats_method_convention(STATS_METHOD_TOYS), STATS_CONV_Q0);
  assert_int_equal(stats_method_convention(STATS_METHOD_CLASSICAL), STATS_CONV_Q0);
  const double ts[5] = {0.5, 3.45528455284553, 25.0, 100.0, 1500.0};
  for (int i = 0; i < 5; i++) {
    double t = ts[i];
    /* chi^2_1dof: Eq. 13, p = erfc(sqrt(t/2)); Z is the one-sided label */
    stats_signif c = stats_signif_of(STATS_CONV_CHI2_1DOF, t);
    if (t < 1400.0) assert_near("chi2 p = erfc", c.p, erfc(sqrt(0.5 * t)), 0, 1e-12);
    assert_near("chi2 log p", c.log_p, stats_chi2_logsf(t, 1), 0, 1e-15);
    assert_near("chi2 Z label", stats_norm_logsf(c.z), c.log_p, 0, 1e-12);
    /* q0: half chi^2_1, p = erfc(sqrt(q0/2))/2, Z = sqrt(q0) */
    stats_signif q = stats_signif_of(STATS_CONV_Q0, t);
    assert_near("q0 Z", q.z, sqrt(t), 0, 0);
    if (t < 1400.0) assert_near("q0 p", q.p, 0.5 * erfc(sqrt(0.5 * t)), 0, 1e-12);
    assert_near("q0 log p", q.log_p, stats_norm_logsf(sqrt(t)), 0, 0);
  }
  stats_signif s5 = stats_signif_of(STATS_CONV_Q0, 25.0);
  assert_near("q0 = 25 is 5 sigma", s5.p, 2.866515718791939e-7, 0, 1e-12);
  stats_signif f = stats_signif_from_p(1.349898031630095e-3);
  assert_near("p -> Z", f.z, 3.0, 0, 1e-9);
  assert_near("p -> log p", f.log_p, log(1.349898031630095e-3), 0, 0);
  /* thresholds: §4.1 values, and each one's p is Phibar(Z) */
  p.five_sigma = STATS_FIVE_P_ONE_SIDED;
  assert_near("5 sigma chi2_P", stats_threshold5(&p, STATS_METHOD_PAPER), 26.33761216043874, 0,
              1e-12);
  assert_near("3 sigma chi2_P", stats_threshold3(&p, STATS_METHOD_PAPER), 10.27301806503955, 0,
              1e-12);
  assert_near("p at 5 sigma chi2_P",
              stats_signif_of(STATS_CONV_CHI2_1DOF, stats_threshold5(&p, STATS_METHOD_PAPER)).z,
              5.0, 0, 1e-9);
  assert_true(stats_threshold5(&p, STATS_METHOD_SOUND) == 25.0);
  assert_true(stats_threshold5(&p, STATS_METHOD_TOYS) == 25.0);
  assert_true(stats_threshold3(&p, STATS_METHOD_CLASSICAL) == 9.0);
  p.five_sigma = STATS_FIVE_CHI2_25;
  assert_true(stats_threshold5(&p, STATS_METHOD_PAPER) == 25.0);
  assert_true(stats_threshold5(&p, STATS_METHOD_SOUND) == 25.0);
  assert_near("3 sigma keeps one-sided p", stats_threshold3(&p, STATS_METHOD_PAPER),
              10.27301806503955, 0, 1e-12);
  /* power Phi(Z_A - Z_thr): spec §8 no. 14 */
  const double pw[3] = {0.158655253931, 0.5, 0.841344746069};
  for (int i = 0; i < 3; i++) {
    assert_near("power5", stats_power(4.0 + i, STATS_Z_DISCOVERY), pw[i], 1e-12, 1e-9);
    assert_near("power3", stats_power(2.0 + i, STATS_Z_EVIDENCE), pw[i], 1e-12, 1e-9);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normal_spec),
      cmocka_unit_test(test_chi2_spec),
      cmocka_unit_test(test_significance),
      cmocka_unit_test(test_deep_tails),
      cmocka_unit_test(test_series),
      cmocka_unit_test(test_za),
      cmocka_unit_test(test_two_bin),
      cmocka_unit_test(test_contour_example),
      cmocka_unit_test(test_norm_nuisance),
      cmocka_unit_test(test_count_syst),
      cmocka_unit_test(test_nr_template),
      cmocka_unit_test(test_barlow_beeston),
      cmocka_unit_test(test_fit_on_data),
      cmocka_unit_test(test_qmu),
      cmocka_unit_test(test_enumeration),
      cmocka_unit_test(test_toy_calibration),
      cmocka_unit_test(test_importance_sampling),
      cmocka_unit_test(test_importance_sampling_nuisances),
      cmocka_unit_test(test_pearson_null),
      cmocka_unit_test(test_toy_determinism),
      cmocka_unit_test(test_contour_solver),
      cmocka_unit_test(test_contour_nuisances),
      cmocka_unit_test(test_contour_toys),
      cmocka_unit_test(test_flags_describe),
      cmocka_unit_test(test_low_mc_region),
      cmocka_unit_test(test_p_vs_exposure),
      cmocka_unit_test(test_rband),
      cmocka_unit_test(test_scores),
      cmocka_unit_test(test_lowcount),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
