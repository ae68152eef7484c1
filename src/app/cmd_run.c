/* cmd_run.c - `ddscan CONFIG` (also `ddscan run CONFIG`): the whole pipeline,
 * simulate -> train -> score -> scan, on <run.output_dir>/results.h5.  A stage
 * whose output is current for this configuration is skipped: the banks by the
 * simulate hash, the networks and the scores by their own checks (train reuses
 * finished checkpoints, score compares its hash), the scan by its stage hash.
 * --resume continues an interrupted training or scan; --preview N is passed to
 * simulate. */
#include <stdio.h>
#include <stdlib.h>

#include "ddscan/app.h"  /* uses: app_opts, app_load_config, app_cmd_*, app_simulate_hash */
#include "ddscan/io.h"   /* uses: io_results_path, io_stage_is_current */
#include "ddscan/scan.h" /* uses: scan_config_hash, scan_stage_is_current */

/* Whether the banks and the scan of this configuration are already in the
 * results file (collective; a missing file is simply not current). */
static dd_status stages_current(const par_world *w, const app_opts *o, int *sim, int *scan) {
  *sim = *scan = 0;
  cfg_doc *cfg = NULL;
  app_params *p = calloc(1, sizeof *p);
  if (!p) return DD_FAIL(DD_ERR_NOMEM, "parameters");
  char path[APP_PATH_MAX + 64];
  dd_status st = app_load_config(w, o, &cfg, p);
  if (st == DD_OK) st = io_results_path(p->run.output_dir, -1, -1, path, sizeof path);
  if (st == DD_OK) {
    int exists = w->rank == 0 ? dd_path_exists(path) : 0;
    MPI_Bcast(&exists, 1, MPI_INT, 0, w->comm);
    if (exists) {
      st = io_stage_is_current(w, path, "simulate", app_simulate_hash(cfg), sim);
      /* the scan is current only over current banks, networks and scores;
       * those are checked by the stages themselves, so this is asked again
       * after them (see app_cmd_run) */
      if (st == DD_OK && o->resume == 0) {
        int has_scores = 0;
        io_file *f = NULL;
        st = io_file_open(w, path, IO_READ, &f);
        if (st == DD_OK) has_scores = io_exists(f, "/scores/er") && io_exists(f, "/scores/nr");
        dd_status st2 = io_file_close(&f);
        if (st == DD_OK) st = st2;
        if (st == DD_OK && has_scores)
          st = scan_stage_is_current(w, path, scan_config_hash(cfg), scan);
      }
    }
  }
  cfg_free(cfg);
  free(p);
  return st;
}

dd_status app_cmd_run(const par_world *w, const app_opts *o) {
  if (o->n_args > 0) return DD_FAIL(DD_ERR_ARG, "unexpected argument '%s'", o->args[0]);
  double t0 = dd_time_now();
  int sim = 0, scan = 0;
  DD_TRY(stages_current(w, o, &sim, &scan), "pipeline");
  app_opts stage = *o;

  if (sim && o->preview_n == 0) {
    dd_info("== simulate: the banks of this configuration are current; skipped");
  } else {
    dd_info("== simulate");
    DD_TRY(app_cmd_simulate(w, &stage), "pipeline stage simulate");
  }
  stage.preview_n = 0;
  dd_info("== train");
  DD_TRY(app_cmd_train(w, &stage), "pipeline stage train");
  dd_info("== score");
  DD_TRY(app_cmd_score(w, &stage), "pipeline stage score");
  /* the scores may have changed: ask again */
  if (!o->resume) DD_TRY(stages_current(w, o, &sim, &scan), "pipeline");
  if (scan) {
    dd_info("== scan: the scan of this configuration and these scores is current; skipped");
  } else {
    dd_info("== scan");
    stage.shard_i = stage.shard_n = -1;
    DD_TRY(app_cmd_scan(w, &stage), "pipeline stage scan");
  }
  dd_info("== pipeline done in %.1f s", dd_time_now() - t0);
  return DD_OK;
}
