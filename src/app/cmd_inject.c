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
  for (int i = 0; i < o->n_args; i++) {
    const char *a = o->args[i];
    int known = !strcmp(a, "--out") || !strcmp(a, "--mass") || !strcmp(a, "--sigma") ||
                !strcmp(a, "--exposure") || !strcmp(a, "--seed") || !strcmp(a, "--signal") ||
                !strcmp(a, "--energy") || !strcmp(a, "--rate");
    if (!known) return DD_FAIL(DD_ERR_ARG, "inject: unexpected argument '%s'", a);
    if (i + 1 >= o->n_args) return DD_FAIL(DD_ERR_ARG, "inject: %s needs a value", a);
    const char *v = o->args[++i];
    if (!strcmp(a, "--out")) {
      io.out = v;
    } else if (!strcmp(a, "--mass")) {
      DD_TRY(number_arg(a, v, &io.mass_gev), "inject");
      has_mass = 1;
    } else if (!strcmp(a, "--sigma")) {
      DD_TRY(number_arg(a, v, &io.sigma_cm2), "inject");
    } else if (!strcmp(a, "--signal")) {
      signal = v;
    } else if (!strcmp(a, "--energy")) {
      DD_TRY(number_arg(a, v, &io.line_kev), "inject");
    } else if (!strcmp(a, "--rate")) {
      DD_TRY(number_arg(a, v, &io.rate_ty), "inject");
    } else if (!strcmp(a, "--exposure")) {
      DD_TRY(number_arg(a, v, &io.exposure_ty), "inject");
    } else {
      DD_TRY(number_arg(a, v, &seed), "inject");
    }
  }
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
