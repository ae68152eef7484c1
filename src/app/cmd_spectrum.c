/* cmd_spectrum.c - `ddscan spectrum --mass GEV [--sigma CM2] [--emin E --emax E
 * --step E] [--integrate E1:E2] [--config CONFIG]`: prints the SI WIMP recoil
 * spectrum on xenon as a TSV table (or the integrated rate) so that it can be
 * checked by hand against docs/physics.md.  Runs without MPI; the physics
 * settings come from CONFIG (group physics) and --set, else the defaults. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/app.h"     /* uses: app_opts, stage_params_load */
#include "ddscan/cfg.h"     /* uses: cfg_parse, cfg_set_override */
#include "ddscan/core.h"    /* uses: dd_status, dd_read_file */
#include "ddscan/physics.h" /* uses: phys_dRdE, phys_rate_integral, ... */

#define SPECTRUM_MAX_ROWS 1000000

typedef struct spectrum_args {
  double mass_gev, sigma_cm2, emin_kev, emax_kev, step_kev, int_lo_kev, int_hi_kev;
  int has_mass, has_sigma, has_integrate;
  const char *config; /* borrowed from argv, or NULL */
} spectrum_args;

static dd_status parse_number(const char *opt, const char *text, double *out) {
  char *end = NULL;
  double v = strtod(text, &end);
  if (end == text || *end != '\0' || !isfinite(v))
    return DD_FAIL(DD_ERR_ARG, "%s: '%s' is not a number", opt, text);
  *out = v;
  return DD_OK;
}

static dd_status parse_args(const app_opts *o, spectrum_args *a) {
  memset(a, 0, sizeof *a);
  a->emin_kev = 1.0;
  a->emax_kev = 100.0;
  a->step_kev = 1.0;
  /* main checked that only spectrum's options were given (src/app/cli.c) */
  const char *v;
  if ((v = o->opt[APP_OPT_MASS])) {
    DD_TRY(parse_number("--mass", v, &a->mass_gev), "spectrum");
    a->has_mass = 1;
  }
  if ((v = o->opt[APP_OPT_SIGMA])) {
    DD_TRY(parse_number("--sigma", v, &a->sigma_cm2), "spectrum");
    a->has_sigma = 1;
  }
  if ((v = o->opt[APP_OPT_EMIN])) DD_TRY(parse_number("--emin", v, &a->emin_kev), "spectrum");
  if ((v = o->opt[APP_OPT_EMAX])) DD_TRY(parse_number("--emax", v, &a->emax_kev), "spectrum");
  if ((v = o->opt[APP_OPT_STEP])) DD_TRY(parse_number("--step", v, &a->step_kev), "spectrum");
  if ((v = o->opt[APP_OPT_INTEGRATE])) {
    char lo[64], hi[64], extra;
    if (strlen(v) >= sizeof lo || sscanf(v, "%63[^:]:%63s%c", lo, hi, &extra) != 2)
      return DD_FAIL(DD_ERR_ARG, "--integrate needs E1:E2 in keV, got '%s'", v);
    DD_TRY(parse_number("--integrate E1", lo, &a->int_lo_kev), "spectrum");
    DD_TRY(parse_number("--integrate E2", hi, &a->int_hi_kev), "spectrum");
    a->has_integrate = 1;
  }
  a->config = o->opt[APP_OPT_CONFIG];
  if (!a->has_mass) return DD_FAIL(DD_ERR_ARG, "spectrum needs --mass GEV");
  if (!(a->mass_gev > 0)) return DD_FAIL(DD_ERR_ARG, "--mass must be > 0 GeV, got %g", a->mass_gev);
  if (a->has_sigma && a->sigma_cm2 < 0)
    return DD_FAIL(DD_ERR_ARG, "--sigma must be >= 0 cm2, got %g", a->sigma_cm2);
  if (a->has_integrate) {
    if (a->int_lo_kev < 0 || !(a->int_lo_kev < a->int_hi_kev))
      return DD_FAIL(DD_ERR_ARG, "--integrate E1:E2 needs 0 <= E1 < E2 keV, got %g:%g",
                     a->int_lo_kev, a->int_hi_kev);
  } else {
    if (a->emin_kev < 0) return DD_FAIL(DD_ERR_ARG, "--emin must be >= 0 keV, got %g", a->emin_kev);
    if (!(a->emin_kev < a->emax_kev))
      return DD_FAIL(DD_ERR_ARG, "--emin (%g keV) must be below --emax (%g keV)", a->emin_kev,
                     a->emax_kev);
    if (!(a->step_kev > 0))
      return DD_FAIL(DD_ERR_ARG, "--step must be > 0 keV, got %g", a->step_kev);
    if ((a->emax_kev - a->emin_kev) / a->step_kev > SPECTRUM_MAX_ROWS)
      return DD_FAIL(DD_ERR_ARG, "more than %d rows: use a larger --step", SPECTRUM_MAX_ROWS);
  }
  return DD_OK;
}

