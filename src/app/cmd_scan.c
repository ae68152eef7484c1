/* cmd_scan.c - `ddscan scan CONFIG [--shard I/N] [--resume]`: the scan stage
 * on the scores in <run.output_dir>/results.h5 (src/scan/run.c).  The shard
 * defaults to SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT inside a SLURM
 * job array; `--shard 0/1` runs everything into results.h5. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddscan/app.h"  /* uses: app_opts, app_load_config */
#include "ddscan/io.h"   /* uses: io_results_path */
#include "ddscan/scan.h" /* uses: scan_run, scan_config_hash */

static int parse_long(const char *s, long *out) {
  char *end = NULL;
  if (!s || !*s) return 0;
  long v = strtol(s, &end, 10);
  if (*end != '\0') return 0;
  *out = v;
  return 1;
}

/* The shard of a SLURM array task (rank 0's environment, broadcast, so every
 * rank agrees however the launcher forwards it): index (ID - MIN)/STEP of
 * COUNT tasks.  *n = -1 when not in an array job. */
static dd_status shard_from_slurm(const par_world *w, int *i, int *n) {
  *i = *n = -1;
  char *env = NULL;
  if (w->rank == 0) {
    const char *names[4] = {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                            "SLURM_ARRAY_TASK_STEP"};
    size_t cap = 256;
    env = calloc(cap, 1);
    if (!env) return DD_FAIL(DD_ERR_NOMEM, "environment");
    for (int k = 0; k < 4; k++) {
      const char *v = getenv(names[k]);
      size_t len = strlen(env);
      snprintf(env + len, cap - len, "%s%s", k ? "\n" : "", v ? v : "");
    }
  }
  dd_status st = w->size > 1 ? par_bcast_string(w, &env) : DD_OK;
  if (st != DD_OK) {
    free(env);
    return st;
  }
  char *f[4] = {env, NULL, NULL, NULL};
  for (int k = 1; k < 4; k++) {
    f[k] = strchr(f[k - 1], '\n');
    if (f[k])
      *f[k]++ = '\0';
    else
      f[k] = f[k - 1] + strlen(f[k - 1]);
  }
  long id = 0, count = 0, min = 0, step = 1;
  if (!f[0][0]) {
    free(env);
    return DD_OK;
  }
  int ok = parse_long(f[0], &id) && parse_long(f[1], &count) && count >= 1;
  if (ok && f[2][0]) ok = parse_long(f[2], &min);
  if (ok && f[3][0]) ok = parse_long(f[3], &step) && step >= 1;
  long idx = ok ? (id - min) / step : -1;
  if (!ok || (id - min) % step != 0 || idx < 0 || idx >= count) {
    st = DD_FAIL(DD_ERR_ARG,
                 "scan: cannot derive a shard from SLURM_ARRAY_TASK_ID=%s, "
                 "SLURM_ARRAY_TASK_COUNT=%s, _MIN=%s, _STEP=%s; pass --shard I/N (or --shard 0/1 "
                 "for the whole grid)",
                 f[0], f[1], f[2], f[3]);
  } else {
    *i = (int)idx;
    *n = (int)count;
  }
  free(env);
  return st;
}

dd_status app_cmd_scan(const par_world *w, const app_opts *o) {
  if (o->n_args > 0) return DD_FAIL(DD_ERR_ARG, "scan: unexpected argument '%s'", o->args[0]);
  if (o->preview_n > 0) return DD_FAIL(DD_ERR_ARG, "scan: --preview is not a scan option");
  int si = o->shard_i, sn = o->shard_n;
  if (sn < 0) DD_TRY(shard_from_slurm(w, &si, &sn), "scan");
  if (sn == 1) si = sn = -1; /* one shard of one: the whole grid, results.h5 */

  app_params *p = calloc(1, sizeof *p);
  if (!p) return DD_FAIL(DD_ERR_NOMEM, "parameters");
  cfg_doc *cfg = NULL;
  char *text = NULL;
  char in[APP_PATH_MAX + 64], out[APP_PATH_MAX + 64];
  dd_status st = app_load_config(w, o, &cfg, p);
  if (st == DD_OK && p->stats.nuis.nr_bkg && !p->phys.nr_bg.cevns_on && !p->phys.nr_bg.neutrons_on)
    st = cfg_error(cfg, "stats.sound.nr_bkg",
                   "needs an NR background: enable physics.nr_background.cevns_b8 or "
                   "physics.nr_background.neutrons");
  if (st == DD_OK) st = io_results_path(p->run.output_dir, -1, -1, in, sizeof in);
  if (st == DD_OK) st = io_results_path(p->run.output_dir, si, sn, out, sizeof out);
  if (st == DD_OK) st = cfg_resolved_text(cfg, &text);
  if (st == DD_OK) {
    scan_job job = {.phys = &p->phys,
                    .stats = &p->stats,
                    .grid = &p->scan,
                    .seed = p->run.seed,
                    .input_path = in,
                    .output_path = out,
                    .config_text = text,
                    .config_hash = scan_config_hash(cfg),
                    .shard_index = si,
                    .shard_count = sn,
                    .resume = o->resume,
                    .argc = o->argc_orig,
                    .argv = o->argv_orig};
    st = scan_run(w, &job);
  }
  free(text);
  cfg_free(cfg);
  free(p);
  return st;
}
