/* params.c - detector presets (spec §1 parameter table) and the `detector`
 * configuration group: every parameter has the preset's value as default and
 * can be overridden; validation names the offending key.  Sources of the
 * numbers are cited per preset below (tags as in specs/detector_image.md). */
#include "ddscan/detector.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const k_preset_names[] = {"xent_sr0", "xent_design", "x1t_pax"};
static const char *const k_yield_names[] = {"nest2", "laidbax"};
static const char *const k_layout_names[] = {"xent", "x1t"};
static const char *const k_timing_names[] = {"nest2", "pax_simple", "pax_nest2014"};

/* NEST drift velocity shape (NEST.cpp GetDriftVelocity_Liquid, StdDev = 0
 * branch: 1.7681 - 1.7681/(1 + (F/31.683)^1.3237) mm/us), used only to scale
 * the measured XENONnT SR0 value to another field for xent_design. */
static double nest_vd_shape(double field_v_cm) {
  return 1.7681 - 1.7681 / (1.0 + pow(field_v_cm / 31.683, 1.3237));
}

void det_params_preset(det_params *p, det_preset preset) {
  memset(p, 0, sizeof *p);
  p->preset = (int)preset;
  snprintf(p->preset_name, sizeof p->preset_name, "%s", k_preset_names[preset]);
  /* XENONnT SR0 ([A] appletree er.json, [N] XENONnT_SR0.hh, [X], [T]). */
  p->tpc_radius_cm = 66.4;
  p->drift_length_cm = 148.6;
  p->bottom_pmt_offset_cm = 6.02;
  p->top_pmt_offset_cm = 10.0;
  p->fv_radius_cm = 60.73;
  p->fv_depth_min_cm = 13.35;
  p->fv_depth_max_cm = 133.97;
  p->layout = DET_LAYOUT_XENT;
  p->dead_pmts = 0;
  p->qe_spread = 0.0;
  p->drift_field_v_cm = 23.0;
  p->drift_velocity_cm_us = 0.0677;
  p->gate_time_us = 1.7;
  p->electron_lifetime_us = 15000.0;
  p->trapping_time_ns = 140.0; /* [P] _base.ini l.422 */
  p->temperature_k = 176.7;
  p->yield_model = DET_YIELD_NEST2;
  p->g1_pe = 0.1515;
  p->p_dpe = 0.21;
  p->spe_res = 0.40;
  p->hit_eff = 0.935;
  p->s1_coincidence = 3;
  p->coincidence_window_ns = 100.0;
  p->s1_max_gap_ns = 350.0; /* [P] XENON1T.ini l.315 max_gap_size_in_s1like_cluster */
  p->ly_rel[0] = 0.7106;    /* fit to the XENON1T Kr83m LY map, spec §2.4 */
  p->ly_rel[1] = 0.4898;
  p->ly_rel[2] = 0.1632;
  p->s1_aft[0] = 0.3765; /* fit to XENON1T S1 AFT map, spec §4.3 */
  p->s1_aft[1] = -0.4035;
  p->s1_aft[2] = 0.1033;
  p->s1_diffuse_bottom = 0.3;
  p->s1_diffuse_top = 0.6;
  p->s1_timing = DET_S1_NEST2;
  p->tts_ns = 13.6;
  p->s1_simple_decay_ns = 44.77;
  p->extraction_eff = 0.528;
  p->se_gain_pe = 31.3;
  p->s2_aft = 0.748;
  p->s2_rel[0] = 1.10; /* fit to XENON1T S2 xy map, spec §2.5 */
  p->s2_rel[1] = -0.20;
  p->s2_lce_p = 1.622; /* [T] rLCE_base_model.json */
  p->s2_lce_d_cm = 9.496;
  p->s2_lce_a_per_cm = -4.81e-5;
  p->s2_lce_b = 0.00839;
  p->gas_gap_time_ns = 620.0;
  p->gas_singlet_fraction = 0.035; /* [P] _base.ini l.425-429 */
  p->gas_singlet_ns = 5.88;
  p->gas_triplet_ns = 119.5;
  p->pos_res_cm = 1.0;
  p->s2_threshold_pe = 500.0;
  p->roi_cs1_min_pe = 0.0;
  p->roi_cs1_max_pe = 100.0;
  p->roi_cs2_min_pe = 0.0;
  p->roi_cs2_max_pe = 1e5;
  p->cs2_bottom = 0;
  p->s1_pad_bins = 10; /* [K] Plotting_HitPeak.py l.402-418 */
  p->s2_pad_small_bins = 50;
  p->s2_pad_large_bins = 200;
  p->s2_pad_threshold_pe = 100.0;
  p->s2_quantile_min_pe = 2000.0;
  p->max_attempts = 100000;
  /* The paper: 20000 ER + 20000 NR images, ER 16000 train / 4000 test. */
  for (int c = 0; c < 2; c++) {
    p->bank.n[c][DET_SPLIT_TRAIN] = 16000;
    p->bank.n[c][DET_SPLIT_TEST] = 4000;
    p->bank.n[c][DET_SPLIT_ANALYSIS] = 20000;
  }
  p->ceiling_events = 200000;
  p->ceiling_cs1_min_pe = 3.0;
  p->ceiling_cs1_max_pe = 100.0;
  p->er_bias.tilt = 0.0; /* off; width, fraction and s1_tilt: the recommended proposal */
  p->er_bias.width = DET_BIAS_WIDTH;
  p->er_bias.fraction = DET_BIAS_FRACTION;
  p->er_bias.s1_tilt = DET_BIAS_S1_TILT;

  if (preset == DET_PRESET_XENT_DESIGN) {
    /* Same detector at the design drift field (spec §9.1); the drift speed
     * scales with NEST's field dependence from the measured SR0 value. */
    p->drift_field_v_cm = 200.0;
    p->drift_velocity_cm_us = 0.0677 * nest_vd_shape(200.0) / nest_vd_shape(23.0);
  } else if (preset == DET_PRESET_X1T_PAX) {
    /* XENON1T as simulated by Khosa et al. ([P] XENON1T.ini, [L] base_model.py) */
    p->tpc_radius_cm = 47.9;
    p->drift_length_cm = 96.9;
    p->bottom_pmt_offset_cm = 5.0; /* unverified */
    p->fv_radius_cm = 39.85;
    p->fv_depth_min_cm = 13.45;
    p->fv_depth_max_cm = 83.45;
    p->layout = DET_LAYOUT_X1T;
    p->drift_field_v_cm = 117.0;
    p->drift_velocity_cm_us = 0.144;
    p->electron_lifetime_us = 550.0;
    p->temperature_k = 177.45;
    p->yield_model = DET_YIELD_LAIDBAX;
    p->g1_pe = 0.12 * 1.15; /* pax s1_detection_efficiency x DPE */
    p->p_dpe = 0.15;
    p->spe_res = 0.4181;
    p->hit_eff = 1.0;
    p->s1_timing = DET_S1_PAX_SIMPLE;
    p->extraction_eff = 1.0;
    p->se_gain_pe = 21.3 * 1.15; /* s2_secondary_sc_gain x DPE */
    p->s2_aft = 0.627;
    p->gas_gap_time_ns = 370.0;
    p->s2_threshold_pe = 150.0;
    p->roi_cs1_min_pe = 3.0;
    p->roi_cs1_max_pe = 70.0;
    p->roi_cs2_min_pe = 50.0;
    p->roi_cs2_max_pe = 8000.0;
    p->cs2_bottom = 1;
    p->ceiling_cs1_max_pe = 70.0;
  }
  p->density_g_cm3 = det_nest_density(p->temperature_k);
  p->diffusion_long_cm2_s =
      preset == DET_PRESET_X1T_PAX ? 22.8 : det_nest_diffusion_long(p->drift_field_v_cm);
  p->diffusion_trans_cm2_s = det_nest_diffusion_trans(p->drift_field_v_cm);
}

