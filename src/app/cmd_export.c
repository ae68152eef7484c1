/* cmd_export.c - `ddscan export CONFIG --out FILE [--er N] [--nr N]`: the
 * configuration's analysis events (the events the score stage scores) as an
 * events file (docs/format.md §10).  Defaults: the banks' analysis splits. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/app.h"    /* uses: app_opts, app_stage_ctx */
#include "ddscan/events.h" /* uses: stage_export */

static dd_status count_arg(const char *opt, const char *text, long long *out) {
  char *end = NULL;
  long long v = strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v < 0 || v > STAGE_MAX_EVENTS)
    return DD_FAIL(DD_ERR_ARG, "export: %s needs a count in [0, %lld], got '%s'", opt,
                   STAGE_MAX_EVENTS, text);
  *out = v;
  return DD_OK;
}

dd_status app_cmd_export(const par_world *w, const app_opts *o) {
  const char *out = NULL;
  long long n[2] = {-1, -1};
  /* main accepted only export's options (src/app/cli.c) */
  const char *v;
  out = o->opt[APP_OPT_OUT];
  if ((v = o->opt[APP_OPT_ER])) DD_TRY(count_arg("--er", v, &n[0]), "export");
  if ((v = o->opt[APP_OPT_NR])) DD_TRY(count_arg("--nr", v, &n[1]), "export");
  if (!out) return DD_FAIL(DD_ERR_ARG, "export needs --out FILE");
  stage_ctx c;
  DD_TRY(app_stage_ctx(w, o, &c), "export");
  for (int cls = 0; cls < 2; cls++)
    if (n[cls] < 0) n[cls] = (long long)c.p->detector.bank.n[cls][DET_SPLIT_ANALYSIS];
  dd_status st = stage_export(&c, out, n[0], n[1]);
  stage_ctx_free(&c);
  return st;
}
