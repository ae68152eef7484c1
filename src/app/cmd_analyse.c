/* cmd_analyse.c - `ddscan analyse CONFIG --data FILE [--out FILE]
 * [--exposure E] [--toys N]`: the observed-data analysis of an events file against
 * the trained networks and the scan templates of CONFIG (docs/format.md
 * §10, §11); prints the table and writes <output_dir>/observed.h5. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/app.h"    /* uses: app_opts, app_stage_ctx */
#include "ddscan/events.h" /* uses: ev_analyse_opts, stage_analyse */

dd_status app_cmd_analyse(const par_world *w, const app_opts *o) {
  ev_analyse_opts ao = {NULL, NULL, NAN, 1000};
  /* main accepted only analyse's options (src/app/cli.c) */
  const char *v;
  ao.data = o->opt[APP_OPT_DATA];
  ao.out = o->opt[APP_OPT_OUT];
  if ((v = o->opt[APP_OPT_TOYS])) {
    char *end = NULL;
    ao.toys = strtol(v, &end, 10);
    if (end == v || *end != '\0' || ao.toys < 0 || ao.toys > 100000000L)
      return DD_FAIL(DD_ERR_ARG, "analyse: --toys needs a count in [0, 1e8], got '%s'", v);
  }
  if ((v = o->opt[APP_OPT_EXPOSURE])) {
    char *end = NULL;
    ao.exposure_ty = strtod(v, &end);
    if (end == v || *end != '\0' || !(ao.exposure_ty > 0.0) || !isfinite(ao.exposure_ty))
      return DD_FAIL(DD_ERR_ARG, "analyse: --exposure needs a positive number, got '%s'", v);
  }
  if (!ao.data) return DD_FAIL(DD_ERR_ARG, "analyse needs --data FILE (an events file)");
  stage_ctx c;
  DD_TRY(app_stage_ctx(w, o, &c), "analyse");
  dd_status st = stage_analyse(&c, &ao);
  stage_ctx_free(&c);
  return st;
}