/* Doubles read with the preset's value as default: key and field offset. */
typedef struct dkey {
  const char *key;
  size_t off;
} dkey;
#define DK(name) \
  { "detector." #name, offsetof(det_params, name) }
/* The order matters only for the derived defaults below (field and
 * temperature first). */
static const dkey k_dkeys_geometry[] = {
    DK(tpc_radius_cm),        DK(drift_length_cm), DK(bottom_pmt_offset_cm),
    DK(top_pmt_offset_cm),    DK(fv_radius_cm),    DK(fv_depth_min_cm),
    DK(fv_depth_max_cm),      DK(qe_spread),       DK(drift_field_v_cm),
    DK(drift_velocity_cm_us), DK(gate_time_us),    DK(electron_lifetime_us),
    DK(trapping_time_ns),     DK(temperature_k),
};
static const dkey k_dkeys_response[] = {
    DK(g1_pe),
    DK(p_dpe),
    DK(spe_res),
    DK(hit_eff),
    DK(coincidence_window_ns),
    DK(s1_max_gap_ns),
    DK(s1_diffuse_bottom),
    DK(s1_diffuse_top),
    DK(tts_ns),
    DK(s1_simple_decay_ns),
    DK(extraction_eff),
    DK(se_gain_pe),
    DK(s2_aft),
    DK(s2_lce_p),
    DK(s2_lce_d_cm),
    DK(s2_lce_a_per_cm),
    DK(s2_lce_b),
    DK(gas_gap_time_ns),
    DK(gas_singlet_fraction),
    DK(gas_singlet_ns),
    DK(gas_triplet_ns),
    DK(pos_res_cm),
    DK(s2_threshold_pe),
    DK(roi_cs1_min_pe),
    DK(roi_cs1_max_pe),
    DK(roi_cs2_min_pe),
    DK(roi_cs2_max_pe),
    DK(s2_pad_threshold_pe),
    DK(s2_quantile_min_pe),
};
#undef DK

static dd_status load_dkeys(cfg_doc *cfg, det_params *p, const dkey *keys, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double *v = (double *)((char *)p + keys[i].off);
    DD_TRY(cfg_get_double(cfg, keys[i].key, *v, v), "detector");
  }
  return DD_OK;
}

