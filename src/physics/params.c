/* params.c - group `physics` of the configuration: halo presets (specs/
 * physics.md §1 table), target and unit conventions, backgrounds, the NR
 * reference spectrum and the /spectra grid.  Every default lives here, and
 * every value is validated with an error that names file:line and the key. */
#include "ddscan/physics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* specs/physics.md §1: shm_2021 from Baxter et al. arXiv:2105.00599 (v_E on
 * day 59.37 after J2000.0); shm_classic is the pre-2021 convention. */
typedef struct halo_preset {
  const char *name;
  double rho_gev_cm3, v0_km_s, v_esc_km_s, v_earth_km_s;
} halo_preset;
static const halo_preset k_halo_presets[] = {
    {"shm_2021", 0.3, 238.0, 544.0, 252.13},
    {"shm_classic", 0.3, 220.0, 544.0, 232.0},
};
static const char *const k_preset_names[] = {"shm_2021", "shm_classic"};
static const char *const k_year_names[] = {"julian", "sidereal"};
static const char *const k_nucleon_names[] = {"amu", "proton"};
static const char *const k_ref_shapes[] = {"wimp_mixture", "exponential"};

/* Default NR reference mixture: covers light (6 GeV: endpoint ~5 keV) to
 * heavy WIMPs (whose shapes converge above ~1 TeV); see docs/physics.md §7. */
static const double k_ref_masses[] = {6.0, 10.0, 20.0, 50.0, 200.0, 1000.0};

const char *phys_halo_preset_name(phys_halo_preset preset) {
  return (int)preset >= 0 && (int)preset < 2 ? k_preset_names[preset] : "?";
}

static int finite_pos(double x) {
  return isfinite(x) && x > 0;
}

/* A required-positive number. */
static dd_status get_pos(cfg_doc *cfg, const char *key, double def, double *out, const char *unit) {
  DD_TRY(cfg_get_double(cfg, key, def, out), "physics");
  if (!finite_pos(*out)) return cfg_error(cfg, key, "must be > 0 %s, got %g", unit, *out);
  return DD_OK;
}

/* A number >= 0. */
static dd_status get_nonneg(cfg_doc *cfg, const char *key, double def, double *out,
                            const char *unit) {
  DD_TRY(cfg_get_double(cfg, key, def, out), "physics");
  if (!isfinite(*out) || *out < 0)
    return cfg_error(cfg, key, "must be >= 0 %s, got %g", unit, *out);
  return DD_OK;
}

/* An energy range [lo, hi] with 0 <= lo < hi. */
static dd_status get_range(cfg_doc *cfg, const char *key, double lo, double hi, double *out_lo,
                           double *out_hi) {
  double def[2] = {lo, hi}, v[2];
  int n = 0;
  DD_TRY(cfg_get_double_list(cfg, key, def, 2, v, 2, &n), "physics");
  if (n != 2) return cfg_error(cfg, key, "must be an energy range [E1, E2] in keV (2 numbers)");
  if (v[0] < 0) return cfg_error(cfg, key, "lower edge must be >= 0 keV, got %g", v[0]);
  if (!(v[0] < v[1]))
    return cfg_error(cfg, key, "range is reversed or empty: [%g, %g] keV (need E1 < E2)", v[0],
                     v[1]);
  *out_lo = v[0];
  *out_hi = v[1];
  return DD_OK;
}

