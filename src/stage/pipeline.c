/* pipeline.c - `ddscan CONFIG` (also `ddscan run CONFIG`): the whole
 * pipeline, simulate -> train -> score -> scan, on <run.output_dir>/
 * results.h5, with one context (the configuration is read once).  A stage
 * whose output is current for this configuration is skipped: the banks by
 * the simulate hash and the scan by its stage hash, asked up front; train
 * and score always run, because they decide themselves what they can reuse
 * (finished checkpoints, a current /scores) and say so.  --resume continues
 * an interrupted training or scan; --preview N is passed to simulate. */
#include "ddscan/stage.h"

dd_status stage_pipeline_run(stage_ctx *c) {
  double t0 = dd_time_now();
  int sim = 0, scan = 0;
  DD_TRY(stage_simulate.is_current(c, &sim), "pipeline");
  if (sim && c->o.preview_n == 0) {
    dd_info("== simulate: the banks of this configuration are current; skipped");
  } else {
    dd_info("== simulate");
    DD_TRY(stage_simulate.run(c), "pipeline stage simulate");
  }
  const int preview_n = c->o.preview_n;
  c->o.preview_n = 0;
  dd_info("== train");
  dd_status st = stage_train.run(c);
  c->o.preview_n = preview_n;
  DD_TRY(st, "pipeline stage train");
  dd_info("== score");
  DD_TRY(stage_score.run(c), "pipeline stage score");
  if (c->p->scan.signal_model != SCAN_SIGNAL_WIMP) {
    dd_info("== signal");
    DD_TRY(stage_signal.run(c), "pipeline stage signal");
  }
  /* asked after score: the scores may have changed; with --resume an
   * unfinished scan is continued rather than judged */
  if (!c->o.resume) DD_TRY(stage_scan.is_current(c, &scan), "pipeline");
  if (scan) {
    dd_info("== scan: the scan of this configuration and these scores is current; skipped");
  } else {
    dd_info("== scan");
    const int si = c->o.shard_index, sn = c->o.shard_count;
    c->o.shard_index = c->o.shard_count = -1;
    st = stage_scan.run(c);
    c->o.shard_index = si;
    c->o.shard_count = sn;
    DD_TRY(st, "pipeline stage scan");
  }
  dd_info("== pipeline done in %.1f s", dd_time_now() - t0);
  return DD_OK;
}