static dd_status load_int(cfg_doc *cfg, const char *key, int *v, long long lo, long long hi) {
  long long x;
  DD_TRY(cfg_get_int_range(cfg, key, *v, lo, hi, &x), "detector");
  *v = (int)x;
  return DD_OK;
}

/* Stream counters are 32-bit: every index of a class must fit.  `lo` is 1
 * for the train and analysis splits: an empty one fails only hours later
 * (training with nothing, or scoring nothing and then "run the score stage
 * first"). */
static dd_status load_u64(cfg_doc *cfg, const char *key, uint64_t *v, long long lo) {
  long long x;
  DD_TRY(cfg_get_int_range(cfg, key, (long long)*v, lo, (long long)UINT32_MAX, &x), "detector");
  *v = (uint64_t)x;
  return DD_OK;
}

static dd_status load_poly(cfg_doc *cfg, const char *key, double *c, int n) {
  double v[4];
  int got = 0;
  DD_TRY(cfg_get_double_list(cfg, key, c, n, v, 4, &got), "detector");
  if (got != n) return cfg_error(cfg, key, "needs exactly %d coefficients, got %d", n, got);
  for (int i = 0; i < n; i++) c[i] = v[i];
  return DD_OK;
}

dd_status det_params_load(cfg_doc *cfg, det_params *p) {
  int preset = 0;
  DD_TRY(cfg_get_choice(cfg, "detector.preset", "xent_sr0", k_preset_names, 3, &preset),
         "detector");
  det_params_preset(p, (det_preset)preset);
  det_params d = *p; /* preset defaults, for the derived ones */

  DD_TRY(load_dkeys(cfg, p, k_dkeys_geometry, sizeof k_dkeys_geometry / sizeof *k_dkeys_geometry),
         "detector geometry");
  /* Derived defaults follow an overridden field or temperature. */
  p->density_g_cm3 = det_nest_density(p->temperature_k);
  if (d.preset != DET_PRESET_X1T_PAX || p->drift_field_v_cm != d.drift_field_v_cm)
    p->diffusion_long_cm2_s = det_nest_diffusion_long(p->drift_field_v_cm);
  p->diffusion_trans_cm2_s = det_nest_diffusion_trans(p->drift_field_v_cm);
  DD_TRY(cfg_get_double(cfg, "detector.density_g_cm3", p->density_g_cm3, &p->density_g_cm3),
         "detector");
  DD_TRY(cfg_get_double(cfg, "detector.diffusion_long_cm2_s", p->diffusion_long_cm2_s,
                        &p->diffusion_long_cm2_s),
         "detector");
  DD_TRY(cfg_get_double(cfg, "detector.diffusion_trans_cm2_s", p->diffusion_trans_cm2_s,
                        &p->diffusion_trans_cm2_s),
         "detector");
  DD_TRY(load_dkeys(cfg, p, k_dkeys_response, sizeof k_dkeys_response / sizeof *k_dkeys_response),
         "detector response");

  DD_TRY(cfg_get_choice(cfg, "detector.layout", k_layout_names[p->layout], k_layout_names, 2,
                        &p->layout),
         "detector");
  DD_TRY(cfg_get_choice(cfg, "detector.yield_model", k_yield_names[p->yield_model], k_yield_names,
                        2, &p->yield_model),
         "detector");
  DD_TRY(cfg_get_choice(cfg, "detector.s1_timing", k_timing_names[p->s1_timing], k_timing_names, 3,
                        &p->s1_timing),
         "detector");
  DD_TRY(cfg_get_bool(cfg, "detector.cs2_bottom", p->cs2_bottom, &p->cs2_bottom), "detector");
  DD_TRY(load_int(cfg, "detector.dead_pmts", &p->dead_pmts, 0, 100), "detector");
  DD_TRY(load_int(cfg, "detector.s1_coincidence", &p->s1_coincidence, 1, 50), "detector");
  DD_TRY(load_int(cfg, "detector.s1_pad_bins", &p->s1_pad_bins, 0, 1000), "detector");
  DD_TRY(load_int(cfg, "detector.s2_pad_small_bins", &p->s2_pad_small_bins, 0, 100000), "detector");
  DD_TRY(load_int(cfg, "detector.s2_pad_large_bins", &p->s2_pad_large_bins, 0, 100000), "detector");
  DD_TRY(load_int(cfg, "detector.max_attempts", &p->max_attempts, 1, 1000000000), "detector");
  DD_TRY(load_poly(cfg, "detector.ly_rel", p->ly_rel, 3), "detector");
  DD_TRY(load_poly(cfg, "detector.s1_aft", p->s1_aft, 3), "detector");
  DD_TRY(load_poly(cfg, "detector.s2_rel", p->s2_rel, 2), "detector");

  static const char *const split_keys[2][DET_N_SPLITS] = {
      {"detector.bank.er_train", "detector.bank.er_test", "detector.bank.er_analysis"},
      {"detector.bank.nr_train", "detector.bank.nr_test", "detector.bank.nr_analysis"}};
  for (int c = 0; c < 2; c++)
    for (int s = 0; s < DET_N_SPLITS; s++)
      DD_TRY(load_u64(cfg, split_keys[c][s], &p->bank.n[c][s], s == DET_SPLIT_TEST ? 0 : 1),
             "detector bank");
  for (int c = 0; c < 2; c++)
    if (det_bank_total(&p->bank, c) > UINT32_MAX)
      return cfg_error(cfg, c ? "detector.bank.nr_analysis" : "detector.bank.er_analysis",
                       "the %s bank (train + test + analysis) must hold at most 4294967295 "
                       "events",
                       c ? "NR" : "ER");
  DD_TRY(load_u64(cfg, "detector.ceiling.events", &p->ceiling_events, 0), "detector ceiling");
  DD_TRY(cfg_get_double(cfg, "detector.ceiling.cs1_min_pe", p->ceiling_cs1_min_pe,
                        &p->ceiling_cs1_min_pe),
         "detector ceiling");
  DD_TRY(cfg_get_double(cfg, "detector.ceiling.cs1_max_pe", p->ceiling_cs1_max_pe,
                        &p->ceiling_cs1_max_pe),
         "detector ceiling");
  DD_TRY(cfg_get_double(cfg, "detector.er_bias.tilt", p->er_bias.tilt, &p->er_bias.tilt),
         "detector er_bias");
  DD_TRY(cfg_get_double(cfg, "detector.er_bias.width", p->er_bias.width, &p->er_bias.width),
         "detector er_bias");
  DD_TRY(
      cfg_get_double(cfg, "detector.er_bias.fraction", p->er_bias.fraction, &p->er_bias.fraction),
      "detector er_bias");
  DD_TRY(cfg_get_double(cfg, "detector.er_bias.s1_tilt", p->er_bias.s1_tilt, &p->er_bias.s1_tilt),
         "detector er_bias");
  return det_params_validate(p, cfg);
}