static dd_status load_halo(cfg_doc *cfg, phys_halo *h) {
  int idx = 0;
  DD_TRY(cfg_get_choice(cfg, "physics.halo.preset", "shm_2021", k_preset_names, 2, &idx), "halo");
  const halo_preset *d = &k_halo_presets[idx];
  h->preset = (phys_halo_preset)idx;
  DD_TRY(get_pos(cfg, "physics.halo.rho_gev_cm3", d->rho_gev_cm3, &h->rho_gev_cm3, "GeV/cm3"),
         "halo");
  DD_TRY(get_pos(cfg, "physics.halo.v0_km_s", d->v0_km_s, &h->v0_km_s, "km/s"), "halo");
  DD_TRY(get_pos(cfg, "physics.halo.v_esc_km_s", d->v_esc_km_s, &h->v_esc_km_s, "km/s"), "halo");
  DD_TRY(get_nonneg(cfg, "physics.halo.v_earth_km_s", d->v_earth_km_s, &h->v_earth_km_s, "km/s"),
         "halo");
  if (h->v_esc_km_s + h->v_earth_km_s >= PHYS_C_KM_S)
    return cfg_error(cfg, "physics.halo.v_esc_km_s", "v_esc + v_earth must be below c, got %g km/s",
                     h->v_esc_km_s + h->v_earth_km_s);
  return DD_OK;
}

static dd_status load_spectra_grid(cfg_doc *cfg, phys_params *p) {
  const char *key = "physics.spectra_e_kev";
  /* Default: the NR bank range 0.5-120 keVnr in 0.5 keV steps. */
  double def[240];
  for (int i = 0; i < 240; i++) def[i] = 0.5 * (i + 1);
  DD_TRY(cfg_get_double_list(cfg, key, def, 240, p->spectra_e_kev, PHYS_MAX_SPECTRA_POINTS,
                             &p->n_spectra),
         "physics");
  for (int i = 0; i < p->n_spectra; i++) {
    if (p->spectra_e_kev[i] < 0)
      return cfg_error(cfg, key, "energies must be >= 0 keV, element %d is %g", i,
                       p->spectra_e_kev[i]);
    if (i > 0 && !(p->spectra_e_kev[i] > p->spectra_e_kev[i - 1]))
      return cfg_error(cfg, key, "energies must increase, element %d (%g) <= element %d (%g)", i,
                       p->spectra_e_kev[i], i - 1, p->spectra_e_kev[i - 1]);
  }
  return DD_OK;
}

static dd_status load_backgrounds(cfg_doc *cfg, phys_params *p) {
  /* XENONnT projection 12.3 +- 0.6 events/(t y keV) (arXiv:2007.08796),
   * flat on the ER bank range [0, 15] keVee (detector spec §2.1). */
  DD_TRY(get_nonneg(cfg, "physics.er_background.rate_per_ty_kev", 12.3, &p->er.rate_per_ty_kev,
                    "events/(t y keV)"),
         "ER background");
  DD_TRY(get_range(cfg, "physics.er_background.e_range_kev", 0.0, 15.0, &p->er.e_min_kev,
                   &p->er.e_max_kev),
         "ER background");
  /* on by default (issue 14): together the largest background in the
   * NR-like region, where the significance is decided */
  DD_TRY(cfg_get_bool(cfg, "physics.nr_background.cevns_b8", 1, &p->nr_bg.cevns_on),
         "NR background");
  DD_TRY(get_nonneg(cfg, "physics.nr_background.cevns_b8_scale", 1.0, &p->nr_bg.cevns_scale, ""),
         "NR background");
  DD_TRY(cfg_get_bool(cfg, "physics.nr_background.neutrons", 1, &p->nr_bg.neutrons_on),
         "NR background");
  DD_TRY(get_nonneg(cfg, "physics.nr_background.neutrons_scale", 1.0, &p->nr_bg.neutrons_scale, ""),
         "NR background");
  DD_TRY(get_range(cfg, "physics.nr_background.e_range_kev", 1.0, 100.0, &p->nr_bg.e_min_kev,
                   &p->nr_bg.e_max_kev),
         "NR background");
  return DD_OK;
}

