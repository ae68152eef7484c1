/* params.c - the run-level keys (group `run`), the score stage's keys (group
 * `score`) and the one place that loads every module's parameters, so that
 * unknown keys can be detected after every module has read its own. */
#include "ddscan/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dd_status run_params_load(cfg_doc *cfg, stage_run_params *r) {
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
  char def_dir[STAGE_PATH_MAX];
  snprintf(def_dir, sizeof def_dir, "runs/%s", r->name);
  DD_TRY(cfg_get_string(cfg, "run.output_dir", def_dir, r->output_dir, sizeof r->output_dir),
         "run");
  if (r->output_dir[0] == '\0') return cfg_error(cfg, "run.output_dir", "must not be empty");
  /* Generous: a rank is "silent" only when its heartbeat thread is, i.e. the
   * process is stopped, hung in the kernel or lost with its node, never
   * because one work unit is long (par/watchdog.c). */
  DD_TRY(cfg_get_double(cfg, "run.watchdog_s", 600.0, &r->watchdog_s), "run");
  if (!(r->watchdog_s == 0.0 || (r->watchdog_s >= 1.0 && r->watchdog_s <= 1e6)))
    return cfg_error(cfg, "run.watchdog_s", "must be 0 (off) or in [1, 1e6] seconds, got %g",
                     r->watchdog_s);
  DD_TRY(cfg_get_double(cfg, "run.memory_per_rank_mb", 0.0, &r->memory_per_rank_mb), "run");
  if (!(r->memory_per_rank_mb >= 0.0 && r->memory_per_rank_mb <= 1e9))
    return cfg_error(cfg, "run.memory_per_rank_mb",
                     "must be 0 (detect: MemAvailable / ranks per node) or a size in MB up to "
                     "1e9, got %g",
                     r->memory_per_rank_mb);
  return DD_OK;
}

/* Group `score`: the batch is fixed by the configuration, not by the rank
 * count, so every network call (and every output byte) is the same at any
 * np; the default is the training minibatch. */
static dd_status score_params_load(cfg_doc *cfg, const det_params *det, stage_score_params *s) {
  long long b;
  DD_TRY(cfg_get_int_range(cfg, "score.batch_size", TRAIN_DEF_BATCH, 1, TRAIN_MAX_BATCH, &b),
         "score");
  s->batch_size = (int)b;
  static const char *const noises[] = {"sample", "mean"};
  int idx = 0;
  DD_TRY(cfg_get_choice(cfg, "score.noise", "sample", noises, 2, &idx), "score");
  s->noise = (stage_score_noise)idx;
  /* The analysis sample is simulated while it is scored (nothing is held but
   * one block), so it may be far larger than the bank's analysis split; its
   * first events are that split's (the same (seed, class, index) keys). */
  static const char *const keys[2] = {"score.er_events", "score.nr_events"};
  for (int c = 0; c < 2; c++) {
    long long n;
    DD_TRY(cfg_get_int(cfg, keys[c], -1, &n), "score");
    if (n == -1)
      n = (long long)det->bank.n[c][DET_SPLIT_ANALYSIS];
    else if (n < 1 || n > STAGE_MAX_EVENTS)
      return cfg_error(cfg, keys[c],
                       "must be -1 (the bank's analysis split) or in [1, %lld], got %lld",
                       (long long)STAGE_MAX_EVENTS, n);
    if (n < 1)
      return cfg_error(cfg, keys[c],
                       "the analysis sample is empty (detector.bank's analysis split is 0): "
                       "set %s >= 1",
                       keys[c]);
    s->n_events[c] = n;
  }
  DD_TRY(cfg_get_int(cfg, "score.block_batches", 10, &b), "score");
  if (b < 1 || b > 1000000)
    return cfg_error(cfg, "score.block_batches", "must be in [1, 1000000], got %lld", b);
  s->block_batches = (int)b;
  return DD_OK;
}

dd_status stage_params_load(cfg_doc *cfg, stage_params *p) {
  memset(p, 0, sizeof *p);
  DD_TRY(run_params_load(cfg, &p->run), "loading run parameters");
  DD_TRY(phys_params_load(cfg, &p->phys), "loading physics parameters");
  DD_TRY(stats_params_load(cfg, &p->stats), "loading stats parameters");
  DD_TRY(scan_params_load(cfg, &p->scan), "loading scan parameters");
  DD_TRY(det_params_load(cfg, &p->detector), "loading detector parameters");
  DD_TRY(img_params_load(cfg, &p->image), "loading image parameters");
  DD_TRY(nn_params_load(cfg, &p->nn), "loading nn parameters");
  DD_TRY(train_params_load(cfg, &p->train), "loading train parameters");
  DD_TRY(score_params_load(cfg, &p->detector, &p->score), "loading score parameters");
  DD_TRY(scan_params_check(cfg, &p->scan, &p->phys, &p->detector, &p->nn), "checking the run");
  /* CEvNS as the signal cannot also be the NR-background template: the
   * profile fit has two identical components and does not converge */
  if (p->scan.signal_model == SCAN_SIGNAL_CEVNS && p->stats.nuis.nr_bkg && p->phys.nr_bg.cevns_on)
    return cfg_error(cfg, "signal.model",
                     "\"cevns\" is the signal, but physics.nr_background.cevns_b8 also puts "
                     "it in the NR-background template of stats.sound.nr_bkg: set "
                     "stats.sound.nr_bkg = false (the ER background alone) or turn the CEvNS "
                     "background off");
  DD_TRY(cfg_check_unused(cfg), "checking for unknown keys");
  return DD_OK;
}