/* cfg_error with or without a document. */
#define BAD(key, ...) \
  (cfg ? cfg_error(cfg, "detector." key, __VA_ARGS__) : bad_nocfg("detector." key, __VA_ARGS__))

static dd_status bad_nocfg(const char *key, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return DD_FAIL(DD_ERR_CONFIG, "%s: %s", key, msg);
}

/* v must lie in [lo, hi] (open ends when the flags say so). */
#define RANGE(key, v, lo, hi, lo_open, hi_open)                                             \
  do {                                                                                      \
    double v_ = (v);                                                                        \
    if (!isfinite(v_) || ((lo_open) ? v_ <= (lo) : v_ < (lo)) ||                            \
        ((hi_open) ? v_ >= (hi) : v_ > (hi)))                                               \
      return BAD(key, "must be in %s%g, %g%s, got %g", (lo_open) ? "(" : "[", (double)(lo), \
                 (double)(hi), (hi_open) ? ")" : "]", v_);                                  \
  } while (0)
#define POSITIVE(key, v)                                                        \
  do {                                                                          \
    double v_ = (v);                                                            \
    if (!isfinite(v_) || v_ <= 0.0) return BAD(key, "must be > 0, got %g", v_); \
  } while (0)
#define NONNEG(key, v)                                                          \
  do {                                                                          \
    double v_ = (v);                                                            \
    if (!isfinite(v_) || v_ < 0.0) return BAD(key, "must be >= 0, got %g", v_); \
  } while (0)