static dd_status load_nr_ref(cfg_doc *cfg, phys_nr_ref *r) {
  int idx = 0;
  DD_TRY(cfg_get_choice(cfg, "physics.nr_reference.shape", "wimp_mixture", k_ref_shapes, 2, &idx),
         "NR reference");
  r->shape = (phys_nr_ref_shape)idx;
  const char *key = "physics.nr_reference.mass_gev";
  DD_TRY(cfg_get_double_list(cfg, key, k_ref_masses,
                             (int)(sizeof k_ref_masses / sizeof k_ref_masses[0]), r->mass_gev,
                             PHYS_MAX_REF_MASSES, &r->n_mass),
         "NR reference");
  for (int i = 0; i < r->n_mass; i++)
    if (!finite_pos(r->mass_gev[i]))
      return cfg_error(cfg, key, "WIMP masses must be > 0 GeV, element %d is %g", i,
                       r->mass_gev[i]);
  DD_TRY(get_nonneg(cfg, "physics.nr_reference.floor_fraction", 0.05, &r->floor_fraction, ""),
         "NR reference");
  if (r->floor_fraction > 1)
    return cfg_error(cfg, "physics.nr_reference.floor_fraction", "must be in [0, 1], got %g",
                     r->floor_fraction);
  DD_TRY(get_pos(cfg, "physics.nr_reference.exp_scale_kev", 25.0, &r->exp_scale_kev, "keV"),
         "NR reference");
  DD_TRY(
      get_range(cfg, "physics.nr_reference.e_range_kev", 0.5, 120.0, &r->e_min_kev, &r->e_max_kev),
      "NR reference");
  return DD_OK;
}

dd_status phys_check_plausible(cfg_doc *cfg, const phys_params *p, const char *key, int elem,
                               double v, double lo, double hi, const char *unit) {
  if (p->allow_implausible || (v >= lo && v <= hi)) return DD_OK;
  char which[32] = "";
  if (elem >= 0) snprintf(which, sizeof which, "element %d = ", elem);
  return cfg_error(cfg, key,
                   "%s%g %s is outside the plausible range [%g, %g] %s (set "
                   "physics.allow_implausible = true if you mean it)",
                   which, v, unit, lo, hi, unit);
}

dd_status phys_params_load(cfg_doc *cfg, phys_params *p) {
  memset(p, 0, sizeof *p);
  int idx = 0;
  DD_TRY(cfg_get_bool(cfg, "physics.allow_implausible", 0, &p->allow_implausible), "physics");
  DD_TRY(load_halo(cfg, &p->halo), "physics.halo");
  DD_TRY(get_pos(cfg, "physics.mass_number", PHYS_XE_MASS_NUMBER, &p->mass_number, ""), "target");
  DD_TRY(cfg_get_choice(cfg, "physics.nucleon_mass", "amu", k_nucleon_names, 2, &idx), "physics");
  p->nucleon = (phys_nucleon)idx;
  p->nucleon_mass_gev = idx == PHYS_NUCLEON_PROTON ? PHYS_PROTON_GEV : PHYS_AMU_GEV;
  DD_TRY(cfg_get_choice(cfg, "physics.year", "julian", k_year_names, 2, &idx), "physics");
  p->year = (phys_year)idx;
  p->year_days = idx == PHYS_YEAR_SIDEREAL ? PHYS_YEAR_SIDEREAL_D : PHYS_YEAR_JULIAN_D;
  /* The paper's benchmark cross-section (arXiv:2110.12248). */
  DD_TRY(get_pos(cfg, "physics.sigma_ref_cm2", 1e-45, &p->sigma_ref_cm2, "cm2"), "physics");
  DD_TRY(phys_check_plausible(cfg, p, "physics.sigma_ref_cm2", -1, p->sigma_ref_cm2,
                              PHYS_PLAUSIBLE_SIGMA_MIN_CM2, PHYS_PLAUSIBLE_SIGMA_MAX_CM2, "cm2"),
         "physics");
  /* XENONnT NR region of interest 4-50 keVnr (arXiv:2007.08796). */
  DD_TRY(get_range(cfg, "physics.analysis_window_kev", 4.0, 50.0, &p->window_kev[0],
                   &p->window_kev[1]),
         "physics");
  DD_TRY(load_spectra_grid(cfg, p), "physics");
  long long pts = 0;
  DD_TRY(cfg_get_int_range(cfg, "physics.sampler_points", 4000, PHYS_MIN_SAMPLER_POINTS, 10000000,
                           &pts),
         "physics");
  p->sampler_points = (int)pts;
  DD_TRY(load_backgrounds(cfg, p), "physics");
  DD_TRY(load_nr_ref(cfg, &p->nr_ref), "physics");
  for (int i = 0; i < p->nr_ref.n_mass; i++)
    DD_TRY(phys_check_plausible(cfg, p, "physics.nr_reference.mass_gev", i, p->nr_ref.mass_gev[i],
                                PHYS_PLAUSIBLE_MASS_MIN_GEV, PHYS_PLAUSIBLE_MASS_MAX_GEV, "GeV"),
           "physics");
  return DD_OK;
}

