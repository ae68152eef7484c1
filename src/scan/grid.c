/* grid.c - the scan grid from group `scan`: masses, cross-sections,
 * exposures and R values (lists or linear/log ranges), the statistical
 * methods, their validation with file:line errors, and the (mass, R) work
 * units.  Defaults follow the paper's benchmarks (arXiv:2110.12248: masses
 * 10, 500, 1000 GeV, Fig. 9 at 50 GeV; R scanned over [0, 300], Fig. 7). */
#include "ddscan/scan.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "ddscan/image.h" /* uses: IMG_C, IMG_H, IMG_W */

/* Default methods: toys is opt-in (its cost grows with stats.toys.count). */
static const char *const k_method_def[] = {"paper", "sound", "classical"};

/* One grid axis: read, then check sign, repeats and order. */
typedef struct axis_rule {
  const char *key;  /* "scan.mass_gev" */
  const char *unit; /* for messages: "GeV" */
  int zero_ok;      /* r may be 0; the physical axes must be > 0 */
} axis_rule;

static dd_status axis_load(cfg_doc *cfg, const axis_rule *rule, const double *def, int n_def,
                           double *v, int *n) {
  DD_TRY(cfg_get_double_list(cfg, rule->key, def, n_def, v, SCAN_MAX_AXIS, n), "scan grid");
  for (int i = 0; i < *n; i++) {
    if (rule->zero_ok ? v[i] < 0.0 : v[i] <= 0.0)
      return cfg_error(cfg, rule->key, "element %d must be %s 0%s%s, got %g", i,
                       rule->zero_ok ? ">=" : ">", rule->unit[0] ? " " : "", rule->unit, v[i]);
  }
  for (int i = 0; i < *n; i++)
    for (int j = i + 1; j < *n; j++)
      if (v[i] == v[j])
        return cfg_error(cfg, rule->key, "value %g appears twice (elements %d and %d)", v[i], i, j);
  for (int i = 1; i < *n; i++)
    if (!(v[i] > v[i - 1]))
      return cfg_error(cfg, rule->key,
                       "must be in increasing order (element %d = %g follows %g); axes are "
                       "dimension scales of the results",
                       i, v[i], v[i - 1]);
  return DD_OK;
}

static dd_status methods_load(cfg_doc *cfg, scan_params *p) {
  enum { CAP = 8, LEN = 32 };
  char names[CAP][LEN];
  int n = 0;
  DD_TRY(cfg_get_string_list(cfg, "scan.methods", k_method_def, 3, &names[0][0], LEN, CAP, &n),
         "scan methods");
  p->n_methods = 0;
  for (int i = 0; i < n; i++) {
    int m = -1;
    for (int k = 0; k < STATS_N_METHODS; k++)
      if (strcmp(names[i], stats_method_name((stats_method)k)) == 0) m = k;
    if (m < 0)
      return cfg_error(cfg, "scan.methods",
                       "element %d: \"%s\" is not one of \"paper\", \"sound\", \"toys\", "
                       "\"classical\"",
                       i, names[i]);
    for (int j = 0; j < p->n_methods; j++)
      if (p->methods[j] == (stats_method)m)
        return cfg_error(cfg, "scan.methods", "\"%s\" appears twice", names[i]);
    p->methods[p->n_methods++] = (stats_method)m;
  }
  return DD_OK;
}

/* Group `signal`: the model, the line energy, the rate axis and the size of
 * the signal sample.  The keys of a model that does not use them are still
 * read (and echoed) so that a typo is caught whatever the model. */
static dd_status signal_load(cfg_doc *cfg, scan_params *p) {
  static const char *const names[SCAN_N_SIGNALS] = {"wimp", "er_line", "tritium", "cevns"};
  DD_TRY(cfg_get_choice(cfg, "signal.model", "wimp", names, SCAN_N_SIGNALS, &p->signal_model),
         "signal");
  /* 2.3 keVee: the XENON1T low-energy ER excess (Phys. Rev. D 102, 072004 (2020)) */
  DD_TRY(cfg_get_double(cfg, "signal.energy_kev", 2.3, &p->signal_energy_kev), "signal");
  if (!(p->signal_energy_kev > 0.0 && p->signal_energy_kev <= 200.0))
    return cfg_error(cfg, "signal.energy_kev",
                     "the er_line energy must be in (0, 200] keVee, got %g", p->signal_energy_kev);
  double rate_def[41];
  for (int i = 0; i < 41; i++) rate_def[i] = pow(10.0, -1.0 + 5.0 * i / 40.0);
  static const axis_rule rate = {"signal.rate_ty", "events/(t*y)", 0};
  DD_TRY(axis_load(cfg, &rate, rate_def, 41, p->rate_ty, &p->n_rate), "signal");
  DD_TRY(cfg_get_int_range(cfg, "signal.events", 20000, 100, 100000000, &p->signal_events),
         "signal");
  return DD_OK;
}