dd_status det_params_validate(const det_params *p, const cfg_doc *cfg) {
  POSITIVE("tpc_radius_cm", p->tpc_radius_cm);
  POSITIVE("drift_length_cm", p->drift_length_cm);
  NONNEG("bottom_pmt_offset_cm", p->bottom_pmt_offset_cm);
  NONNEG("top_pmt_offset_cm", p->top_pmt_offset_cm);
  RANGE("fv_radius_cm", p->fv_radius_cm, 0.0, p->tpc_radius_cm, 1, 0);
  RANGE("fv_depth_min_cm", p->fv_depth_min_cm, 0.0, p->drift_length_cm, 0, 1);
  if (!(p->fv_depth_max_cm > p->fv_depth_min_cm))
    return BAD("fv_depth_max_cm", "must be > fv_depth_min_cm (%g): the fiducial window is empty",
               p->fv_depth_min_cm);
  RANGE("fv_depth_max_cm", p->fv_depth_max_cm, 0.0, p->drift_length_cm, 1, 0);
  RANGE("qe_spread", p->qe_spread, 0.0, 0.5, 0, 0);
  POSITIVE("drift_field_v_cm", p->drift_field_v_cm);
  POSITIVE("drift_velocity_cm_us", p->drift_velocity_cm_us);
  NONNEG("gate_time_us", p->gate_time_us);
  POSITIVE("electron_lifetime_us", p->electron_lifetime_us);
  NONNEG("trapping_time_ns", p->trapping_time_ns);
  NONNEG("diffusion_long_cm2_s", p->diffusion_long_cm2_s);
  NONNEG("diffusion_trans_cm2_s", p->diffusion_trans_cm2_s);
  RANGE("temperature_k", p->temperature_k, 161.4, 289.7, 1, 1); /* NEST: liquid range */
  RANGE("density_g_cm3", p->density_g_cm3, 2.0, 3.5, 0, 0);
  RANGE("g1_pe", p->g1_pe, 0.0, 1.0, 1, 0);
  RANGE("p_dpe", p->p_dpe, 0.0, 1.0, 0, 1);
  if (p->g1_pe / (1.0 + p->p_dpe) * (p->ly_rel[0] + fabs(p->ly_rel[1]) + fabs(p->ly_rel[2])) > 1.0)
    return BAD("g1_pe", "g1_pe/(1+p_dpe) x max LY_rel exceeds 1 (%g)", p->g1_pe);
  RANGE("spe_res", p->spe_res, 0.0, 2.0, 0, 0);
  RANGE("hit_eff", p->hit_eff, 0.0, 1.0, 1, 0);
  POSITIVE("coincidence_window_ns", p->coincidence_window_ns);
  POSITIVE("s1_max_gap_ns", p->s1_max_gap_ns);
  RANGE("s1_diffuse_bottom", p->s1_diffuse_bottom, 0.0, 1.0, 0, 0);
  RANGE("s1_diffuse_top", p->s1_diffuse_top, 0.0, 1.0, 0, 0);
  RANGE("tts_ns", p->tts_ns, 0.0, 40.0, 0, 0);
  POSITIVE("s1_simple_decay_ns", p->s1_simple_decay_ns);
  RANGE("extraction_eff", p->extraction_eff, 0.0, 1.0, 1, 0);
  POSITIVE("se_gain_pe", p->se_gain_pe);
  RANGE("s2_aft", p->s2_aft, 0.0, 1.0, 1, 1);
  POSITIVE("s2_lce_p", p->s2_lce_p);
  POSITIVE("s2_lce_d_cm", p->s2_lce_d_cm);
  RANGE("s2_lce_b", p->s2_lce_b, 0.0, 1.0, 0, 1);
  if (p->s2_lce_a_per_cm * 2.0 * p->tpc_radius_cm + p->s2_lce_b < 0.0)
    return BAD("s2_lce_a_per_cm", "makes the S2 LCE negative across the TPC (%g)",
               p->s2_lce_a_per_cm);
  RANGE("gas_gap_time_ns", p->gas_gap_time_ns, 0.0, 1000.0, 1, 0); /* kernel table */
  RANGE("gas_singlet_fraction", p->gas_singlet_fraction, 0.0, 1.0, 0, 0);
  POSITIVE("gas_singlet_ns", p->gas_singlet_ns);
  RANGE("gas_triplet_ns", p->gas_triplet_ns, 0.0, 150.0, 1, 0);
  NONNEG("pos_res_cm", p->pos_res_cm);
  NONNEG("s2_threshold_pe", p->s2_threshold_pe);
  NONNEG("roi_cs1_min_pe", p->roi_cs1_min_pe);
  if (!(p->roi_cs1_max_pe > p->roi_cs1_min_pe))
    return BAD("roi_cs1_max_pe", "must be > roi_cs1_min_pe (%g): the cS1 window is empty",
               p->roi_cs1_min_pe);
  RANGE("roi_cs1_max_pe", p->roi_cs1_max_pe, 0.0, 2000.0, 1, 0);
  NONNEG("roi_cs2_min_pe", p->roi_cs2_min_pe);
  if (!(p->roi_cs2_max_pe > p->roi_cs2_min_pe))
    return BAD("roi_cs2_max_pe", "must be > roi_cs2_min_pe (%g): the cS2 window is empty",
               p->roi_cs2_min_pe);
  /* Events beyond DET_MAX_ELECTRONS extracted electrons are rejected before
   * their S2 is simulated; that must never cut inside the cS2 window. */
  double cs2_cap = 0.5 * DET_MAX_ELECTRONS * p->se_gain_pe *
                   (p->cs2_bottom ? 1.0 - p->s2_aft : 1.0) *
                   fmin(p->s2_rel[0], p->s2_rel[0] + p->s2_rel[1]);
  RANGE("roi_cs2_max_pe", p->roi_cs2_max_pe, 0.0, cs2_cap, 1, 0);
  NONNEG("s2_pad_threshold_pe", p->s2_pad_threshold_pe);
  NONNEG("s2_quantile_min_pe", p->s2_quantile_min_pe);
  for (int i = 0; i <= 20; i++) { /* polynomials on the whole drift length */
    double u = i / 20.0;
    if (!(det_ly_rel(p, u) > 0.0))
      return BAD("ly_rel", "LY_rel(u) must be > 0 for u in [0, 1] (%g at u = %g)", det_ly_rel(p, u),
                 u);
    double a = p->s1_aft[0] + u * (p->s1_aft[1] + u * p->s1_aft[2]);
    if (!(a >= 0.0 && a <= 1.0))
      return BAD("s1_aft", "AFT_S1(u) must stay in [0, 1] for u in [0, 1] (%g at u = %g)", a, u);
    double s2r = p->s2_rel[0] + p->s2_rel[1] * u * u;
    if (!(s2r > 0.0))
      return BAD("s2_rel", "S2_rel(r) must be > 0 inside the TPC (%g at r/R = %g)", s2r, u);
  }
  if (!(p->ceiling_cs1_max_pe > p->ceiling_cs1_min_pe))
    return BAD("ceiling.cs1_max_pe", "must be > ceiling.cs1_min_pe (%g): the window is empty",
               p->ceiling_cs1_min_pe);
  NONNEG("ceiling.cs1_min_pe", p->ceiling_cs1_min_pe);
  if (p->ceiling_events != 0 && p->ceiling_events < 1000)
    return BAD("ceiling.events", "must be 0 (no ceiling) or at least 1000, got %llu",
               (unsigned long long)p->ceiling_events);
  /* beyond a shift of 5 the biased component lies where p is < 1e-6 of its
   * peak: its events would carry weights ~ 0 */
  RANGE("er_bias.tilt", p->er_bias.tilt, 0.0, 5.0, 0, 0);
  RANGE("er_bias.width", p->er_bias.width, 0.1, 3.0, 0, 0);
  RANGE("er_bias.fraction", p->er_bias.fraction, 0.0, 1.0, 0, 0);
  RANGE("er_bias.s1_tilt", p->er_bias.s1_tilt, 0.0, 5.0, 0, 0);
  return DD_OK;
}

