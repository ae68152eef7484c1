/* scan.c - the scan stage (`ddscan scan CONFIG [--shard I/N] [--resume]`),
 * stage 4 of the pipeline: checks that the results file holds the scores,
 * begins the stage (keyed by its configuration and by the scores it reads,
 * so a stale .tmp from other scores is never resumed), reads both banks of
 * /scores through the score stage's schema and hands them to the scan's
 * computation (src/scan: work units, templates, p-values, contours, R band),
 * then commits.  A shard writes results.shard-I-of-N.h5; `ddscan merge`
 * joins them. */
#define _POSIX_C_SOURCE 200809L
#include "ddscan/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h> /* uses: MPI_Bcast */

static const char *const k_owned[] = {"/axes", "/scan", "/contours", "/templates", "/spectra"};

/* The input must exist and hold both banks, before any .tmp is made; also
 * reads the score stage's config_hash ("none" when absent) into hash. */
static dd_status input_check(const par_world *w, const char *path, int model, char *hash,
                             size_t cap) {
  int exists = w->rank == 0 ? dd_path_exists(path) : 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, w->comm);
  if (!exists)
    return DD_FAIL(DD_ERR_IO,
                   "'%s' does not exist: the scan reads the per-event scores (/scores/er, "
                   "/scores/nr) from it; run the earlier stages first (`ddscan simulate`, "
                   "`train`, `score` CONFIG)",
                   path);
  io_file *in = NULL;
  DD_TRY(io_file_open(w, path, IO_READ, &in), "scan input");
  dd_status st = DD_OK;
  if (io_attr_exists(in, "/", "stage_in_progress"))
    st = DD_FAIL(DD_ERR_IO, "'%s' is an unfinished file (stage_in_progress)", path);
  for (int b = 0; b < SCAN_N_BANKS && st == DD_OK; b++)
    if (!io_exists(in, scan_bank_group((scan_bank)b)))
      st = DD_FAIL(DD_ERR_IO,
                   "'%s' has no %s (the per-event scores of the analysis split): run the "
                   "score stage first (`ddscan score CONFIG`, or `ddscan CONFIG`)",
                   path, scan_bank_group((scan_bank)b));
  if (st == DD_OK && model != SCAN_SIGNAL_WIMP && !io_exists(in, scan_bank_group(SCAN_BANK_SIGNAL)))
    st = DD_FAIL(DD_ERR_IO,
                 "'%s' has no %s (the scores of the signal.model = \"%s\" sample): run the "
                 "signal stage first (`ddscan signal CONFIG`, or `ddscan CONFIG`)",
                 path, scan_bank_group(SCAN_BANK_SIGNAL), scan_signal_name(model));
  snprintf(hash, cap, "none");
  char *v = NULL;
  if (st == DD_OK && io_attr_exists(in, "/provenance/score", "config_hash") &&
      io_attr_read_string(in, "/provenance/score", "config_hash", &v) == DD_OK)
    snprintf(hash, cap, "%s", v);
  free(v);
  v = NULL;
  /* a non-WIMP scan also depends on the signal sample's scores */
  if (st == DD_OK && model != SCAN_SIGNAL_WIMP &&
      io_attr_exists(in, "/provenance/signal", "config_hash") &&
      io_attr_read_string(in, "/provenance/signal", "config_hash", &v) == DD_OK) {
    size_t len = strlen(hash);
    snprintf(hash + len, cap - len, "+%s", v);
  }
  free(v);
  dd_status st2 = io_file_close(&in);
  return st != DD_OK ? st : st2;
}

dd_status stage_scan_is_current_at(const par_world *w, const char *input_path, uint64_t config_hash,
                                   int model, int *current) {
  *current = 0;
  char score_hash[64];
  DD_TRY(input_check(w, input_path, model, score_hash, sizeof score_hash), "scan");
  return io_stage_is_current(w, input_path, "scan", dd_hash_str(config_hash, score_hash), current);
}