dd_status scan_params_load(cfg_doc *cfg, scan_params *p) {
  memset(p, 0, sizeof *p);
  /* Defaults: the paper's masses plus Fig. 9's 50 GeV; sigma 1e-49..1e-44 in
   * 41 log steps and exposure 0.1..100 t*y in 31 log steps (Fig. 8/9 planes);
   * R = 0..300 in steps of 10 (Fig. 7, and the band R in [100, 250]). */
  static const double mass_def[] = {10.0, 50.0, 500.0, 1000.0};
  double sigma_def[41], exposure_def[31], r_def[31];
  for (int i = 0; i < 41; i++) sigma_def[i] = pow(10.0, -49.0 + 5.0 * i / 40.0);
  for (int i = 0; i < 31; i++) exposure_def[i] = pow(10.0, -1.0 + 3.0 * i / 30.0);
  for (int i = 0; i < 31; i++) r_def[i] = 10.0 * i;
  static const axis_rule mass = {"scan.mass_gev", "GeV", 0};
  static const axis_rule sigma = {"scan.sigma_cm2", "cm^2", 0};
  static const axis_rule exposure = {"scan.exposure_ty", "t*y", 0};
  static const axis_rule r = {"scan.r", "", 1};
  DD_TRY(axis_load(cfg, &mass, mass_def, 4, p->mass_gev, &p->n_mass), "scan");
  DD_TRY(axis_load(cfg, &sigma, sigma_def, 41, p->sigma_cm2, &p->n_sigma), "scan");
  DD_TRY(axis_load(cfg, &exposure, exposure_def, 31, p->exposure_ty, &p->n_exposure), "scan");
  DD_TRY(axis_load(cfg, &r, r_def, 31, p->r, &p->n_r), "scan");
  DD_TRY(methods_load(cfg, p), "scan");
  /* ESS below this many events: the signal templates of that mass rest on a
   * handful of NR events (docs/physics.md §8). */
  DD_TRY(cfg_get_double(cfg, "scan.min_effective_events", 500.0, &p->min_effective_events), "scan");
  if (!(p->min_effective_events >= 0.0) || isinf(p->min_effective_events))
    return cfg_error(cfg, "scan.min_effective_events", "must be finite and >= 0, got %g",
                     p->min_effective_events);
  return signal_load(cfg, p);
}

static const char *const k_signal_names[SCAN_N_SIGNALS] = {"wimp", "er_line", "tritium", "cevns"};

const char *scan_signal_name(int model) {
  return model >= 0 && model < SCAN_N_SIGNALS ? k_signal_names[model] : "?";
}

void scan_signal_grid(const scan_params *g, scan_params *out) {
  *out = *g;
  if (g->signal_model == SCAN_SIGNAL_WIMP) return;
  out->n_mass = 1;
  out->mass_gev[0] = 0.0;
  out->n_sigma = g->n_rate;
  for (int i = 0; i < g->n_rate; i++) out->sigma_cm2[i] = g->rate_ty[i];
}

/* Plausible exposures in tonne-years: a 1 kg*day test to a 10^4 t*y dream. */
#define SCAN_PLAUSIBLE_EXPOSURE_MIN_TY 1e-3
#define SCAN_PLAUSIBLE_EXPOSURE_MAX_TY 1e4
/* Events per bank split or ceiling sample: 1e8 events are ~100 GB of images. */
#define SCAN_PLAUSIBLE_EVENTS_MAX 100000000ULL
/* The mean cS1 at the NR endpoint of a scan mass must reach this many times
 * the cS1 threshold.  Measured with tiny.cfg (xent_sr0, 4000 ceiling events,
 * threshold 3 PE): 6 GeV (endpoint 3.8 keV, mean cS1 3.7 PE) leaves 10 NR
 * events in the window, 7 GeV (5.1 keV, 5.4 PE) 96, both below the 100 the
 * ceiling needs; 8 GeV (6.5 keV, 7.5 PE) passes. */
#define SCAN_ENDPOINT_CS1_FACTOR 2.0

static dd_status check_mass_reach(cfg_doc *cfg, const scan_params *s, const phys_params *ph,
                                  const det_params *det) {
  const double need_pe = SCAN_ENDPOINT_CS1_FACTOR * det->ceiling_cs1_min_pe;
  for (int i = 0; i < s->n_mass; i++) {
    const double m = s->mass_gev[i], e_max = phys_endpoint_kev(ph, m);
    const det_yield y = det_nest_yield(DET_NR, e_max, det->drift_field_v_cm, det->density_g_cm3);
    const double cs1 = det->g1_pe * y.ly * e_max; /* mean cS1 at the endpoint [PE] */
    if (!(cs1 >= need_pe))
      return cfg_error(cfg, "scan.mass_gev",
                       "element %d = %g GeV: its NR recoils end at %.2f keV (mean cS1 %.2f PE), "
                       "below %g x detector.ceiling.cs1_min_pe = %g PE: the simulation cannot "
                       "produce NR events that pass the cuts at this mass",
                       i, m, e_max, cs1, SCAN_ENDPOINT_CS1_FACTOR, need_pe);
  }
  return DD_OK;
}