void det_params_print(const det_params *p) {
  dd_info("detector: preset %s, %s yields, %s layout, S1 timing %s", p->preset_name,
          k_yield_names[p->yield_model], k_layout_names[p->layout], k_timing_names[p->s1_timing]);
  dd_info("detector: R %.2f cm, L %.2f cm, FV r < %.2f cm, depth %.2f-%.2f cm", p->tpc_radius_cm,
          p->drift_length_cm, p->fv_radius_cm, p->fv_depth_min_cm, p->fv_depth_max_cm);
  dd_info("detector: field %g V/cm, v_d %.4f cm/us, lifetime %g us, D_L %.2f cm2/s",
          p->drift_field_v_cm, p->drift_velocity_cm_us, p->electron_lifetime_us,
          p->diffusion_long_cm2_s);
  dd_info("detector: g1 %.4f PE/ph, g2 %.2f PE/e (SE %.2f x eps %.3f), P_dpe %.3f, S2 AFT %.3f",
          p->g1_pe, p->se_gain_pe * p->extraction_eff, p->se_gain_pe, p->extraction_eff, p->p_dpe,
          p->s2_aft);
  dd_info("detector: cuts: %d-fold S1, S2 > %g PE, %g < cS1 <= %g PE, %g <= cS2%s <= %g PE",
          p->s1_coincidence, p->s2_threshold_pe, p->roi_cs1_min_pe, p->roi_cs1_max_pe,
          p->roi_cs2_min_pe, p->cs2_bottom ? "_b" : "", p->roi_cs2_max_pe);
  if (p->er_bias.tilt != 0.0)
    dd_info(
        "detector: ER tail bias for ER analysis events (index >= %llu): a share %g drawn "
        "with the recombination normal N(-%g, %g^2) and S1 photons +%g sd, weighted",
        (unsigned long long)(p->bank.n[DET_ER][DET_SPLIT_TRAIN] +
                             p->bank.n[DET_ER][DET_SPLIT_TEST]),
        p->er_bias.fraction, p->er_bias.tilt, p->er_bias.width, p->er_bias.s1_tilt);
}