dd_status stage_scan_run_job(const par_world *w, const scan_job *job) {
  char score_hash[64];
  const int model = job->grid->signal_model;
  DD_TRY(input_check(w, job->input_path, model, score_hash, sizeof score_hash), "scan");
  uint64_t hash = dd_hash_str(job->config_hash, score_hash);
  io_stage st_def = {.name = "scan",
                     .owned = k_owned,
                     .n_owned = 5,
                     .input_path = job->input_path,
                     .output_path = job->output_path,
                     .config_text = job->config_text,
                     .config_hash = hash,
                     .argc = job->argc,
                     .argv = job->argv,
                     .shard_index = job->shard_index,
                     .shard_count = job->shard_count,
                     .resume = job->resume,
                     .units_done = "/scan/done"};
  io_file *f = NULL;
  int resumed = 0;
  /* a resumed .tmp must still hold every dataset the units write into */
  DD_TRY(stage_begin_checked(w, &st_def, &stage_scan, &f, &resumed), "scan");
  char hex[17];
  io_hash_hex(hash, hex);
  dd_info("scan: stage hash %s (configuration + scores %s)", hex, score_hash);
  if (job->shard_count > 0)
    dd_info("scan: shard %d of %d: units u with u %% %d == %d -> '%s'", job->shard_index,
            job->shard_count, job->shard_count, job->shard_index, job->output_path);
  scan_scores er, nr, sg;
  memset(&er, 0, sizeof er);
  memset(&nr, 0, sizeof nr);
  memset(&sg, 0, sizeof sg);
  dd_status st = stage_scores_read(f, SCAN_BANK_ER, &er);
  if (st == DD_OK) st = stage_scores_read(f, SCAN_BANK_NR, &nr);
  if (st == DD_OK && model != SCAN_SIGNAL_WIMP) st = stage_scores_read(f, SCAN_BANK_SIGNAL, &sg);
  st = par_agree(w, st);
  if (st == DD_OK)
    st = scan_compute(w, job, f, resumed, &er, &nr, model != SCAN_SIGNAL_WIMP ? &sg : NULL,
                      score_hash);
  scan_scores_free(&er);
  scan_scores_free(&nr);
  scan_scores_free(&sg);
  if (st != DD_OK) {
    io_file_close(&f);
    return DD_CONTEXT(st, "scan into '%s'", job->output_path);
  }
  DD_TRY(io_stage_commit(&f), "scan");
  dd_info("scan: wrote '%s'%s", job->output_path,
          job->shard_count > 0 ? " (merge the shards with `ddscan merge`)" : "");
  return DD_OK;
}

/* The job of this context: the whole grid into results.h5, or one shard
 * into its own file. */
static dd_status make_job(stage_ctx *x, scan_job *job, scan_params *grid, char *out, size_t cap) {
  const stage_params *p = x->p;
  if (p->stats.nuis.nr_bkg && !p->phys.nr_bg.cevns_on && !p->phys.nr_bg.neutrons_on)
    return cfg_error(x->cfg, "stats.sound.nr_bkg",
                     "needs an NR background: enable physics.nr_background.cevns_b8 or "
                     "physics.nr_background.neutrons");
  const int si = x->o.shard_count > 0 ? x->o.shard_index : -1;
  const int sn = x->o.shard_count > 0 ? x->o.shard_count : -1;
  DD_TRY(io_results_path(p->run.output_dir, si, sn, out, cap), "scan");
  scan_signal_grid(&p->scan, grid);
  *job = (scan_job){.phys = &p->phys,
                    .stats = &p->stats,
                    .grid = grid,
                    .wimp_grid = &p->scan,
                    .det = &p->detector,
                    .seed = p->run.seed,
                    .input_path = x->results,
                    .output_path = out,
                    .config_text = x->config_text,
                    .config_hash = scan_config_hash(x->cfg),
                    .shard_index = si,
                    .shard_count = sn,
                    .resume = x->o.resume,
                    .argc = x->o.argc,
                    .argv = x->o.argv};
  return DD_OK;
}

static dd_status scan_stage_run(stage_ctx *x) {
  scan_job job;
  scan_params grid;
  char out[STAGE_PATH_MAX + 64];
  DD_TRY(make_job(x, &job, &grid, out, sizeof out), "scan");
  return stage_scan_run_job(x->w, &job);
}

/* Current when results.h5 holds a complete scan of this configuration and of
 * the scores now in the file; no scores: not current (the run says why). */
static dd_status scan_stage_current(stage_ctx *x, int *current) {
  *current = 0;
  int exists = x->w->rank == 0 ? dd_path_exists(x->results) : 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, x->w->comm);
  if (!exists) return DD_OK;
  io_file *f = NULL;
  DD_TRY(io_file_open(x->w, x->results, IO_READ, &f), "scan");
  const int model = x->p->scan.signal_model;
  const int has_scores = io_exists(f, "/scores/er") && io_exists(f, "/scores/nr") &&
                         (model == SCAN_SIGNAL_WIMP || io_exists(f, "/signal/scores"));
  DD_TRY(io_file_close(&f), "scan");
  if (!has_scores) return DD_OK;
  return stage_scan_is_current_at(x->w, x->results, scan_config_hash(x->cfg), model, current);
}

static void scan_stage_schema(stage_schema *out) {
  out->tables = NULL;
  out->n_tables = 0;
  out->specs = scan_schema(&out->n_specs);
}

const stage_def stage_scan = {
    "scan",
    "p-values, Z and 5-sigma contours on the grid from the scores in results.h5",
    k_owned,
    5,
    scan_stage_schema,
    scan_stage_current,
    scan_stage_run,
};