static dd_status check_input(cfg_doc *cfg, const nn_arch *a) {
  if (a->in_c == IMG_C && a->in_h == IMG_H && a->in_w == IMG_W) return DD_OK;
  char key[32];
  snprintf(key, sizeof key, "%s.input", a->cfg_group);
  return cfg_error(cfg, key, "[%d, %d, %d] does not match the images, which are [%d, %d, %d]",
                   a->in_c, a->in_h, a->in_w, IMG_C, IMG_H, IMG_W);
}

dd_status scan_params_check(cfg_doc *cfg, const scan_params *s, const phys_params *ph,
                            const det_params *det, const nn_params *nn) {
  for (int i = 0; i < s->n_mass; i++)
    DD_TRY(phys_check_plausible(cfg, ph, "scan.mass_gev", i, s->mass_gev[i],
                                PHYS_PLAUSIBLE_MASS_MIN_GEV, PHYS_PLAUSIBLE_MASS_MAX_GEV, "GeV"),
           "scan");
  for (int i = 0; i < s->n_sigma; i++)
    DD_TRY(phys_check_plausible(cfg, ph, "scan.sigma_cm2", i, s->sigma_cm2[i],
                                PHYS_PLAUSIBLE_SIGMA_MIN_CM2, PHYS_PLAUSIBLE_SIGMA_MAX_CM2, "cm2"),
           "scan");
  for (int i = 0; i < s->n_exposure; i++)
    DD_TRY(
        phys_check_plausible(cfg, ph, "scan.exposure_ty", i, s->exposure_ty[i],
                             SCAN_PLAUSIBLE_EXPOSURE_MIN_TY, SCAN_PLAUSIBLE_EXPOSURE_MAX_TY, "t*y"),
        "scan");
  static const char *const split_keys[2][DET_N_SPLITS] = {
      {"detector.bank.er_train", "detector.bank.er_test", "detector.bank.er_analysis"},
      {"detector.bank.nr_train", "detector.bank.nr_test", "detector.bank.nr_analysis"}};
  for (int c = 0; c < 2; c++)
    for (int k = 0; k < DET_N_SPLITS; k++)
      DD_TRY(phys_check_plausible(cfg, ph, split_keys[c][k], -1, (double)det->bank.n[c][k], 0,
                                  (double)SCAN_PLAUSIBLE_EVENTS_MAX, "events"),
             "detector bank");
  DD_TRY(phys_check_plausible(cfg, ph, "detector.ceiling.events", -1, (double)det->ceiling_events,
                              0, (double)SCAN_PLAUSIBLE_EVENTS_MAX, "events"),
         "detector ceiling");
  DD_TRY(check_mass_reach(cfg, s, ph, det), "scan");
  DD_TRY(check_input(cfg, &nn->cvae), "nn");
  DD_TRY(check_input(cfg, &nn->cnn), "nn");
  return DD_OK;
}

void scan_params_print(const scan_params *p) {
  char methods[64] = "";
  for (int i = 0; i < p->n_methods; i++) {
    size_t len = strlen(methods);
    snprintf(methods + len, sizeof methods - len, "%s%s", i ? ", " : "",
             stats_method_name(p->methods[i]));
  }
  dd_info(
      "scan grid: %d mass(es) [%g .. %g] GeV, %d sigma [%g .. %g] cm^2, %d exposure(s) "
      "[%g .. %g] t*y, %d R [%g .. %g]; %lld work units; methods %s",
      p->n_mass, p->mass_gev[0], p->mass_gev[p->n_mass - 1], p->n_sigma, p->sigma_cm2[0],
      p->sigma_cm2[p->n_sigma - 1], p->n_exposure, p->exposure_ty[0],
      p->exposure_ty[p->n_exposure - 1], p->n_r, p->r[0], p->r[p->n_r - 1], scan_n_units(p),
      methods);
}

long long scan_n_units(const scan_params *p) {
  return (long long)p->n_mass * p->n_r;
}

void scan_unit_decode(const scan_params *p, long long unit, int *i_mass, int *i_r) {
  *i_mass = (int)(unit / p->n_r);
  *i_r = (int)(unit % p->n_r);
}

uint64_t scan_config_hash(const cfg_doc *cfg) {
  /* detector: the classical baseline's own detector MC (stats.classical.mc_events) */
  static const char *const paths[] = {"run.seed", "physics", "stats", "scan", "detector", "signal"};
  return cfg_hash(cfg, paths, 5);
}

static const char *const k_bank_groups[SCAN_N_BANKS + 1] = {"/scores/er", "/scores/nr",
                                                            "/signal/scores"};
static const char *const k_bank_names[SCAN_N_BANKS + 1] = {"er", "nr", "signal"};

const char *scan_bank_group(scan_bank b) {
  return b >= 0 && b <= SCAN_BANK_SIGNAL ? k_bank_groups[b] : "?";
}

const char *scan_bank_name(scan_bank b) {
  return b >= 0 && b <= SCAN_BANK_SIGNAL ? k_bank_names[b] : "?";
}

void scan_scores_free(scan_scores *s) {
  if (!s) return;
  free(s->rows);
  memset(s, 0, sizeof *s);
}