double det_ly_rel(const det_params *p, double u) {
  return p->ly_rel[0] + u * (p->ly_rel[1] + u * p->ly_rel[2]);
}

double det_s1_aft(const det_params *p, double u) {
  double a = p->s1_aft[0] + u * (p->s1_aft[1] + u * p->s1_aft[2]);
  return a < 0.0 ? 0.0 : (a > 1.0 ? 1.0 : a);
}

double det_s2_rel(const det_params *p, double r_cm) {
  double x = r_cm / p->tpc_radius_cm;
  return p->s2_rel[0] + p->s2_rel[1] * x * x;
}

void det_bank_range(const det_bank *b, int cls, int split, uint64_t *first, uint64_t *count) {
  DD_ASSERT(cls == DET_ER || cls == DET_NR);
  DD_ASSERT(split >= 0 && split < DET_N_SPLITS);
  uint64_t f = 0;
  for (int s = 0; s < split; s++) f += b->n[cls][s];
  *first = f;
  *count = b->n[cls][split];
}

uint64_t det_bank_total(const det_bank *b, int cls) {
  uint64_t t = 0;
  for (int s = 0; s < DET_N_SPLITS; s++) t += b->n[cls][s];
  return t;
}

const det_bias *det_event_bias(const det_params *p, int cls, uint64_t index) {
  uint64_t first = 0, count = 0;
  if (cls != DET_ER || p->er_bias.tilt == 0.0) return NULL;
  det_bank_range(&p->bank, DET_ER, DET_SPLIT_ANALYSIS, &first, &count);
  return index >= first ? &p->er_bias : NULL;
}

const char *det_split_name(int split) {
  static const char *const names[] = {"train", "test", "analysis"};
  return split >= 0 && split < DET_N_SPLITS ? names[split] : "?";
}
