/* params.c - run-level keys and the one place that loads every module's
 * parameters, so that unknown keys can be detected after all have read. */
#include "ddscan/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dd_status run_params_load(cfg_doc *cfg, app_run_params *r) {
  long long seed;
  DD_TRY(cfg_get_string(cfg, "run.name", "ddscan", r->name, sizeof r->name), "run");
  if (!r->name[0] || strcmp(r->name, ".") == 0 || strcmp(r->name, "..") == 0)
    return cfg_error(cfg, "run.name", "\"%s\" is not a name (it becomes a directory: runs/NAME)",
                     r->name);
  for (const char *c = r->name; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          *c == '-' || *c == '_' || *c == '.'))
      return cfg_error(cfg, "run.name",
                       "\"%s\": use letters, digits, '-', '_' and '.' only (it "
                       "becomes part of file names)",
                       r->name);
  DD_TRY(cfg_get_int_range(cfg, "run.seed", 20211022, 0, (long long)UINT32_MAX, &seed), "run");
  r->seed = (uint32_t)seed;
  char def_dir[APP_PATH_MAX];
  snprintf(def_dir, sizeof def_dir, "runs/%s", r->name);
  DD_TRY(cfg_get_string(cfg, "run.output_dir", def_dir, r->output_dir, sizeof r->output_dir),
         "run");
  if (r->output_dir[0] == '\0') return cfg_error(cfg, "run.output_dir", "must not be empty");
  return DD_OK;
}

dd_status app_params_load(cfg_doc *cfg, app_params *p) {
  memset(p, 0, sizeof *p);
  DD_TRY(run_params_load(cfg, &p->run), "loading run parameters");
  DD_TRY(phys_params_load(cfg, &p->phys), "loading physics parameters");
  DD_TRY(stats_params_load(cfg, &p->stats), "loading stats parameters");
  DD_TRY(scan_params_load(cfg, &p->scan), "loading scan parameters");
  DD_TRY(det_params_load(cfg, &p->detector), "loading detector parameters");
  DD_TRY(img_params_load(cfg, &p->image), "loading image parameters");
  DD_TRY(nn_params_load(cfg, &p->nn), "loading nn parameters");
  DD_TRY(train_params_load(cfg, &p->train), "loading train parameters");
  DD_TRY(scan_params_check(cfg, &p->scan, &p->phys, &p->detector, &p->nn), "checking the run");
  DD_TRY(cfg_check_unused(cfg), "checking for unknown keys");
  return DD_OK;
}

dd_status app_load_config(const par_world *w, const app_opts *o, cfg_doc **cfg, app_params *p) {
  *cfg = NULL;
  if (!o->config_path) return DD_FAIL(DD_ERR_ARG, "missing CONFIG argument");
  char *text = NULL;
  size_t len = 0;
  DD_TRY(par_read_and_bcast_bytes(w, o->config_path, &text, &len), "reading configuration");
  dd_status st = cfg_parse_n(cfg, text, len, o->config_path);
  free(text);
  if (st != DD_OK) return DD_CONTEXT(st, "parsing configuration");
  for (int i = 0; i < o->n_sets && st == DD_OK; i++) st = cfg_set_override(*cfg, o->sets[i]);
  if (st == DD_OK) st = app_params_load(*cfg, p);
  if (st != DD_OK) {
    cfg_free(*cfg);
    *cfg = NULL;
    return DD_CONTEXT(st, "configuration '%s'", o->config_path);
  }
  return DD_OK;
}
