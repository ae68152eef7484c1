/* context.c - one invocation's stage_ctx: the configuration is read on rank
 * 0, broadcast, parsed and validated on every rank exactly once, with the
 * --set overrides applied and defaults filled in; the resolved text (stored
 * as /config by every stage) and the run's paths are derived here, so no
 * stage reads the configuration again. */
#include "ddscan/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void stage_ctx_free(stage_ctx *c) {
  cfg_free(c->cfg);
  free(c->p);
  free(c->config_text);
  memset(c, 0, sizeof *c);
}

dd_status stage_ctx_load(stage_ctx *c, const par_world *w, const stage_opts *o) {
  memset(c, 0, sizeof *c);
  c->w = w;
  c->o = *o;
  if (!o->config_path) return DD_FAIL(DD_ERR_ARG, "missing CONFIG argument");
  char *text = NULL;
  size_t len = 0;
  DD_TRY(par_read_and_bcast_bytes(w, o->config_path, &text, &len), "reading configuration");
  dd_status st = cfg_parse_n(&c->cfg, text, len, o->config_path);
  free(text);
  if (st != DD_OK) {
    stage_ctx_free(c);
    return DD_CONTEXT(st, "parsing configuration");
  }
  for (int i = 0; i < o->n_sets && st == DD_OK; i++) st = cfg_set_override(c->cfg, o->sets[i]);
  if (st == DD_OK) st = dd_calloc((void **)&c->p, 1, sizeof *c->p, "parameters");
  if (st == DD_OK) st = stage_params_load(c->cfg, c->p);
  if (st == DD_OK) st = cfg_resolved_text(c->cfg, &c->config_text);
  if (st == DD_OK)
    st = io_results_path(c->p->run.output_dir, -1, -1, c->results, sizeof c->results);
  if (st == DD_OK) {
    const int n = c->p->train.checkpoint_dir[0]
                      ? snprintf(c->checkpoint_dir, sizeof c->checkpoint_dir, "%s",
                                 c->p->train.checkpoint_dir)
                      : snprintf(c->checkpoint_dir, sizeof c->checkpoint_dir, "%s/checkpoints",
                                 c->p->run.output_dir);
    if (n < 0 || (size_t)n >= sizeof c->checkpoint_dir)
      st = cfg_error(c->cfg, "train.checkpoint_dir", "path longer than %zu characters",
                     sizeof c->checkpoint_dir - 1);
  }
  if (st != DD_OK) {
    stage_ctx_free(c);
    return DD_CONTEXT(st, "configuration '%s'", o->config_path);
  }
  return DD_OK;
}