/* The configuration (CONFIG, or an empty one: the defaults) with the --set
 * overrides, validated like a run's; no MPI needed. */
static dd_status load_params(const app_opts *o, const char *path, stage_params *p) {
  char *text = NULL;
  if (path) DD_TRY(dd_read_file(path, &text, NULL), "reading configuration");
  cfg_doc *cfg = NULL;
  dd_status st = cfg_parse(&cfg, text ? text : "", path ? path : "(defaults)");
  free(text);
  for (int i = 0; i < o->n_sets && st == DD_OK; i++) st = cfg_set_override(cfg, o->sets[i]);
  if (st == DD_OK) st = stage_params_load(cfg, p);
  cfg_free(cfg);
  if (st != DD_OK) return DD_CONTEXT(st, "configuration '%s'", path ? path : "(defaults)");
  return DD_OK;
}

static void print_header(const phys_params *p, const spectrum_args *a, double sigma) {
  const phys_halo *h = &p->halo;
  printf("# ddscan spectrum: spin-independent elastic WIMP recoil spectrum (docs/physics.md)\n");
  printf("# m_chi = %.10g GeV, sigma_n = %.10g cm2 (per nucleon, isospin-conserving)\n",
         a->mass_gev, sigma);
  printf("# halo %s: rho = %.10g GeV/cm3, v0 = %.10g km/s, v_esc = %.10g km/s, v_E = %.10g km/s\n",
         phys_halo_preset_name(h->preset), h->rho_gev_cm3, h->v0_km_s, h->v_esc_km_s,
         h->v_earth_km_s);
  printf(
      "# target A = %.10g (m_N = %.10g GeV), mu_n with m_n = %.10g GeV, Helm F^2 "
      "(Lewin & Smith 1996)\n",
      p->mass_number, phys_nucleus_mass_gev(p), p->nucleon_mass_gev);
  printf("# rates per tonne (1000 kg) per year (%.10g d) per keVnr; endpoint E_end = %.10g keVnr\n",
         p->year_days, phys_endpoint_kev(p, a->mass_gev));
}

dd_status app_cmd_spectrum(const par_world *w, const app_opts *o) {
  spectrum_args a;
  DD_TRY(parse_args(o, &a), "spectrum");
  stage_params *ap = NULL;
  DD_TRY(dd_calloc((void **)&ap, 1, sizeof *ap, "parameters"), "spectrum");
  dd_status st = load_params(o, a.config, ap);
  if (st != DD_OK) {
    free(ap);
    return DD_CONTEXT(st, "spectrum");
  }
  const phys_params *p = &ap->phys;
  double sigma = a.has_sigma ? a.sigma_cm2 : p->sigma_ref_cm2;
  double total = 0.0;
  if (a.has_integrate)
    st = phys_rate_integral(p, a.mass_gev, sigma, a.int_lo_kev, a.int_hi_kev, NULL,
                            PHYS_QUAD_ADAPTIVE, &total);
  if (st == DD_OK && w->rank == 0) {
    print_header(p, &a, sigma);
    if (a.has_integrate) {
      printf("E1_keV\tE2_keV\tevents_per_t_y\n");
      printf("%.10g\t%.10g\t%.10g\n", a.int_lo_kev, a.int_hi_kev, total);
    } else {
      printf("E_keV\tdRdE_per_t_y_keV\tF2\tvmin_km_s\teta_s_per_km\n");
      long n = (long)floor((a.emax_kev - a.emin_kev) / a.step_kev * (1 + 1e-12)) + 1;
      for (long i = 0; i < n; i++) {
        double e = a.emin_kev + (double)i * a.step_kev;
        double vmin = phys_vmin_km_s(p, a.mass_gev, e);
        printf("%.10g\t%.10g\t%.10g\t%.10g\t%.10g\n", e, phys_dRdE(p, a.mass_gev, sigma, e),
               phys_helm_ff2(p->mass_number, e), vmin, phys_eta(&p->halo, vmin));
      }
    }
    fflush(stdout);
  }
  free(ap);
  return st == DD_OK ? DD_OK : DD_CONTEXT(st, "spectrum");
}