dd_status phys_params_default(phys_params *p) {
  cfg_doc *cfg = NULL;
  DD_TRY(cfg_parse(&cfg, "", "(physics defaults)"), "physics defaults");
  dd_status st = phys_params_load(cfg, p);
  cfg_free(cfg);
  return st;
}

dd_status phys_wimp_check(double mass_gev, double sigma_cm2) {
  if (!finite_pos(mass_gev))
    return DD_FAIL(DD_ERR_ARG, "WIMP mass must be > 0 GeV, got %g", mass_gev);
  if (!isfinite(sigma_cm2) || sigma_cm2 < 0)
    return DD_FAIL(DD_ERR_ARG, "WIMP-nucleon cross-section must be >= 0 cm2, got %g", sigma_cm2);
  return DD_OK;
}

void phys_params_print(const phys_params *p) {
  const phys_halo *h = &p->halo;
  dd_info("physics: halo %s: rho %g GeV/cm3, v0 %g, v_esc %g, v_E %g km/s",
          phys_halo_preset_name(h->preset), h->rho_gev_cm3, h->v0_km_s, h->v_esc_km_s,
          h->v_earth_km_s);
  dd_info("physics: target A = %g (m_N = %.6f GeV), mu_n with m_n = %.8f GeV (%s), year = %g d",
          p->mass_number, phys_nucleus_mass_gev(p), p->nucleon_mass_gev,
          k_nucleon_names[p->nucleon], p->year_days);
  dd_info("physics: sigma_ref %g cm2, window [%g, %g] keVnr, %d spectra points, sampler %d points",
          p->sigma_ref_cm2, p->window_kev[0], p->window_kev[1], p->n_spectra, p->sampler_points);
  dd_info(
      "physics: ER bg %g events/(t y keVee) on [%g, %g]; NR bg: CEvNS %s (x%g), neutrons %s "
      "(x%g) on [%g, %g] keVnr",
      p->er.rate_per_ty_kev, p->er.e_min_kev, p->er.e_max_kev, p->nr_bg.cevns_on ? "on" : "off",
      p->nr_bg.cevns_scale, p->nr_bg.neutrons_on ? "on" : "off", p->nr_bg.neutrons_scale,
      p->nr_bg.e_min_kev, p->nr_bg.e_max_kev);
  char masses[512];
  size_t off = 0;
  masses[0] = '\0';
  for (int i = 0; i < p->nr_ref.n_mass && off < sizeof masses; i++)
    off += (size_t)snprintf(masses + off, sizeof masses - off, "%s%g", i ? ", " : "",
                            p->nr_ref.mass_gev[i]);
  dd_info("physics: NR reference %s on [%g, %g] keVnr (masses %s GeV, floor %g, exp %g keV)",
          k_ref_shapes[p->nr_ref.shape], p->nr_ref.e_min_kev, p->nr_ref.e_max_kev, masses,
          p->nr_ref.floor_fraction, p->nr_ref.exp_scale_kev);
}
