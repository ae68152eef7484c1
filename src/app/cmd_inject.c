/* cmd_inject.c - `ddscan inject CONFIG --exposure E --seed K --out FILE
 * [--mass M --sigma S] [--signal wimp|er_line|tritium|cevns --energy KEV
 * --rate R]`: a Poisson pseudo-data set (background, plus a WIMP of mass M
 * GeV and cross-section S cm^2 when S > 0, or another signal model) as an
 * events file with its truth in attributes (docs/format.md §10). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/app.h"    /* uses: app_opts, app_stage_ctx */
#include "ddscan/events.h" /* uses: ev_inject_opts, stage_inject */

static dd_status number_arg(const char *opt, const char *text, double *out) {
  char *end = NULL;
  double v = strtod(text, &end);
  if (end == text || *end != '\0' || !isfinite(v))
    return DD_FAIL(DD_ERR_ARG, "inject: %s: '%s' is not a number", opt, text);
  *out = v;
  return DD_OK;
}

dd_status app_cmd_inject(const par_world *w, const app_opts *o) {
  ev_inject_opts io = {EV_SIGNAL_WIMP, 0.0, 0.0, 0.0, NAN, NAN, 0, NULL};
  const char *signal = "wimp";
  double seed = -1.0;
  int has_mass = 0;
  /* main accepted only inject's options (src/app/cli.c) */
  const char *v;
  io.out = o->opt[APP_OPT_OUT];
  if ((v = o->opt[APP_OPT_MASS])) {
    DD_TRY(number_arg("--mass", v, &io.mass_gev), "inject");
    has_mass = 1;
  }
  if ((v = o->opt[APP_OPT_SIGMA])) DD_TRY(number_arg("--sigma", v, &io.sigma_cm2), "inject");
  if ((v = o->opt[APP_OPT_SIGNAL])) signal = v;
  if ((v = o->opt[APP_OPT_ENERGY])) DD_TRY(number_arg("--energy", v, &io.line_kev), "inject");
  if ((v = o->opt[APP_OPT_RATE])) DD_TRY(number_arg("--rate", v, &io.rate_ty), "inject");
  if ((v = o->opt[APP_OPT_EXPOSURE]))
    DD_TRY(number_arg("--exposure", v, &io.exposure_ty), "inject");
  if ((v = o->opt[APP_OPT_SEED])) DD_TRY(number_arg("--seed", v, &seed), "inject");
  if (!io.out) return DD_FAIL(DD_ERR_ARG, "inject needs --out FILE");
  if (!(io.exposure_ty > 0.0) || io.exposure_ty > 1e4)
    return DD_FAIL(DD_ERR_ARG, "inject needs --exposure E in (0, 1e4] tonne-years");
  if (!(seed >= 0.0) || seed > 4294967295.0 || seed != floor(seed))
    return DD_FAIL(DD_ERR_ARG, "inject needs --seed K, an integer in [0, 4294967295]");
  io.seed = (uint32_t)seed;
  if (io.sigma_cm2 < 0.0) return DD_FAIL(DD_ERR_ARG, "inject: --sigma must be >= 0 cm^2");
  int model = -1;
  for (int m = 0; m < 4; m++)
    if (strcmp(signal, ev_signal_name(m)) == 0) model = m;
  if (model < 0)
    return DD_FAIL(DD_ERR_ARG, "inject: --signal '%s' is not one of wimp, er_line, tritium, cevns",
                   signal);
  io.signal_model = model;
  if (model == EV_SIGNAL_WIMP) {
    if (io.sigma_cm2 > 0.0 && (!has_mass || !(io.mass_gev > 0.0)))
      return DD_FAIL(DD_ERR_ARG, "inject: a signal (--sigma > 0) needs --mass M > 0 GeV");
  } else {
    if (io.sigma_cm2 > 0.0 || has_mass)
      return DD_FAIL(DD_ERR_ARG, "inject: --mass/--sigma belong to --signal wimp");
    if (model != EV_SIGNAL_CEVNS && !(io.rate_ty > 0.0))
      return DD_FAIL(DD_ERR_ARG, "inject: --signal %s needs --rate R > 0 (interactions per t*y)",
                     signal);
    if (model == EV_SIGNAL_CEVNS && io.rate_ty <= 0.0)
      return DD_FAIL(DD_ERR_ARG, "inject: --rate must be > 0 (or left out: the physics rate)");
    if (model == EV_SIGNAL_ER_LINE && !(io.line_kev > 0.0 && io.line_kev <= 1000.0))
      return DD_FAIL(DD_ERR_ARG, "inject: --signal er_line needs --energy KEV in (0, 1000]");
  }
  stage_ctx c;
  DD_TRY(app_stage_ctx(w, o, &c), "inject");
  dd_status st = stage_inject(&c, &io);
  stage_ctx_free(&c);
  return st;
}
